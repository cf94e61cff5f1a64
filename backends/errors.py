"""The backend layer's own exceptions: each names what was wrong and how to fix it."""

from __future__ import annotations


class UnknownBackendError(ValueError):
    """A backend name that is neither a backend nor an alias; the message lists the accepted names."""


class BackendUnavailableError(RuntimeError):
    """A known backend that cannot run here (library missing, or no usable device); the message says
    why and what to install or change."""


class DeviceMismatchError(ValueError):
    """Arrays or tensors from two backends or devices met in one operation; the message names both and
    the call (``.to(backend)``) that moves one of them."""
