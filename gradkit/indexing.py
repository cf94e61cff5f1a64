"""Item assignment, as in PyTorch: ``x[key] = value`` (so ``N[i, j] += 1``, ``dlogits[range(n), Yb] -= 1``,
``x[mask] = 0``), ``index_put_``/``index_add_`` (repeated indices summed with ``accumulate=True``), and the
out-of-place, differentiable ``index_put``.

Keys: ints, slices, ``None``, ``...``, integer arrays (Tensors, lists, ``range``) and one boolean mask (a bool
Tensor or a list of bools). Every write goes through the one door, ``Tensor._assign`` (``gradkit._inplace``):
inside a recorded graph it is recorded (torch's CopySlices), so gradients flow through the written values, and
it bumps the version counter, so a backward that saved the tensor raises instead of using changed data.
``write`` is the door's in-place path for a key.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import ops
from .tensor import Tensor, _operand_data

__all__ = ["gather", "index_add", "index_add_", "index_put", "index_put_", "write"]


def _value(a: Tensor, value: Any) -> Any:
    """``value`` as a number or an array of ``a``'s backend and dtype."""
    v = _operand_data(a, value)
    if hasattr(v, "dtype") and v.dtype != a._data.dtype:
        v = a.backend.xp.astype(v, a._data.dtype)
    return v


def _flat_rows(a: Tensor, arrays: list[Any]) -> Any:
    """Integer index arrays for the leading ``len(arrays)`` axes -> one flat 1-D row index (range-checked)."""
    xp = a.backend.xp
    if len(arrays) > a.ndim:
        raise IndexError(f"too many indices ({len(arrays)}) for a tensor of shape {a.shape}")
    shape = np.broadcast_shapes(*(tuple(k.shape) for k in arrays))
    flat = None
    for k, n in zip(ops._check_bounds(a, [xp.astype(k, xp.int64) for k in arrays]), a.shape):
        flat = k if flat is None else flat * n + k
    return xp.reshape(xp.broadcast_to(flat, shape), (-1,)), shape


def write(a: Tensor, key: Any, v: Any) -> None:
    """``a[key] = v`` in ``a``'s own array (``v`` a number or an array of ``a``'s backend, broadcast): the door's
    in-place path for a key (``Tensor._assign`` decides when it may be taken and bumps the version).

    Raises:
        IndexError: an index out of range; integer arrays mixed with slices; a mask of the wrong shape.
    """
    keys = key if isinstance(key, tuple) else (key,)
    arrays = [ops._int_array(a, k) for k in keys]
    if hasattr(v, "dtype") and v.dtype != a._data.dtype:
        v = a.backend.xp.astype(v, a._data.dtype)
    xp = a.backend.xp
    if all(k is None for k in arrays):  # basic indexing: ints, slices, None, ...
        if not any(k is Ellipsis for k in keys):
            keys = (*keys, Ellipsis)  # the standard indexes every axis; numpy's implicit trailing ':' explicit
        a._data[keys] = v
    elif len(keys) == 1 and arrays[0].dtype == xp.bool:
        mask = arrays[0]
        if tuple(mask.shape) != a.shape[:mask.ndim]:
            raise IndexError(f"a boolean mask of shape {tuple(mask.shape)} for a tensor of shape {a.shape}")
        a._data[mask] = v
    else:
        if any(k is None and not isinstance(c, int) for k, c in zip(arrays, keys)):
            raise IndexError("mixing integer arrays with slices in one assignment is not supported; index in "
                             "two steps")
        arrays = [a.backend.asarray(np.int64(c)) if k is None else k for k, c in zip(arrays, keys)]
        if any(k.dtype == xp.bool for k in arrays):
            raise IndexError("a boolean mask must be the whole index")
        _put(a, _flat_rows(a, arrays), len(arrays), v, accumulate=False)


