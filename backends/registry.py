"""Names, aliases, the environment variable and auto-detection: the one place that decides the backend."""

from __future__ import annotations

import functools
import importlib.util
import os
from dataclasses import dataclass

from ._cuda import driver_report
from .base import Backend
from .errors import BackendUnavailableError, UnknownBackendError

ENV_VAR = "GRADKIT_BACKEND"
BACKENDS = ("numpy", "cupy", "strict")
ALIASES = {"cpu": "numpy", "cuda": "cupy", "gpu": "cupy"}
NAMES = ("auto", *BACKENDS, *ALIASES)
_DEVICE_MAP: dict[str, str] = {}  # torch device types remapped for this process (see map_device)
CUPY_FIX = 'install CuPy for your CUDA version: pip install ".[cuda12]" (or ".[cuda13]") in the gradkit checkout'


@dataclass(frozen=True)
class ProbeResult:
    """What one backend can do on this machine.

    Attributes:
        name: the backend's name.
        usable: True when ``get_backend(name)`` will succeed.
        reason: why not (the error text and its fix), or a short description when usable.
        version: the array library's version, or "" when it does not import.
        device: the device name (``"cpu"``, ``"NVIDIA H200"``, ``"device1"``), or "".
        device_count: how many devices of that kind answer.
    """

    name: str
    usable: bool
    reason: str
    version: str = ""
    device: str = ""
    device_count: int = 0


def resolve_name(name: str | None = None) -> str:
    """The canonical name (``auto`` resolved) that ``get_backend(name)`` would use.

    ``None`` reads ``GRADKIT_BACKEND``, then ``auto``; an explicit name beats the variable. ``auto`` is
    ``cupy`` only when CuPy imports and a CUDA device answers, else ``numpy``. PyTorch's device strings with
    an index (``"cuda:0"``, ``"cpu:0"``) name their device type; gradkit's CUDA backend is device 0. Raises
    ``UnknownBackendError`` (also for another CUDA device, naming ``CUDA_VISIBLE_DEVICES``).
    """
    source = "the argument"
    if name is None:
        name, source = os.environ.get(ENV_VAR) or "auto", f"${ENV_VAR}"
    key = str(name).strip().lower()
    kind, colon, index = key.partition(":")
    if colon and kind in ALIASES and index.isdigit():
        if int(index):
            raise UnknownBackendError(f"device {name!r}: gradkit runs on CUDA device 0 only; choose the GPU with "
                                      f"CUDA_VISIBLE_DEVICES={int(index)} and use 'cuda'")
        key = kind
    if key not in NAMES:
        raise UnknownBackendError(
            f"unknown backend {name!r} (from {source}); choose one of: {', '.join(NAMES)}"
        )
    key = _DEVICE_MAP.get(key) or ALIASES.get(key, key)
    if key == "auto":
        return "cupy" if probe()["cupy"].usable else "numpy"
    return key


def map_device(device_type: str, name: str | None) -> None:
    """Make PyTorch's device type ``device_type`` (``"cpu"`` or ``"cuda"``) mean the backend ``name`` in this
    process, or restore its usual meaning for None: ``gradkit run --backend strict`` runs a script's ``"cpu"``
    tensors on strict. Raises ``UnknownBackendError`` for an unknown device type or backend."""
    if device_type not in ("cpu", "cuda"):
        raise UnknownBackendError(f"map_device: {device_type!r} is not a device type; use 'cpu' or 'cuda'")
    if name is None:
        _DEVICE_MAP.pop(device_type, None)
        return
    target = resolve_name(name)
    _DEVICE_MAP[device_type] = target


def device_type(name: str) -> str:
    """PyTorch's device type of the backend ``name``: ``"cpu"`` or ``"cuda"`` for the backends those devices
    mean in this process (numpy and cupy, unless ``map_device`` changed them), else the backend's name."""
    for kind in ("cpu", "cuda"):
        if (_DEVICE_MAP.get(kind) or ALIASES[kind]) == name:
            return kind
    return name


