"""Elementwise selections with PyTorch's names: ``sqrt``, ``clamp``, ``where``, ``masked_fill``, ``maximum``/
``minimum``, ``tril``/``triu``. Each is one node with its backward; none prints a numpy warning."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import ops
from .dtypes import check_fill
from .tensor import DEFAULT_DTYPE, OUTPUT, Scalar, Tensor, _is_float

__all__ = ["clamp", "clamp_max", "clamp_min", "clip", "log10", "masked_fill", "maximum", "minimum", "nan_to_num",
           "sqrt", "tril", "triu", "where"]


def _float(a: Tensor) -> Any:
    """``a``'s data, integers cast to the default float (as torch's float functions do)."""
    return a._data if _is_float(a.backend, a._data) else a.backend.astype(a._data, DEFAULT_DTYPE)


def sqrt(input: Tensor) -> Tensor:
    """``input ** 0.5``, as ``torch.sqrt``: nan below 0; d/dx = 1 / (2 sqrt(x)), inf at 0 (nan where the
    upstream gradient is 0 there), as torch gives."""
    xp, be = input.backend.xp, input.backend
    x = _float(input)
    nan = be.full((), math.nan, x.dtype)
    out = xp.sqrt(xp.where(x < 0, nan, x))  # sqrt(nan) is quiet; sqrt(-1) would warn

    def backward(g: Any) -> tuple[Any]:
        zero = out == 0
        half = 0.5 / xp.where(zero, xp.ones_like(out), out)
        at_zero = xp.where(g > 0, be.full((), math.inf, g.dtype), xp.where(g < 0, be.full((), -math.inf, g.dtype),
                                                                            nan))
        return (xp.where(zero, at_zero, g * half),)

    return Tensor._node(out, (input,), backward, "sqrt", (OUTPUT,))


def log10(input: Tensor) -> Tensor:
    """Base-10 logarithm, ``log(x) / ln(10)`` (its gradient is log's, scaled), as ``torch.log10``; the course
    plots ``loss.log10()``."""
    x = input if _is_float(input.backend, input._data) else input.float()
    return ops.mul(ops.log(x), 1 / math.log(10))


def clamp(input: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """Values limited to ``[min, max]`` (either may be None), as ``torch.clamp``: the bounds are both numbers or
    both tensors (broadcast, torch's promotion). The gradient passes where ``min <= x <= max`` and is 0
    elsewhere; a tensor bound gets it where it was chosen. ``max`` wins where ``min > max``, as torch. A float
    bound makes an integer tensor float32.

    Raises:
        ValueError: neither bound given. TypeError: a number and a tensor bound together.
    """
    if min is None and max is None:
        raise ValueError("clamp needs min, max or both")
    tensors = [isinstance(b, Tensor) for b in (min, max) if b is not None]
    if any(tensors):
        if not all(tensors):
            raise TypeError("clamp bounds are both numbers or both tensors (as torch)")
        return _clamp_tensors(input, min, max)
    for bound in (min, max):
        if bound is not None and not isinstance(bound, Scalar):
            raise TypeError(f"clamp bounds are numbers or tensors, got {type(bound).__name__}")
    xp = input.backend.xp
    x = input._data
    for bound in (min, max):
        if bound is not None:
            x, _ = ops._with_number(Tensor._wrap(x, input.backend), bound)
    inside = xp.ones_like(x, dtype=xp.bool)
    out = x
    if min is not None:
        inside = inside & (x >= min)
        out = xp.where(x < min, xp.full_like(x, min), out)
    if max is not None:
        inside = inside & (x <= max)
        out = xp.where(out > max, xp.full_like(x, max), out)  # max wins over min, as torch (min(max(x, lo), hi))
    return Tensor._node(out, (input,), lambda g: (g * xp.astype(inside, g.dtype),), "clamp")


clip = clamp  # torch's alias


def _clamp_tensors(a: Tensor, lo: Tensor | None, hi: Tensor | None) -> Tensor:
    """``clamp`` with tensor bounds; the gradients are torch's (``clamp_backward_min_max``)."""
    xp = a.backend.xp
    bounds = [ops._as_tensor(a, b) for b in (lo, hi) if b is not None]
    target = ops.result_dtype(a.backend, [a._data, *[b._data for b in bounds]])
    x = a.backend.astype(a._data, target)
    low = None if lo is None else a.backend.astype(ops._as_tensor(a, lo)._data, target)
    high = None if hi is None else a.backend.astype(ops._as_tensor(a, hi)._data, target)
    out = x if low is None else xp.maximum(x, low)  # a nan (in x or a bound) wins, as torch
    if high is not None:
        out = xp.minimum(out, high)
    out = xp.broadcast_to(out, tuple(np.broadcast_shapes(*(t.shape for t in (a, *bounds)))))
    keep = (True if low is None else x >= low) & (True if high is None else x <= high)
    to_low = None if low is None else (x < low) & (True if high is None else low < high)
    to_high = None if high is None else (x > high) | (False if low is None else high < low)

    def backward(g: Any) -> tuple[Any, ...]:
        zeros = xp.zeros_like(g)
        grads = [ops._unbroadcast(xp.where(keep, g, zeros), a)]
        for b, mask in zip(bounds, [m for m in (to_low, to_high) if m is not None]):
            grads.append(ops._unbroadcast(xp.where(mask, g, zeros), b))
        return tuple(grads)

    return Tensor._node(out, (a, *bounds), backward, "clamp", (a, *bounds))


def clamp_min(input: Tensor, min: float) -> Tensor:  # noqa: A002
    """``clamp(input, min=min)``."""
    return clamp(input, min=min)


def clamp_max(input: Tensor, max: float) -> Tensor:  # noqa: A002
    """``clamp(input, max=max)``."""
    return clamp(input, max=max)


def where(condition: Tensor, input: Any = None, other: Any = None) -> Any:
    """``input`` where ``condition`` is True, else ``other`` (tensors or numbers, broadcast, torch's promotion:
    ``where(c, 1.0, 0.0)`` is float32, ``where(c, 1, 0)`` int64), as ``torch.where``; each side's gradient passes
    where it was chosen. ``where(condition)`` alone is ``nonzero(condition, as_tuple=True)``.

    Raises:
        TypeError: a condition that is not a bool tensor, or only one of ``input`` and ``other``.
    """
    if input is None and other is None:
        from .select import nonzero

        return nonzero(condition, as_tuple=True)
    if input is None or other is None:
        raise TypeError("where(condition, input, other) needs both input and other (or neither)")
    ref = input if isinstance(input, Tensor) else other if isinstance(other, Tensor) else condition
    if not isinstance(ref, Tensor):
        raise TypeError("where(condition, input, other) needs a Tensor condition, input or other")
    cond = ops._as_tensor(ref, condition)._data
    if cond.dtype != ref.backend.xp.bool:
        raise TypeError(f"where: the condition must be a bool tensor (e.g. x > 0), got {cond.dtype}")
    if ref is condition:  # two numbers: their own promotion (a float is float32, an int int64, a bool bool)
        dtype = ops.result_dtype(ref.backend, [], [input, other])
        a, b = (Tensor._wrap(ref.backend.full((), k, dtype), ref.backend) for k in (input, other))
    else:
        a, b = ops._as_tensor(ref, input), ops._as_tensor(ref, other)
        if isinstance(input, Scalar):
            a = Tensor._wrap(_number_like(ref, input), ref.backend)
        if isinstance(other, Scalar):
            b = Tensor._wrap(_number_like(ref, other), ref.backend)
    ad, bd = ops._promote(a, b)
    xp = ref.backend.xp
    out = xp.where(cond, ad, bd)

    def backward(g: Any) -> tuple[Any, Any]:
        zeros = xp.zeros_like(g)
        return ops._unbroadcast(xp.where(cond, g, zeros), a), ops._unbroadcast(xp.where(cond, zeros, g), b)

    return Tensor._node(out, (a, b), backward, "where")


def _number_like(ref: Tensor, k: Any) -> Any:
    """A 0-d array holding the number ``k`` in ``ref``'s dtype (float32 for a float meeting an integer tensor)."""
    data, k = ops._with_number(ref, k)
    return ref.backend.full((), k, data.dtype)


def masked_fill(input: Tensor, mask: Tensor, value: float) -> Tensor:
    """``input`` with ``value`` where ``mask`` (bool, broadcast) is True, as ``torch.masked_fill``; the gradient
    passes where the mask is False. Source: the causal mask of a transformer (``masked_fill(tril == 0,
    float('-inf'))``)."""
    if not isinstance(value, Scalar):
        value = float(value)
    check_fill(value, input._data.dtype)
    cond = ops._as_tensor(input, mask)
    xp = input.backend.xp
    if cond._data.dtype != xp.bool:
        raise TypeError(f"masked_fill: the mask must be a bool tensor, got {cond._data.dtype}")
    filled = xp.where(cond._data, input.backend.full((), value, input._data.dtype), input._data)
    zeros = xp.zeros_like(filled)
    return Tensor._node(filled, (input,), lambda g: (ops._unbroadcast(xp.where(cond._data, zeros, g), input),),
                        "masked_fill")


def maximum(input: Tensor, other: Any) -> Tensor:
    """The elementwise larger of two tensors, as ``torch.maximum``; ties share the gradient equally."""
    return _pairwise(input, other, True)


def minimum(input: Tensor, other: Any) -> Tensor:
    """The elementwise smaller of two tensors, as ``torch.minimum``; ties share the gradient equally."""
    return _pairwise(input, other, False)


def _pairwise(a: Tensor, other: Any, larger: bool) -> Tensor:
    b = ops._as_tensor(a, other)
    ad, bd = ops._promote(a, b)
    xp = a.backend.xp
    out = xp.maximum(ad, bd) if larger else xp.minimum(ad, bd)

    def backward(g: Any) -> tuple[Any, Any]:
        first = (ad > bd) if larger else (ad < bd)
        share = xp.astype(first, g.dtype) + 0.5 * xp.astype(ad == bd, g.dtype)
        return ops._unbroadcast(g * share, a), ops._unbroadcast(g * (1 - share), b)

    return Tensor._node(out, (a, b), backward, "maximum" if larger else "minimum")


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two axes (elements above ``diagonal`` set to 0), as ``torch.tril``."""
    return _triangle(input, diagonal, True)


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two axes (elements below ``diagonal`` set to 0), as ``torch.triu``."""
    return _triangle(input, diagonal, False)


def _triangle(a: Tensor, k: int, lower: bool) -> Tensor:
    if a.ndim < 2:
        raise ValueError(f"{'tril' if lower else 'triu'} needs at least 2 dimensions, got shape {a.shape}")
    xp, be = a.backend.xp, a.backend
    rows, cols = a.shape[-2:]
    offset = xp.reshape(be.arange(cols), (1, cols)) - xp.reshape(be.arange(rows), (rows, 1))
    keep = offset <= k if lower else offset >= k
    zeros = xp.zeros_like(a._data)
    out = xp.where(keep, a._data, zeros)
    return Tensor._node(out, (a,), lambda g: (xp.where(keep, g, xp.zeros_like(g)),), "tril" if lower else "triu")


def nan_to_num(input: Tensor, nan: float = 0.0, posinf: float | None = None,  # noqa: A002
               neginf: float | None = None) -> Tensor:
    """``input`` with NaN replaced by ``nan``, +inf by ``posinf`` and -inf by ``neginf`` (default: the dtype's
    largest and smallest finite values), as ``torch.nan_to_num``; same shape and dtype. An integer or bool tensor
    comes back as a copy. The gradient passes where ``input`` is finite and is 0 at the replaced places (torch's)."""
    if not _is_float(input.backend, input._data):
        return input.clone()
    be, xp, xd = input.backend, input.backend.xp, input._data
    info = np.finfo(np.dtype(input.dtype.name))
    dtype = xd.dtype

    def fill(v: float) -> Any:
        return be.full((), v, dtype)

    hi = fill(float(info.max) if posinf is None else posinf)
    lo = fill(float(info.min) if neginf is None else neginf)
    out = xp.where(xp.isnan(xd), fill(nan), xp.where(xd == math.inf, hi, xp.where(xd == -math.inf, lo, xd)))
    finite = xp.isfinite(xd)
    return Tensor._node(out, (input,), lambda g: (g * xp.astype(finite, g.dtype),), "nan_to_num")