def _put(a: Tensor, rows_of: tuple[Any, tuple[int, ...]], depth: int, v: Any, accumulate: bool) -> None:
    """Rows of the leading ``depth`` axes picked by ``rows_of = _flat_rows(a, arrays)`` set to (or,
    accumulating, summed with) ``v``."""
    xp, be = a.backend.xp, a.backend
    flat, shape = rows_of
    rows = math.prod(a.shape[:depth])
    rest = a.shape[depth:]
    table = xp.reshape(a._data, (rows, *rest))
    values = v if hasattr(v, "shape") else be.full((), v, a._data.dtype)
    values = xp.reshape(xp.broadcast_to(values, (*shape, *rest)), (flat.shape[0], *rest))
    if accumulate:
        table = be.scatter_add(table, flat, values)
    else:
        table = be.put(table, flat, values)
    out = xp.reshape(table, a.shape)
    if out is not a._data:
        a._data[...] = out  # into the same storage: views and .data aliases see the write


def index_put_(a: Tensor, indices: tuple[Any, ...], values: Any, accumulate: bool = False) -> Tensor:
    """``a[indices] = values`` in place, as ``torch.Tensor.index_put_``; with ``accumulate`` the values are added
    and repeated indices sum. ``indices`` is a tuple of integer tensors (one per leading axis, broadcast
    together) or of one bool mask. Returns ``a``. Through the door: recorded in a graph where one is involved."""
    if not accumulate:
        return a._assign(values, tuple(indices))
    arrays = [ops._int_array(a, k) for k in indices]
    if any(k is None for k in arrays):
        raise IndexError("index_put_ takes a tuple of index tensors")
    xp = a.backend.xp
    if len(arrays) == 1 and arrays[0].dtype == xp.bool:
        arrays = [xp.astype(k, xp.int64) for k in xp.nonzero(arrays[0])]
    return a._assign(index_put(a, tuple(Tensor._wrap(k, a.backend) for k in arrays), values, accumulate=True))


def index_add(a: Tensor, dim: int, index: Any, source: Any, *, alpha: float = 1) -> Tensor:
    """``a`` with ``alpha * source`` added along ``dim`` at the 1-D integer ``index``, repeated indices summed,
    as ``torch.index_add``: out of place and differentiable. Shapes: ``source`` is ``a``'s shape with
    ``len(index)`` at ``dim``.

    Raises:
        ValueError: an index that is not 1-D integers; shapes that do not match.
    """
    d = ops._axes(dim, a.ndim)[0]
    idx = ops._int_array(a, index)
    src = ops._as_tensor(a, source)
    if idx is None or idx.ndim != 1:
        raise ValueError("index_add: index must be a 1-D integer tensor")
    expected = (*a.shape[:d], idx.shape[0], *a.shape[d + 1:])
    if src.shape != expected:
        raise ValueError(f"index_add: source of shape {src.shape} for index of length {idx.shape[0]} along dim "
                         f"{dim} of a tensor of shape {a.shape} (expected {expected})")
    front = (d, *(i for i in range(a.ndim) if i != d))  # dim d first, then back
    back = tuple(sorted(range(a.ndim), key=front.__getitem__))
    moved = index_put(ops.permute(a, front), (Tensor._wrap(idx, a.backend),), ops.permute(src, front) * alpha,
                      accumulate=True)
    return ops.permute(moved, back)


def index_add_(a: Tensor, dim: int, index: Any, source: Any, *, alpha: float = 1) -> Tensor:
    """``index_add`` in place, as ``torch.Tensor.index_add_``, through the door; returns ``a``."""
    return a._assign(index_add(a, dim, index, source, alpha=alpha))