def get_backend(name: str | None = None) -> Backend:
    """The ``Backend`` for ``name`` (see ``resolve_name`` for the rules); one cached instance per name.

    Raises:
        UnknownBackendError: a name that is neither a backend nor an alias (lists the accepted names).
        BackendUnavailableError: the library is missing, or CuPy has no usable CUDA device; the message
            says why (the driver's own text) and the fix.
    """
    return _instance(resolve_name(name))


@functools.cache
def _instance(name: str) -> Backend:
    report = probe()[name]
    if not report.usable:
        raise BackendUnavailableError(f"backend {name!r} is not usable here: {report.reason}")
    if name == "numpy":
        from .numpy_backend import NumpyBackend

        return NumpyBackend()
    if name == "strict":
        from .strict_backend import StrictBackend

        return StrictBackend()
    from .cupy_backend import CupyBackend

    return CupyBackend()


@functools.cache
def probe() -> dict[str, ProbeResult]:
    """For each backend, whether it is usable here and why (cached; imports CuPy only if installed).

    Returns a dict ``{name: ProbeResult}`` over ``numpy``, ``cupy``, ``strict``. Never raises.
    """
    import numpy

    return {
        "numpy": ProbeResult("numpy", True, "host CPU", numpy.__version__, "cpu", 1),
        "cupy": _probe_cupy(),
        "strict": _probe_strict(),
    }


def _probe_strict() -> ProbeResult:
    if importlib.util.find_spec("array_api_strict") is None:
        return ProbeResult("strict", False, 'array_api_strict is not installed: pip install ".[strict]" in the '
                           "gradkit checkout")
    import array_api_strict

    return ProbeResult("strict", True, "array_api_strict on a non-CPU device (GPU rules on the CPU)",
                       array_api_strict.__version__, "device1", 1)


def _probe_cupy() -> ProbeResult:
    if importlib.util.find_spec("cupy") is None:
        count, _, error = driver_report()
        if not count:
            return ProbeResult("cupy", False, f"no CUDA device here ({error}): the cupy backend needs an NVIDIA "
                               f"GPU; use --backend numpy, or on a CUDA machine {CUPY_FIX}")
        return ProbeResult("cupy", False, f"CuPy is not installed ({count} CUDA device(s) answer); {CUPY_FIX}",
                           device_count=count)
    try:
        import cupy

        version = cupy.__version__
    except Exception as exc:  # a broken install: the import's own text is the diagnosis
        return ProbeResult("cupy", False, f"CuPy is installed but does not import: {exc}; reinstall it: {CUPY_FIX}")
    try:
        count = cupy.cuda.runtime.getDeviceCount()
        if count == 0:
            raise RuntimeError("the CUDA runtime reports no device")
        props = cupy.cuda.runtime.getDeviceProperties(0)
        cupy.zeros(1).sum().item()  # the device really answers
    except Exception as exc:
        return ProbeResult("cupy", False, f"CuPy {version} is installed but no usable CUDA device answers "
                           f"({type(exc).__name__}: {exc}); run on a machine with an NVIDIA GPU and driver, "
                           "or choose --backend numpy", version)
    if importlib.util.find_spec("array_api_compat") is None:
        return ProbeResult("cupy", False, f"CuPy {version} works but array-api-compat is missing: "
                           f"pip install array-api-compat (or {CUPY_FIX})", version, device_count=count)
    name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    return ProbeResult("cupy", True, f"CUDA device 0 of {count}", version, name, count)


def format_probe(report: dict[str, ProbeResult] | None = None) -> str:
    """``probe()`` as a readable table (what ``gradkit info`` prints), with the default backend."""
    report = probe() if report is None else report
    rows = [("backend", "usable", "version", "device", "note")]
    rows += [(r.name, "yes" if r.usable else "no", r.version or "-", r.device or "-", r.reason)
             for r in report.values()]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[4] for row in rows]
    try:
        default = resolve_name(None)
        if not report[default].usable:
            default += f", which is not usable here: {report[default].reason}"
    except UnknownBackendError as exc:
        default = f"none: {exc}"
    lines.append(f"default backend: {default} (the commands' --backend, else ${ENV_VAR}, else auto, which "
                 "prefers cupy)")
    return "\n".join(lines)
