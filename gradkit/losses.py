"""Losses with PyTorch's names, signatures and gradients (``torch.nn.functional``): ``cross_entropy`` (class
indices, with ``weight``, ``ignore_index`` and ``label_smoothing``, or class probabilities), ``nll_loss``,
``mse_loss``, ``l1_loss``, ``binary_cross_entropy`` and ``binary_cross_entropy_with_logits``.

Shapes follow PyTorch's layout: the class axis of ``input`` is 1 (``(N, C)``, ``(N, C, d1, ...)``, or ``(C,)``
for one example), and class-index targets drop it. ``reduction`` is ``"mean"`` (over the targets not ignored,
weighted by ``weight``), ``"sum"`` or ``"none"``; torch's deprecated ``size_average``/``reduce`` are read as torch
reads them. The common case, ``cross_entropy`` of logits and class indices, is one fused node; the weighted,
smoothed and probability forms are compositions of differentiable ops (torch's formulas).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from . import ops
from ._opmaking import ieee
from ._trace import raise_if
from .functional import _shifted, log_softmax
from .pointwise import masked_fill
from .tensor import Tensor

__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "l1_loss", "mse_loss",
           "nll_loss"]


def _reduction(name: str, size_average: Any, reduce: Any, reduction: str) -> str:
    """``reduction``, or torch's reading of the deprecated ``size_average``/``reduce``. Raises ValueError for an
    unknown reduction."""
    if size_average is not None or reduce is not None:
        reduction = "none" if reduce is False else "sum" if size_average is False else "mean"
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{name}: unknown reduction {reduction!r}; use 'mean', 'sum' or 'none'")
    return reduction


def _reduced(loss: Tensor, reduction: str) -> Tensor:
    return loss if reduction == "none" else ops.sum(loss) if reduction == "sum" else ops.mean(loss)


def _class_layout(name: str, input: Tensor, t: Any) -> tuple[int, tuple[int, ...]]:
    """``(class axis, expected target shape)`` for class-index targets ``t``. Raises ValueError on a mismatch."""
    if input.ndim == 0:
        raise ValueError(f"{name} needs input of shape (C,), (N, C) or (N, C, d1, ...), got a 0-d tensor")
    expected = () if input.ndim == 1 else (input.shape[0], *input.shape[2:])
    if tuple(t.shape) != expected:
        raise ValueError(f"{name}: targets of shape {tuple(t.shape)} do not match input of shape {input.shape} "
                         f"(expected targets of shape {expected}: PyTorch's layout, the class axis is 1)")
    return (0 if input.ndim == 1 else 1), expected


def _class_indices(name: str, t: Any, backend: Any) -> None:
    """Refuse float and bool class-index targets, as torch does (a float target is not truncated)."""
    if ops._category(backend, t.dtype) != 1:
        raise RuntimeError(f"{name}: expected class-index targets of an integer dtype (torch: Long or Byte), got "
                           f"{t.dtype}; float targets of the input's shape are read as class probabilities")


def _rows(input: Tensor, t: Any, axis: int) -> tuple[Tensor, Any]:
    """``input`` as ``(M, C)`` rows (class axis last) and ``t`` as ``(M,)``."""
    xp = input.backend.xp
    n_classes = input.shape[axis]
    if input.ndim == 1:
        return ops.reshape(input, (1, n_classes)), xp.reshape(t, (1,))
    if input.ndim == 2:
        return input, t
    return ops.reshape(ops.permute(input, (0, *range(2, input.ndim), 1)), (-1, n_classes)), xp.reshape(t, (-1,))


def _check_targets(backend: Any, t: Any, n_classes: int, ignore_index: int, name: str) -> tuple[Any, Any]:
    """``(safe, valid)``: int64 ``t`` with ignored targets at class 0, and the mask of the others. One host read
    checks that every other target is a class index in ``[0, C)``."""
    xp = backend.xp
    valid = t != ignore_index
    safe = t * xp.astype(valid, t.dtype)
    if t.shape[0]:  # |2s - (C - 1)| <= C - 1 exactly when 0 <= s <= C - 1: one fast reduction
        raise_if(xp.any(xp.abs(2 * safe - (n_classes - 1)) > n_classes - 1), lambda: ValueError(
            f"{name}: a target is not a class index in [0, {n_classes}) (nor ignore_index={ignore_index}); targets "
            "pick one of the input's class axis"))
    return safe, valid


@ieee
def cross_entropy(input: Tensor, target: Any, weight: Tensor | None = None, size_average: Any = None,
                  ignore_index: int = -100, reduce: Any = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross entropy of ``softmax(input)`` along the class axis against ``target``, as
    ``torch.nn.functional.cross_entropy``.

    Shapes (PyTorch's layout): ``input (N, C)`` with ``target (N,)``; ``input (N, C, d1, ...)`` (class axis 1)
    with ``target (N, d1, ...)``; ``input (C,)`` with a 0-d ``target``. ``target`` holds either class indices
    (integers in ``[0, C)``; those equal to ``ignore_index`` add nothing) or, with the input's shape and a float
    dtype, class probabilities. ``weight (C,)`` scales each class's term (and the mean divides by the summed
    weights of the targets, as torch); ``label_smoothing`` in ``[0, 1]`` mixes the target with the uniform
    distribution. ``reduction``: ``"mean"`` (nan when every target is ignored), ``"sum"`` or ``"none"``.

    Class indices without weight or smoothing are one fused node whose gradient is ``softmax(input) -
    onehot(target)`` (finite for logits as large as 1e8); the other forms compose ``log_softmax`` with
    ``nll_loss`` (torch's formulas). Checking the targets reads one bool from the device. Source: the makemore
    lectures (F.cross_entropy), part 4.

    Raises:
        ValueError: shapes that do not match, an unknown reduction, or a class index outside ``[0, C)`` that is
            not ``ignore_index``.
        RuntimeError: float (or bool) targets of the class-index shape (torch refuses them, where a truncation
            would be silent), integer targets of the input's shape, ``ignore_index`` with probabilities, a
            ``label_smoothing`` outside ``[0, 1]``, a ``weight`` that is not ``(C,)``.
    """
    reduction = _reduction("cross_entropy", size_average, reduce, reduction)
    t = ops._as_tensor(input, target)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    if input.ndim and t.shape == input.shape:  # torch: a target of the input's shape holds probabilities
        return _cross_entropy_probabilities(input, t, weight, ignore_index, reduction, label_smoothing)
    axis, expected = _class_layout("cross_entropy", input, t._data)
    _class_indices("cross_entropy", t._data, input.backend)
    if weight is not None or label_smoothing:
        return _cross_entropy_weighted(input, t, weight, ignore_index, reduction, label_smoothing, axis)
    rows, flat = _rows(input, t._data, axis)
    out = _nll_of_logits(rows, flat, ignore_index, reduction)
    return ops.reshape(out, expected) if reduction == "none" and input.ndim != 2 else out


