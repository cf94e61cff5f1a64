"""A test backend whose arrays refuse writes: numpy, with every array it makes read-only, as JAX's are immutable.

It proves that the engine changes a tensor's contents only through the one door (``Tensor._assign``), which
rebinds where ``writeable`` says no: training and in-place semantics give the numpy backend's numbers on it.
It is not offered by name (``get_backend``); tests build it with ``ReadOnlyBackend()``.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from . import numpy_fast
from .numpy_backend import NumpyBackend


class Frozen(np.ndarray):
    """A read-only numpy array whose computed results (ufuncs, operators) are read-only too."""

    def __array_wrap__(self, array: Any, context: Any = None, return_scalar: bool = False) -> Any:
        return freeze(array) if not (return_scalar and array.ndim == 0) else array[()]


def freeze(x: Any) -> Any:
    """``x`` (an array) as a read-only ``Frozen`` array; anything else unchanged."""
    if isinstance(x, np.ndarray):
        if type(x) is not Frozen:
            x = x.view(Frozen)
        x.flags.writeable = False
    elif isinstance(x, tuple):
        return tuple(freeze(v) for v in x)
    return x


def _plain(x: Any) -> Any:
    """``x`` with Frozen arrays seen as plain (still read-only) ndarrays: numpy's own functions (``mean``) update
    their fresh temporaries in place, which a Frozen result would refuse."""
    if type(x) is Frozen:
        return x.view(np.ndarray)
    if isinstance(x, (tuple, list)):
        return type(x)(_plain(v) for v in x)
    return x


class _Namespace:
    """``numpy_fast`` whose functions return read-only arrays."""

    def __getattr__(self, name: str) -> Any:
        real = getattr(numpy_fast, name)
        if callable(real) and not isinstance(real, type):
            fn = real

            @functools.wraps(fn)
            def frozen(*args: Any, **kwargs: Any) -> Any:
                return freeze(fn(*_plain(args), **{k: _plain(v) for k, v in kwargs.items()}))

            real = frozen
        setattr(self, name, real)
        return real


class ReadOnlyBackend(NumpyBackend):
    """numpy on the host CPU with immutable arrays (see the module docstring); ``writeable`` is always False."""

    name = "readonly"

    def __init__(self) -> None:
        super().__init__()
        self.xp = _Namespace()

    def writeable(self, array: Any) -> bool:
        return False

    def asarray(self, obj: Any, dtype: Any = None) -> Any:
        return freeze(super().asarray(obj, dtype))

    def scratch(self, array: Any) -> Any:
        return np.array(array)  # a plain, writeable copy: the engine's own temporaries

    def setitem(self, array: Any, key: Any, value: Any) -> Any:
        out = np.array(array)
        out[key] = value
        return freeze(out)

    def put(self, target: Any, indices: Any, values: Any) -> Any:
        out = np.array(target)
        out[indices] = values
        return freeze(out)

    def scatter_add(self, target: Any, indices: Any, updates: Any) -> Any:
        return freeze(super().scatter_add(target, indices, updates))

    def _from_host(self, host: np.ndarray) -> Any:
        return freeze(np.array(host))