def index_put(a: Tensor, indices: tuple[Any, ...], values: Any, accumulate: bool = False) -> Tensor:
    """Out of place and differentiable: a copy of ``a`` with ``values`` put (or, with ``accumulate``, added) at
    the integer ``indices`` (a tuple, one per leading axis), as ``torch.index_put``. Gradients: to ``a`` where
    not overwritten (everywhere when accumulating), to ``values`` from the positions they went to."""
    xp, be = a.backend.xp, a.backend
    vt = ops._as_tensor(a, values)
    arrays = [ops._int_array(a, k) for k in indices]
    if any(k is None for k in arrays):
        raise IndexError("index_put takes a tuple of index tensors")
    flat, shape = rows_of = _flat_rows(a, arrays)
    depth = len(arrays)
    rows = math.prod(a.shape[:depth])
    rest = a.shape[depth:]
    copy = Tensor._wrap(xp.asarray(a._data, copy=True), be)
    _put(copy, rows_of, depth, _value(a, vt), accumulate)
    ones = be.full((flat.shape[0], *rest), 1, a._data.dtype)
    kept = None if accumulate else xp.reshape(be.put(be.full((rows, *rest), 1, a._data.dtype), flat, ones * 0),
                                              a.shape)

    def backward(g: Any) -> tuple[Any, Any]:
        table = xp.reshape(g, (rows, *rest))
        picked = xp.reshape(xp.take(table, flat, axis=0), (*shape, *rest))
        ga = g if kept is None else g * kept
        return ga, ops._unbroadcast(picked, vt)

    return Tensor._node(copy._data, (a, vt), backward, "index_put")


def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:  # noqa: A002
    """``out[i][j][k] = input[index[i][j][k]][j][k]`` (for ``dim=0``; likewise along any ``dim``), as
    ``torch.gather``: ``index`` is int64 (or int32) with ``input``'s number of dimensions and no axis longer than
    ``input``'s (except ``dim``); the result has ``index``'s shape and ``input``'s dtype. The gradient sums into
    ``input`` at the gathered places (repeated indices add up). ``sparse_grad`` is accepted and ignored.

    Raises:
        IndexError: ``dim`` out of range. RuntimeError: ``index`` not int64/int32, of another number of dimensions, too
        long along an axis other than ``dim``, or holding an index outside ``[0, input.shape[dim])`` (torch does
        not count negative indices from the end here).
    """
    from ._trace import raise_if

    if not isinstance(index, Tensor):
        raise TypeError(f"gather(): index must be a Tensor, got {type(index).__name__}")
    _operand_data(input, index)  # raises DeviceMismatchError for another backend
    nd, span = input.ndim, max(input.ndim, 1)
    if not -span <= dim < span:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-span}, {span - 1}], but got {dim})")
    d = dim % span
    if index.dtype not in ("int64", "int32"):
        raise RuntimeError(f"gather(): Expected dtype int32/int64 for index, got {index.dtype}")
    if max(index.ndim, 1) != span:
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    for a in range(nd):
        if a != d and index.shape[a] > input.shape[a]:
            raise RuntimeError(f"Size does not match at dimension {a} expected index {list(index.shape)} to be no "
                               f"larger than self {list(input.shape)} apart from dimension {d}")
    be, xp = input.backend, input.backend.xp
    size = input.shape[d] if nd else 1
    idx = be.astype(index._data, "int64")
    raise_if(xp.any((idx < 0) | (idx >= size)),
             lambda: RuntimeError(f"index out of range in gather: an index is outside [0, {size}) for dimension "
                                  f"{dim} (torch does not count negative indices from the end here)"))
    strides = [math.prod(input.shape[a + 1:]) for a in range(nd)]
    flat = idx * strides[d] if nd else idx
    for a in range(nd):
        if a != d and index.shape[a] > 1:
            along = be.arange(index.shape[a], dtype="int64") * strides[a]
            flat = flat + xp.reshape(along, tuple(index.shape[a] if b == a else 1 for b in range(nd)))
    rows = xp.reshape(flat, (-1,))
    out = xp.reshape(xp.take(xp.reshape(input._data, (-1,)), rows), index.shape)

    def backward(g: Any) -> tuple[Any]:
        zero = be.zeros((math.prod(input.shape), 1), input._data.dtype)
        summed = be.scatter_add(zero, rows, xp.reshape(g, (-1, 1)))
        return (xp.reshape(summed, input.shape),)

    return Tensor._node(out, (input,), backward, "gather")
