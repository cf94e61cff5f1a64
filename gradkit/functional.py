"""Fused, numerically stable functions of the models: softmax, log_softmax, cross_entropy, linear, one_hot,
layer_norm, gelu (PyTorch's ``torch.nn.functional``; ``import gradkit.functional as F``).

Each is one graph node with an analytic backward, which is both faster and more accurate than composing
the primitive ops.
"""

from __future__ import annotations

import math
from typing import Any

from . import ops  # noqa: F401 (imported first: ops -> _trace -> tensor is the import order that resolves)
from ._trace import raise_if
from .ops import _as_tensor, _promote, _unbroadcast, ieee, lead_sum, row_sum
from .tensor import OUTPUT, Tensor, pick_dim


def _axis_sum(backend: Any, a: Any, axis: int) -> Any:
    """``sum(a, axis, keepdims=True)``, along the last axis as ``ops.row_sum`` (a product with ones)."""
    if axis in (-1, a.ndim - 1):
        return row_sum(backend, a)
    return backend.xp.sum(a, axis=axis, keepdims=True)


def _shifted(x: Tensor, axis: int) -> tuple[Any, Any, Any]:
    """``(x - max, exp(x - max), sum(exp(x - max)))`` along ``axis``, keepdims: the log-sum-exp trick."""
    xp = x.backend.xp
    shifted = x._data - xp.max(x._data, axis=axis, keepdims=True)
    e = xp.exp(shifted)
    return shifted, e, _axis_sum(x.backend, e, axis)


