"""Item assignment, as in PyTorch: ``x[key] = value`` (so ``N[i, j] += 1``, ``dlogits[range(n), Yb] -= 1``,
``x[mask] = 0``), ``index_put_``/``index_add_`` (repeated indices summed with ``accumulate=True``), and the
out-of-place, differentiable ``index_put``; torch's ``scatter``, ``scatter_add``, ``index_fill``, ``index_copy``
(out of place and differentiable; their ``_`` forms are ``Tensor`` methods through the door) and
``fill_diagonal_``.

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

__all__ = ["fill_diagonal_", "gather", "index_add", "index_add_", "index_copy", "index_fill", "index_put",
           "index_put_", "scatter", "scatter_add", "write"]


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
    rows = xp.reshape(_flat_along(input, d, idx), (-1,))
    out = xp.reshape(xp.take(xp.reshape(input._data, (-1,)), rows), index.shape)

    def backward(g: Any) -> tuple[Any]:
        zero = be.zeros((math.prod(input.shape), 1), input._data.dtype)
        summed = be.scatter_add(zero, rows, xp.reshape(g, (-1, 1)))
        return (xp.reshape(summed, input.shape),)

    return Tensor._node(out, (input,), backward, "gather")


def _flat_along(a: Tensor, d: int, idx: Any) -> Any:
    """The flat positions in ``a`` of ``a[..., idx[i, j, k], ...]`` along axis ``d`` (``gather``'s and
    ``scatter``'s addressing): ``idx`` (int64, in range, ``a``'s number of dimensions, no axis longer than ``a``'s
    but ``d``) -> an int64 array of its shape."""
    be, xp, nd = a.backend, a.backend.xp, a.ndim
    strides = [math.prod(a.shape[b + 1:]) for b in range(nd)]
    flat = idx * strides[d] if nd else idx
    for b in range(nd):
        if b != d and idx.shape[b] > 1:
            along = be.arange(idx.shape[b], dtype="int64") * strides[b]
            flat = flat + xp.reshape(along, tuple(idx.shape[b] if c == b else 1 for c in range(nd)))
    return flat


def _dim(a: Tensor, dim: int) -> int:
    """``dim`` as a non-negative axis of ``a`` (a 0-d tensor takes 0 and -1). Raises IndexError out of range."""
    span = max(a.ndim, 1)
    if not -span <= dim < span:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-span}, {span - 1}], but got {dim})")
    return dim % span


def _host_index_error(kind: type, prefix: str, idx: Any, a: Tensor, d: int, size: int, low: int = 0) -> Exception:
    """torch's error naming the first index outside ``[low, size)`` (read on the host once the check has failed)."""
    host = a.backend.to_numpy(getattr(idx, "_v", idx)).reshape(-1)
    wrong = host[(host < low) | (host >= size)]
    first = int(wrong[0]) if wrong.size else "?"
    return kind(f"{prefix}index {first} is out of bounds for dimension {d} with size {size}")


def _number(a: Tensor, value: Any) -> Any:
    """A Python number as ``a``'s dtype would store it (torch casts a fill value: 2.7 is 2 in an int64 tensor)."""
    xp = a.backend.xp
    if a._data.dtype == xp.bool:
        return bool(value)
    if xp.isdtype(a._data.dtype, "integral"):
        return int(value)
    return float(value)


def _written(a: Tensor, ids: Any, values: Tensor, accumulate: bool, op: str) -> Tensor:
    """A copy of ``a`` with ``values`` (of ``a``'s dtype, broadcast to ``ids``' shape) put at the flat positions
    ``ids`` (in range), or with ``accumulate`` added there (repeats summed): one node. Gradients: to ``a``, ``g``
    (zero at the positions written, unless accumulating); to ``values``, ``g`` read at ``ids`` (summed over the
    broadcast), as torch's scatter backward."""
    be, xp = a.backend, a.backend.xp
    shape = tuple(ids.shape)
    flat_ids = xp.reshape(ids, (-1,))
    vals = xp.reshape(xp.broadcast_to(values._data, shape), (-1,))
    base = xp.asarray(xp.reshape(a._data, (-1,)), copy=True)
    out = xp.reshape(be.scatter_add(base, flat_ids, vals) if accumulate else be.put(base, flat_ids, vals), a.shape)

    def backward(g: Any) -> tuple[Any, Any]:
        flat = xp.reshape(g, (-1,))
        ga = g if accumulate else xp.reshape(be.put(xp.asarray(flat, copy=True), flat_ids,
                                                    be.zeros(flat_ids.shape, g.dtype)), a.shape)
        return ga, ops._unbroadcast(xp.reshape(xp.take(flat, flat_ids, axis=0), shape), values)

    return Tensor._node(out, (a, values), backward, op)


