"""``Backend``: everything that differs between numpy, CuPy and array_api_strict, behind one small object."""

from __future__ import annotations

import resource
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import DeviceMismatchError
from .random import Generator, dtype_name

# capture(fn, args) -> (graph, result): fn's device work recorded as one graph; graph.launch() runs it.
GraphCapture = Callable[[Callable[..., Any], list], tuple[Any, Any]]


class Backend:
    """An array library on one device.

    ``gradkit`` calls only ``xp`` (an array API standard namespace: numpy, cupy or array_api_strict) and the
    members below, so that the same engine code runs on every backend.

    Attributes:
        name: ``"numpy"``, ``"cupy"`` or ``"strict"``.
        device: the namespace's device object (``"cpu"``, ``cupy.cuda.Device(0)``, a strict ``Device``).
        xp: the array namespace.
    """

    name: str = "base"

    def __init__(self, xp: Any, device: Any) -> None:
        self.xp = xp
        self.device = device
        self._dtypes: dict[Any, Any] = {}

    def __repr__(self) -> str:
        return f"Backend({self.name!r}, device={self.device!r})"

    def __deepcopy__(self, memo: dict[int, Any]) -> Backend:
        return self  # one object per backend (its namespace is a module): a tensor's copy shares it

    def __copy__(self) -> Backend:
        out = object.__new__(type(self))  # a shallow copy (``__reduce__`` would give this very object back)
        out.__dict__.update(self.__dict__)
        return out

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        """Pickled by name: unpickled as this process's backend of that name (``get_backend``)."""
        from .registry import get_backend

        return get_backend, (self.name,)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Backend) and (self.name, str(self.device)) == (other.name, str(other.device))

    def __hash__(self) -> int:
        return hash((self.name, str(self.device)))

    def owns(self, array: Any) -> bool:
        """True when ``array`` is an array of this namespace on this device."""
        raise NotImplementedError

    def writeable(self, array: Any) -> bool:
        """True when ``array`` (of this backend) may be written in place; False where the namespace's arrays are
        immutable or this one is read-only (a broadcast view). ``Tensor._assign`` rebinds where it is False."""
        return True

    def scratch(self, array: Any) -> Any:
        """``array``, a fresh result nobody else holds, as one the caller may update in place (to save an
        allocation): itself where arrays are mutable, a mutable copy where the namespace's arrays are not."""
        return array

    def setitem(self, array: Any, key: Any, value: Any) -> Any:
        """``array[key] = value`` (basic indexing, ``array`` a fresh result) and the array: in place where arrays
        are mutable, on a copy where they are not."""
        array[key] = value
        return array

    def contiguous(self, array: Any) -> bool:
        """True when ``array`` is C-contiguous (so ``reshape`` views it); True where the namespace cannot say."""
        flags = getattr(array, "flags", None)
        return flags is None or bool(flags.c_contiguous)

    def asarray(self, obj: Any, dtype: Any = None) -> Any:
        """Host data (Python numbers, lists, numpy arrays) or an array this backend owns, as an array of this
        backend in ``dtype`` (a name such as ``"float32"`` or any dtype object; ``None`` keeps or infers it).

        This is the one explicit host -> device move. Raises ``DeviceMismatchError`` for an array of another
        backend or device, naming both and the fix.
        """
        if self.owns(obj):
            return obj if dtype is None else self.astype(obj, dtype)
        if _is_foreign_array(obj):
            raise DeviceMismatchError(
                f"{self!r}.asarray got an array on {_describe(obj)}; bring it to the host first with its "
                f"backend's to_numpy(...) (or use Tensor.to(backend)), then call asarray"
            )
        if dtype is None:
            host = np.asarray(obj)
        else:
            with np.errstate(invalid="ignore", over="ignore"):  # float -> int of NaN/inf/out of range: as torch, silent
                host = np.asarray(obj, dtype=dtype_name(dtype))
        return self._from_host(host)

    def to_numpy(self, array: Any) -> np.ndarray:
        """An explicit copy of ``array`` (of this backend) on the host as a numpy array, dtype kept."""
        self.check(array, "to_numpy")
        return self._to_host(array)

    def dtype(self, spec: Any) -> Any:
        """The namespace's dtype for ``spec`` (``"float32"``, ``numpy.float64``, a strict dtype, ...)."""
        try:
            return self._dtypes[spec]
        except (KeyError, TypeError):  # not seen yet, or not hashable
            found = getattr(self.xp, dtype_name(spec))
            try:
                self._dtypes[spec] = found
            except TypeError:
                pass
            return found

    def astype(self, array: Any, dtype: Any) -> Any:
        """``array`` cast to ``dtype`` (no copy when it already has it)."""
        target = self.dtype(dtype)
        return array if array.dtype == target else self.xp.astype(array, target)

    def zeros(self, shape: Any, dtype: Any = "float32") -> Any:
        """A new array of zeros of ``shape`` and ``dtype`` on this device."""
        return self.xp.zeros(shape, dtype=self.dtype(dtype), **self._on_device())

    def full(self, shape: Any, fill_value: float, dtype: Any = "float32") -> Any:
        """A new array of ``shape`` filled with ``fill_value`` on this device."""
        return self.xp.full(shape, fill_value, dtype=self.dtype(dtype), **self._on_device())

    def arange(self, start: Any, stop: Any = None, dtype: Any = "int64", step: Any = 1) -> Any:
        """``[start, stop)`` (or ``[0, start)``) by ``step`` on this device."""
        return self.xp.arange(start, stop, step, dtype=self.dtype(dtype), **self._on_device())

    def scatter_add(self, target: Any, indices: Any, updates: Any) -> Any:
        """Rows of ``updates`` added into ``target`` at ``indices`` along axis 0, repeated indices summed.

        Shapes: ``target (V, *D)``, ``indices`` integer of any shape ``S``, ``updates (*S, *D)``. Returns
        the sum as a new array of ``target``'s dtype (``target`` itself is left unchanged). This is the
        backward of an embedding lookup ``table[indices]``.
        """
        raise NotImplementedError

    def put(self, target: Any, indices: Any, values: Any) -> Any:
        """``target`` with rows ``indices`` (1-D integers, in range) along axis 0 set to ``values`` (``(len(indices),
        *target.shape[1:])``), in place where the namespace allows (returned either way). A repeated index
        keeps its last value (PyTorch leaves that case undefined)."""
        target[indices] = values
        return target

    def synchronize(self) -> None:
        """Wait until the device has finished all queued work (a no-op on the host); call before a timer stops."""

    def graph_capture(self) -> GraphCapture | None:
        """A function ``capture(fn, args) -> (graph, result)`` that records ``fn(*args)``'s device work as one
        graph without running it (``graph.launch()`` runs it), or None where the device has no graphs (here)."""
        return None

    def random(self, seed: int | None) -> Generator:
        """A seeded ``Generator`` drawing on the host and moving to this backend: one seed, the same numbers
        on every backend; numpy's global random state is untouched."""
        return Generator(self, seed)

    def memory_info(self) -> dict[str, int]:
        """Memory in bytes: the process's current and peak resident set (``rss``, ``peak_rss``); on CUDA also
        the device's ``device_used``, ``device_total`` and the pool's ``pool_used``."""
        return host_memory()

    def check(self, array: Any, where: str) -> None:
        """Raise ``DeviceMismatchError`` unless this backend owns ``array``; ``where`` names the call."""
        if not self.owns(array):
            raise DeviceMismatchError(
                f"{where}: expected an array of {self!r}, got one on {_describe(array)}; move it with "
                f"Tensor.to(backend) or backend.asarray(...) first"
            )

    # Implementation hooks.
    def _from_host(self, host: np.ndarray) -> Any:
        return self.xp.asarray(host, **self._on_device())

    def _to_host(self, array: Any) -> np.ndarray:
        return np.asarray(array)

    def _on_device(self) -> dict[str, Any]:
        return {"device": self.device}


def host_memory() -> dict[str, int]:
    """The process's current and peak resident set size in bytes (``rss``, ``peak_rss``)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak *= 1 if sys.platform == "darwin" else 1024
    rss = 0
    try:
        with open("/proc/self/statm") as f:
            rss = int(f.read().split()[1]) * resource.getpagesize()
    except OSError:
        rss = peak
    return {"rss": rss, "peak_rss": peak}


def _is_foreign_array(obj: Any) -> bool:
    return not isinstance(obj, (np.ndarray, np.generic)) and hasattr(obj, "__array_namespace__")


def _describe(obj: Any) -> str:
    """Where an array lives, in words: ``cupy on <CUDA Device 0>``."""
    module = type(obj).__module__.split(".")[0]
    device = getattr(obj, "device", "?")
    return f"{module} device {device!r}" if module != "numpy" else "numpy (host)"
