"""Scaled dot-product attention as ONE graph node with its own backward, as
``torch.nn.functional.scaled_dot_product_attention``.

Source: A. Vaswani et al., "Attention Is All You Need", NeurIPS 2017, eq. 1: ``softmax(Q K^T / sqrt(d)) V``; the
masking, dropout and defaults are PyTorch's (its documented reference implementation).
"""

from __future__ import annotations

import math
from typing import Any

from .nn.dropout import keep_mask
from .ops import _as_tensor, _unbroadcast, ieee, row_sum
from .tensor import Tensor

__all__ = ["scaled_dot_product_attention"]


def _mask(query: Tensor, attn_mask: Any, is_causal: bool, L: int, S: int) -> tuple[Any, Tensor | None]:
    """``(keep, additive)``: a bool array of the positions that take part (or None), and a float mask Tensor to
    add to the scores (or None)."""
    xp, be = query.backend.xp, query.backend
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError("scaled_dot_product_attention: explicit attn_mask should not be set when "
                               "is_causal=True (the causal mask is the lower triangle, top-left aligned)")
        rows, cols = be.arange(L), be.arange(S)
        return xp.reshape(rows, (L, 1)) >= xp.reshape(cols, (1, S)), None
    if attn_mask is None:
        return None, None
    mask = _as_tensor(query, attn_mask)
    if mask._data.dtype == xp.bool:
        return mask._data, None
    if not xp.isdtype(mask._data.dtype, "real floating"):
        raise TypeError(f"scaled_dot_product_attention: attn_mask must be bool (True: take part) or a float mask "
                        f"to add to the scores, got {mask.dtype}")
    return None, mask


@ieee
def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Any = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """``softmax(query @ key^T * scale + mask) @ value``, as ``torch.nn.functional.scaled_dot_product_attention``.

    Shapes: ``query (..., L, E)``, ``key (..., S, E)``, ``value (..., S, Ev)`` -> ``(..., L, Ev)``; batch axes
    broadcast. ``scale`` defaults to ``1 / sqrt(E)``. ``attn_mask`` (broadcastable to ``(..., L, S)``): bool, True
    where a query may attend; or float, added to the scores (and differentiated). ``is_causal``: query ``i``
    attends to keys ``j <= i`` (the top-left lower triangle). ``dropout_p``: the attention weights are dropped
    with that probability and rescaled (draws from the default generator; pass 0 in evaluation, as torch
    requires). ``enable_gqa``: query heads (axis -3) share key/value heads in groups. A query row with no key to
    attend to gives nan, as torch's reference. One graph node; the backward recomputes nothing.

    Raises:
        RuntimeError: ``attn_mask`` together with ``is_causal``; query, key and value of different dtypes; heads
            that do not divide for ``enable_gqa``. ValueError: ``dropout_p`` outside [0, 1); shapes that do not
            match. TypeError: an integer mask.
    """
    q, k, v = query, _as_tensor(query, key), _as_tensor(query, value)
    if not (q.dtype == k.dtype == v.dtype):
        raise RuntimeError(f"scaled_dot_product_attention: expected query, key and value to have the same dtype, "
                           f"got {q.dtype}, {k.dtype} and {v.dtype}")
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2 or q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: shapes query {q.shape}, key {key.shape}, value "
                         f"{value.shape} do not match (expected (..., L, E), (..., S, E), (..., S, Ev))")
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"scaled_dot_product_attention: dropout_p must be in [0, 1), got {dropout_p}")
    xp = q.backend.xp
    L, S = q.shape[-2], k.shape[-2]
    group = 1
    if enable_gqa and q.ndim >= 3 and q.shape[-3] != k.shape[-3]:
        if q.shape[-3] % k.shape[-3] or k.shape[-3] != v.shape[-3]:
            raise RuntimeError(f"scaled_dot_product_attention: enable_gqa needs query heads ({q.shape[-3]}) to be a "
                               f"multiple of the key/value heads ({k.shape[-3]})")
        group = q.shape[-3] // k.shape[-3]
    kd = xp.repeat(k._data, group, axis=-3) if group > 1 else k._data
    vd = xp.repeat(v._data, group, axis=-3) if group > 1 else v._data
    factor = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    keep, additive = _mask(q, attn_mask, is_causal, L, S)
    be = q.backend
    scores = be.scratch(q._data @ xp.matrix_transpose(kd))
    scores *= factor
    if additive is not None:
        scores = scores + additive._data
    if is_causal:  # -inf added above the diagonal, as torch's reference adds its bias (numpy's where is slow)
        scores += xp.where(keep, be.zeros((L, S), scores.dtype), -math.inf)
    elif keep is not None:
        scores = xp.where(keep, scores, -math.inf)
    weights = be.scratch(xp.exp(scores - xp.max(scores, axis=-1, keepdims=True)))
    weights *= 1.0 / row_sum(be, weights)  # the softmax, as functional.softmax computes it
    drop = keep_mask(weights.shape, dropout_p, weights.dtype, q.backend) if dropout_p > 0 else None
    used = weights if drop is None else weights * drop
    out = used @ vd
    parents = (q, k, v) if additive is None else (q, k, v, additive)

    def backward(g: Any) -> tuple[Any, ...]:
        dv = xp.matrix_transpose(used) @ g
        dw = g @ xp.matrix_transpose(vd)
        if drop is not None:
            dw = dw * drop
        ds = be.scratch(dw - row_sum(be, dw * weights))
        ds *= weights
        if keep is not None and not is_causal:  # (a causal row always has a key: its weights are 0 where masked)
            ds = xp.where(keep, ds, 0.0)  # nan rows (nothing to attend to) send nothing back
        dq = (ds @ kd) * factor
        dk = (xp.matrix_transpose(ds) @ q._data) * factor
        if group > 1:
            dk = xp.sum(xp.reshape(dk, (*dk.shape[:-3], k.shape[-3], group, *dk.shape[-2:])), axis=-3)
            dv = xp.sum(xp.reshape(dv, (*dv.shape[:-3], v.shape[-3], group, *dv.shape[-2:])), axis=-3)
        grads = [_unbroadcast(dq, q), _unbroadcast(dk, k), _unbroadcast(dv, v)]
        if additive is not None:
            grads.append(_unbroadcast(ds, additive))
        return tuple(grads)

    return Tensor._node(out, parents, backward, "scaled_dot_product_attention", parents)
