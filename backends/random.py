"""One seed, the same numbers on every backend: draw on the host, then move.

The one place that decides the seed policy: every random number gradkit draws comes from a ``Generator``
here, either one the caller made (``backend.random(seed)``, ``gradkit.Generator().manual_seed(seed)``) or the
process's ``default_generator`` (PyTorch's default generator; ``manual_seed`` reseeds it).
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .base import Backend

__all__ = ["DEFAULT_SEED", "Generator", "default_generator", "dtype_name", "manual_seed"]

# PyTorch's default generator starts from this seed in every process (torch.initial_seed()); so does ours, so a
# script without manual_seed gives the same numbers on every run, as torch's does (not torch's numbers: the
# streams differ, see Generator).
DEFAULT_SEED = 67280421310721


class Generator:
    """A seeded random generator whose draws land on one backend, as ``torch.Generator``.

    Every draw is made on the host by a ``numpy.random.Generator(PCG64(seed))`` in float64 (or int64), cast
    to the requested dtype there, and only then moved to the backend's device. So one seed gives
    bitwise-identical numbers on numpy, CuPy and strict, and numpy's global random state is never touched.
    The numbers are not PyTorch's for the same seed (PyTorch's CPU stream is a Mersenne Twister with its own
    transforms, its CUDA stream Philox): a deliberate difference, so that every backend agrees.
    ``state`` (a JSON-able dict) saves and restores the stream, for checkpoints.

    Args:
        backend: where draws land: a ``Backend``, a backend name, or None for the default backend (resolved at
            each draw, so making a generator never probes CuPy). ``device`` is PyTorch's spelling of it.
        seed: an int (taken modulo 2**64, as torch's), or None for fresh entropy.

    Raises:
        TypeError: a seed that is not an int.
    """

    def __init__(self, backend: Backend | str | None = None, seed: int | None = None, *,
                 device: Backend | str | None = None) -> None:
        if backend is not None and device is not None:
            raise TypeError("Generator got both backend= and device=: they are one argument; pass one")
        self._backend = backend if backend is not None else device
        self.host = np.random.default_rng(_seed(seed))
        self._initial_seed = seed

    @property
    def backend(self) -> Backend:
        """The backend where draws land: the one given, else the default backend at the time of the draw."""
        from .base import Backend
        from .registry import get_backend

        return self._backend if isinstance(self._backend, Backend) else get_backend(self._backend)

    def manual_seed(self, seed: int) -> Generator:
        """Restart the stream from ``seed`` (an int, modulo 2**64); returns self, as ``torch.Generator``."""
        self.host = np.random.default_rng(_seed(seed))
        self._initial_seed = seed
        return self

    def initial_seed(self) -> int | None:
        """The seed the stream started from (None for fresh entropy)."""
        return self._initial_seed

    def normal(self, loc: float = 0.0, scale: float = 1.0, size: Any = None, dtype: Any = "float32",
               backend: Backend | None = None) -> Any:
        """Gaussian draws of shape ``size`` as an array of ``dtype`` (default float32) on ``backend`` (default:
        the generator's)."""
        return self._move(self.host.normal(loc, scale, size), dtype, backend)

    def uniform(self, low: float = 0.0, high: float = 1.0, size: Any = None, dtype: Any = "float32",
                backend: Backend | None = None) -> Any:
        """Uniform draws in ``[low, high)`` of shape ``size`` as an array of ``dtype``."""
        return self._move(self.host.uniform(low, high, size), dtype, backend)

    def integers(self, low: int, high: int | None = None, size: Any = None, dtype: Any = "int64",
                 backend: Backend | None = None) -> Any:
        """Integers in ``[low, high)`` of shape ``size`` as an array of ``dtype`` (default int64)."""
        return self._move(self.host.integers(low, high, size, dtype=np.int64), dtype, backend)

    def permutation(self, n: int, dtype: Any = "int64", backend: Backend | None = None) -> Any:
        """A random permutation of ``range(n)``."""
        return self._move(self.host.permutation(n), dtype, backend)

    def categorical(self, probs: np.ndarray, num_samples: int, replacement: bool) -> np.ndarray:
        """Host int64 indices ``(rows, num_samples)`` drawn from each row of the host float64 weights ``probs
        (rows, n)`` (nonnegative, each row with a positive sum; checked by the caller). With replacement: one
        uniform per sample through the row's cumulative distribution (zero weights are never drawn); without:
        numpy's ``choice(replace=False)`` per row."""
        rows, n = probs.shape
        if replacement:
            cdf = np.cumsum(probs, axis=1)
            cdf /= cdf[:, -1:]  # the last entry is exactly 1, so u < 1 always lands in a category
            u = self.host.random((rows, num_samples))
            return np.stack([np.searchsorted(c, r, side="right") for c, r in zip(cdf, u)]).astype(np.int64)
        return np.stack([self.host.choice(n, num_samples, replace=False, p=p / p.sum()) for p in probs]).astype(
            np.int64)

    @property
    def state(self) -> dict:
        """The bit generator's state (a JSON-able dict); assign it to resume the stream exactly."""
        return dict(self.host.bit_generator.state)

    @state.setter
    def state(self, value: dict) -> None:
        self.host.bit_generator.state = value

    def _move(self, host: Any, dtype: Any, backend: Backend | None = None) -> Any:
        target = self.backend if backend is None else backend
        return target.asarray(np.asarray(host).astype(np.dtype(dtype_name(dtype)), copy=False))


def _seed(seed: Any) -> int | None:
    if seed is None:
        return None
    try:
        return operator.index(seed) % 2**64
    except TypeError:
        raise TypeError(f"a seed is an int, got {type(seed).__name__}") from None


default_generator = Generator(None, DEFAULT_SEED)


def manual_seed(seed: int) -> Generator:
    """Reseed the default generator (what draws without ``generator=`` use); returns it, as
    ``torch.manual_seed``."""
    return default_generator.manual_seed(seed)


def dtype_name(dtype: Any) -> str:
    """``'float32'`` for numpy, CuPy and array_api_strict dtypes, strings and numpy scalar types alike."""
    if isinstance(dtype, str):
        return dtype
    name = getattr(dtype, "name", None)  # numpy and CuPy dtypes
    if isinstance(name, str):
        return name
    text = str(dtype)  # 'array_api_strict.float32', "<class 'numpy.float32'>"
    return text.rsplit(".", 1)[-1].strip("'>") if "." in text else np.dtype(dtype).name
