"""The host backend: numpy on the CPU."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .base import Backend


class NumpyBackend(Backend):
    """numpy >= 2 on the host CPU. ``device`` is ``"cpu"``; ``to_numpy`` returns a copy. ``xp`` is numpy with
    its hottest Python-level wrappers bound to their C implementations (``backends.numpy_fast``)."""

    name = "numpy"

    def __init__(self) -> None:
        from . import numpy_fast

        super().__init__(numpy_fast, "cpu")

    def owns(self, array: Any) -> bool:
        return isinstance(array, (np.ndarray, np.generic))  # numpy gives 0-d results as scalars

    def scatter_add(self, target: Any, indices: Any, updates: Any) -> Any:
        # One bincount over (row, column) pairs: 3-4x faster than np.add.at here, and summed in float64.
        idx = np.asarray(indices).reshape(-1)
        width = math.prod(target.shape[1:])
        flat = (idx[:, None] * width + np.arange(width)).reshape(-1)
        summed = np.bincount(flat, weights=updates.reshape(-1), minlength=target.size)
        return target + summed.reshape(target.shape).astype(target.dtype, copy=False)

    def _to_host(self, array: Any) -> np.ndarray:
        return np.array(array, copy=True)
