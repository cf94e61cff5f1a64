"""``split``, ``chunk``, ``expand``, ``roll`` and ``contiguous``, as PyTorch's: the pieces of ``split`` and ``chunk``
and the result of ``expand`` are views (they share the input's storage, through ``ops.view_op``/``ops.getitem``);
``roll`` is a copy; ``contiguous`` copies only a tensor whose layout is not row-major.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from . import _inplace, ops
from .shapes import _axis
from .tensor import Tensor

__all__ = ["chunk", "contiguous", "roll", "split"]


def _dim(a: Tensor, dim: int, name: str) -> int:
    """``shapes._axis``, where a 0-d tensor has no dimension to cut (torch refuses it here)."""
    if a.ndim == 0:
        raise IndexError(f"{name}: dimension {dim} is out of range for a tensor with 0 dimensions")
    return _axis(dim, a.ndim, name)


def _slices(a: Tensor, d: int, bounds: Sequence[tuple[int, int]]) -> tuple[Tensor, ...]:
    lead = (slice(None),) * d
    return tuple(ops.getitem(a, (*lead, slice(lo, hi))) for lo, hi in bounds)


def split(tensor: Tensor, split_size_or_sections: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
    """Views of ``tensor`` along ``dim``: pieces of ``split_size_or_sections`` elements (the last one smaller),
    or of the given sizes, as ``torch.split``. (nanoGPT's ``q, k, v = qkv.split(n_embd, dim=2)``.)

    Raises:
        RuntimeError: sizes that do not sum to the axis's length, or a size that is negative (or 0 for a
            non-empty axis), with torch's messages. IndexError: ``dim`` out of range.
    """
    d = _dim(tensor, dim, "split")
    n = tensor.shape[d]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size < 0 or (size == 0 and n):
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, and split expects split_size be "
                               f"non-negative, but got split_size={size} for dimension size {n}")
        starts = range(0, n, size) if n else [0]
        return _slices(tensor, d, [(lo, min(lo + size, n)) for lo in starts])
    sizes = [int(s) for s in split_size_or_sections]
    if sum(sizes) != n or any(s < 0 for s in sizes):
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size at "
                           f"dimension {d}), but got split_sizes={sizes}")
    bounds, lo = [], 0
    for s in sizes:
        bounds.append((lo, lo + s))
        lo += s
    return _slices(tensor, d, bounds)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """``split(input, ceil(n / chunks), dim)``: at most ``chunks`` views of equal size (the last smaller), as
    ``torch.chunk``. Raises RuntimeError for ``chunks < 1``."""
    if chunks < 1:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    n = input.shape[_dim(input, dim, "chunk")]
    return split(input, max(math.ceil(n / chunks), 1) if n else 0, dim)


def roll(input: Tensor, shifts: int | Sequence[int], dims: int | Sequence[int] | None = None) -> Tensor:
    """``input`` shifted cyclically by ``shifts`` along ``dims`` (the flattened tensor, shape kept, for None), as
    ``torch.roll``; the gradient is rolled back. (makemore's MLP: ``torch.roll(idx, 1, 1)``.)

    Raises:
        RuntimeError: ``shifts`` and ``dims`` of different lengths."""
    xp = input.backend.xp
    shift = (shifts,) if isinstance(shifts, int) else tuple(int(s) for s in shifts)
    if dims is None:
        if len(shift) != 1:
            raise RuntimeError(f"roll: shifts {shift} need dims of the same length")
        flat = xp.reshape(input._data, (-1,))
        out = xp.reshape(xp.roll(flat, shift[0]), input.shape)
        back = -shift[0]
        return Tensor._node(out, (input,), lambda g: (xp.reshape(xp.roll(xp.reshape(g, (-1,)), back), g.shape),),
                            "roll")
    axes = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(axes) != len(shift):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shift)}, dims:{len(axes)}")
    axes = tuple(_dim(input, a, "roll") for a in axes)
    negated = tuple(-s for s in shift)
    return Tensor._node(xp.roll(input._data, shift, axis=axes), (input,),
                        lambda g: (xp.roll(g, negated, axis=axes),), "roll")


def contiguous(input: Tensor) -> Tensor:
    """``input`` itself when its storage is row-major (C-contiguous), else a row-major copy (recorded; the
    gradient passes through), as ``torch.Tensor.contiguous``. Where the array library does not tell its layout
    (array_api_strict), and for an expanded view, a copy."""
    flags = getattr(input._data, "flags", None)
    if flags is not None and input.is_contiguous():
        return input
    xp = input.backend.xp
    if flags is None or _inplace.overlaps(input):  # (a small expand's array may be a filled copy: copy it again)
        out = xp.asarray(input._data, copy=True)
    else:  # flattening a non-row-major array copies it in row-major order
        out = xp.reshape(xp.reshape(input._data, (-1,)), input.shape)
    return Tensor._node(out, (input,), lambda g: (g,), "contiguous")
