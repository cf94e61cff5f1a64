"""Helpers of the op modules: ``ieee`` for those that ``tensor.py`` imports at its end, which load while
``gradkit.ops`` is still loading (``ops`` -> ``_trace`` -> ``tensor``) and so cannot reach ``ops.ieee`` at import
time; ``named`` for the ops that a factory makes (``sin``, ``eq``, ``logical_and``, ...)."""

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


def named(fn: F, name: str, doc: str) -> F:
    """``fn`` with the ``__name__``, ``__qualname__`` and ``__doc__`` of the op ``name`` (``help``, tracebacks)."""
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn
