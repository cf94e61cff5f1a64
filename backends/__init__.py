"""gradkit's array backend layer: numpy on the CPU, CuPy on CUDA, array_api_strict as a GPU stand-in.

``get_backend(name)`` is the one place that decides which array library and device run the engine.
Importing this package never imports CuPy; probing is lazy and cached.
"""

from . import flags
from .base import Backend
from .errors import BackendUnavailableError, DeviceMismatchError, UnknownBackendError
from .flags import cuda, cudnn, mps
from .random import Generator
from .registry import (
    ALIASES,
    BACKENDS,
    ENV_VAR,
    NAMES,
    ProbeResult,
    device_type,
    format_probe,
    get_backend,
    map_device,
    probe,
    resolve_name,
)

__all__ = [
    "ALIASES", "BACKENDS", "ENV_VAR", "NAMES", "Backend", "BackendUnavailableError", "DeviceMismatchError",
    "Generator", "ProbeResult", "UnknownBackendError", "cuda", "cudnn", "device_type", "flags", "format_probe",
    "get_backend", "map_device", "mps", "probe", "resolve_name",
]