def _scatter_ids(a: Tensor, dim: int, index: Any, src: Any, name: str) -> tuple[Any, Tensor]:
    """The flat positions ``scatter``/``scatter_add`` write (``index``'s shape) and the values to write there:
    ``src`` cut to ``index``'s shape, or the number ``src`` as a 0-d tensor of ``a``'s dtype."""
    from ._trace import raise_if

    if not isinstance(index, Tensor):
        raise TypeError(f"{name}(): index must be a Tensor, got {type(index).__name__}")
    _operand_data(a, index)  # raises DeviceMismatchError for another backend
    d = _dim(a, dim)
    if index.dtype not in ("int64", "int32"):
        raise RuntimeError(f"{name}(): Expected dtype int64 for index")
    if max(index.ndim, 1) != max(a.ndim, 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as self tensor")
    be, xp = a.backend, a.backend.xp
    if isinstance(src, Tensor):
        _operand_data(a, src)
        if src._data.dtype != a._data.dtype:
            raise RuntimeError(f"{name}(): Expected self.dtype to be equal to src.dtype")
        if max(src.ndim, 1) != max(a.ndim, 1):
            raise RuntimeError("Index tensor must have the same number of dimensions as src tensor")
    elif name == "scatter_add":
        raise TypeError("scatter_add(): src must be a Tensor (torch's scatter_add takes no number)")
    for b in range(a.ndim):
        too_big = (b != d and index.shape[b] > a.shape[b]) or (isinstance(src, Tensor) and index.shape[b] >
                                                               src.shape[b])
        if too_big:
            raise RuntimeError(f"Expected index {list(index.shape)} to be smaller than self {list(a.shape)} apart "
                               f"from dimension {d}" + (f" and to be smaller size than src {list(src.shape)}"
                                                         if isinstance(src, Tensor) else ""))
    size = a.shape[d] if a.ndim else 1
    idx = be.astype(index._data, "int64")
    if idx.size:
        raise_if(xp.any((idx < 0) | (idx >= size)),
                 lambda: _host_index_error(RuntimeError, "", idx, a, d, size))
    ids = _flat_along(a, d, idx)
    if not isinstance(src, Tensor):
        return ids, Tensor._wrap(be.full((), _number(a, src), a._data.dtype), be)
    if src.shape != index.shape:
        src = ops.getitem(src, tuple(slice(0, n) for n in index.shape))
    return ids, src


def scatter(input: Tensor, dim: int, index: Tensor, src: Any = None, *, value: Any = None,  # noqa: A002
            reduce: str | None = None) -> Tensor:
    """A copy of ``input`` with ``out[index[i][j]][j] = src[i][j]`` (for ``dim=0``; likewise along any ``dim``),
    as ``torch.scatter``: ``src`` is a tensor of ``input``'s dtype and number of dimensions, no smaller than
    ``index`` along any axis (only ``index``'s part is read), or a number (``value=``, cast to ``input``'s dtype).
    ``index`` is int64 (or int32) with ``input``'s number of dimensions, no longer than ``input`` along an axis
    other than ``dim``, holding indices in ``[0, input.shape[dim])``. Where an index repeats, one of the values
    is kept (torch leaves which one undefined). Differentiable: ``input``'s gradient is zero at the written
    places, ``src``'s is the gradient gathered at ``index``.

    Raises:
        RuntimeError: an index out of range (negative ones too: torch's words), ``index`` not int64/int32 or of
            another number of dimensions or too long, ``src`` of another dtype (torch's errors).
        IndexError: ``dim`` out of range.
        NotImplementedError: ``reduce`` (torch's deprecated form; use ``scatter_add`` or ``scatter_reduce``).
        TypeError: both or neither of ``src`` and ``value``.
    """
    if reduce is not None:
        raise NotImplementedError("scatter(reduce=...) is not supported (torch deprecates it): use scatter_add")
    if (src is None) == (value is None):
        raise TypeError("scatter() takes src (a tensor or a number) or value=, exactly one")
    ids, values = _scatter_ids(input, dim, index, value if src is None else src, "scatter")
    return _written(input, ids, values, accumulate=False, op="scatter")


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:  # noqa: A002
    """A copy of ``input`` with ``out[index[i][j]][j] += src[i][j]`` (for ``dim=0``; likewise along any ``dim``),
    repeated indices summed, as ``torch.scatter_add``. Shapes and dtypes as ``scatter`` with a tensor ``src``.
    Differentiable: ``input``'s gradient passes unchanged, ``src``'s is the gradient gathered at ``index``.

    Raises:
        RuntimeError: as ``scatter``. TypeError: ``src`` not a Tensor. IndexError: ``dim`` out of range.
    """
    ids, values = _scatter_ids(input, dim, index, src, "scatter_add")
    return _written(input, ids, values, accumulate=True, op="scatter_add")


def _slice_ids(a: Tensor, d: int, idx: Any) -> Any:
    """The flat positions of the slices ``idx`` (1-D int64, in range) of ``a`` along axis ``d``: an array of
    ``a``'s shape with ``len(idx)`` at ``d``."""
    be, xp = a.backend, a.backend.xp
    shape = a.shape or (1,)
    return xp.take(xp.reshape(be.arange(math.prod(shape), dtype="int64"), shape), idx, axis=d)


def _slice_index(a: Tensor, index: Any, name: str) -> Any:
    """``index`` (a 0-d or 1-D int64 Tensor) as a 1-D array. Raises as torch for another dtype or shape."""
    if not isinstance(index, Tensor):
        raise TypeError(f"{name}(): index must be a Tensor, got {type(index).__name__}")
    _operand_data(a, index)
    if index.dtype != "int64":
        if name == "index_copy_":
            raise RuntimeError(f"index_copy_(): Expected a long tensor for index, but got {_torch_dtype(index)}")
        raise IndexError(f"{name}(): Expected dtype int64 for index.")
    if index.ndim > 1:
        raise RuntimeError("Index has to be a vector/scalar")
    return a.backend.xp.reshape(index._data, (-1,))


def index_fill(input: Tensor, dim: int, index: Tensor, value: Any) -> Tensor:  # noqa: A002
    """A copy of ``input`` with the slices ``index`` along ``dim`` set to ``value``, as ``torch.index_fill``:
    ``index`` is a 0-d or 1-D int64 tensor (negative indices count from the end, as torch's), ``value`` a number
    (cast to ``input``'s dtype) or a 0-d tensor. Differentiable: ``input``'s gradient is zero in the filled
    slices, a tensor ``value``'s is the sum of the gradient there.

    Raises:
        IndexError: an index outside ``[-n, n)``, an index not int64, ``dim`` out of range.
        RuntimeError: a 2-D (or more) index, a ``value`` tensor with dimensions (torch's errors).
    """
    from ._trace import raise_if

    d = _dim(input, dim)
    idx = _slice_index(input, index, "index_fill_")
    xp, be = input.backend.xp, input.backend
    if isinstance(value, Tensor):
        _operand_data(input, value)
        if value.ndim:
            raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value.ndim} dimension(s).")
        values = value if value._data.dtype == input._data.dtype else value.astype(input._data.dtype)
    else:
        values = Tensor._wrap(be.full((), _number(input, value), input._data.dtype), be)
    size = input.shape[d] if input.ndim else 1
    if idx.size:
        raise_if(xp.any((idx < -size) | (idx >= size)),
                 lambda: _host_index_error(IndexError, "", idx, input, d, size, -size))
    return _written(input, _slice_ids(input, d, idx % size), values, accumulate=False, op="index_fill")


