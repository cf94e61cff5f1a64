"""Creation functions, as in PyTorch: ``tensor``, ``zeros``, ``ones``, ``randn``, ``rand``, ``arange``."""

from __future__ import annotations

from typing import Any

from backends import Backend, Generator

from .tensor import DEFAULT_DTYPE, Tensor, _is_float, _resolve_backend, dims


def tensor(data: Any, *, backend: Backend | str | None = None, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    """``Tensor(data, ...)``: see ``Tensor`` for the rules on backend and dtype."""
    return Tensor(data, backend=backend, dtype=dtype, requires_grad=requires_grad)


def _leaf(data: Any, backend: Backend, requires_grad: bool) -> Tensor:
    """A leaf around ``data``; integer data that requires grad becomes the default float dtype, as in ``Tensor``."""
    if requires_grad and not _is_float(backend, data):
        data = backend.astype(data, DEFAULT_DTYPE)
    return Tensor._wrap(data, backend, requires_grad)


def zeros(*shape: Any, backend: Backend | str | None = None, dtype: Any = DEFAULT_DTYPE,
          requires_grad: bool = False) -> Tensor:
    """A tensor of zeros of ``shape`` (ints or one tuple)."""
    be = _resolve_backend(backend)
    return _leaf(be.zeros(dims(shape), dtype), be, requires_grad)


def ones(*shape: Any, backend: Backend | str | None = None, dtype: Any = DEFAULT_DTYPE,
         requires_grad: bool = False) -> Tensor:
    """A tensor of ones of ``shape`` (ints or one tuple)."""
    be = _resolve_backend(backend)
    return _leaf(be.full(dims(shape), 1.0, dtype), be, requires_grad)


def randn(*shape: Any, generator: Generator | None = None, backend: Backend | str | None = None,
          dtype: Any = DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
    """Standard normal draws of ``shape`` from ``generator`` (a backend's seeded ``random(seed)``; its
    backend is used). Without a generator, an unseeded one of ``backend``."""
    gen = generator if generator is not None else _resolve_backend(backend).random(None)
    return _leaf(gen.normal(0.0, 1.0, dims(shape), dtype), gen.backend, requires_grad)


def rand(*shape: Any, generator: Generator | None = None, backend: Backend | str | None = None,
         dtype: Any = DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
    """Uniform draws in ``[0, 1)`` of ``shape`` from ``generator`` (see ``randn``)."""
    gen = generator if generator is not None else _resolve_backend(backend).random(None)
    return _leaf(gen.uniform(0.0, 1.0, dims(shape), dtype), gen.backend, requires_grad)


def arange(start: int, stop: int | None = None, *, backend: Backend | str | None = None,
           dtype: Any = "int64") -> Tensor:
    """``[start, stop)`` (or ``[0, start)``) as a tensor."""
    be = _resolve_backend(backend)
    return Tensor._wrap(be.arange(start, stop, dtype), be)
