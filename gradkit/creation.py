"""Creation functions, as in PyTorch: ``tensor``, ``zeros``, ``ones``, ``full``, ``empty``, the ``*_like``
family, ``arange``, ``linspace``, and the random ones (``randn``, ``rand``, ``randint``, ``randperm``,
``multinomial``) with ``generator=``.

Every function takes ``backend=`` or PyTorch's ``device=`` (``"cpu"`` is numpy, ``"cuda"`` CuPy, or any backend
name). Random numbers come from ``generator`` or the default generator (``gradkit.manual_seed``), drawn on the
host (``backends.random``) so that one seed gives the same numbers on every backend.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from gradkit.backends import Backend, Generator
from gradkit.backends.random import default_generator, dtype_name

from . import dtypes as _dtypes
from .dtypes import check_fill
from .tensor import DEFAULT_DTYPE, Tensor, _is_float, _resolve_backend, dims

Where = Backend | str | None


def _target(backend: Where, device: Where) -> Backend | None:
    """The backend named by ``backend=`` or ``device=`` (PyTorch's name for it), or None when neither is given.

    Raises TypeError when both are given."""
    if backend is not None and device is not None:
        raise TypeError(f"got both backend={backend!r} and device={device!r}: they are one argument (device is "
                        "PyTorch's name); pass one")
    chosen = backend if backend is not None else device
    return None if chosen is None else _resolve_backend(chosen)


def _be(backend: Where, device: Where) -> Backend:
    found = _target(backend, device)
    return found if found is not None else _resolve_backend(None)


def tensor(data: Any, *, dtype: Any = None, device: Where = None, backend: Where = None,
           requires_grad: bool = False) -> Tensor:
    """``Tensor(data, ...)``: see ``Tensor`` for the rules on backend and dtype.

    Raises:
        ValueError: a Python int outside int64's range (torch's "Overflow when unpacking long long"), where numpy
            would make a uint64 or object array; nested sequences of unequal lengths (torch's "expected sequence
            of length 2 at dim 1 (got 1)").
    """
    if isinstance(data, (list, tuple)):
        ragged = _ragged(data)
        if ragged:
            raise ValueError(ragged)
    if not isinstance(data, (Tensor, np.ndarray)) and not hasattr(data, "__array_namespace__") and (
            dtype is None or np.dtype(dtype_name(dtype)).kind != "f"):
        _check_python_ints(data)
    return Tensor(data, backend=_target(backend, device), dtype=dtype, requires_grad=requires_grad)


_INT64 = np.iinfo(np.int64)


def _size(name: str, size: tuple) -> tuple[int, ...]:
    """A creation function's ``*size`` (ints or one sequence of ints) as a shape, checked as torch checks it.

    Raises:
        TypeError: an element that is not an int (``zeros(2.5)``).
        RuntimeError: a negative length (torch's "Trying to create tensor with negative dimension").
    """
    try:
        if len(size) == 1 and hasattr(type(size[0]), "__index__"):  # one int, or a 0-d integer tensor
            size = (operator.index(size[0]),)
        shape = tuple(operator.index(n) for n in dims(size))
    except TypeError:
        raise TypeError(f"{name}(): the size must be ints or one tuple of ints, got {size!r}") from None
    if any(n < 0 for n in shape):
        bad = next(n for n in shape if n < 0)
        raise RuntimeError(f"Trying to create tensor with negative dimension {bad}: {list(shape)}")
    return shape


def _ragged(data: Any, dim: int = 0) -> str | None:
    """torch's message for nested sequences of unequal lengths, or None where the lengths agree."""
    rows = [x for x in data if isinstance(x, (list, tuple))] if isinstance(data, (list, tuple)) else []
    if not rows:
        return None
    if len(rows) != len(data):
        return f"expected a sequence at every position of dim {dim} (as torch, a nested list must be rectangular)"
    for row in rows[1:]:
        if len(row) != len(rows[0]):
            return f"expected sequence of length {len(rows[0])} at dim {dim + 1} (got {len(row)})"
    return next((m for m in (_ragged(row, dim + 1) for row in rows) if m), None)


def _check_python_ints(data: Any) -> None:
    if isinstance(data, (list, tuple)):
        for item in data:
            _check_python_ints(item)
    elif isinstance(data, int) and not isinstance(data, bool) and not _INT64.min <= data <= _INT64.max:
        raise ValueError(f"Overflow when unpacking long long: {data} does not fit int64 (as torch); pass "
                         "dtype=gradkit.float64 for a float tensor")


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor on the host (numpy, torch's CPU) that SHARES ``ndarray``'s memory, as ``torch.from_numpy``: a
    change to one is seen by the other. The dtype is kept. (nanoGPT: ``torch.from_numpy(chunk.astype(np.int64))``.)

    Raises:
        TypeError: not a numpy array, or one that does not hold numbers or booleans (torch's refusal)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    if ndarray.dtype.kind not in "biuf":
        raise TypeError(f"can't convert np.ndarray of type {ndarray.dtype}. The only supported types are: "
                        "floating point numbers, integers and booleans")
    host = _resolve_backend("numpy")
    return Tensor._wrap(ndarray.view(np.ndarray), host)


def _leaf(data: Any, backend: Backend, requires_grad: bool) -> Tensor:
    """A leaf around ``data``. Raises RuntimeError, as torch, for integer or bool data that requires grad."""
    if requires_grad and not _is_float(backend, data):
        raise RuntimeError(f"Only Tensors of floating point dtype can require gradients (as torch), this one is "
                           f"{data.dtype}; pass a float dtype")
    return Tensor._wrap(data, backend, requires_grad)


def zeros(*size: Any, dtype: Any = None, device: Where = None, backend: Where = None,
          requires_grad: bool = False) -> Tensor:
    """A tensor of zeros of ``size`` (ints or one tuple), float32 unless ``dtype`` is given."""
    be = _be(backend, device)
    return _leaf(be.zeros(_size("zeros", size), dtype or DEFAULT_DTYPE), be, requires_grad)


def ones(*size: Any, dtype: Any = None, device: Where = None, backend: Where = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor of ones of ``size`` (ints or one tuple), float32 unless ``dtype`` is given."""
    return full(_size("ones", size), 1, dtype=dtype or DEFAULT_DTYPE, device=device, backend=backend,
                requires_grad=requires_grad)


def empty(*size: Any, dtype: Any = None, device: Where = None, backend: Where = None,
          requires_grad: bool = False) -> Tensor:
    """A tensor of ``size``, as ``torch.empty``; gradkit fills it with zeros (no uninitialised memory)."""
    return zeros(*size, dtype=dtype, device=device, backend=backend, requires_grad=requires_grad)


def full(size: Any, fill_value: Any, *, dtype: Any = None, device: Where = None, backend: Where = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor of ``size`` (a tuple) filled with ``fill_value``; without ``dtype``, a float gives float32, an
    int int64 and a bool bool, as ``torch.full``."""
    be = _be(backend, device)
    if dtype is None:
        dtype = "bool" if isinstance(fill_value, (bool, np.bool_)) else "int64" if isinstance(
            fill_value, (int, np.integer)) else DEFAULT_DTYPE
    check_fill(fill_value, dtype)
    return _leaf(be.full(_size("full", (size,)), fill_value, dtype), be, requires_grad)


def zeros_like(input: Tensor, *, dtype: Any = None, device: Where = None, backend: Where = None,
               requires_grad: bool = False) -> Tensor:
    """Zeros of ``input``'s shape, dtype and backend (each may be overridden)."""
    return full_like(input, 0, dtype=dtype, device=device, backend=backend, requires_grad=requires_grad)


def ones_like(input: Tensor, *, dtype: Any = None, device: Where = None, backend: Where = None,
              requires_grad: bool = False) -> Tensor:
    """Ones of ``input``'s shape, dtype and backend (each may be overridden)."""
    return full_like(input, 1, dtype=dtype, device=device, backend=backend, requires_grad=requires_grad)


def full_like(input: Tensor, fill_value: Any, *, dtype: Any = None, device: Where = None, backend: Where = None,
              requires_grad: bool = False) -> Tensor:
    """``fill_value`` in ``input``'s shape, dtype and backend (each may be overridden), as ``torch.full_like``."""
    be = _target(backend, device) or input.backend
    check_fill(fill_value, dtype or input._data.dtype)
    return _leaf(be.full(input.shape, fill_value, dtype or input._data.dtype), be, requires_grad)


def arange(start: Any, end: Any = None, step: Any = 1, *, dtype: Any = None, device: Where = None,
           backend: Where = None) -> Tensor:
    """``[start, end)`` by ``step`` (or ``[0, start)``), as ``torch.arange``: int64 for int arguments, float32
    when one is a float (unless ``dtype`` is given; an integer dtype truncates the bounds first, as torch).
    Raises ValueError for a zero step or one pointing away from the end."""
    be = _be(backend, device)
    if dtype is None:
        dtype = "int64" if all(isinstance(v, (int, np.integer)) for v in (start, end, step) if v is not None) \
            else DEFAULT_DTYPE
    if be.xp.isdtype(be.dtype(dtype), "integral"):  # torch casts the bounds to an integer dtype first
        start, end, step = (None if v is None else int(v) for v in (start, end, step))
    lo, hi = (0, start) if end is None else (start, end)
    if step == 0 or (hi - lo) * step < 0:
        raise ValueError(f"arange: step {step} is zero or points away from the end ({lo} to {hi}), as torch "
                         "refuses too; use a step with the sign of end - start")
    return Tensor._wrap(be.arange(start, end, dtype, step), be)


def eye(n: int, m: int | None = None, *, dtype: Any = None, device: Where = None, backend: Where = None,
        requires_grad: bool = False) -> Tensor:
    """The ``(n, m)`` identity (``m`` defaults to ``n``): ones on the main diagonal, float32 unless ``dtype`` is
    given, as ``torch.eye``. Raises ValueError for a negative size."""
    if n < 0 or (m is not None and m < 0):
        raise ValueError(f"eye: sizes must be non-negative, got n={n}, m={m}")
    be = _be(backend, device)
    dt = be.dtype(dtype or DEFAULT_DTYPE)
    return _leaf(be.xp.eye(n, m, dtype=dt, device=be.device), be, requires_grad)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype: Any = "int64", device: Where = None,
                 backend: Where = None) -> Tensor:
    """The ``(2, N)`` row and column indices of the lower triangle of a ``row x col`` matrix (diagonal ``offset``
    and below), row by row, as ``torch.tril_indices``."""
    be = _be(backend, device)
    return Tensor._wrap(be.asarray(np.stack(np.tril_indices(row, offset, col)).reshape(2, -1), dtype), be)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype: Any = "int64", device: Where = None,
                 backend: Where = None) -> Tensor:
    """The ``(2, N)`` indices of the upper triangle (diagonal ``offset`` and above), as ``torch.triu_indices``."""
    be = _be(backend, device)
    return Tensor._wrap(be.asarray(np.stack(np.triu_indices(row, offset, col)).reshape(2, -1), dtype), be)


def linspace(start: float, end: float, steps: int, *, dtype: Any = None, device: Where = None,
             backend: Where = None) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive (float32 by default), as
    ``torch.linspace``. Raises ValueError for negative ``steps``."""
    if steps < 0:
        raise ValueError(f"linspace: steps must be >= 0, got {steps}")
    be = _be(backend, device)
    host = np.linspace(start, end, steps)  # on the host, then moved: the same values on every backend
    return Tensor._wrap(be.asarray(host, dtype or DEFAULT_DTYPE), be)


# Random numbers.
def _gen(generator: Generator | None) -> Generator:
    return default_generator if generator is None else generator


def _draw_on(generator: Generator | None, backend: Where, device: Where) -> tuple[Generator, Backend]:
    """The generator to draw from and the backend to land on: ``backend=``/``device=``, else the generator's."""
    gen = _gen(generator)
    return gen, _target(backend, device) or gen.backend


def randn(*size: Any, generator: Generator | None = None, dtype: Any = None, device: Where = None,
          backend: Where = None, requires_grad: bool = False) -> Tensor:
    """Standard normal draws of ``size`` (ints or one tuple), float32 by default, from ``generator`` (default:
    the default generator, ``gradkit.manual_seed``). They land on ``backend``/``device``, else the generator's
    backend. Not PyTorch's numbers for the same seed (see ``backends.random.Generator``)."""
    gen, be = _draw_on(generator, backend, device)
    return _leaf(gen.normal(0.0, 1.0, _size("randn", size), dtype or DEFAULT_DTYPE, be), be, requires_grad)


def rand(*size: Any, generator: Generator | None = None, dtype: Any = None, device: Where = None,
         backend: Where = None, requires_grad: bool = False) -> Tensor:
    """Uniform draws in ``[0, 1)`` of ``size`` (see ``randn``)."""
    gen, be = _draw_on(generator, backend, device)
    return _leaf(gen.uniform(0.0, 1.0, _size("rand", size), dtype or DEFAULT_DTYPE, be), be, requires_grad)


def randint(*args: Any, size: Any = None, generator: Generator | None = None, dtype: Any = None,
            device: Where = None, backend: Where = None) -> Tensor:
    """Integers in ``[low, high)``, as ``torch.randint``: ``randint(high, size)`` or ``randint(low, high,
    size)`` (``size`` a tuple, positional or keyword); int64 unless ``dtype`` is given.

    Raises:
        TypeError: a wrong number of arguments. ValueError: ``low >= high``.
    """
    if size is None and args:
        args, size = args[:-1], args[-1]
    if size is None or len(args) not in (1, 2):
        raise TypeError("randint takes (high, size) or (low, high, size), size a tuple such as (3,)")
    low, high = (0, args[0]) if len(args) == 1 else args
    if low >= high:
        raise ValueError(f"randint: low ({low}) must be smaller than high ({high})")
    gen, be = _draw_on(generator, backend, device)
    return Tensor._wrap(gen.integers(low, high, _size("randint", (size,)), dtype or "int64", be), be)


def _float_like(name: str, input: Tensor, dtype: Any) -> str:
    """The float dtype name a ``*_like`` draw takes: ``dtype`` or ``input``'s. Raises RuntimeError for an
    integer or bool one (torch: "not implemented for 'Long'")."""
    name_of = _dtypes.of(dtype if dtype is not None else input._data.dtype).name
    if name_of not in ("float16", "bfloat16", "float32", "float64"):
        raise RuntimeError(f"{name} of a {name_of} tensor is not implemented (as torch); pass a float dtype=")
    return name_of


def randn_like(input: Tensor, *, generator: Generator | None = None, dtype: Any = None, device: Where = None,
               backend: Where = None, requires_grad: bool = False) -> Tensor:
    """Standard normal draws of ``input``'s shape, dtype and backend (each may be overridden), as
    ``torch.randn_like`` (see ``randn``).

    Raises:
        RuntimeError: an integer or bool dtype (as torch)."""
    kind = _float_like("randn_like", input, dtype)
    gen, be = _gen(generator), _target(backend, device) or input.backend
    return _leaf(gen.normal(0.0, 1.0, input.shape, kind, be), be, requires_grad)


def rand_like(input: Tensor, *, generator: Generator | None = None, dtype: Any = None, device: Where = None,
              backend: Where = None, requires_grad: bool = False) -> Tensor:
    """Uniform draws in ``[0, 1)`` of ``input``'s shape, dtype and backend (each may be overridden), as
    ``torch.rand_like``.

    Raises:
        RuntimeError: an integer or bool dtype (as torch)."""
    kind = _float_like("rand_like", input, dtype)
    gen, be = _gen(generator), _target(backend, device) or input.backend
    return _leaf(gen.uniform(0.0, 1.0, input.shape, kind, be), be, requires_grad)


def empty_like(input: Tensor, *, dtype: Any = None, device: Where = None, backend: Where = None,
               requires_grad: bool = False) -> Tensor:
    """A tensor of ``input``'s shape, dtype and backend (each may be overridden), as ``torch.empty_like``;
    gradkit fills it with zeros (no uninitialised memory)."""
    return full_like(input, 0, dtype=dtype, device=device, backend=backend, requires_grad=requires_grad)


def randint_like(input: Tensor, low: int = 0, high: int | None = None, *, generator: Generator | None = None,
                 dtype: Any = None, device: Where = None, backend: Where = None,
                 requires_grad: bool = False) -> Tensor:
    """Integers in ``[low, high)`` of ``input``'s shape, dtype (float dtypes hold whole numbers) and backend, as
    ``torch.randint_like``: ``randint_like(input, high)`` or ``randint_like(input, low, high)``.

    Raises:
        ValueError: ``low >= high``."""
    if high is None:
        low, high = 0, low
    if low >= high:
        raise ValueError(f"randint_like: low ({low}) must be smaller than high ({high})")
    gen, be = _gen(generator), _target(backend, device) or input.backend
    drawn = gen.integers(low, high, input.shape, "int64", be)
    return _leaf(be.astype(drawn, dtype if dtype is not None else input._data.dtype), be, requires_grad)


def randperm(n: int, *, generator: Generator | None = None, dtype: Any = None, device: Where = None,
             backend: Where = None) -> Tensor:
    """A random permutation of ``0 .. n-1`` (int64), as ``torch.randperm``."""
    gen, be = _draw_on(generator, backend, device)
    return Tensor._wrap(gen.permutation(n, dtype or "int64", be), be)


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator: Generator | None = None) -> Tensor:
    """Category indices drawn from the weights in each row of ``input``, as ``torch.multinomial``.

    Shapes: ``input (n,)`` -> ``(num_samples,)``; ``(rows, n)`` -> ``(rows, num_samples)``; int64 on
    ``input``'s backend. The weights need not sum to 1 (each row is normalised). Drawn on the host from
    ``generator`` (default: the default generator), so the weights are read from the device. Source: makemore
    part 1 (sampling names from the bigram's rows).

    Raises:
        RuntimeError (as torch): weights that are negative, inf or nan; a row that sums to 0; ``num_samples`` < 1;
            without ``replacement``, ``num_samples`` larger than the row's nonzero categories.
    """
    if input.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: input must be 1-D or 2-D weights, got shape {input.shape}")
    probs = np.asarray(input.numpy(), dtype=np.float64)
    rows = probs.reshape(1, -1) if probs.ndim == 1 else probs
    if num_samples < 1:
        raise RuntimeError(f"multinomial: num_samples must be at least 1, got {num_samples}")
    if not np.isfinite(rows).all() or (rows < 0).any():
        raise RuntimeError("multinomial: the probability tensor contains inf, nan or a negative element")
    if (rows.sum(axis=1) <= 0).any():
        raise RuntimeError("multinomial: a row of weights sums to 0; every row needs a positive weight")
    if not replacement and num_samples > int((rows > 0).sum(axis=1).min()):
        raise RuntimeError(f"multinomial: cannot draw {num_samples} samples without replacement from a row with "
                           f"{int((rows > 0).sum(axis=1).min())} nonzero categories; pass replacement=True or "
                           "fewer samples")
    drawn = _gen(generator).categorical(rows, num_samples, replacement)
    out = drawn.reshape(num_samples) if probs.ndim == 1 else drawn
    return Tensor._wrap(input.backend.asarray(out, "int64"), input.backend)
