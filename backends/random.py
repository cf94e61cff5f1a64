"""One seed, the same numbers on every backend: draw on the host, then move."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .base import Backend

__all__ = ["Generator", "dtype_name"]


class Generator:
    """A seeded random generator whose draws land on one backend.

    Every draw is made on the host by a ``numpy.random.Generator(PCG64(seed))`` in float64 (or int64), cast
    to the requested dtype there, and only then moved to the backend's device. So one seed gives
    bitwise-identical numbers on numpy, CuPy and strict, and numpy's global random state is never touched.
    ``state`` (a JSON-able dict) saves and restores the stream, for checkpoints.
    """

    def __init__(self, backend: Backend, seed: int | None) -> None:
        self.backend = backend
        self.host = np.random.default_rng(seed)

    def normal(self, loc: float = 0.0, scale: float = 1.0, size: Any = None, dtype: Any = "float32") -> Any:
        """Gaussian draws of shape ``size`` as a backend array of ``dtype`` (default float32)."""
        return self._move(self.host.normal(loc, scale, size), dtype)

    def uniform(self, low: float = 0.0, high: float = 1.0, size: Any = None, dtype: Any = "float32") -> Any:
        """Uniform draws in ``[low, high)`` of shape ``size`` as a backend array of ``dtype``."""
        return self._move(self.host.uniform(low, high, size), dtype)

    def integers(self, low: int, high: int | None = None, size: Any = None) -> Any:
        """Integers in ``[low, high)`` of shape ``size`` as a backend int64 array."""
        return self._move(self.host.integers(low, high, size, dtype=np.int64), "int64")

    @property
    def state(self) -> dict:
        """The bit generator's state (a JSON-able dict); assign it to resume the stream exactly."""
        return dict(self.host.bit_generator.state)

    @state.setter
    def state(self, value: dict) -> None:
        self.host.bit_generator.state = value

    def _move(self, host: Any, dtype: Any) -> Any:
        return self.backend.asarray(np.asarray(host).astype(np.dtype(dtype_name(dtype)), copy=False))


def dtype_name(dtype: Any) -> str:
    """``'float32'`` for numpy, CuPy and array_api_strict dtypes, strings and numpy scalar types alike."""
    if isinstance(dtype, str):
        return dtype
    name = getattr(dtype, "name", None)  # numpy and CuPy dtypes
    if isinstance(name, str):
        return name
    text = str(dtype)  # 'array_api_strict.float32', "<class 'numpy.float32'>"
    return text.rsplit(".", 1)[-1].strip("'>") if "." in text else np.dtype(dtype).name
