"""The host backend: numpy on the CPU."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .base import Backend


class NumpyBackend(Backend):
    """numpy >= 2 on the host CPU. ``device`` is ``"cpu"``; ``to_numpy`` returns a copy. ``xp`` is numpy with
    its hottest Python-level wrappers bound to their C implementations (``backends.numpy_fast``). Making one
    keeps glibc from returning the memory of freed temporaries to the kernel between steps (``backends._malloc``;
    ``GRADKIT_MALLOC=default`` opts out)."""

    name = "numpy"

    def __init__(self) -> None:
        from . import _malloc, numpy_fast

        _malloc.tune()
        super().__init__(numpy_fast, "cpu")

    def owns(self, array: Any) -> bool:
        return isinstance(array, (np.ndarray, np.generic))  # numpy gives 0-d results as scalars

    def writeable(self, array: Any) -> bool:
        return type(array) is np.ndarray and array.flags.writeable  # a 0-d result is a numpy scalar: immutable

    def scatter_add(self, target: Any, indices: Any, updates: Any) -> Any:
        """As ``Backend.scatter_add``; here ``indices`` may also be negative, counted from the end (in
        ``[-V, V)``, as ``take`` reads them: the engine's gather passes them unchecked to ``take``, which raises
        for the others)."""
        # bincount, summed in float64: 3-6x faster than np.add.at. Few rows: one call over (row, column)
        # pairs; many: one call per column, which skips building the pair index (1.6x faster at 24,576 rows).
        idx = indices.reshape(-1)
        if idx.dtype != np.intp:
            idx = idx.astype(np.intp)  # int8 rows times the width would wrap around
        try:
            summed = _bincount(target.shape, idx, updates)
        except ValueError:  # bincount refuses negative entries
            summed = _bincount(target.shape, idx % target.shape[0], updates)
        return target + summed.astype(target.dtype, copy=False)

    def _to_host(self, array: Any) -> np.ndarray:
        return np.array(array, copy=True)


def _bincount(shape: tuple[int, ...], idx: Any, updates: Any) -> Any:
    """The float64 sums of ``updates``' rows at the (non-negative) rows ``idx`` of a ``shape`` table."""
    rows, width = shape[0], math.prod(shape[1:])
    cols = updates.reshape(idx.shape[0], width)
    if idx.shape[0] < 4096 or width == 1:
        return np.bincount(_pairs(idx, width), weights=cols.reshape(-1), minlength=rows * width).reshape(shape)
    return np.stack([np.bincount(idx, weights=cols[:, j], minlength=rows) for j in range(width)],
                    axis=1).reshape(shape)


_COLUMNS: dict[tuple[int, int], Any] = {}


def _pairs(idx: Any, width: int) -> Any:
    """``(idx[:, None] * width + arange(width)).reshape(-1)``, the bin of every (row, column) pair, as a repeat
    and an in-place add of the column numbers (kept per shape): a fifth faster than broadcasting at 96 x 10."""
    columns = _COLUMNS.get((idx.shape[0], width))
    if columns is None:
        if len(_COLUMNS) > 64:
            _COLUMNS.clear()
        columns = _COLUMNS[idx.shape[0], width] = np.tile(np.arange(width), idx.shape[0])
    flat = np.repeat(idx * width, width)
    flat += columns
    return flat
