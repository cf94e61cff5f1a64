"""Scans along one dimension, with PyTorch's names, dtypes and gradients: ``cumsum``, ``cumprod``, ``cummax``,
``cummin`` (``(values, indices)``) and ``logcumsumexp``.

The array API standard has ``cumulative_sum`` and ``cumulative_prod``; the maximum, minimum and log-sum-exp scans
are built here as Hillis-Steele scans (``ceil(log2 n)`` rounds of one combine over shifted slices), so they run
as whole-array operations on every backend. Source: Hillis & Steele, "Data parallel algorithms", CACM 1986.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import ops
from ._opmaking import ieee
from .reductions import ValuesIndices
from .shapes import _axis
from .tensor import Tensor

__all__ = ["cummax", "cummin", "cumprod", "cumsum", "logcumsumexp"]


def _along(a: Tensor, dim: int, name: str) -> tuple[Tensor, int]:
    """``a`` with at least one axis (a 0-d tensor as ``(1,)``) and ``dim`` as a non-negative axis of it."""
    d = _axis(dim, a.ndim, name)
    return (a if a.ndim else ops.reshape(a, (1,))), d


def _reversed_cumsum(xp: Any, g: Any, d: int) -> Any:
    """``sum_{j >= k} g_j`` along ``d`` (the gradient of a cumulative sum)."""
    return xp.flip(xp.cumulative_sum(xp.flip(g, axis=d), axis=d), axis=d)


def _scan_dtype(a: Tensor, dtype: Any) -> Tensor:
    """``a`` cast to ``dtype``, or for integers and bools to int64 (torch's accumulation type)."""
    if dtype is not None:
        return a.astype(dtype)
    return a if ops._category(a.backend, a._data.dtype) == 2 else a.astype("int64")


@ieee
def cumsum(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """Running sums along ``dim``, as ``torch.cumsum``: integers and bools accumulate in int64 (``dtype`` casts
    first). The gradient is the reversed running sum of the upstream gradient."""
    x, d = _along(_scan_dtype(input, dtype), dim, "cumsum")
    xp = x.backend.xp
    out = Tensor._node(xp.cumulative_sum(x._data, axis=d), (x,), lambda g: (_reversed_cumsum(xp, g, d),), "cumsum")
    return out if input.ndim else ops.reshape(out, ())


@ieee
def cumprod(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """Running products along ``dim``, as ``torch.cumprod`` (integers and bools in int64).

    The gradient is exact with zeros in the input (torch's method): before the first zero ``z`` of a row it is
    ``reversed_cumsum(g * out) / x`` over the positions before ``z``; at ``z`` it is
    ``sum_{j >= z} g_j prod_{i <= j, i != z} x_i`` (a running product with that zero replaced by 1); after it, 0.
    """
    x, d = _along(_scan_dtype(input, dtype), dim, "cumprod")
    xp = x.backend.xp
    xd = x._data
    out = xp.cumulative_prod(xd, axis=d)

    def backward(g: Any) -> tuple[Any]:
        zero = xd == 0
        zeros_so_far = xp.cumulative_sum(xp.astype(zero, xp.int32), axis=d)
        before = zeros_so_far == 0
        first = zero & (zeros_so_far == 1)
        one, zeros = xp.ones_like(xd), xp.zeros_like(xd)
        plain = _reversed_cumsum(xp, xp.where(before, g * out, zeros), d) / xp.where(before, xd, one)
        at_first = _reversed_cumsum(xp, g * xp.cumulative_prod(xp.where(first, one, xd), axis=d), d)
        return (xp.where(before, plain, xp.where(first, at_first, zeros)),)

    result = Tensor._node(out, (x,), backward, "cumprod", (x,))
    return result if input.ndim else ops.reshape(result, ())


def _hillis_steele(xp: Any, parts: tuple[Any, ...], d: int, combine: Callable[..., tuple[Any, ...]]) -> tuple:
    """The inclusive scan of ``parts`` (arrays of one shape, scanned together) along ``d`` with the associative
    ``combine(earlier, later) -> parts``."""
    n = parts[0].shape[d]
    lead = (slice(None),) * d
    shift = 1
    while shift < n:
        head = tuple(p[lead + (slice(0, shift), ...)] for p in parts)
        earlier = tuple(p[lead + (slice(0, n - shift), ...)] for p in parts)
        later = tuple(p[lead + (slice(shift, n), ...)] for p in parts)
        parts = tuple(xp.concat([h, c], axis=d) for h, c in zip(head, combine(earlier, later)))
        shift *= 2
    return parts


def _cum_extreme(a: Tensor, dim: int, largest: bool) -> ValuesIndices:
    name = "cummax" if largest else "cummin"
    x, d = _along(a, dim, name)
    xp, be = x.backend.xp, x.backend
    key = x._data if x._data.dtype != xp.bool else xp.astype(x._data, xp.int8)  # the standard orders no bools
    n = x.shape[d]
    index = xp.broadcast_to(xp.reshape(be.arange(n), tuple(n if i == d else 1 for i in range(x.ndim))), x.shape)
    floating = ops._category(be, key.dtype) == 2

    def combine(earlier: tuple, later: tuple) -> tuple:
        (ev, ei), (lv, li) = earlier, later
        wins = (lv >= ev) if largest else (lv <= ev)  # ties go to the later index, as torch
        if floating:  # a nan wins, and stays: torch's rule
            wins = xp.isnan(lv) | (wins & xp.logical_not(xp.isnan(ev)))
        return xp.where(wins, lv, ev), xp.where(wins, li, ei)

    values, idx = _hillis_steele(xp, (key, index), d, combine)
    values = values if values.dtype == x._data.dtype else xp.astype(values, x._data.dtype)
    shape = x.shape

    def backward(g: Any) -> tuple[Any]:
        return (ops._scatter_along(be, shape, d, idx, g),)

    out = Tensor._node(values, (x,), backward, name)
    indices = Tensor._wrap(idx, be)
    if not a.ndim:
        return ValuesIndices(ops.reshape(out, ()), Tensor._wrap(xp.reshape(idx, ()), be))
    return ValuesIndices(out, indices)


def cummax(input: Tensor, dim: int) -> ValuesIndices:
    """Running maxima along ``dim`` and their int64 indices, as ``torch.cummax``: among equal values the latest
    index, and once a nan is met it is the maximum (the latest nan's index). The gradient goes to those
    indices."""
    return _cum_extreme(input, dim, True)


def cummin(input: Tensor, dim: int) -> ValuesIndices:
    """Running minima along ``dim`` and their int64 indices, as ``torch.cummin`` (see ``cummax``)."""
    return _cum_extreme(input, dim, False)


def _logcumsumexp_array(xp: Any, x: Any, d: int) -> Any:
    (out,) = _hillis_steele(xp, (x,), d, lambda e, lt: (xp.logaddexp(e[0], lt[0]),))
    return out


@ieee
def logcumsumexp(input: Tensor, dim: int) -> Tensor:
    """``log(cumsum(exp(input)))`` along ``dim``, computed stably (pairwise ``logaddexp``, so ``[-1000, 0]``
    gives ``[-1000, 0]``), as ``torch.logcumsumexp``. The gradient is torch's, in log space: the positive and
    negative parts of the upstream gradient each through a reversed log-cumsum-exp.

    Raises:
        TypeError: an integer or bool tensor (as torch).
    """
    if ops._category(input.backend, input._data.dtype) < 2:
        raise TypeError(f"logcumsumexp of a {input.dtype} tensor is not defined (as in torch); convert it first")
    x, d = _along(input, dim, "logcumsumexp")
    xp, be = x.backend.xp, x.backend
    xd = x._data
    out = _logcumsumexp_array(xp, xd, d)

    def backward(g: Any) -> tuple[Any]:
        floor = be.full((), xp.finfo(g.dtype).min, g.dtype)  # torch's masked value (finite: -inf - -inf is nan)
        log_g = xp.log(xp.abs(g))

        def part(mask: Any) -> Any:
            shifted = xp.where(mask, log_g, floor) - out
            return xp.exp(xp.flip(_logcumsumexp_array(xp, xp.flip(shifted, axis=d), d), axis=d) + xd)

        return (part(g > 0) - part(g < 0),)

    result = Tensor._node(out, (x,), backward, "logcumsumexp", (x,))
    return result if input.ndim else ops.reshape(result, ())
