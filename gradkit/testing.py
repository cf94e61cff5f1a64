"""Test support for gradkit: THE tolerance table, the ``Value`` oracle and ``gradcheck``.

Three ways to know that a ``Tensor`` computation and its gradient are right:

* ``check_against_value(fn, inputs, backend)`` runs one function ``fn(ops, *xs)`` twice: on float64
  ``Tensor`` leaves of ``backend`` and on numpy object arrays of scalar ``Value`` leaves (the micrograd
  engine, an independent implementation of every derivative), then compares the output and the gradient
  of every input. ``ops`` is a small namespace with one implementation per side (``TensorOps`` calls the
  engine, ``ValueOps`` composes ``Value`` arithmetic elementwise), so ``fn`` is written once::

      check_against_value(lambda ops, x, w: ops.tanh(x @ w).sum(axis=1), [x, w], backend)

  Arithmetic operators (``+ - * / ** @``, unary ``-``, Python and numpy numbers on either side) and the
  attributes that numpy object arrays share with ``Tensor`` (``x.T``, ``x.reshape(shape)``, ``x.shape``)
  can be used directly on the operands; everything else goes through ``ops``.
* ``gradcheck(fn, inputs, backend)``: the same ``fn`` against central finite differences in float64.
* ``assert_close(actual, expected, ...)``: an elementwise comparison whose failure names the worst element.

Every comparison takes its tolerance from ``TOLERANCES`` (keyed by dtype) or ``GRADCHECK_TOLERANCE``
(finite differences), the one place where these numbers live.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradkit.backends import Backend
from gradkit.backends.random import dtype_name

from .autograd import no_grad
from .functional import cross_entropy as _cross_entropy
from .functional import linear as _linear
from .functional import log_softmax as _log_softmax
from .functional import softmax as _softmax
from .ops import concat as _concat
from .ops import stack as _stack
from .pointwise import maximum as _maximum
from .pointwise import where as _where
from .tensor import Tensor, _resolve_backend
from .value import Value

__all__ = [
    "GRADCHECK_TOLERANCE", "TOLERANCES", "Comparison", "GradcheckReport", "OracleReport", "TensorOps", "ValueOps",
    "assert_close", "check_against_value", "compare", "gradcheck", "tolerance",
]

# THE tolerance table. A comparison passes elementwise when |actual - expected| <= atol + rtol * |expected|.
#
# float64: the Tensor engine and the Value oracle compute the same formulas in float64 and differ only in
#   rounding (summation order of sums and matmuls, numpy's SIMD exp/log/tanh against libm, sigmoid through
#   tanh against through exp): a few ulps per op, 1e-15 relative, amplified by the conditioning of a short
#   graph. rtol=1e-9 leaves six orders of magnitude for that and still catches any wrong derivative; atol
#   covers results that cancel to ~0 (a softmax gradient through its max, x - x).
# float32: one rounding is 6e-8 relative; a few dozen ops and sums of tens of terms reach ~1e-6, so
#   rtol=1e-4 / atol=1e-5 (for O(1) values) is a bound that holds without hiding an error.
TOLERANCES: dict[str, dict[str, float]] = {
    "float64": {"rtol": 1e-9, "atol": 1e-12},
    "float32": {"rtol": 1e-4, "atol": 1e-5},
}
# Central differences in float64 with eps=1e-6: truncation error eps**2/6 * |f'''| (~1e-13 for O(1)
# derivatives) plus rounding u * |f| / eps (~1e-10 for |f| ~ 1), so rtol=1e-6 / atol=1e-7 is honest; a
# wrong derivative is off by O(1).
GRADCHECK_TOLERANCE: dict[str, float] = {"rtol": 1e-6, "atol": 1e-7}


def tolerance(dtype: Any) -> dict[str, float]:
    """``{"rtol": ..., "atol": ...}`` for comparing results of ``dtype`` (a name, numpy, strict or CuPy dtype)
    against a float64 reference. Raises KeyError for a dtype with no entry (integers compare exactly)."""
    name = dtype_name(dtype)
    if name not in TOLERANCES:
        raise KeyError(f"no tolerance for dtype {name!r}; TOLERANCES has {sorted(TOLERANCES)}")
    return dict(TOLERANCES[name])


# Comparison.
@dataclass
class Comparison:
    """The outcome of one elementwise comparison.

    Attributes:
        what: which array (``"output"``, ``"grad of input 1"``...).
        ok: every element within tolerance.
        index: the worst element's index (the largest error / allowed ratio), or None for empty arrays.
        actual, expected: the two values there.
        error: ``|actual - expected|`` there; ``allowed``: ``atol + rtol * |expected|`` there.
        ratio: ``error / allowed`` (<= 1 passes; inf for a nan or inf against a finite value).
    """

    what: str
    ok: bool
    index: tuple[int, ...] | None = None
    actual: float = 0.0
    expected: float = 0.0
    error: float = 0.0
    allowed: float = 0.0
    ratio: float = 0.0

    def __str__(self) -> str:
        if self.index is None:
            return f"{self.what}: empty"
        verdict = "ok" if self.ok else "MISMATCH"
        return (f"{self.what}: {verdict}; worst element {self.index}: actual={self.actual!r}, "
                f"expected={self.expected!r}, |diff|={self.error:.3g}, allowed={self.allowed:.3g}")


def compare(actual: Any, expected: Any, *, rtol: float, atol: float, what: str = "array") -> Comparison:
    """Compare two host arrays elementwise (nan matches nan, inf matches an inf of the same sign) and find
    the worst element. Shapes must be equal (AssertionError otherwise)."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        raise AssertionError(f"{what}: shape {a.shape} (actual) != {e.shape} (expected)")
    if a.size == 0:
        return Comparison(what, True)
    with np.errstate(invalid="ignore", over="ignore"):
        same = (a == e) | (np.isnan(a) & np.isnan(e))
        error = np.where(same, 0.0, np.abs(a - e))
        error = np.where(np.isnan(error), np.inf, error)
        allowed = atol + rtol * np.where(np.isfinite(e), np.abs(e), 0.0)
        ratio = np.where(same, 0.0, np.where(allowed > 0, error / np.where(allowed > 0, allowed, 1.0), np.inf))
    flat = int(np.argmax(ratio))
    index = tuple(int(i) for i in np.unravel_index(flat, a.shape))
    worst = float(ratio.reshape(-1)[flat])
    return Comparison(what, worst <= 1.0, index, float(a[index]), float(e[index]), float(error[index]),
                      float(allowed[index]), worst)


