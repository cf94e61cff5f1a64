"""``ieee`` for the op modules that ``tensor.py`` imports at its end, which load while ``gradkit.ops`` is still
loading (``ops`` -> ``_trace`` -> ``tensor``): they cannot reach ``ops.ieee`` at import time."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def ieee(fn: F) -> F:
    """``ops.ieee(fn)`` (IEEE specials as results, no numpy warnings), made at the first call."""
    wrapped: Callable[..., Any] | None = None

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        nonlocal wrapped
        if wrapped is None:
            from . import ops

            wrapped = ops.ieee(fn)
        return wrapped(*args, **kwargs)

    return call  # type: ignore[return-value]
