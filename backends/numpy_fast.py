"""numpy's namespace, with the engine's hottest functions bound to their C implementations.

numpy >= 2 is an array API standard namespace, but some of its functions (``sum``, ``max``, ``reshape``,
``astype``, ``take``, ``matrix_transpose``, ``broadcast_to``, ``full``) are Python wrappers that cost 1-8 µs a
call: at the course's batch of 32 that is a sizeable part of a training step. Here each is the same operation
through the ufunc or array method underneath, with the same results. Everything else is numpy's own (module
``__getattr__``).
"""

from __future__ import annotations

import math as _math
from typing import Any

import numpy as _np

_add_reduce: Any = _np.add.reduce
_max_reduce: Any = _np.maximum.reduce


def sum(x: Any, /, *, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """``numpy.sum``; floating inputs without ``dtype`` go straight to ``add.reduce``."""
    if dtype is None and x.dtype.kind == "f":
        return _add_reduce(x, axis=axis, keepdims=keepdims)
    return _np.sum(x, axis=axis, dtype=dtype, keepdims=keepdims)


def max(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """``numpy.max`` through ``maximum.reduce``. Along a short last axis (at most 128 elements, at least 32 rows:
    softmax over attention rows, a vocabulary of 27) numpy reduces one row at a time, about 30 ns a row: there
    (``_short_rows_max``) the rows are halved down to 32 columns by elementwise maxima, then transposed into a
    contiguous copy, and one vectorised ``maximum`` runs across all of them (1.25x faster at 32 rows of 27, 3x at
    128 rows; maxima are exact, so the values are the same)."""
    n = x.shape[-1] if x.ndim else 0
    if (1 < n <= 128 and (axis == -1 or axis == x.ndim - 1 or axis == (x.ndim - 1,) or axis == (-1,))
            and x.size >= 32 * n and x.dtype.kind in "fiu" and x.flags.c_contiguous):
        return _short_rows_max(x).reshape(x.shape[:-1] + (1,) * bool(keepdims))
    return _max_reduce(x, axis=axis, keepdims=keepdims)


def _short_rows_max(x: Any) -> Any:
    n = x.shape[-1]
    rows = x.reshape(-1, n)
    while n > 32:
        half = n // 2
        folded = _np.maximum(rows[:, :half], rows[:, half:2 * half])
        if n % 2:
            folded[:, :1] = _np.maximum(folded[:, :1], rows[:, 2 * half:])
        rows, n = folded, half
    return _max_reduce(rows.T.copy(), axis=0)


_count_nonzero: Any = _np.count_nonzero


def any(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """``numpy.any``; over a whole array through ``count_nonzero`` (a third of ``ndarray.any``'s 0.65 µs at 32
    elements), as numpy's ``bool_``."""
    if axis is None and not keepdims:
        return _np.True_ if _count_nonzero(x) else _np.False_
    return _np.any(x, axis=axis, keepdims=keepdims)


def reshape(x: Any, /, shape: Any, *, copy: bool | None = None) -> Any:
    """``numpy.reshape`` through the array method."""
    return x.reshape(shape) if copy is None else _np.reshape(x, shape, copy=copy)


_INTEGRAL: dict[Any, bool] = {}


def astype(x: Any, dtype: Any, /, *, copy: bool = True, device: Any = None) -> Any:
    """``numpy.astype`` through the array method. A float (or complex) -> integer cast of NaN, infinity or an
    out-of-range value gives an implementation-defined result silently, as torch's does: numpy's "invalid value
    encountered in cast" ``RuntimeWarning`` is suppressed for that cast only."""
    if x.dtype.kind in "fc" and _integral(dtype):
        with _np.errstate(invalid="ignore", over="ignore"):
            return x.astype(dtype, copy=copy)
    return x.astype(dtype, copy=copy)


def _integral(dtype: Any) -> bool:
    try:
        return _INTEGRAL[dtype]
    except KeyError:
        found = _INTEGRAL[dtype] = _np.dtype(dtype).kind in "iu"
        return found
    except TypeError:  # an unhashable dtype spec
        return _np.dtype(dtype).kind in "iu"


#: ``take`` raises IndexError for an index outside ``[-n, n)``, counts negative indices from the end (numpy's
#: ``mode="raise"``) and takes indices of any shape: the engine's gather is one call on this namespace, with no
#: bounds check or reshape of its own.
TAKE_RAISES = True


def take(x: Any, indices: Any, /, *, axis: int | None = None) -> Any:
    """``numpy.take`` through the array method (``indices`` of any shape). Raises IndexError for an index outside
    ``[-n, n)``, in torch's words (``index 5 is out of bounds for dimension 0 with size 3``)."""
    try:
        return x.take(indices, axis=axis)
    except IndexError as e:
        raise IndexError(str(e).replace(" for axis ", " for dimension ")) from None


def matrix_transpose(x: Any, /) -> Any:
    """``numpy.matrix_transpose`` (the last two axes swapped) through ``.mT``."""
    return x.mT


def broadcast_to(x: Any, /, shape: Any) -> Any:
    """``numpy.broadcast_to``; below 8192 elements a filled new array, which costs a fifth of the view's
    set-up (about 1.5 µs against 8 µs). Callers only read the result."""
    if _math.prod(shape) < 8192:
        out = _np.empty(shape, x.dtype)
        out[...] = x
        return out
    return _np.broadcast_to(x, shape)


def full(shape: Any, fill_value: Any, *, dtype: Any = None, device: Any = None) -> Any:
    """``numpy.full`` without its Python-level wrapper."""
    out = _np.empty(shape, dtype if dtype is not None else _np.result_type(fill_value))
    out[...] = fill_value
    return out


def mean(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Any:
    """``numpy.mean`` of a float array as numpy computes it (``add.reduce``, then a true division by the count as
    an ``intp``, into the sum's dtype), without its two Python-level wrappers; other dtypes go to numpy."""
    if x.dtype.kind != "f":
        return _np.mean(x, axis=axis, keepdims=keepdims)
    total = _add_reduce(x, axis=axis, keepdims=keepdims)
    axes = range(x.ndim) if axis is None else (axis,) if isinstance(axis, int) else axis
    count = _np.intp(_math.prod(x.shape[a] for a in axes))
    if type(total) is _np.ndarray:
        return _np.true_divide(total, count, out=total, casting="unsafe")
    return total.dtype.type(total / count)


_KINDS: dict[tuple[Any, Any], bool] = {}


def isdtype(dtype: Any, kind: Any) -> bool:
    """``numpy.isdtype``, remembered per ``(dtype, kind)`` (the engine asks it for every op)."""
    try:
        return _KINDS[dtype, kind]
    except KeyError:
        found = _KINDS[dtype, kind] = _np.isdtype(dtype, kind)
        return found
    except TypeError:  # an unhashable kind
        return _np.isdtype(dtype, kind)


# numpy's own functions and dtypes that the engine reaches on every op, bound here: a lookup through the module
# ``__getattr__`` below costs about 1 µs each.
_HOT = ("asarray", "sqrt", "exp", "log", "tanh", "abs", "where", "zeros", "zeros_like", "ones_like", "full_like",
        "empty", "arange", "concat", "permute_dims", "result_type", "logical_not", "minimum", "maximum", "clip",
        "moveaxis", "float32", "float64", "int64")
globals().update({name: getattr(_np, name) for name in _HOT})


def __getattr__(name: str) -> Any:
    return getattr(_np, name)
