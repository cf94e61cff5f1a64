"""``gradkit.inference_mode``: PyTorch's ``torch.inference_mode``, a context manager and decorator.

In gradkit it is ``no_grad`` (ops inside record no graph): torch's inference mode also marks the tensors made
inside as unusable in a later backward, which gradkit does not track (a deliberate difference: such a tensor can
still be used in a graph later, as a constant).
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from .autograd import is_grad_enabled, no_grad, set_grad_enabled

__all__ = ["inference_mode", "is_inference_mode_enabled"]

class _State(threading.local):
    """Whether this thread is inside ``inference_mode()`` (per thread, as grad mode)."""

    active = False


_STATE = _State()


class inference_mode:  # noqa: N801 (torch's name)
    """``inference_mode(mode=True)``: with ``mode`` True, grad mode is off inside (as ``no_grad``); with False,
    nothing changes. ``@inference_mode()``, ``@inference_mode`` and ``with inference_mode():`` all work, as
    torch's."""

    def __new__(cls, mode: Any = True) -> Any:
        if isinstance(mode, bool):
            return super().__new__(cls)
        return cls(True)(mode)  # ``@inference_mode`` without parentheses

    def __init__(self, mode: Any = True) -> None:
        self.mode = mode if isinstance(mode, bool) else True

    def __enter__(self) -> None:
        self._prev = (is_grad_enabled(), _STATE.active)
        if self.mode:
            set_grad_enabled(False)
            _STATE.active = True

    def __exit__(self, *exc: object) -> None:
        set_grad_enabled(self._prev[0])
        _STATE.active = self._prev[1]

    def __call__(self, fn: Any) -> Any:
        if not self.mode:
            return fn
        inner = no_grad()(fn)  # generator functions too, as no_grad decorates them

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with inference_mode(True):
                return inner(*args, **kwargs)

        return wrapper


def is_inference_mode_enabled() -> bool:
    """True inside ``inference_mode()`` (torch's ``torch.is_inference_mode_enabled``)."""
    return _STATE.active
