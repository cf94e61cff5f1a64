"""Shape functions with PyTorch's names and meanings: ``transpose(dim0, dim1)`` (swap two axes; ``permute``
takes a whole order), ``squeeze``, ``unsqueeze``, ``flatten``, ``unflatten``, ``cat``/``stack`` with ``dim=``,
``unbind``, ``repeat``, ``repeat_interleave``, ``flip``, ``diagonal``/``diag``, ``meshgrid`` and ``view(dtype)``.

Most are compositions of ``ops.reshape``/``ops.permute``/``ops.concat``/``ops.getitem``, so their gradients are
those ops' (each proven against the Value oracle); the rest are one node each. ``unflatten``, ``diagonal`` and
``meshgrid``'s outputs are views, as torch's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from gradkit.backends.random import dtype_name

from . import ops
from .tensor import Tensor, dims, pick_dim

__all__ = ["cat", "concat", "diag", "diagonal", "flatten", "flip", "meshgrid", "permute", "repeat",
           "repeat_interleave", "squeeze", "stack", "transpose", "unbind", "unflatten", "unsqueeze", "view_dtype"]


def _axis(a: int, ndim: int, name: str) -> int:
    if not -max(ndim, 1) <= a < max(ndim, 1):  # a 0-d tensor takes 0 and -1, as torch
        raise IndexError(f"{name}: dimension {a} is out of range for a tensor with {ndim} dimensions")
    return a % max(ndim, 1)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """``input`` with axes ``dim0`` and ``dim1`` swapped, as ``torch.transpose`` (``.T`` reverses all axes;
    ``permute`` takes a full order)."""
    order = list(range(input.ndim))
    i, j = _axis(dim0, input.ndim, "transpose"), _axis(dim1, input.ndim, "transpose")
    if input.ndim:
        order[i], order[j] = order[j], order[i]
    return ops.permute(input, order)


def permute(input: Tensor, *dims_: Any) -> Tensor:
    """Axes reordered (ints or one tuple), as ``torch.permute``."""
    return ops.permute(input, dims(dims_))


def squeeze(input: Tensor, dim: Any = None, *, axis: Any = None) -> Tensor:
    """``input`` without size-1 axes: all of them, or those of ``dim`` (an int or tuple) that have size 1 (others
    are kept, as ``torch.squeeze``)."""
    d = pick_dim("squeeze", dim, axis)
    chosen = range(input.ndim) if d is None else ops._axes(d, input.ndim)
    drop = {i for i in chosen if input.ndim and input.shape[i] == 1}
    return ops.reshape(input, tuple(n for i, n in enumerate(input.shape) if i not in drop))


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """``input`` with a new size-1 axis at ``dim`` (``-ndim - 1 <= dim <= ndim``), as ``torch.unsqueeze``."""
    d = _axis(dim, input.ndim + 1, "unsqueeze")
    return ops.reshape(input, (*input.shape[:d], 1, *input.shape[d:]))


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Axes ``start_dim..end_dim`` (inclusive) merged into one, as ``torch.flatten``; a 0-d tensor becomes
    ``(1,)``."""
    if input.ndim == 0:
        return ops.reshape(input, (1,))
    s, e = _axis(start_dim, input.ndim, "flatten"), _axis(end_dim, input.ndim, "flatten")
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    merged = 1
    for n in input.shape[s:e + 1]:
        merged *= n
    return ops.reshape(input, (*input.shape[:s], merged, *input.shape[e + 1:]))