def assert_close(actual: Any, expected: Any, *, dtype: Any = "float64", rtol: float | None = None,
                 atol: float | None = None, what: str = "array") -> Comparison:
    """Assert ``actual`` (a Tensor, an array of any backend, host data) equals ``expected`` elementwise
    within the tolerance of ``dtype`` (``TOLERANCES``; ``rtol``/``atol`` override it). Raises AssertionError
    naming the worst element and both values; returns the ``Comparison`` otherwise."""
    tol = tolerance(dtype)
    tol.update({k: v for k, v in (("rtol", rtol), ("atol", atol)) if v is not None})
    result = compare(_host(actual), _host(expected), what=what, **tol)
    if not result.ok:
        raise AssertionError(str(result))
    return result


def _host(x: Any) -> np.ndarray:
    if isinstance(x, Tensor):
        return x.numpy()
    if isinstance(x, np.ndarray) and x.dtype == object:
        return _value_data(x)
    return np.asarray(x)


# The two namespaces.
def _as_obj(x: Any) -> np.ndarray:
    """An object array (0-d included) of ``x``: numpy returns bare ``Value``s from 0-d object operations."""
    return x if isinstance(x, np.ndarray) else np.asarray(x, dtype=object)


_relu = np.frompyfunc(lambda v: v.relu(), 1, 1)
_sigmoid = np.frompyfunc(lambda v: v.sigmoid(), 1, 1)
_to_value = np.frompyfunc(lambda v: v if isinstance(v, Value) else Value(float(v)), 1, 1)


def _scalar(v: float) -> np.ndarray:
    """A 0-d object array holding a constant ``Value(v)``."""
    out = np.empty((), dtype=object)
    out[()] = Value(v)
    return out


def _value_data(x: Any) -> np.ndarray:
    arr = _as_obj(x)
    return np.array([v.data if isinstance(v, Value) else float(v) for v in arr.reshape(-1)],
                    dtype=np.float64).reshape(arr.shape)


class ValueOps:
    """The ``ops`` namespace for numpy object arrays of ``Value``: every op elementwise in scalar autograd.

    Composite functions are composed from these primitives (``softmax`` is ``exp(x - max) / sum``, ...), so
    that the fused ``Tensor`` versions are checked against an independent derivation.
    """

    name = "value"

    @staticmethod
    def const(data: Any) -> np.ndarray:
        """A constant array (fresh ``Value`` leaves whose gradients nobody reads)."""
        return _as_obj(_to_value(np.asarray(data, dtype=np.float64)))

    @staticmethod
    def matmul(a: Any, b: Any) -> np.ndarray:
        return _as_obj(_as_obj(a) @ _as_obj(b))

    @staticmethod
    def sum(x: Any, axis: Any = None, keepdims: bool = False) -> np.ndarray:  # noqa: A003
        x = _as_obj(x)
        return _as_obj(np.sum(x, axis=_norm_axes(axis, x.ndim), keepdims=keepdims))

    @staticmethod
    def mean(x: Any, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        x = _as_obj(x)
        axes = _norm_axes(axis, x.ndim)
        count = math.prod(x.shape[i] for i in axes)
        return _as_obj(ValueOps.sum(x, axes, keepdims) / count)

    @staticmethod
    def max(x: Any, axis: Any = None, keepdims: bool = False) -> np.ndarray:  # noqa: A003
        """Maximum over ``axis``; the gradient is split equally among tied maxima (as the Tensor engine)."""
        x = _as_obj(x)
        axes = _norm_axes(axis, x.ndim)
        rest = tuple(i for i in range(x.ndim) if i not in axes)
        moved = np.transpose(x, rest + axes)
        outer = tuple(x.shape[i] for i in rest)
        rows = moved.reshape((math.prod(outer), math.prod(x.shape[i] for i in axes)))
        out = np.empty(rows.shape[0], dtype=object)
        for r, row in enumerate(rows):
            data = [v.data for v in row]
            top = max(data)
            ties = [v for v, d in zip(row, data) if d == top]
            out[r] = Value.dot(ties, [1.0 / len(ties)] * len(ties))  # the mean of the tied maxima
        shape = tuple(1 if i in axes else n for i, n in enumerate(x.shape)) if keepdims else outer
        return out.reshape(shape)

    @staticmethod
    def exp(x: Any) -> np.ndarray:
        return _as_obj(np.exp(_as_obj(x)))

    @staticmethod
    def log(x: Any) -> np.ndarray:
        return _as_obj(np.log(_as_obj(x)))

    @staticmethod
    def tanh(x: Any) -> np.ndarray:
        return _as_obj(np.tanh(_as_obj(x)))

    @staticmethod
    def relu(x: Any) -> np.ndarray:
        return _as_obj(_relu(_as_obj(x)))

    @staticmethod
    def sigmoid(x: Any) -> np.ndarray:
        return _as_obj(_sigmoid(_as_obj(x)))

    @staticmethod
    def abs(x: Any) -> np.ndarray:  # noqa: A003
        return _as_obj(np.abs(_as_obj(x)))

    @staticmethod
    def reshape(x: Any, shape: Any) -> np.ndarray:
        return np.reshape(_as_obj(x), shape)

    view = reshape

    @staticmethod
    def transpose(x: Any, dim0: int, dim1: int) -> np.ndarray:
        """PyTorch's ``transpose``: two axes swapped (``permute`` takes a whole order)."""
        return np.swapaxes(_as_obj(x), dim0, dim1)

    @staticmethod
    def permute(x: Any, *axes: int) -> np.ndarray:
        return np.transpose(_as_obj(x), axes)

    @staticmethod
    def getitem(x: Any, key: Any) -> np.ndarray:
        """``x[key]``: slices, ints, ``...``, integer arrays (repeats included) and tuples of integer arrays."""
        return _as_obj(_as_obj(x)[key])

    @staticmethod
    def concat(xs: Sequence[Any], axis: int = 0) -> np.ndarray:
        return np.concatenate([_as_obj(x) for x in xs], axis=axis)

    @staticmethod
    def stack(xs: Sequence[Any], axis: int = 0) -> np.ndarray:
        return np.stack([_as_obj(x) for x in xs], axis=axis)

    @staticmethod
    def softmax(x: Any, axis: int = -1) -> np.ndarray:
        e = ValueOps.exp(_as_obj(x) - ValueOps.max(x, axis, keepdims=True))
        return _as_obj(e / ValueOps.sum(e, axis, keepdims=True))

    @staticmethod
    def log_softmax(x: Any, axis: int = -1) -> np.ndarray:
        shifted = _as_obj(_as_obj(x) - ValueOps.max(x, axis, keepdims=True))
        return _as_obj(shifted - ValueOps.log(ValueOps.sum(ValueOps.exp(shifted), axis, keepdims=True)))

    @staticmethod
    def cross_entropy(logits: Any, targets: Any, reduction: str = "mean", ignore_index: int = -100) -> np.ndarray:
        """PyTorch's layout: the class axis is 1 (or 0 for ``(C,)`` logits); ignored targets add nothing."""
        logits = _as_obj(logits)
        logits = np.moveaxis(logits, 1, -1) if logits.ndim > 1 else logits
        logp = ValueOps.log_softmax(logits, -1)
        t = np.asarray(targets, dtype=np.int64)
        valid = t != ignore_index
        picked = np.take_along_axis(logp, np.where(valid, t, 0)[..., None], axis=-1)[..., 0]
        nll = _as_obj(np.where(valid, -picked, _scalar(0.0)))
        if reduction == "none":
            return nll
        total = ValueOps.sum(nll[valid])
        return total if reduction == "sum" else _as_obj(total / int(valid.sum()))

    @staticmethod
    def linear(x: Any, weight: Any, bias: Any = None) -> np.ndarray:
        out = ValueOps.matmul(x, _as_obj(weight).T)
        return out if bias is None else _as_obj(out + _as_obj(bias))

    # PyTorch's names (gradkit.reductions, pointwise, shapes), composed from Value arithmetic.
    @staticmethod
    def sqrt(x: Any) -> np.ndarray:
        return _as_obj(_as_obj(x) ** 0.5)

    @staticmethod
    def log10(x: Any) -> np.ndarray:
        return _as_obj(ValueOps.log(x) / math.log(10))

    @staticmethod
    def var(x: Any, dim: Any = None, correction: int = 1, keepdim: bool = False) -> np.ndarray:
        x = _as_obj(x)
        axes = _norm_axes(dim, x.ndim)
        centred = _as_obj(x - ValueOps.mean(x, axes, keepdims=True))
        n = math.prod(x.shape[i] for i in axes)
        return _as_obj(ValueOps.sum(centred * centred, axes, keepdim) / (n - correction))

    @staticmethod
    def std(x: Any, dim: Any = None, correction: int = 1, keepdim: bool = False) -> np.ndarray:
        return ValueOps.sqrt(ValueOps.var(x, dim, correction, keepdim))

    @staticmethod
    def amin(x: Any, dim: Any = None, keepdim: bool = False) -> np.ndarray:
        return _as_obj(-ValueOps.max(-_as_obj(x), dim, keepdim))

    @staticmethod
    def max_values(x: Any, dim: int, keepdim: bool = False) -> np.ndarray:
        """``max(x, dim).values``: the first maximum's element (its gradient goes there alone, as torch)."""
        x = _as_obj(x)
        idx = np.expand_dims(np.argmax(_value_data(x), axis=dim), dim)
        out = np.take_along_axis(x, idx, axis=dim)
        return out if keepdim else np.squeeze(out, axis=dim)

    @staticmethod
    def topk_values(x: Any, k: int, dim: int = -1, largest: bool = True) -> np.ndarray:
        x = _as_obj(x)
        data = _value_data(x)
        order = np.argsort(-data if largest else data, axis=dim, kind="stable")
        return np.take_along_axis(x, np.take(order, np.arange(k), axis=dim), axis=dim)

    @staticmethod
    def clamp(x: Any, lo: float | None = None, hi: float | None = None) -> np.ndarray:
        """Values outside ``[lo, hi]`` become constants (no gradient), as torch's clamp."""
        def one(v: Value) -> Value:
            if lo is not None and v.data < lo:
                return Value(lo)
            return Value(hi) if hi is not None and v.data > hi else v

        return _as_obj(np.frompyfunc(one, 1, 1)(_as_obj(x)))

    @staticmethod
    def where(cond: Any, a: Any, b: Any) -> np.ndarray:
        return _as_obj(np.where(np.asarray(cond, dtype=bool), _as_obj(a), _as_obj(b)))

    @staticmethod
    def masked_fill(x: Any, mask: Any, value: float) -> np.ndarray:
        return _as_obj(np.where(np.asarray(mask, dtype=bool), _scalar(value), _as_obj(x)))

    @staticmethod
    def maximum(a: Any, b: Any) -> np.ndarray:
        def one(u: Value, v: Value) -> Value:
            return u if u.data > v.data else v if v.data > u.data else (u + v) * 0.5

        return _as_obj(np.frompyfunc(one, 2, 1)(_as_obj(a), _as_obj(b)))

    @staticmethod
    def tril(x: Any, diagonal: int = 0) -> np.ndarray:
        x = _as_obj(x)
        keep = np.tril(np.ones(x.shape[-2:], dtype=bool), diagonal)
        return _as_obj(np.where(keep, x, _scalar(0.0)))

    @staticmethod
    def triu(x: Any, diagonal: int = 0) -> np.ndarray:
        x = _as_obj(x)
        keep = np.triu(np.ones(x.shape[-2:], dtype=bool), diagonal)
        return _as_obj(np.where(keep, x, _scalar(0.0)))

    @staticmethod
    def squeeze(x: Any, dim: Any = None) -> np.ndarray:
        x = _as_obj(x)
        axes = tuple(i for i in _norm_axes(dim, x.ndim) if x.shape[i] == 1)
        return np.squeeze(x, axis=axes)

    @staticmethod
    def unsqueeze(x: Any, dim: int) -> np.ndarray:
        return np.expand_dims(_as_obj(x), dim)

    @staticmethod
    def index_put(x: Any, indices: tuple, values: Any, accumulate: bool = False) -> np.ndarray:
        out = _as_obj(x).copy()
        idx = tuple(np.asarray(k) for k in indices)
        if accumulate:
            np.add.at(out, idx, _as_obj(values))
        else:
            out[idx] = _as_obj(values)
        return out

    @staticmethod
    def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> np.ndarray:
        x = _as_obj(x)
        s, e = start_dim % x.ndim, end_dim % x.ndim
        return x.reshape((*x.shape[:s], -1, *x.shape[e + 1:]))


class TensorOps:
    """The ``ops`` namespace for ``Tensor``: each name calls the engine (methods where ``Tensor`` has one, so
    that the bindings are exercised too). Host integer arrays in an index or as targets, and ``const`` data,
    are moved to ``backend`` (constants in ``dtype``)."""

    name = "tensor"

    def __init__(self, backend: Backend | str | None = None, dtype: Any = "float64") -> None:
        self.backend = _resolve_backend(backend)
        self.dtype = dtype

    def const(self, data: Any) -> Tensor:
        return Tensor(np.asarray(data, dtype=np.float64), backend=self.backend, dtype=self.dtype)

    def _index(self, k: Any) -> Any:
        if isinstance(k, (np.ndarray, list)) and np.asarray(k).dtype.kind in "iu":
            return Tensor(np.asarray(k, dtype=np.int64), backend=self.backend)
        return k

    @staticmethod
    def matmul(a: Tensor, b: Tensor) -> Tensor:
        return a @ b

    @staticmethod
    def sum(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A003
        return x.sum(axis, keepdims)

    @staticmethod
    def mean(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
        return x.mean(axis, keepdims)

    @staticmethod
    def max(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A003
        return x.amax(axis, keepdims)

    @staticmethod
    def exp(x: Tensor) -> Tensor:
        return x.exp()

    @staticmethod
    def log(x: Tensor) -> Tensor:
        return x.log()

    @staticmethod
    def tanh(x: Tensor) -> Tensor:
        return x.tanh()

    @staticmethod
    def relu(x: Tensor) -> Tensor:
        return x.relu()

    @staticmethod
    def sigmoid(x: Tensor) -> Tensor:
        return x.sigmoid()

    @staticmethod
    def abs(x: Tensor) -> Tensor:  # noqa: A003
        return abs(x)

    @staticmethod
    def reshape(x: Tensor, shape: Any) -> Tensor:
        return x.reshape(shape)

    @staticmethod
    def view(x: Tensor, shape: Any) -> Tensor:
        return x.view(shape)

    @staticmethod
    def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
        return x.transpose(dim0, dim1)

    @staticmethod
    def permute(x: Tensor, *axes: int) -> Tensor:
        return x.permute(*axes)

    def getitem(self, x: Tensor, key: Any) -> Tensor:
        key = tuple(self._index(k) for k in key) if isinstance(key, tuple) else self._index(key)
        return x[key]

    @staticmethod
    def concat(xs: Sequence[Tensor], axis: int = 0) -> Tensor:
        return _concat(list(xs), axis)

    @staticmethod
    def stack(xs: Sequence[Tensor], axis: int = 0) -> Tensor:
        return _stack(list(xs), axis)

    @staticmethod
    def softmax(x: Tensor, axis: int = -1) -> Tensor:
        return _softmax(x, axis)

    @staticmethod
    def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
        return _log_softmax(x, axis)

    def cross_entropy(self, logits: Tensor, targets: Any, reduction: str = "mean", ignore_index: int = -100) -> Tensor:
        return _cross_entropy(logits, self._index(np.asarray(targets)), reduction=reduction,
                              ignore_index=ignore_index)

    @staticmethod
    def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
        return _linear(x, weight, bias)

    # PyTorch's names: the methods.
    @staticmethod
    def sqrt(x: Tensor) -> Tensor:
        return x.sqrt()

    @staticmethod
    def log10(x: Tensor) -> Tensor:
        return x.log10()

    @staticmethod
    def var(x: Tensor, dim: Any = None, correction: int = 1, keepdim: bool = False) -> Tensor:
        return x.var(dim, keepdim=keepdim, correction=correction)

    @staticmethod
    def std(x: Tensor, dim: Any = None, correction: int = 1, keepdim: bool = False) -> Tensor:
        return x.std(dim, keepdim=keepdim, correction=correction)

    @staticmethod
    def amin(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
        return x.amin(dim, keepdim)

    @staticmethod
    def max_values(x: Tensor, dim: int, keepdim: bool = False) -> Tensor:
        return x.max(dim, keepdim).values

    @staticmethod
    def topk_values(x: Tensor, k: int, dim: int = -1, largest: bool = True) -> Tensor:
        return x.topk(k, dim, largest).values

    @staticmethod
    def clamp(x: Tensor, lo: float | None = None, hi: float | None = None) -> Tensor:
        return x.clamp(lo, hi)

    def where(self, cond: Any, a: Tensor, b: Tensor) -> Tensor:
        return _where(Tensor(np.asarray(cond, dtype=bool), backend=self.backend), a, b)

    def masked_fill(self, x: Tensor, mask: Any, value: float) -> Tensor:
        return x.masked_fill(Tensor(np.asarray(mask, dtype=bool), backend=self.backend), value)

    @staticmethod
    def maximum(a: Tensor, b: Tensor) -> Tensor:
        return _maximum(a, b)

    @staticmethod
    def tril(x: Tensor, diagonal: int = 0) -> Tensor:
        return x.tril(diagonal)

    @staticmethod
    def triu(x: Tensor, diagonal: int = 0) -> Tensor:
        return x.triu(diagonal)

    @staticmethod
    def squeeze(x: Tensor, dim: Any = None) -> Tensor:
        return x.squeeze(dim)

    @staticmethod
    def unsqueeze(x: Tensor, dim: int) -> Tensor:
        return x.unsqueeze(dim)

    @staticmethod
    def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return x.flatten(start_dim, end_dim)

    def index_put(self, x: Tensor, indices: tuple, values: Tensor, accumulate: bool = False) -> Tensor:
        return x.index_put(tuple(self._index(np.asarray(k)) for k in indices), values, accumulate)


def _norm_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """The engine's (torch's) reading of ``axis``: None and ``()`` mean every axis; 0-d reduces to itself."""
    if axis is None or axis == () or axis == []:
        return tuple(range(ndim))
    if not ndim:  # a 0-d array reduces over axis 0 or -1 to itself, as torch
        return ()
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(sorted(a % ndim for a in axes))


# The oracle.
@dataclass
class OracleReport:
    """What ``check_against_value`` compared.

    Attributes:
        output, grads: the Tensor side's output and each input's gradient (host float64 arrays; a gradient
            that the engine left as None is reported as zeros).
        value_output, value_grads: the same from the Value oracle.
        weights: the upstream gradient used on both sides.
        comparisons: one ``Comparison`` for the output and one per input.
    """

    output: np.ndarray
    grads: list[np.ndarray]
    value_output: np.ndarray
    value_grads: list[np.ndarray]
    weights: np.ndarray
    comparisons: list[Comparison] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.comparisons)

    @property
    def worst(self) -> Comparison:
        """The comparison with the largest error / allowed ratio."""
        return max(self.comparisons, key=lambda c: c.ratio)

    def __str__(self) -> str:
        return "\n".join(str(c) for c in self.comparisons)


Fn = Callable[..., Any]


def check_against_value(fn: Fn, inputs: Sequence[Any], backend: Backend | str | None = None, *,
                        dtype: Any = "float64", seed: int = 0, rtol: float | None = None,
                        atol: float | None = None, check: bool = True) -> OracleReport:
    """Run ``fn(ops, *xs)`` on Tensors and on arrays of ``Value`` and compare the output and every gradient.

    Args:
        fn: the computation, written once against ``ops`` (``TensorOps`` or ``ValueOps``) and the operators.
        inputs: host data (numbers, lists, numpy arrays), one per argument after ``ops``; each becomes a
            Tensor leaf of ``dtype`` on ``backend`` with ``requires_grad=True``, and an object array of
            ``Value`` leaves holding the same numbers (rounded to ``dtype`` first).
        backend: the Tensor side's backend.
        dtype: the Tensor side's float dtype (``"float64"`` or ``"float32"``); the oracle is always float64,
            and the output and every gradient must come back in ``dtype``.
        seed: seeds the random upstream gradient ``w`` (standard normal, of the output's shape): the Tensor
            side runs ``out.backward(w)``, the Value side back-propagates ``sum(w * out)``.
        rtol, atol: override ``tolerance(dtype)``.
        check: raise on a mismatch (default); False only returns the report.

    Returns:
        An ``OracleReport``.

    Raises:
        AssertionError: a shape, dtype or value mismatch; the message names the worst element (which
            input, its index, both values) and lists every comparison.
    """
    tol = tolerance(dtype)
    tol.update({k: v for k, v in (("rtol", rtol), ("atol", atol)) if v is not None})
    be = _resolve_backend(backend)
    name = dtype_name(dtype)
    hosts = [np.asarray(np.asarray(x, dtype=np.float64).astype(name), dtype=np.float64) for x in inputs]

    tensors = [Tensor(h.astype(name), backend=be, dtype=name, requires_grad=True) for h in hosts]
    out = fn(TensorOps(be, name), *tensors)
    if not isinstance(out, Tensor):
        raise AssertionError(f"fn returned a {type(out).__name__} on the Tensor side, not a Tensor")
    if dtype_name(out.dtype) != name:
        raise AssertionError(f"output dtype {dtype_name(out.dtype)} != input dtype {name}")
    weights = np.random.default_rng(seed).standard_normal(out.shape)
    if out.requires_grad:
        out.backward(weights)
    grads = []
    for i, t in enumerate(tensors):
        if t.grad is None:
            grads.append(np.zeros(t.shape))
            continue
        if t.grad.shape != t.shape or dtype_name(t.grad.dtype) != name:
            raise AssertionError(f"grad of input {i}: shape {t.grad.shape} dtype {dtype_name(t.grad.dtype)}, "
                                 f"expected {t.shape} {name}")
        grads.append(np.asarray(t.grad.numpy(), dtype=np.float64))

    leaves = [_as_obj(np.frompyfunc(Value, 1, 1)(h)) for h in hosts]
    vout = _as_obj(_to_value(_as_obj(fn(ValueOps, *leaves))))
    loss = Value.dot(list(vout.reshape(-1)), [float(w) for w in weights.reshape(-1)])
    loss.backward()
    value_grads = [np.array([v.grad for v in leaf.reshape(-1)], dtype=np.float64).reshape(leaf.shape)
                   for leaf in leaves]

    report = OracleReport(np.asarray(out.numpy(), dtype=np.float64), grads, _value_data(vout), value_grads,
                          weights)
    report.comparisons.append(compare(report.output, report.value_output, what="output", **tol))
    for i, (g, vg) in enumerate(zip(grads, value_grads)):
        report.comparisons.append(compare(g, vg, what=f"grad of input {i} (shape {hosts[i].shape})", **tol))
    if check and not report.ok:
        raise AssertionError(f"Tensor ({be.name}, {name}) and Value disagree; worst: {report.worst}\n{report}")
    return report


# Finite differences.
@dataclass
class GradcheckReport:
    """What ``gradcheck`` compared: the analytic gradients (Tensor backward), the numerical ones (central
    differences) and one ``Comparison`` per input."""

    analytic: list[np.ndarray]
    numerical: list[np.ndarray]
    comparisons: list[Comparison] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.comparisons)

    @property
    def worst(self) -> Comparison:
        return max(self.comparisons, key=lambda c: c.ratio)

    def __str__(self) -> str:
        return "\n".join(str(c) for c in self.comparisons)


def gradcheck(fn: Fn, inputs: Sequence[Any], backend: Backend | str | None = None, *, eps: float = 1e-6,
              seed: int = 0, rtol: float | None = None, atol: float | None = None,
              check: bool = True) -> GradcheckReport:
    """Compare the Tensor engine's gradients of ``fn(ops, *xs)`` with central differences, in float64.

    The scalar differentiated is ``sum(w * fn(...))`` with ``w`` a seeded standard normal array of the
    output's shape (so every output element counts, with a different weight). Each input element is moved
    by ``+-eps`` on the host and the function re-evaluated on ``backend`` (under ``no_grad``): ``2 * n``
    evaluations for ``n`` input elements, so keep inputs small. Keep inputs away from kinks (relu and abs
    at 0, ties of max) by more than ``eps``.

    Returns a ``GradcheckReport``; raises AssertionError naming the worst element (input, index, analytic
    and numerical values) unless ``check=False``. Tolerance: ``GRADCHECK_TOLERANCE`` (``rtol``/``atol``
    override it).
    """
    tol = dict(GRADCHECK_TOLERANCE)
    tol.update({k: v for k, v in (("rtol", rtol), ("atol", atol)) if v is not None})
    be = _resolve_backend(backend)
    ops = TensorOps(be, "float64")
    hosts = [np.array(x, dtype=np.float64) for x in inputs]
    tensors = [Tensor(h, backend=be, dtype="float64", requires_grad=True) for h in hosts]
    out = fn(ops, *tensors)
    weights = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(weights)
    analytic = [np.zeros(h.shape) if t.grad is None else t.grad.numpy() for h, t in zip(hosts, tensors)]

    def objective(values: list[np.ndarray]) -> float:
        with no_grad():
            y = fn(ops, *[Tensor(v, backend=be, dtype="float64") for v in values])
        return float(np.sum(weights * y.numpy()))

    numerical = []
    for i, h in enumerate(hosts):
        num = np.zeros(h.shape)
        for idx in np.ndindex(h.shape):
            values = [v.copy() for v in hosts]
            values[i][idx] = h[idx] + eps
            plus = objective(values)
            values[i][idx] = h[idx] - eps
            minus = objective(values)
            num[idx] = (plus - minus) / (2 * eps)
        numerical.append(num)
    report = GradcheckReport(analytic, numerical)
    for i, (a, n) in enumerate(zip(analytic, numerical)):
        report.comparisons.append(compare(a, n, what=f"grad of input {i} (shape {hosts[i].shape}): analytic "
                                          "vs central differences", **tol))
    if check and not report.ok:
        raise AssertionError(f"gradcheck failed on {be.name}; worst: {report.worst}\n{report}")
    return report
