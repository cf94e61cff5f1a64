"""``pad``, as ``torch.nn.functional.pad``: ``"constant"`` padding (negative amounts crop), and the
``"reflect"``, ``"replicate"`` and ``"circular"`` modes as gathers along each padded axis (host index arrays,
``shapes.take_along``), so every mode is differentiable on every backend."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import ops
from .dtypes import check_fill
from .shapes import take_along
from .tensor import Tensor

__all__ = ["pad"]

_MODES = ("constant", "reflect", "replicate", "circular")


def _pairs(input: Tensor, pad: Sequence[int]) -> list[tuple[int, int, int]]:
    """``(axis, before, after)`` for each padded axis, from PyTorch's ``(last_before, last_after, ...)``."""
    if len(pad) % 2:
        raise ValueError(f"pad: padding length must be divisible by 2, got {len(pad)} ({tuple(pad)})")
    if len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: {len(pad)} padding sizes pad {len(pad) // 2} dimensions, the input has {input.ndim}")
    return [(input.ndim - 1 - i, int(pad[2 * i]), int(pad[2 * i + 1])) for i in range(len(pad) // 2)]


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None) -> Tensor:
    """``input`` padded by ``pad = (before_last, after_last, before_2nd_last, ...)``, as
    ``torch.nn.functional.pad``. ``"constant"`` fills with ``value`` (default 0; negative amounts crop);
    ``"reflect"`` mirrors without repeating the edge, ``"replicate"`` repeats the edge, ``"circular"`` wraps
    around (these three pad the last 1-3 dimensions of a batched input, as torch). Differentiable.

    Raises:
        ValueError: an odd or too long ``pad``, an unknown ``mode``, ``value`` with a mode other than constant,
            a reflect (circular) amount not smaller than (not above) the dimension, or an input of the wrong
            rank for a non-constant mode (as torch).
        RuntimeError: a ``value`` the dtype cannot hold (as ``full``).
    """
    if mode not in _MODES:
        raise ValueError(f"pad: mode must be one of {_MODES}, got {mode!r}")
    pairs = _pairs(input, pad)
    if mode == "constant":
        return _constant(input, pairs, 0 if value is None else value)
    if value is not None:
        raise ValueError(f"pad: value applies to mode='constant' only, got value={value} with mode={mode!r}")
    n = len(pairs)
    if input.ndim not in (n + 1, n + 2) or not 1 <= n <= 3:
        raise ValueError(f"pad: mode={mode!r} pads the last 1-3 dimensions of a batched input: {2 * n} sizes need "
                         f"an input of {n + 1} or {n + 2} dimensions, got {input.ndim} (as torch)")
    out = input
    for axis, before, after in pairs:
        out = take_along(out, _index(mode, out.shape[axis], before, after, axis), axis, "pad")
    return out


def _index(mode: str, n: int, before: int, after: int, axis: int) -> np.ndarray:
    """The source index of each output position along an axis of length ``n``."""
    positions = np.arange(-before, n + after)
    if mode == "replicate":
        return np.clip(positions, 0, n - 1)
    if mode == "circular":
        if max(before, after) > n:
            raise ValueError(f"pad: circular padding ({before}, {after}) is larger than dimension {axis} ({n})")
        return positions % n
    if max(before, after) >= n:
        raise ValueError(f"pad: reflect padding ({before}, {after}) must be smaller than dimension {axis} ({n}), "
                         "as torch")
    return np.abs(positions) - 2 * np.maximum(positions - (n - 1), 0)


def _constant(input: Tensor, pairs: list[tuple[int, int, int]], value: Any) -> Tensor:
    crop = [slice(None)] * input.ndim
    for axis, before, after in pairs:
        if before < 0 or after < 0:
            n = input.shape[axis]
            crop[axis] = slice(max(-before, 0), max(n - max(-after, 0), max(-before, 0)))
    x = ops.getitem(input, (*crop, Ellipsis)) if any(c != slice(None) for c in crop) else input
    be = x.backend
    check_fill(value, x._data.dtype)
    category = ops._category(be, x._data.dtype)
    fill = value if category == 2 else int(value) if category == 1 else bool(value)  # torch truncates, as a cast
    shape = list(x.shape)
    key = [slice(None)] * x.ndim
    for axis, before, after in pairs:
        b, a = max(before, 0), max(after, 0)
        shape[axis] += b + a
        key[axis] = slice(b, b + x.shape[axis])
    place = (*key, Ellipsis)
    out = be.full(tuple(shape), fill, x._data.dtype)
    out[place] = x._data
    return Tensor._node(out, (x,), lambda g: (g[place],), "pad")
