"""Shape functions with PyTorch's names and meanings: ``transpose(dim0, dim1)`` (swap two axes; ``permute``
takes a whole order), ``squeeze``, ``unsqueeze``, ``flatten``, ``cat``/``stack`` with ``dim=``, ``unbind``.

All are compositions of ``ops.reshape``/``ops.permute``/``ops.concat``/``ops.getitem``, so their gradients are
those ops' (each proven against the Value oracle).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import ops
from .tensor import Tensor, dims, pick_dim

__all__ = ["cat", "concat", "flatten", "permute", "squeeze", "stack", "transpose", "unbind", "unsqueeze"]


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