@ieee
def softmax(input: Tensor, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim`` (default: the last axis), stable for any finite logits, as
    ``torch.nn.functional.softmax`` (whose implicit dim is deprecated; gradkit's default is the last axis). One
    node: ``e = exp(x - max)`` scaled by ``1 / sum(e)`` (torch's kernel multiplies by the reciprocal too); the
    backward is ``out * (g - sum(g * out))``."""
    d = pick_dim("softmax", dim, axis, -1)
    be = input.backend
    _, e, total = _shifted(input, d)
    out = be.scratch(e)
    out *= 1.0 / total

    def backward(g: Any) -> tuple[Any]:
        grad = be.scratch(g - _axis_sum(be, g * out, d))
        grad *= out
        return (grad,)

    return Tensor._node(out, (input,), backward, "softmax", (OUTPUT,))


@ieee
def log_softmax(input: Tensor, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """``x - logsumexp(x)`` along ``dim`` (default: the last axis), stable for any finite logits. One node; the
    backward is ``g - softmax(x) * sum(g)``."""
    d = pick_dim("log_softmax", dim, axis, -1)
    xp, be = input.backend.xp, input.backend
    shifted, e, total = _shifted(input, d)
    out = be.scratch(shifted)
    out -= xp.log(total)

    def backward(g: Any) -> tuple[Any]:
        return (g - e * (_axis_sum(be, g, d) / total),)

    return Tensor._node(out, (input,), backward, "log_softmax")


@ieee
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias`` as one node, as ``torch.nn.functional.linear``. Shapes: ``input (...,
    in_features)``, ``weight (out_features, in_features)`` (PyTorch's layout), ``bias (out_features,)``;
    returns ``(..., out_features)``. The course's own ``x @ W`` with ``W (fan_in, fan_out)`` is written with
    ``@``.

    Raises:
        ValueError: ``input``'s last axis is not ``in_features``.
    """
    x = input
    fan_out, fan_in = weight._data.shape
    if x._data.shape[-1:] != (fan_in,):
        raise ValueError(f"linear: input of shape {x.shape} does not match a weight of shape {weight.shape} "
                         f"(out_features, in_features): the input's last axis must be {fan_in}")
    xp = x.backend.xp
    weight = _as_tensor(x, weight)  # raises DeviceMismatchError for another backend
    xd, w = _promote(x, weight)  # an integer input meets the weight's float dtype
    x2 = xp.reshape(xd, (-1, fan_in)) if x.ndim != 2 else xd
    out = x2 @ xp.matrix_transpose(w)
    if bias is not None:
        out = x.backend.scratch(out)
        out += _as_tensor(x, bias)._data  # in place: out is the matmul's fresh result
    if x.ndim != 2:
        out = xp.reshape(out, (*x.shape[:-1], fan_out))
    need_x = x.requires_grad

    def backward(g: Any) -> tuple[Any, ...]:
        g2 = xp.reshape(g, (-1, fan_out)) if x.ndim != 2 else g
        gx = None if not need_x else g2 @ w if x.ndim == 2 else xp.reshape(g2 @ w, x.shape)
        grads = (None if gx is None else _unbroadcast(gx, x), _unbroadcast(xp.matrix_transpose(g2) @ x2, weight))
        return grads if bias is None else (*grads, _unbroadcast(lead_sum(x.backend, g2, 1), bias))

    parents = (x, weight) if bias is None else (x, weight, bias)
    return Tensor._node(out, parents, backward, "linear", (x, weight))


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """Integer ``tensor (...)`` -> int64 ``(..., num_classes)`` with a 1 at each id, as
    ``torch.nn.functional.one_hot`` (``num_classes=-1``: the largest id + 1, read from the device). Not
    differentiable; cast with ``.float()`` before a matmul.

    Raises:
        ValueError: a non-integer tensor, or an id outside ``[0, num_classes)``.
    """
    be = tensor.backend
    xp = be.xp
    if not xp.isdtype(tensor._data.dtype, "integral"):
        raise ValueError(f"one_hot needs an integer tensor of class ids, got {tensor._data.dtype}")
    if num_classes < 0:
        num_classes = int(xp.max(tensor._data)) + 1 if tensor.numel() else 0
    elif tensor.numel():
        raise_if(xp.any((tensor._data < 0) | (tensor._data >= num_classes)), lambda: ValueError(
            f"one_hot: a class id is outside [0, {num_classes}); pass num_classes larger than the largest id"))
    index = xp.reshape(tensor._data, (*tensor.shape, 1))
    return Tensor._wrap(xp.astype(index == be.arange(num_classes, dtype=tensor._data.dtype), xp.int64), be)


@ieee
def layer_norm(x: Tensor, normalized_shape: int | tuple[int, ...], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Layer normalisation over the last ``len(normalized_shape)`` axes, as one node: ``(x - mean) /
    sqrt(var + eps) * weight + bias`` with the biased variance, as ``torch.nn.functional.layer_norm``.

    Shapes: ``x (..., *normalized_shape)``; ``weight``, ``bias`` ``normalized_shape`` (or None). The backward
    is analytic: ``dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))`` with ``dxhat = g * weight``.
    Source: Ba, Kiros, Hinton, "Layer Normalization", 2016; makemore's Transformer (GPT-2's blocks).

    Raises:
        ValueError: ``x``'s trailing shape is not ``normalized_shape``, or ``weight``/``bias`` have another
            shape.
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or x.shape[x.ndim - k:] != shape:
        raise ValueError(f"layer_norm: input of shape {x.shape} does not end in normalized_shape {shape}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and p.shape != shape:
            raise ValueError(f"layer_norm: {name} has shape {p.shape}, expected normalized_shape {shape}")
    be, xp = x.backend, x.backend.xp
    n = math.prod(shape)
    rows = xp.reshape(x._data, (-1, n))  # the normalised axes as one (a view of a contiguous input)
    inv_n = 1.0 / n
    xhat = be.scratch(rows - row_sum(be, rows) * inv_n)  # centred, then scaled in place
    rstd = 1.0 / xp.sqrt(row_sum(be, xhat * xhat) * inv_n + eps)
    xhat *= rstd
    w = None if weight is None else xp.reshape(_as_tensor(x, weight)._data, (n,))
    out = be.scratch(xhat) if w is None else be.scratch(xhat * w)
    if bias is not None:
        out += xp.reshape(_as_tensor(x, bias)._data, (n,))

    def backward(g: Any) -> tuple[Any, ...]:
        g2 = xp.reshape(g, (-1, n))
        dxhat = g2 if w is None else g2 * w
        dx = be.scratch(dxhat - row_sum(be, dxhat) * inv_n)
        dx -= xhat * (row_sum(be, dxhat * xhat) * inv_n)
        dx *= rstd
        grads = [xp.reshape(dx, x.shape)]
        if weight is not None:
            grads.append(xp.reshape(lead_sum(be, g2 * xhat, 1), shape))
        if bias is not None:
            grads.append(xp.reshape(lead_sum(be, g2, 1), shape))
        return tuple(grads)

    parents = tuple(t for t in (x, weight, bias) if t is not None)
    return Tensor._node(xp.reshape(out, x.shape), parents, backward, "layer_norm")


_GELU_C = math.sqrt(2.0 / math.pi)


@ieee
def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """GELU, as ``torch.nn.functional.gelu``: with ``approximate="none"`` (the default, as torch's) the exact
    ``x Phi(x)`` (``activations.gelu_erf``); with ``"tanh"`` the approximation ``0.5 x (1 + tanh(sqrt(2/pi) (x +
    0.044715 x^3)))`` as one node (makemore's and GPT-2's ``NewGELU``). Any shape; float dtypes. Source: Hendrycks
    & Gimpel, "Gaussian Error Linear Units", 2016.

    Raises:
        ValueError: ``approximate`` other than ``"none"`` or ``"tanh"``.
    """
    if approximate == "none":
        from .activations import gelu_erf

        return gelu_erf(input)
    if approximate != "tanh":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    x = input
    xp = x.backend.xp
    xd, be = x._data, x.backend
    x2 = xd * xd  # kept for the backward; every other temporary is updated in place
    inner = be.scratch(x2 * 0.044715)
    inner += 1.0
    inner *= xd
    inner *= _GELU_C  # sqrt(2/pi) (x + 0.044715 x^3)
    t = xp.tanh(inner)
    out = be.scratch(t + 1.0)
    out *= xd
    out *= 0.5

    def backward(g: Any) -> tuple[Any]:
        # d/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2)
        slope = be.scratch(x2 * (3 * 0.044715))
        slope += 1.0
        slope *= _GELU_C
        slope *= xd
        sech2 = be.scratch(t * t)
        sech2 -= 1.0  # t^2 - 1 = -(1 - t^2)
        slope *= sech2
        d = be.scratch(t + 1.0)
        d -= slope
        d *= 0.5
        d *= g
        return (d,)

    return Tensor._node(out, (x,), backward, "gelu")


from .losses import cross_entropy  # noqa: E402, F401 (the fused loss lives in losses, which imports softmax from here)