def index_copy(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:  # noqa: A002
    """A copy of ``input`` with slice ``index[i]`` along ``dim`` set to ``source``'s slice ``i``, as
    ``torch.index_copy``: ``index`` is a 0-d or 1-D int64 tensor of indices in ``[0, n)`` (negative ones are
    refused, as torch), ``source`` has ``input``'s dtype and shape with ``len(index)`` at ``dim``. Where an index
    repeats, one of its slices is kept (torch leaves which one undefined). Differentiable: ``input``'s gradient
    is zero in the copied slices, ``source``'s is the gradient of the slices it went to.

    Raises:
        IndexError: an index out of range, a ``source`` whose shape does not fit (torch's words), ``dim`` out of
            range. RuntimeError: an index not int64 or 2-D, ``source`` of another dtype.
    """
    from ._trace import raise_if

    d = _dim(input, dim)
    idx = _slice_index(input, index, "index_copy_")
    if not isinstance(source, Tensor):
        raise TypeError(f"index_copy(): source must be a Tensor, got {type(source).__name__}")
    _operand_data(input, source)
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(f"index_copy_(): self and source expected to have the same dtype, but got (self) "
                           f"{_torch_dtype(input)} and (source) {_torch_dtype(source)}")
    if source.ndim and input.ndim and source.ndim != input.ndim:
        raise IndexError(f"index_copy_(): When source and destination are not scalars, their dimensionality must "
                         f"match. Source dimensionality ({source.ndim}), destination dimensionality ({input.ndim})")
    n = source.shape[d] if source.ndim else 1
    if n != idx.shape[0]:
        raise IndexError(f"index_copy_(): Number of indices ({idx.shape[0]}) should be equal to source.size(dim) "
                         f"({n})")
    expected = (*input.shape[:d], idx.shape[0], *input.shape[d + 1:]) if input.ndim else (idx.shape[0],)
    if source.ndim and source.shape != expected:
        raise IndexError(f"index_copy_(): source of shape {list(source.shape)} for self of shape "
                         f"{list(input.shape)} and {idx.shape[0]} indices along dim {d} (expected {list(expected)})")
    xp = input.backend.xp
    size = input.shape[d] if input.ndim else 1
    if idx.size:
        raise_if(xp.any((idx < 0) | (idx >= size)),
                 lambda: _host_index_error(IndexError, "index_copy_(): ", idx, input, d, size))
    ids = _slice_ids(input, d, idx)
    values = source if source.shape == tuple(ids.shape) else ops.reshape(source, tuple(ids.shape))
    return _written(input, ids, values, accumulate=False, op="index_copy")


def _torch_dtype(t: Tensor) -> str:
    from ._inplace import _torch_name

    return _torch_name(t._data.dtype)


def fill_diagonal_(input: Tensor, fill_value: Any, wrap: bool = False) -> Tensor:  # noqa: A002
    """The main diagonal of ``input`` set to ``fill_value`` in place, as ``torch.Tensor.fill_diagonal_``, through
    the door (``Tensor._assign``; recorded in a graph, the version bumped); returns ``input``. A 2-D tensor may be
    any shape: the diagonal is ``min(rows, columns)`` long, and with ``wrap`` a tall matrix's diagonal starts
    again every ``columns + 1`` rows (torch's, numpy's ``fill_diagonal``). More dimensions must all be of one
    length (``input[i, i, ..., i]``). ``fill_value`` is a number (cast to ``input``'s dtype) or a 0-d tensor.

    Raises:
        RuntimeError: fewer than 2 dimensions, unequal ones beyond 2 (torch's words), a leaf that requires grad
            in grad mode.
    """
    shape = input.shape
    if len(shape) < 2:
        raise RuntimeError("dimensions must larger than 1")
    if len(shape) > 2 and len(set(shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    n = min(shape)
    if len(shape) == 2 and wrap and shape[0] > shape[1]:
        flat = np.arange(0, math.prod(shape), shape[1] + 1, dtype=np.int64)
        coords = np.unravel_index(flat, shape)
    else:
        coords = (np.arange(n, dtype=np.int64),) * len(shape)
    be = input.backend
    return input._assign(fill_value, tuple(Tensor._wrap(be.asarray(np.asarray(c, dtype=np.int64)), be)
                                           for c in coords))