def _class_weight(weight: Tensor | None, input: Tensor, axis: int, name: str) -> Tensor | None:
    """``weight`` checked to be ``(C,)`` of the input's dtype (as torch)."""
    if weight is None:
        return None
    w = ops._as_tensor(input, weight)
    if w.shape != (input.shape[axis],):
        raise RuntimeError(f"{name}: weight should be defined for all {input.shape[axis]} classes, got shape {w.shape}")
    if w._data.dtype != input._data.dtype:
        raise TypeError(f"{name}: weight is {w.dtype}, input {input.dtype}: they must match (as torch)")
    return w


def _along_classes(w: Tensor, ndim: int, axis: int) -> Tensor:
    """``(C,)`` weights shaped to broadcast along ``axis`` of an ``ndim``-d input."""
    return ops.reshape(w, tuple(-1 if i == axis else 1 for i in range(ndim)))


def _cross_entropy_weighted(input: Tensor, t: Tensor, weight: Tensor | None, ignore_index: int, reduction: str,
                            smoothing: float, axis: int) -> Tensor:
    """torch's ``cross_entropy_loss_label_smoothing``: ``(1 - s) nll + s / C * smooth`` (``s`` = 0: nll alone)."""
    w = _class_weight(weight, input, axis, "cross_entropy")
    logp = log_softmax(input, axis)
    nll = nll_loss(logp, t, w, ignore_index=ignore_index, reduction=reduction)
    if not smoothing:
        return nll
    n_classes = input.shape[axis]
    terms = logp if w is None else ops.mul(logp, _along_classes(w, input.ndim, axis))
    ignored = Tensor._wrap(t._data == ignore_index, input.backend)
    smooth = masked_fill(ops.neg(ops.sum(terms, axis)), ignored, 0.0)
    if reduction == "mean":
        xp = input.backend.xp
        valid = xp.logical_not(ignored._data)
        if w is None:
            denominator = xp.sum(xp.astype(valid, input._data.dtype))
        else:  # the summed weights of the targets not ignored, as nll_loss's mean
            safe = xp.where(valid, t._data, xp.zeros_like(t._data))
            picked = xp.reshape(xp.take(w._data, xp.reshape(safe, (-1,)), axis=0), safe.shape)
            denominator = xp.sum(xp.where(valid, picked, xp.zeros_like(picked)))
        smooth = ops.div(ops.sum(smooth), Tensor._wrap(denominator, input.backend))
    elif reduction == "sum":
        smooth = ops.sum(smooth)
    return ops.add(ops.mul(nll, 1.0 - smoothing), ops.mul(smooth, smoothing / n_classes))


