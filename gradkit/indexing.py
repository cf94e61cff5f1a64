"""Item assignment, as in PyTorch: ``x[key] = value`` (so ``N[i, j] += 1``, ``dlogits[range(n), Yb] -= 1``,
``x[mask] = 0``), ``index_put_``/``index_add_`` (repeated indices summed with ``accumulate=True``), and the
out-of-place, differentiable ``index_put``.

Keys: ints, slices, ``None``, ``...``, integer arrays (Tensors, lists, ``range``) and one boolean mask (a bool
Tensor or a list of bools). Writing into a tensor that is part of a recorded graph is refused with a
RuntimeError naming the fix (``no_grad()`` for a manual backward, the out-of-place ``index_put`` or ``where``
for a differentiable result): gradkit does not rewrite a graph in place (PyTorch's CopySlices). Every write
bumps the tensor's version counter, so a backward that saved it raises instead of using changed data.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import ops
from .autograd import is_grad_enabled
from .tensor import Tensor, _operand_data

__all__ = ["index_add_", "index_put", "index_put_", "normalize_key", "setitem"]


def normalize_key(key: Any) -> Any:
    """``range`` objects (the course's ``x[range(n), Y]``) as lists; everything else unchanged."""
    if isinstance(key, tuple):
        return tuple(list(k) if isinstance(k, range) else k for k in key)
    return list(key) if isinstance(key, range) else key


def _refuse_graph(a: Tensor, value: Any, what: str) -> None:
    if not is_grad_enabled():
        return
    if a.requires_grad or (isinstance(value, Tensor) and value.requires_grad):
        raise RuntimeError(
            f"{what} into a tensor that is part of a recorded graph (it or the value requires grad): gradkit "
            "does not record in-place writes. For a manual backward (makemore part 4) do it inside `with "
            "gradkit.no_grad():`; for a differentiable result build it out of place with "
            "gradkit.index_put(x, indices, values) or gradkit.where(mask, value, x)")


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


def setitem(a: Tensor, key: Any, value: Any) -> None:
    """``a[key] = value`` in place (``value`` broadcast; a number, a Tensor or an array of ``a``'s backend).

    Raises:
        RuntimeError: ``a`` or ``value`` is part of a recorded graph (see the module's note).
        IndexError: an index out of range; integer arrays mixed with slices; a mask of the wrong shape.
    """
    _refuse_graph(a, value, "item assignment")
    key = normalize_key(key)
    keys = key if isinstance(key, tuple) else (key,)
    arrays = [ops._int_array(a, k) for k in keys]
    v = _value(a, value)
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
    a._version += 1


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
    together) or of one bool mask. Returns ``a``.

    Raises:
        RuntimeError: ``a`` or ``values`` is part of a recorded graph (use ``index_put``, out of place).
    """
    if not accumulate:
        setitem(a, tuple(indices), values)
        return a
    _refuse_graph(a, values, "index_put_")
    arrays = [ops._int_array(a, k) for k in indices]
    if any(k is None for k in arrays):
        raise IndexError("index_put_ takes a tuple of index tensors")
    xp = a.backend.xp
    if len(arrays) == 1 and arrays[0].dtype == xp.bool:
        mask = arrays[0]
        arrays = [xp.astype(k, xp.int64) for k in xp.nonzero(mask)]
    _put(a, _flat_rows(a, arrays), len(arrays), _value(a, values), accumulate=True)
    a._version += 1
    return a


def index_add_(a: Tensor, dim: int, index: Any, source: Any, *, alpha: float = 1) -> Tensor:
    """``a`` with ``alpha * source`` added along ``dim`` at the 1-D integer ``index``, repeated indices summed,
    as ``torch.Tensor.index_add_``. Shapes: ``source`` is ``a``'s shape with ``len(index)`` at ``dim``.
    Returns ``a``.

    Raises:
        RuntimeError: ``a`` or ``source`` is part of a recorded graph. ValueError: shapes that do not match.
    """
    _refuse_graph(a, source, "index_add_")
    xp = a.backend.xp
    d = ops._axes(dim, a.ndim)[0]
    idx = ops._int_array(a, index)
    src = _value(a, source)
    if idx is None or idx.ndim != 1:
        raise ValueError("index_add_: index must be a 1-D integer tensor")
    expected = (*a.shape[:d], idx.shape[0], *a.shape[d + 1:])
    if tuple(getattr(src, "shape", ())) != expected:
        raise ValueError(f"index_add_: source of shape {tuple(getattr(src, 'shape', ()))} for index of length "
                         f"{idx.shape[0]} along dim {dim} of a tensor of shape {a.shape} (expected {expected})")
    moved = xp.moveaxis(a._data, d, 0)
    flat, _ = _flat_rows(Tensor._wrap(moved, a.backend), [idx])
    summed = a.backend.scatter_add(moved, flat, xp.moveaxis(src, d, 0) * alpha)
    a._data[...] = xp.moveaxis(summed, 0, d)
    a._version += 1
    return a


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
