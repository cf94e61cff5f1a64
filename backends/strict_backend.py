"""array_api_strict on a second, non-CPU device: a CPU stand-in for a GPU's rules."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .base import Backend


class StrictBackend(Backend):
    """``array_api_strict`` on its ``device1``. It refuses implicit conversion to numpy and the mixing of
    devices, and has only standard functions, so CPU-only CI catches the bugs that would surface on CUDA.
    ``scatter_add`` is a one-hot matmul (the standard has no index-add)."""

    name = "strict"

    def __init__(self) -> None:
        import array_api_strict as xp

        super().__init__(xp, xp.Device("device1"))
        self._cpu = xp.Device("CPU_DEVICE")
        self._array = type(xp.asarray(0))

    def owns(self, array: Any) -> bool:
        return isinstance(array, self._array) and array.device == self.device

    def astype(self, array: Any, dtype: Any) -> Any:
        """``array`` cast to ``dtype`` (no copy when it already has it); a float -> integer cast of NaN, infinity or
        an out-of-range value is implementation-defined and silent, as torch's (no numpy ``RuntimeWarning``)."""
        target = self.dtype(dtype)
        if array.dtype == target:
            return array
        with np.errstate(invalid="ignore", over="ignore"):
            return self.xp.astype(array, target)

    def writeable(self, array: Any) -> bool:
        return bool(array._array.flags.writeable)  # array_api_strict wraps a numpy array (broadcast views: read-only)

    def contiguous(self, array: Any) -> bool:
        flags = getattr(array, "flags", None)  # (a proxy of gradkit.compile's trace has the numpy flags)
        return bool((array._array.flags if flags is None else flags).c_contiguous)

    def scatter_add(self, target: Any, indices: Any, updates: Any) -> Any:
        xp = self.xp
        idx = xp.astype(xp.reshape(indices, (-1, 1)), xp.int64)  # an int8 arange past 127 would wrap around
        rows = target.shape[0]
        onehot = xp.astype(idx == xp.reshape(self.arange(rows, dtype=idx.dtype), (1, rows)), target.dtype)
        flat = xp.reshape(updates, (idx.shape[0], math.prod(target.shape[1:])))  # not -1: no updates is (0, w)
        return target + xp.reshape(xp.matrix_transpose(onehot) @ flat, target.shape)

    def put(self, target: Any, indices: Any, values: Any) -> Any:
        # The standard has no integer-array assignment: a one-hot matmul of the last occurrence of each index.
        xp = self.xp
        if target.dtype == xp.bool:
            return xp.astype(self.put(xp.astype(target, xp.int8), indices, xp.astype(values, xp.int8)), xp.bool)
        m, rows = indices.shape[0], target.shape[0]
        order = self.arange(m, dtype=indices.dtype)
        repeated_later = xp.any((xp.reshape(indices, (-1, 1)) == xp.reshape(indices, (1, -1)))
                                & (xp.reshape(order, (1, -1)) > xp.reshape(order, (-1, 1))), axis=1)
        onehot = xp.astype((xp.reshape(indices, (-1, 1)) == xp.reshape(self.arange(rows, dtype=indices.dtype),
                                                                          (1, rows))) & ~xp.reshape(repeated_later,
                                                                                                    (-1, 1)),
                           target.dtype)
        flat = xp.reshape(values, (m, -1))
        placed = xp.reshape(xp.matrix_transpose(onehot) @ xp.astype(flat, target.dtype), target.shape)
        hit = xp.reshape(xp.any(onehot != 0, axis=0), (rows,) + (1,) * (target.ndim - 1))
        return xp.where(hit, placed, target)

    def _to_host(self, array: Any) -> np.ndarray:
        return np.asarray(array.to_device(self._cpu))
