"""Selections whose size depends on the data, with PyTorch's names: ``masked_select``, ``nonzero`` (and
``argwhere``). Each reads the mask's count from the device (the output's shape depends on it), so a
``gradkit.compile`` trace notes them and runs eagerly."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import ops
from .shapes import _expand
from .tensor import Tensor

__all__ = ["argwhere", "masked_select", "nonzero"]


def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """The elements of ``input`` where ``mask`` (bool) is True, broadcast together, as a 1-D tensor in row-major
    order, as ``torch.masked_select``; the gradient goes back to those elements.

    Raises:
        TypeError: a mask that is not a bool tensor. ValueError: shapes that do not broadcast.
    """
    m = ops._as_tensor(input, mask)
    if m._data.dtype != input.backend.xp.bool:
        raise TypeError(f"masked_select: the mask must be a bool tensor, got {m.dtype}")
    try:
        shape = tuple(np.broadcast_shapes(input.shape, m.shape))
    except ValueError:
        raise ValueError(f"masked_select: input of shape {input.shape} and mask of shape {m.shape} do not "
                         "broadcast") from None
    x = input if input.shape == shape else _expand(input, shape, "expand")
    full = m if m.shape == shape else Tensor._wrap(input.backend.xp.broadcast_to(m._data, shape), input.backend)
    return ops.reshape(ops.getitem(x, full), (-1,)) if shape else ops.getitem(ops.reshape(x, (1,)), ops.reshape(
        full, (1,)))


def nonzero(input: Tensor, *, as_tuple: bool = False) -> Any:
    """The indices of the nonzero elements, as ``torch.nonzero``: an int64 ``(count, ndim)`` tensor in row-major
    order, or with ``as_tuple`` one 1-D tensor per axis (a 0-d input counts as 1-D there, as torch)."""
    xp, be = input.backend.xp, input.backend
    data = input._data if input.ndim else xp.reshape(input._data, (1,))
    found = [be.astype(k, "int64") for k in xp.nonzero(data)]
    if as_tuple:
        return tuple(Tensor._wrap(k, be) for k in found)
    if not input.ndim:
        return Tensor._wrap(be.zeros((found[0].shape[0], 0), "int64"), be)
    return Tensor._wrap(xp.stack(found, axis=1), be)


def argwhere(input: Tensor) -> Tensor:
    """``nonzero(input)``, as ``torch.argwhere``."""
    return nonzero(input)
