"""gradkit's array backend layer: numpy on the CPU, CuPy on CUDA, array_api_strict as a GPU stand-in.

``get_backend(name)`` is the one place that decides which array library and device run the engine.
Importing this package never imports CuPy; probing is lazy and cached.
"""

from .base import Backend
from .errors import BackendUnavailableError, DeviceMismatchError, UnknownBackendError
from .random import Generator
from .registry import ALIASES, BACKENDS, ENV_VAR, NAMES, ProbeResult, format_probe, get_backend, probe, resolve_name

__all__ = [
    "ALIASES", "BACKENDS", "ENV_VAR", "NAMES", "Backend", "BackendUnavailableError", "DeviceMismatchError",
    "Generator", "ProbeResult", "UnknownBackendError", "format_probe", "get_backend", "probe", "resolve_name",
]
