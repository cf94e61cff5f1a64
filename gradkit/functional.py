"""Fused, numerically stable functions of the models: softmax, log_softmax, cross_entropy, linear.

Each is one graph node with an analytic backward, which is both faster and more accurate than composing
the primitive ops.
"""

from __future__ import annotations

from typing import Any

from .ops import _as_tensor, _promote, _unbroadcast, ieee
from .tensor import Tensor


def _shifted(x: Tensor, axis: int) -> tuple[Any, Any, Any]:
    """``(x - max, exp(x - max), sum(exp(x - max)))`` along ``axis``, keepdims: the log-sum-exp trick."""
    xp = x.backend.xp
    shifted = x._data - xp.max(x._data, axis=axis, keepdims=True)
    e = xp.exp(shifted)
    return shifted, e, xp.sum(e, axis=axis, keepdims=True)


@ieee
def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``axis``, stable for any finite logits."""
    xp = x.backend.xp
    _, e, total = _shifted(x, axis)
    out = e / total
    return Tensor._node(out, (x,), lambda g: (out * (g - xp.sum(g * out, axis=axis, keepdims=True)),), "softmax")


@ieee
def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """``x - logsumexp(x)`` along ``axis``, stable for any finite logits."""
    xp = x.backend.xp
    shifted, e, total = _shifted(x, axis)
    out = shifted - xp.log(total)
    return Tensor._node(out, (x,), lambda g: (g - e / total * xp.sum(g, axis=axis, keepdims=True),),
                        "log_softmax")


@ieee
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