def cat(tensors: Sequence[Tensor], dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """The tensors joined along an existing ``dim`` (default 0), as ``torch.cat``.

    Raises:
        ValueError: an empty sequence.
    """
    if not len(tensors):
        raise ValueError("cat needs at least one tensor")
    return ops.concat(list(tensors), pick_dim("cat", dim, axis, 0))


concat = cat  # torch.concat, PyTorch's alias of cat


def stack(tensors: Sequence[Tensor], dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """The tensors (one shape) joined along a new ``dim`` (default 0), as ``torch.stack``."""
    if not len(tensors):
        raise ValueError("stack needs at least one tensor")
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"stack needs tensors of one shape, got {sorted(shapes)}")
    return ops.stack(list(tensors), pick_dim("stack", dim, axis, 0))


def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices along ``dim``, each without that axis, as ``torch.unbind``."""
    d = _axis(dim, input.ndim, "unbind")
    return tuple(ops.getitem(input, (slice(None),) * d + (i, Ellipsis)) for i in range(input.shape[d]))


def unflatten(input: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:
    """Axis ``dim`` split into ``sizes`` (one may be -1), as ``torch.unflatten``: a view.

    Raises:
        ValueError: ``sizes`` whose product is not the axis's length.
    """
    d = _axis(dim, input.ndim, "unflatten")
    sizes = tuple(sizes)
    known = math.prod(n for n in sizes if n != -1)
    if sizes.count(-1) > 1 or (-1 not in sizes and known != input.shape[d]) or (
            -1 in sizes and (known == 0 or input.shape[d] % known)):
        raise ValueError(f"unflatten: sizes {sizes} do not multiply to the length {input.shape[d]} of dim {dim}")
    return ops.reshape(input, (*input.shape[:d], *sizes, *input.shape[d + 1:]))


def repeat(input: Tensor, *sizes: Any) -> Tensor:
    """``input`` tiled ``sizes[i]`` times along each axis (ints or one tuple, at least ``input.ndim`` of them;
    extra ones add leading axes), as ``torch.Tensor.repeat`` (numpy's ``tile``). The gradient sums the tiles.

    Raises:
        ValueError: fewer sizes than dimensions, or a negative size.
    """
    reps = dims(sizes)
    if len(reps) < input.ndim or any(r < 0 for r in reps):
        raise ValueError(f"repeat: sizes {reps} must be non-negative, at least one per dimension of a tensor of shape "
                         f"{input.shape}")
    shape = (1,) * (len(reps) - input.ndim) + input.shape
    xp = input.backend.xp
    x = xp.reshape(input._data, shape)
    out = xp.tile(x, reps) if reps else x

    def backward(g: Any) -> tuple[Any]:
        split = tuple(n for pair in zip(reps, shape) for n in pair)  # (r0, s0, r1, s1, ...)
        summed = xp.sum(xp.reshape(g, split), axis=tuple(range(0, 2 * len(reps), 2)))
        return (xp.reshape(summed, input.shape),)

    return Tensor._node(out, (input,), backward, "repeat")


def repeat_interleave(input: Tensor, repeats: Any = None, dim: int | None = None, *,
                      output_size: int | None = None) -> Tensor:
    """Each element (or slice along ``dim``) repeated ``repeats`` times in place, as ``torch.repeat_interleave``:
    ``repeats`` an int or a 1-D integer tensor (one count per slice); without ``dim`` the input is flattened
    first. ``repeat_interleave(counts)`` alone repeats ``arange(len(counts))``. Tensor counts are read on the
    host (the output's length depends on them). The gradient sums the copies.

    Raises:
        ValueError: negative counts, or a count tensor whose length is not the axis's.
    """
    if repeats is None:  # input holds the counts
        return repeat_interleave(Tensor._wrap(input.backend.arange(input.numel()), input.backend), input, 0)
    x = ops.reshape(input, (-1,)) if dim is None else input
    d = 0 if dim is None else _axis(dim, x.ndim, "repeat_interleave")
    n = x.shape[d] if x.ndim else 1
    counts = np.full(n, repeats) if not isinstance(repeats, Tensor) else repeats.numpy().reshape(-1)
    if counts.shape != (n,) and counts.size == 1:
        counts = np.full(n, counts[0])
    if counts.shape != (n,) or (counts < 0).any():
        raise ValueError(f"repeat_interleave: repeats must be non-negative, one per slice ({n}) or one in all, got "
                         f"{counts.tolist()}")
    return take_along(x if x.ndim else ops.reshape(x, (1,)), np.repeat(np.arange(n), counts), d, "repeat_interleave")


def take_along(x: Tensor, index: np.ndarray, d: int, op: str) -> Tensor:
    """``x``'s slices along axis ``d`` picked by the host integers ``index`` (repeats allowed), as one node whose
    backward sums the gradient back into the slices (``ops._scatter_along``)."""
    be = x.backend
    xp = be.xp
    idx = be.asarray(index, "int64")
    shape = x.shape

    def backward(g: Any) -> tuple[Any]:
        where = tuple(-1 if i == d else 1 for i in range(len(shape)))
        return (ops._scatter_along(be, shape, d, xp.broadcast_to(xp.reshape(idx, where), g.shape), g),)

    return Tensor._node(xp.take(x._data, idx, axis=d), (x,), backward, op)


def flip(input: Tensor, *dims_: Any) -> Tensor:
    """``input`` reversed along ``dims`` (ints or one tuple), as ``torch.flip`` (a copy, as torch's); the gradient
    is flipped back."""
    order = dims(dims_)
    axes = tuple(_axis(a, input.ndim, "flip") for a in order) if input.ndim else ()
    if len(set(axes)) != len(axes):
        raise ValueError(f"flip: a dim appears more than once in {order}")
    xp = input.backend.xp
    if not axes:
        return Tensor._node(xp.asarray(input._data, copy=True), (input,), lambda g: (g,), "flip")
    return Tensor._node(xp.flip(input._data, axis=axes), (input,), lambda g: (xp.flip(g, axis=axes),), "flip")


def _diagonal_order(ndim: int, dim1: int, dim2: int) -> tuple[int, ...]:
    """The axis order that moves ``dim1``, ``dim2`` to the end (torch's diagonal keeps the others in order)."""
    return (*[i for i in range(ndim) if i not in (dim1, dim2)], dim1, dim2)


def _placed(backend: Any, g: Any, rows: int, cols: int, offset: int) -> Any:
    """``(..., rows, cols)`` zeros with ``g (..., L)`` on diagonal ``offset`` (the backward of ``diagonal``): a
    choice per element, so an inf or nan in ``g`` stays where it is."""
    xp = backend.xp
    length = g.shape[-1]
    if not length:
        return backend.zeros((*g.shape[:-1], rows, cols), g.dtype)
    r = xp.reshape(backend.arange(rows), (rows, 1))
    on = (xp.reshape(backend.arange(cols), (1, cols)) - r) == offset
    pick = xp.clip(backend.arange(rows) - max(-offset, 0), 0, length - 1)  # row r holds g[r - first row]
    values = xp.expand_dims(xp.take(g, pick, axis=g.ndim - 1), axis=-1)
    return xp.where(on, values, xp.zeros_like(values))


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The diagonal ``offset`` (above the main one when positive) of the planes spanned by ``dim1`` and ``dim2``,
    as the last axis, as ``torch.diagonal``: a view (a write through it reaches the base, as in torch).

    Raises:
        IndexError: a dim out of range; ValueError: ``dim1 == dim2``.
    """
    if input.ndim < 2:
        raise ValueError(f"diagonal needs at least 2 dimensions, got shape {input.shape}")
    d1, d2 = _axis(dim1, input.ndim, "diagonal"), _axis(dim2, input.ndim, "diagonal")
    if d1 == d2:
        raise ValueError(f"diagonal: dim1 and dim2 are the same dimension ({dim1})")
    xp, be = input.backend.xp, input.backend
    order = _diagonal_order(input.ndim, d1, d2)
    inverse = tuple(sorted(range(input.ndim), key=order.__getitem__))
    rows, cols = input.shape[d1], input.shape[d2]

    def backward(g: Any) -> tuple[Any]:
        return (xp.permute_dims(_placed(be, g, rows, cols, offset), inverse),)

    return ops.view_op(input, lambda x: xp.linalg.diagonal(xp.permute_dims(x, order), offset=offset), backward,
                       "diagonal")


_diagonal = diagonal  # diag's argument is named diagonal, as torch's


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """As ``torch.diag``: a 1-D ``input`` becomes the square matrix (side ``n + |diagonal|``) with it on that
    diagonal; a 2-D one gives that diagonal (a copy).

    Raises:
        ValueError: an input that is not 1-D or 2-D.
    """
    if input.ndim == 2:
        return _diagonal(input, diagonal).clone()
    if input.ndim != 1:
        raise ValueError(f"diag takes a 1-D or 2-D tensor, got shape {input.shape}")
    xp, be = input.backend.xp, input.backend
    side = input.shape[0] + abs(diagonal)
    out = _placed(be, input._data, side, side, diagonal)
    return Tensor._node(out, (input,), lambda g: (xp.linalg.diagonal(g, offset=diagonal),), "diag")


def _expand(a: Tensor, shape: tuple[int, ...], op: str) -> Tensor:
    """``a`` broadcast to ``shape`` as a view, the gradient summed back."""
    xp = a.backend.xp
    return ops.view_op(a, lambda x: xp.broadcast_to(x, shape), lambda g: (ops._unbroadcast(g, a),), op)


def meshgrid(*tensors: Any, indexing: str = "ij") -> tuple[Tensor, ...]:
    """Coordinate grids of 1-D (or 0-d) tensors of one dtype, as ``torch.meshgrid``: with ``indexing="ij"`` (the
    default) output ``i`` varies along axis ``i``; ``"xy"`` swaps the first two axes (numpy's and matplotlib's
    convention). The tensors may come as one list. The outputs are views (``expand``).

    Raises:
        ValueError: an unknown ``indexing``, tensors of several dtypes, or one with more than one dimension.
    """
    parts = list(tensors[0]) if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else list(tensors)
    if not parts:
        raise ValueError("meshgrid needs at least one tensor")
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    if len({t.dtype for t in parts}) > 1 or any(t.ndim > 1 for t in parts):
        raise ValueError("meshgrid takes 1-D (or 0-d) tensors of one dtype, got "
                         f"{[(t.shape, t.dtype) for t in parts]}")
    sizes = [t.numel() for t in parts]
    swap = indexing == "xy" and len(parts) > 1
    if swap:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    out = []
    for i, t in enumerate(parts):
        axis = {0: 1, 1: 0}.get(i, i) if swap else i
        column = ops.reshape(t, tuple(n if j == axis else 1 for j, n in enumerate(sizes)))
        out.append(_expand(column, tuple(sizes), "meshgrid"))
    return tuple(out)


def view_dtype(input: Tensor, dtype: Any) -> Tensor:
    """The same bytes read as ``dtype``, as ``torch.Tensor.view(dtype)``: with a different element size the last
    axis shrinks or grows in proportion. A view on numpy and CuPy; a copy on strict, whose arrays have no byte
    views. Not differentiable (as torch).

    Raises:
        RuntimeError: a 0-d tensor or a last axis that does not divide, with element sizes that differ (as torch).
    """
    be = input.backend
    target = be.dtype(dtype)
    source = input.detach()
    data = source._data
    if not hasattr(data, "view"):  # strict: through the host
        host = be.to_numpy(data)
        return Tensor._wrap(be.asarray(_byte_view(host, np.dtype(dtype_name(target)))), be)
    return ops.view_op(source, lambda x: _byte_view(x, target), lambda g: (None,), "view_dtype")


def _byte_view(x: Any, dtype: Any) -> Any:
    try:
        return x.view(dtype)
    except ValueError as exc:
        raise RuntimeError(f"view(dtype): cannot view {x.dtype} of shape {tuple(x.shape)} as {dtype_name(dtype)}: "
                           f"{exc} (with element sizes that differ, the last axis must divide)") from None
