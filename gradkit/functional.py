"""Fused, numerically stable functions of the models: softmax, log_softmax, cross_entropy, linear, layer_norm,
gelu.

Each is one graph node with an analytic backward, which is both faster and more accurate than composing
the primitive ops.
"""

from __future__ import annotations

import math
from typing import Any

from .ops import _as_tensor, _promote, _unbroadcast
from .tensor import Tensor


def _shifted(x: Tensor, axis: int) -> tuple[Any, Any, Any]:
    """``(x - max, exp(x - max), sum(exp(x - max)))`` along ``axis``, keepdims: the log-sum-exp trick."""
    xp = x.backend.xp
    shifted = x._data - xp.max(x._data, axis=axis, keepdims=True)
    e = xp.exp(shifted)
    return shifted, e, xp.sum(e, axis=axis, keepdims=True)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``axis``, stable for any finite logits."""
    xp = x.backend.xp
    _, e, total = _shifted(x, axis)
    out = e / total
    return Tensor._node(out, (x,), lambda g: (out * (g - xp.sum(g * out, axis=axis, keepdims=True)),), "softmax")


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """``x - logsumexp(x)`` along ``axis``, stable for any finite logits."""
    xp = x.backend.xp
    shifted, e, total = _shifted(x, axis)
    out = shifted - xp.log(total)
    return Tensor._node(out, (x,), lambda g: (g - e / total * xp.sum(g, axis=axis, keepdims=True),),
                        "log_softmax")


def cross_entropy(logits: Tensor, targets: Any, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of integer ``targets`` under ``softmax(logits)``, fused and stable.

    Shapes: ``logits (N, C)`` (or ``(..., C)``), ``targets (N,)`` (or ``(...)``) integers in ``[0, C)``, a
    Tensor or an array of the logits' backend. ``reduction``: ``"mean"`` (default), ``"sum"`` or ``"none"``.
    The gradient is ``softmax(logits) - onehot(targets)`` (divided by N for the mean). Finite for logits as
    large as 1e8. Source: the makemore lectures (F.cross_entropy), part 4.

    Raises:
        ValueError: shapes that do not match, an unknown reduction, or (where the backend checks indices, as
            numpy does) a target >= C.
    """
    t = _as_tensor(logits, targets)._data
    xp = logits.backend.xp
    if tuple(t.shape) != logits.shape[:-1]:
        raise ValueError(f"cross_entropy: targets of shape {tuple(t.shape)} do not match logits of shape "
                         f"{logits.shape} (expected targets of shape {logits.shape[:-1]})")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"cross_entropy: unknown reduction {reduction!r}; use 'mean', 'sum' or 'none'")
    backend, n_classes = logits.backend, logits.shape[-1]
    shifted, e, total = _shifted(logits, -1)
    try:
        if t.ndim == 1:  # (N, C) logits: the common case, without reshapes
            picked, log_total = shifted[backend.arange(t.shape[0], dtype=t.dtype), t], xp.log(total)[:, 0]
        else:
            flat_t = xp.reshape(t, (-1,))
            rows = backend.arange(flat_t.shape[0], dtype=t.dtype)
            picked = xp.reshape(xp.reshape(shifted, (-1, n_classes))[rows, flat_t], t.shape)
            log_total = xp.reshape(xp.log(total), t.shape)
    except IndexError:
        raise ValueError(f"cross_entropy: a target is not a class index in [0, {n_classes}); targets pick one of "
                         f"the logits' last axis") from None
    nll = log_total - picked  # picked by index, so a -inf logit elsewhere stays harmless
    count = nll.size if nll.size else 1
    out = nll if reduction == "none" else xp.sum(nll) / count if reduction == "mean" else xp.sum(nll)

    def backward(g: Any) -> tuple[Any]:
        onehot = xp.astype(xp.reshape(t, (*t.shape, 1)) == backend.arange(n_classes, dtype=t.dtype), e.dtype)
        scale = xp.reshape(g, (*g.shape, 1)) if reduction == "none" else g / count if reduction == "mean" else g
        d = e / total  # softmax, then "- onehot" and the upstream scale in place
        d -= onehot
        d *= scale
        return (d,)

    return Tensor._node(out, (logits,), backward, "cross_entropy")


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight + bias`` as one node. Shapes: ``x (..., fan_in)``, ``weight (fan_in, fan_out)`` (the
    course's layout, ``x @ W``), ``bias (fan_out,)``; returns ``(..., fan_out)``.

    Raises:
        ValueError: ``x``'s last axis is not ``fan_in``.
    """
    fan_in, fan_out = weight._data.shape
    if x._data.shape[-1:] != (fan_in,):
        raise ValueError(f"linear: input of shape {x.shape} does not match a weight of shape {weight.shape} "
                         f"(the input's last axis must be {fan_in})")
    xp = x.backend.xp
    weight = _as_tensor(x, weight)  # raises DeviceMismatchError for another backend
    xd, w = _promote(x, weight)  # an integer input meets the weight's float dtype
    x2 = xp.reshape(xd, (-1, fan_in)) if x.ndim != 2 else xd
    out = x2 @ w
    if bias is not None:
        out += _as_tensor(x, bias)._data  # in place: out is the matmul's fresh result
    if x.ndim != 2:
        out = xp.reshape(out, (*x.shape[:-1], fan_out))
    need_x = x.requires_grad

    def backward(g: Any) -> tuple[Any, ...]:
        g2 = xp.reshape(g, (-1, fan_out)) if x.ndim != 2 else g
        gx = None if not need_x else g2 @ w.T if x.ndim == 2 else xp.reshape(g2 @ w.T, x.shape)
        grads = (None if gx is None else _unbroadcast(gx, x), _unbroadcast(x2.T @ g2, weight))
        return grads if bias is None else (*grads, _unbroadcast(xp.sum(g2, axis=0), bias))

    parents = (x, weight) if bias is None else (x, weight, bias)
    return Tensor._node(out, parents, backward, "linear", (x, weight))


def one_hot(ids: Tensor, num_classes: int, dtype: Any = "float32") -> Tensor:
    """Integer ``ids (...)`` -> ``(..., num_classes)`` of ``dtype`` with a 1 at each id (not differentiable)."""
    be = ids.backend
    xp = be.xp
    index = xp.reshape(ids._data, (*ids.shape, 1))
    return Tensor._wrap(xp.astype(index == be.arange(num_classes, dtype=ids.dtype), be.dtype(dtype)), be)


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
    xp = x.backend.xp
    axes = tuple(range(x.ndim - k, x.ndim))
    xd = x._data
    centred = xd - xp.mean(xd, axis=axes, keepdims=True)
    rstd = 1.0 / xp.sqrt(xp.mean(centred * centred, axis=axes, keepdims=True) + eps)
    xhat = centred * rstd
    w = None if weight is None else _as_tensor(x, weight)._data
    out = xhat if w is None else xhat * w
    if bias is not None:
        out = out + _as_tensor(x, bias)._data
    lead = tuple(range(x.ndim - k))

    def backward(g: Any) -> tuple[Any, ...]:
        dxhat = g if w is None else g * w
        mean_d = xp.mean(dxhat, axis=axes, keepdims=True)
        mean_dx = xp.mean(dxhat * xhat, axis=axes, keepdims=True)
        grads = [rstd * (dxhat - mean_d - xhat * mean_dx)]
        if weight is not None:
            grads.append(xp.sum(g * xhat, axis=lead) if lead else g * xhat)
        if bias is not None:
            grads.append(xp.sum(g, axis=lead) if lead else g)
        return tuple(grads)

    parents = tuple(t for t in (x, weight, bias) if t is not None)
    return Tensor._node(out, parents, backward, "layer_norm")


_GELU_C = math.sqrt(2.0 / math.pi)


def gelu(x: Tensor, approximate: str = "tanh") -> Tensor:
    """GELU with the tanh approximation, as one node: ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``
    (makemore's and GPT-2's ``NewGELU``; torch's ``gelu(x, approximate="tanh")``). Any shape; float dtypes.

    gradkit's default is ``"tanh"`` where torch's is ``"none"`` (the exact form needs ``erf``, which the
    array API standard lacks). Source: Hendrycks & Gimpel, "Gaussian Error Linear Units", 2016.

    Raises:
        ValueError: ``approximate`` other than ``"tanh"``.
    """
    if approximate != "tanh":
        raise ValueError(f"gelu: approximate={approximate!r} is not available (the exact form needs erf, which "
                         "the array API standard lacks); use approximate='tanh', makemore's NewGELU")
    xp = x.backend.xp
    xd = x._data
    t = xp.tanh(_GELU_C * (xd + 0.044715 * xd * xd * xd))
    out = 0.5 * xd * (1.0 + t)

    def backward(g: Any) -> tuple[Any]:
        inner = _GELU_C * (1.0 + 3 * 0.044715 * xd * xd)
        return (g * (0.5 * (1.0 + t) + 0.5 * xd * (1.0 - t * t) * inner),)

    return Tensor._node(out, (x,), backward, "gelu")