def _cross_entropy_probabilities(input: Tensor, t: Tensor, weight: Tensor | None, ignore_index: int,
                                 reduction: str, smoothing: float) -> Tensor:
    """torch's ``cross_entropy_loss_prob_target``: ``-sum(w * target * log_softmax(input))`` over the classes."""
    if ops._category(input.backend, t._data.dtype) != 2:
        raise RuntimeError(f"cross_entropy: targets of the input's shape are class probabilities and need a float "
                           f"dtype, got {t.dtype}")
    if ignore_index != -100:
        raise RuntimeError("cross_entropy: ignore_index is not supported for class-probability targets (as torch)")
    axis = 0 if input.ndim == 1 else 1
    n_classes = input.shape[axis]
    w = _class_weight(weight, input, axis, "cross_entropy")
    logp = log_softmax(input, axis)
    if w is not None:
        logp = ops.mul(logp, _along_classes(w, input.ndim, axis))
    if smoothing:
        t = ops.add(ops.mul(t, 1.0 - smoothing), smoothing / n_classes)
    terms = ops.neg(ops.mul(logp, t))
    if reduction == "none":
        return ops.sum(terms, axis)
    total = ops.sum(terms)
    return total if reduction == "sum" else ops.div(total, input.numel() // n_classes if n_classes else math.nan)


def _nll_of_logits(logits: Tensor, t: Any, ignore_index: int, reduction: str) -> Tensor:
    """``cross_entropy`` of ``(M, C)`` logits and ``(M,)`` targets: one node. The only host read is one bool:
    are all targets class indices? Then (the common case, ``ignore_index`` outside ``[0, C)``) no target is
    ignored and the loss needs no mask (``_nll_of_classes``); else the masked form below, which raises for a
    target that is not ``ignore_index`` either. A traced step replays the branch it took, guarded by that bool."""
    xp, backend = logits.backend.xp, logits.backend
    n_classes = logits.shape[1]
    t = backend.astype(t, "int64")
    if (t.shape[0] and not 0 <= ignore_index < n_classes  # (an ignore_index that is a class: always masked)
            and not xp.any(xp.astype(t, xp.uint64) >= n_classes)):  # (a negative target wraps to >= 2**63)
        return _nll_of_classes(logits, t, reduction)
    safe, valid = _check_targets(backend, t, n_classes, ignore_index, "cross_entropy")
    shifted, e, total = _shifted(logits, -1)
    rows = backend.arange(t.shape[0], dtype=t.dtype)
    nll = xp.log(total)[:, 0] - shifted[rows, safe]  # picked by index: a -inf logit elsewhere stays harmless
    nll = xp.where(valid, nll, 0.0)
    weight = xp.astype(valid, e.dtype)
    count = xp.sum(weight)  # all ignored (0): a nan mean and zero gradients, as torch
    mean = reduction == "mean"
    out = nll if reduction == "none" else xp.sum(nll) / xp.where(count > 0, count, math.nan) if mean else xp.sum(nll)

    def backward(g: Any) -> tuple[Any]:
        onehot = xp.astype(xp.reshape(safe, (-1, 1)) == backend.arange(n_classes, dtype=t.dtype), e.dtype)
        per_row = weight * (g / xp.where(count > 0, count, 1.0) if mean else g)
        d = backend.scratch(e * (1.0 / total))  # softmax (as torch's: times the reciprocal), then "- onehot" and
        # the per-row scale in place
        d -= onehot
        d *= xp.reshape(per_row, (-1, 1))
        return (d,)

    return Tensor._node(out, (logits,), backward, "cross_entropy")


def _nll_of_classes(logits: Tensor, t: Any, reduction: str) -> Tensor:
    """``_nll_of_logits`` for int64 targets all in ``[0, C)``: the same numbers, bit for bit, without the mask
    (the mean divides by ``M``, the masked form by the count of ones, which is ``M``)."""
    xp, backend = logits.backend.xp, logits.backend
    m, n_classes = logits.shape
    shifted, e, total = _shifted(logits, -1)
    nll = xp.log(total)[:, 0] - shifted[backend.arange(m, dtype=t.dtype), t]
    out = nll if reduction == "none" else xp.sum(nll) / m if reduction == "mean" else xp.sum(nll)

    def backward(g: Any) -> tuple[Any]:
        onehot = xp.astype(xp.reshape(t, (-1, 1)) == backend.arange(n_classes, dtype=t.dtype), e.dtype)
        d = backend.scratch(e * (1.0 / total))  # softmax, then "- onehot" and the scale in place
        d -= onehot
        d *= xp.reshape(g, (-1, 1)) if reduction == "none" else g / m if reduction == "mean" else g
        return (d,)

    return Tensor._node(out, (logits,), backward, "cross_entropy")


@ieee
def nll_loss(input: Tensor, target: Any, weight: Tensor | None = None, size_average: Any = None,
             ignore_index: int = -100, reduce: Any = None, reduction: str = "mean") -> Tensor:
    """The negative log-likelihood ``-input[n, target[n]] * weight[target[n]]`` of log-probabilities ``input``,
    as ``torch.nn.functional.nll_loss`` (shapes, ``ignore_index`` and ``reduction`` as ``cross_entropy``'s; the
    mean divides by the summed weights of the targets not ignored). One node; the gradient is ``-weight`` at
    each target's entry.

    Raises:
        ValueError: shapes that do not match, an unknown reduction, or a target outside ``[0, C)`` that is not
            ``ignore_index``. RuntimeError: float or bool targets, a ``weight`` that is not ``(C,)``.
    """
    reduction = _reduction("nll_loss", size_average, reduce, reduction)
    t = ops._as_tensor(input, target)._data
    axis, expected = _class_layout("nll_loss", input, t)
    _class_indices("nll_loss", t, input.backend)
    w = _class_weight(weight, input, axis, "nll_loss")
    rows, flat = _rows(input, t, axis)
    out = _picked_nll(rows, flat, None if w is None else w._data, ignore_index, reduction)
    return ops.reshape(out, expected) if reduction == "none" and input.ndim != 2 else out


def _picked_nll(x: Tensor, t: Any, w: Any, ignore_index: int, reduction: str) -> Tensor:
    xp, backend = x.backend.xp, x.backend
    n_classes = x.shape[1]
    t = backend.astype(t, "int64")
    safe, valid = _check_targets(backend, t, n_classes, ignore_index, "nll_loss")
    rows = backend.arange(t.shape[0], dtype=t.dtype)
    scale = xp.astype(valid, x._data.dtype)
    if w is not None:
        scale = scale * xp.take(w, safe, axis=0)
    per_row = xp.where(valid, -x._data[rows, safe] * scale, xp.zeros_like(scale))
    total = xp.sum(scale)
    out = per_row if reduction == "none" else xp.sum(per_row) if reduction == "sum" else xp.sum(per_row) / total

    def backward(g: Any) -> tuple[Any]:  # (no weight to average: zero gradients, as torch)
        coefficient = -scale * (g / xp.where(total != 0, total, 1.0) if reduction == "mean" else g)
        onehot = xp.reshape(safe, (-1, 1)) == backend.arange(n_classes, dtype=t.dtype)
        return (xp.astype(onehot, g.dtype) * xp.reshape(coefficient, (-1, 1)),)

    return Tensor._node(out, (x,), backward, "nll_loss")


def _pointwise_pair(name: str, input: Tensor, target: Any) -> Tensor:
    """``target`` as a Tensor beside ``input``, with torch's checks: a float result, and a warning (as torch's)
    when the shapes differ and will broadcast."""
    t = ops._as_tensor(input, target)
    if ops._category(input.backend, ops.result_dtype(input.backend, [input._data, t._data])) != 2:
        raise TypeError(f"{name} of {input.dtype} and {t.dtype} tensors is not defined (as in torch): it needs a "
                        "float tensor")
    if t.shape != input.shape:
        warnings.warn(f"{name}: using a target size ({t.shape}) that is different to the input size ({input.shape});"
                      " this will likely lead to incorrect results due to broadcasting (as torch warns)",
                      UserWarning, stacklevel=3)
    return t


def mse_loss(input: Tensor, target: Any, size_average: Any = None, reduce: Any = None,
             reduction: str = "mean") -> Tensor:
    """``(input - target)^2`` reduced, as ``torch.nn.functional.mse_loss`` (broadcast, with torch's warning when
    the shapes differ); differentiable in both. Raises TypeError for integer operands."""
    reduction = _reduction("mse_loss", size_average, reduce, reduction)
    diff = ops.sub(input, _pointwise_pair("mse_loss", input, target))
    return _reduced(ops.mul(diff, diff), reduction)


def l1_loss(input: Tensor, target: Any, size_average: Any = None, reduce: Any = None,
            reduction: str = "mean") -> Tensor:
    """``|input - target|`` reduced, as ``torch.nn.functional.l1_loss``; the gradient is the sign (0 where equal).
    Raises TypeError for integer operands."""
    reduction = _reduction("l1_loss", size_average, reduce, reduction)
    return _reduced(ops.abs(ops.sub(input, _pointwise_pair("l1_loss", input, target))), reduction)


def _same_shape(name: str, input: Tensor, t: Tensor) -> None:
    if t.shape != input.shape:
        raise ValueError(f"{name}: target size {t.shape} must be the same as input size {input.shape} (as torch)")
    if t._data.dtype != input._data.dtype or ops._category(input.backend, input._data.dtype) != 2:
        raise TypeError(f"{name}: input ({input.dtype}) and target ({t.dtype}) must be float tensors of one dtype "
                        "(as torch)")


def _weight(input: Tensor, weight: Any) -> Any:
    """``weight`` (broadcast to the input) as an array of the input's dtype, or None."""
    if weight is None:
        return None
    return input.backend.astype(ops._as_tensor(input, weight)._data, input._data.dtype)


@ieee
def binary_cross_entropy(input: Tensor, target: Any, weight: Any = None, size_average: Any = None,
                         reduce: Any = None, reduction: str = "mean") -> Tensor:
    """``-(t log p + (1 - t) log(1 - p))`` of probabilities ``input`` against ``target`` (same shape and dtype),
    each log clamped at -100 (so ``p = 0`` costs 100, not inf), times ``weight`` (broadcast), as
    ``torch.nn.functional.binary_cross_entropy``. Gradients, torch's: ``(p - t) / max(p (1 - p), 1e-12)`` for the
    input, ``-logit(p)`` for the target.

    Raises:
        ValueError: shapes that differ. TypeError: dtypes that differ or are not floats.
        RuntimeError: an input outside ``[0, 1]`` (nan included; one host read).
    """
    reduction = _reduction("binary_cross_entropy", size_average, reduce, reduction)
    t = ops._as_tensor(input, target)
    _same_shape("binary_cross_entropy", input, t)
    xp = input.backend.xp
    p, td = input._data, t._data
    if input.numel():
        raise_if(xp.any(xp.logical_not((p >= 0) & (p <= 1))), lambda: RuntimeError(
            "binary_cross_entropy: all elements of input should be between 0 and 1 (probabilities; for logits use "
            "binary_cross_entropy_with_logits)"))
    w = _weight(input, weight)
    log_p, log_q = xp.maximum(xp.log(p), -100.0), xp.maximum(xp.log1p(-p), -100.0)
    loss = -(td * log_p + (1.0 - td) * log_q)
    if w is not None:
        loss = loss * w

    def backward(g: Any) -> tuple[Any, Any]:
        scaled = g if w is None else g * w
        gp = scaled * (p - td) / xp.maximum(p * (1.0 - p), 1e-12)
        gt = scaled * (xp.log1p(-p) - xp.log(p))
        return ops._unbroadcast(gp, input), ops._unbroadcast(gt, t)

    return _reduced(Tensor._node(loss, (input, t), backward, "binary_cross_entropy", (input, t)), reduction)


@ieee
def binary_cross_entropy_with_logits(input: Tensor, target: Any, weight: Any = None, size_average: Any = None,
                                     reduce: Any = None, reduction: str = "mean", pos_weight: Any = None) -> Tensor:
    """``binary_cross_entropy(sigmoid(input), target)`` computed stably from logits, as
    ``torch.nn.functional.binary_cross_entropy_with_logits``: ``(1 - t) x + (1 + (pos_weight - 1) t)
    softplus(-x)``, times ``weight``; ``pos_weight`` (broadcast along the last axis, one per class) weighs the
    positive targets. Gradients: ``(1 + (pw - 1) t) sigmoid(x) - pw t`` for the input, ``pw softplus(-x) -
    softplus(x)`` for the target.

    Raises:
        ValueError: shapes that differ. TypeError: dtypes that differ or are not floats.
    """
    reduction = _reduction("binary_cross_entropy_with_logits", size_average, reduce, reduction)
    t = ops._as_tensor(input, target)
    _same_shape("binary_cross_entropy_with_logits", input, t)
    xp = input.backend.xp
    x, td = input._data, t._data
    w, pw = _weight(input, weight), _weight(input, pos_weight)
    softplus_neg = xp.maximum(-x, 0.0) + xp.log1p(xp.exp(-xp.abs(x)))  # softplus(-x) = -log(sigmoid(x))
    log_weight = 1.0 if pw is None else (pw - 1.0) * td + 1.0
    loss = (1.0 - td) * x + log_weight * softplus_neg
    if w is not None:
        loss = loss * w

    def backward(g: Any) -> tuple[Any, Any]:
        scaled = g if w is None else g * w
        e = xp.exp(-xp.abs(x))
        sigmoid = xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        gx = log_weight * sigmoid - (td if pw is None else pw * td)
        gt = -x if pw is None else pw * softplus_neg - (x + softplus_neg)
        return ops._unbroadcast(scaled * gx, input), ops._unbroadcast(scaled * gt, t)

    node = Tensor._node(loss, (input, t), backward, "binary_cross_entropy_with_logits", (input, t))
    return _reduced(node, reduction)
