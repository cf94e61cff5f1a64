"""``normalize`` (``torch.nn.functional.normalize``) and the vector p-norm it divides by, one node with torch's
gradient (``linalg_vector_norm_backward``: 0 where the norm is 0, so a zero vector's gradient is finite)."""

from __future__ import annotations

import math
from typing import Any

from . import ops
from ._opmaking import ieee
from .pointwise import clamp
from .tensor import Tensor

__all__ = ["norm", "normalize"]


@ieee
def _vector_norm(x: Tensor, p: float, dim: Any) -> Tensor:
    """``(sum |x|^p)^(1/p)`` over ``dim``, keepdim (``p`` = inf: max |x|; 0: the count of nonzeros)."""
    xp = x.backend.xp
    axes = ops._axes(dim, x.ndim)
    xd = x._data
    a = xp.abs(xd)
    if p == math.inf:
        norm = xp.max(a, axis=axes, keepdims=True)
    elif p == 0:
        norm = xp.sum(xp.astype(xd != 0, xd.dtype), axis=axes, keepdims=True)
    elif p == 1:
        norm = xp.sum(a, axis=axes, keepdims=True)
    elif p == 2:
        norm = xp.sqrt(xp.sum(xd * xd, axis=axes, keepdims=True))
    else:
        norm = xp.sum(a**p, axis=axes, keepdims=True) ** (1.0 / p)

    def backward(g: Any) -> tuple[Any]:
        zero = xp.zeros_like(xd)
        if p == 0:
            return (zero,)
        sign = xp.sign(xd)
        if p == 1:
            return (sign * g,)
        if p == math.inf:
            hit = xp.astype(a == norm, xd.dtype)
            return (sign * hit * g / xp.sum(hit, axis=axes, keepdims=True),)
        safe = xp.where(norm == 0, xp.ones_like(norm), norm)
        scale = xp.where(norm == 0, xp.zeros_like(norm), g / safe ** (p - 1))
        if p < 1:
            return (xp.where(xd == 0, zero, sign * a ** (p - 1)) * scale,)
        return ((sign * a ** (p - 1) if p < 2 else xd * a ** (p - 2)) * scale,)

    return Tensor._node(norm, (x,), backward, "vector_norm", (x,))


def normalize(input: Tensor, p: float = 2.0, dim: Any = 1, eps: float = 1e-12) -> Tensor:
    """``input / max(||input||_p, eps)`` along ``dim`` (an int or a tuple), as ``torch.nn.functional.normalize``:
    unit vectors, and a zero vector stays zero (its gradient is ``1 / eps``, as torch's).

    Raises:
        TypeError: an integer or bool tensor (as torch). ValueError: a negative ``p``.
    """
    if ops._category(input.backend, input._data.dtype) < 2:
        raise TypeError(f"normalize of a {input.dtype} tensor is not defined (as in torch): the norm needs floats")
    if p < 0:
        raise ValueError(f"normalize: p must be non-negative (or inf), got {p}")
    return ops.div(input, clamp(_vector_norm(input, float(p), dim), min=eps))


def norm(input: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Tensor:  # noqa: A002
    """The vector p-norm of ``input`` over ``dim`` (an int, a tuple, or None for every element), as ``torch.norm``:
    ``p`` is ``"fro"`` (the default: the 2-norm of the elements), a number (``inf``: max |x|, 0: the count of
    nonzeros) ; ``keepdim`` keeps the reduced axes as size 1; ``dtype`` casts ``input`` first. The gradient is
    torch's (0 where the norm is 0).

    Raises:
        RuntimeError: an integer or bool tensor (as torch). NotImplementedError: ``p="nuc"`` (a matrix norm).
        ValueError: another string ``p``.
    """
    if dtype is not None:
        input = input.astype(dtype)
    if ops._category(input.backend, input._data.dtype) < 2:
        raise RuntimeError(f"norm(): input dtype should be either floating point or complex. Got {input.dtype} "
                           f"instead.")
    if p is None or p == "fro":
        p = 2.0
    elif p == "nuc":
        raise NotImplementedError("norm(p='nuc') (the nuclear norm) is not in gradkit")
    elif isinstance(p, str):
        raise ValueError(f"norm: p must be a number, 'fro' or 'nuc', got {p!r}")
    out = _vector_norm(input, float(p), dim)
    if keepdim:
        return out
    axes = ops._axes(dim, input.ndim)
    return ops.reshape(out, tuple(s for i, s in enumerate(input.shape) if i not in axes))
