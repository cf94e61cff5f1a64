"""The differentiable ops of ``Tensor``: each computes its output with ``xp`` and records a backward.

Every backward returns one gradient array (or None) per parent, already reduced to that parent's shape
(broadcast axes summed back, size-1 axes included) and cast to its dtype.
"""

from __future__ import annotations

import builtins
import functools
import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from gradkit.backends import DeviceMismatchError

from . import _inplace
from ._trace import raise_if
from .tensor import DEFAULT_DTYPE, OUTPUT, Scalar, Tensor, _is_float, _operand_data, dims

Axis = int | Sequence[int] | None
F = TypeVar("F", bound=Callable[..., Any])


class _Errstate:
    """The fallback with a context variable's ``set``/``reset``: ``np.errstate`` entered and left."""

    def set(self, _: Any) -> Any:
        state = np.errstate(all="ignore")
        state.__enter__()
        return state

    def reset(self, state: Any) -> None:
        state.__exit__(None, None, None)


def _numpy_error_state() -> tuple[Any, Any]:
    """numpy's error-state context variable and its all-ignore value.

    Setting that variable directly costs about 0.5 µs an op, where entering ``np.errstate`` costs 1 µs (a tenth
    of a small op). If a numpy release moves the private variable, the fallback is ``np.errstate`` itself.
    """
    try:
        from numpy._core._ufunc_config import _extobj_contextvar as var  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover (numpy moved its private state)
        return _Errstate(), None
    with np.errstate(all="ignore"):
        return var, var.get()


_ERRSTATE, _QUIET = _numpy_error_state()
_set_errstate, _reset_errstate = _ERRSTATE.set, _ERRSTATE.reset


def ieee(fn: F) -> F:
    """Decorate an op so that IEEE specials (``exp(1000) = inf``, ``log(0) = -inf``, ``0/0 = nan``, ``inf - inf``)
    are results, as in torch, and never numpy RuntimeWarnings reaching the user (numpy and strict backends)."""

    @functools.wraps(fn)
    def quiet(*args: Any, **kwargs: Any) -> Any:
        token = _set_errstate(_QUIET)
        try:
            return fn(*args, **kwargs)
        finally:
            _reset_errstate(token)

    return quiet  # type: ignore[return-value]


# Helpers.
_MATVEC_MAX = 1024  # a last axis up to this long is summed by a product with ones (see row_sum)
_MATVEC_MIN_SIZE = 8192  # below this many elements numpy's own sum is faster (the product costs ~4 us to set up)


def _by_matvec(backend: Any, a: Any) -> bool:
    """True where a sum of ``a`` along its last axis or its leading axes is better made as one product with a
    vector of ones: a float array with at least 2 axes and 8192 elements (numpy's reductions go row by row along a
    short last axis, and one row at a time down the leading axes: 4-10x slower than the BLAS call, which blocks its
    sums as torch's vectorised reductions do; a non-contiguous array is copied by the reshape first)."""
    return a.ndim >= 2 and a.size >= _MATVEC_MIN_SIZE and _category(backend, a.dtype) == 2


def row_sum(backend: Any, a: Any) -> Any:
    """``sum(a, axis=-1, keepdims=True)``; a last axis of at most ``_MATVEC_MAX`` elements as ``a @ ones``."""
    n = a.shape[-1] if a.ndim else 0
    if 0 < n <= _MATVEC_MAX and _by_matvec(backend, a):
        xp = backend.xp
        return xp.reshape(xp.reshape(a, (-1, n)) @ backend.full((n, 1), 1.0, a.dtype), (*a.shape[:-1], 1))
    return backend.xp.sum(a, axis=-1, keepdims=True)


def lead_sum(backend: Any, a: Any, k: int) -> Any:
    """``sum(a, axis=(0, ..., k-1))``: the leading ``k`` axes summed away (a bias's gradient), as ``ones @ a``."""
    xp = backend.xp
    if k and _by_matvec(backend, a):
        m = math.prod(a.shape[:k])
        if m:
            out = backend.full((1, m), 1.0, a.dtype) @ xp.reshape(a, (m, -1))
            return xp.reshape(out, a.shape[k:])
    return xp.sum(a, axis=tuple(range(k))) if k else a


def _unbroadcast(g: Any, parent: Tensor) -> Any:
    """``g`` summed over the axes along which ``parent`` was broadcast, in ``parent``'s dtype."""
    shape = parent._data.shape
    if g.shape != shape:
        xp = parent.backend.xp
        lead = len(g.shape) - len(shape)
        axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
        if lead and len(axes) == lead:  # broadcast along new leading axes only (a bias): a product with ones
            g = lead_sum(parent.backend, g, lead)
        else:
            g = xp.reshape(xp.sum(g, axis=axes, keepdims=True), shape) if axes else xp.reshape(g, shape)
    if g.dtype != parent._data.dtype:
        g = parent.backend.xp.astype(g, parent._data.dtype)
    return g


def _as_tensor(ref: Tensor, other: Any) -> Tensor:
    if isinstance(other, Tensor):
        _operand_data(ref, other)  # raises DeviceMismatchError for another backend
        return other
    return Tensor._wrap(_operand_data(ref, other), ref.backend)


_CATEGORIES: dict[tuple[type, Any], int] = {}


def _category(backend: Any, dtype: Any) -> int:
    """0 for bool, 1 for integers, 2 for real floats: the order of torch's type-promotion categories."""
    key = (type(dtype), dtype)  # the type first: a strict dtype never compares with a numpy one
    try:
        return _CATEGORIES[key]
    except KeyError:
        xp = backend.xp
        found = _CATEGORIES[key] = 2 if xp.isdtype(dtype, "real floating") else 0 if dtype == xp.bool else 1
        return found


def _highest(backend: Any, dtypes: Sequence[Any]) -> Any:
    """The promoted dtype of one group: among the dtypes of the highest category, the widest (torch's
    ``promote_types`` for real types: ``int64`` with ``float32`` is ``float32``). None for no dtypes."""
    if not dtypes:
        return None
    top = builtins.max(_category(backend, d) for d in dtypes)
    return backend.xp.result_type(*[d for d in dtypes if _category(backend, d) == top])


def result_dtype(backend: Any, arrays: Sequence[Any], numbers: Sequence[Any] = ()) -> Any:
    """THE type-promotion rule of gradkit: torch's, by category (bool < integer < float).

    Operands form three groups: tensors with dimensions, 0-d tensors, and Python numbers (a ``float`` counts as
    the default dtype float32, an ``int`` as int64, a ``bool`` as bool). Each group promotes within itself
    (the widest dtype of its highest category). Then a lower-priority group (0-d, then numbers) decides the
    result only when it is of a HIGHER category than the groups above it: so ``float32 (3,) + float64 0-d`` is
    float32, ``int64 (3,) + float64 0-d`` is float64, ``int64 (3,) + 1.5`` is float32, ``int32 (3,) + 5`` is
    int32, ``float32 + float64`` (both with dimensions) is float64.
    """
    dims = [x.dtype for x in arrays if len(x.shape)]
    zero = [x.dtype for x in arrays if not len(x.shape)]
    xp = backend.xp
    wrapped = [xp.bool if isinstance(k, (bool, np.bool_)) else backend.dtype(DEFAULT_DTYPE)
               if isinstance(k, (float, np.floating)) else backend.dtype("int64") for k in numbers]
    result = None
    for group in (_highest(backend, wrapped), _highest(backend, zero), _highest(backend, dims)):
        if group is not None and (result is None or _category(backend, group) >= _category(backend, result)):
            result = group
    return result


def _float_dtype(backend: Any, dtype: Any) -> Any:
    """``dtype`` if it is a float, else the default float dtype (torch: an integer tensor in a float op)."""
    return dtype if backend.xp.isdtype(dtype, "real floating") else backend.dtype(DEFAULT_DTYPE)


def _float_data(a: Tensor) -> Any:
    """``a``'s data, cast to the default float dtype if it is an integer or bool tensor (``exp``, ``log``,
    ``sqrt``, ``tanh``, ``sigmoid``, ``/`` and ``** float`` of an integer tensor are float32, as in torch)."""
    return a._data if _category(a.backend, a._data.dtype) == 2 else a.backend.astype(a._data, DEFAULT_DTYPE)


def _with_number(a: Tensor, b: Any, divides: bool = False) -> tuple[Any, Any]:
    """``(a's data, the number b)`` with ``a``'s data cast to ``result_dtype`` (and to the default float for
    a true division), so ``int_tensor + 1.5`` is float32, never float64, on every backend."""
    k = _operand_data(a, b)
    ad = a._data
    category = _category(a.backend, ad.dtype)
    if type(k) is bool and category:  # True is 1 beside a number tensor, as torch (the standard refuses the mix)
        k = int(k)
    if category == 2 or (category == 1 and not divides and not isinstance(k, float)):
        return ad, k  # the common cases (a float tensor; integers with an integer), where nothing changes
    target = result_dtype(a.backend, [ad], [k])
    if divides:
        target = _float_dtype(a.backend, target)
    return (ad if ad.dtype == target else a.backend.xp.astype(ad, target)), k


def _promote(a: Tensor, b: Tensor) -> tuple[Any, Any]:
    """The two arrays cast to their ``result_dtype`` (torch's promotion)."""
    ad, bd = a._data, b._data
    if ad.dtype != bd.dtype:
        target = result_dtype(a.backend, [ad, bd])
        xp = a.backend.xp
        ad = ad if ad.dtype == target else xp.astype(ad, target)
        bd = bd if bd.dtype == target else xp.astype(bd, target)
    return ad, bd


def _axes(axis: Axis, ndim: int) -> tuple[int, ...]:
    """``axis`` (an int, a sequence, or None) as sorted non-negative axes, as torch reads ``dim``: None and
    ``()`` mean every axis; a 0-d tensor accepts 0 and -1 (and reduces nothing). Raises IndexError for an axis
    out of range and ValueError for a repeated one."""
    axes = () if axis is None else (axis,) if isinstance(axis, int) else tuple(axis)
    if not axes:
        return tuple(range(ndim))
    span = builtins.max(ndim, 1)
    for a in axes:
        if not isinstance(a, (int, np.integer)) or isinstance(a, bool):
            raise TypeError(f"an axis must be an int, got {type(a).__name__} {a!r}")
        if not -span <= a < span:
            raise IndexError(f"axis {a} is out of range for a tensor with {ndim} dimensions (expected an axis in "
                             f"[{-span}, {span - 1}])")
    out = tuple(sorted(int(a) % span for a in axes))
    if len(set(out)) != len(out):
        raise ValueError(f"axis {axis} names an axis more than once")
    return out if ndim else ()


def _keepdims_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


# Arithmetic.
@ieee
def add(a: Tensor, b: Any) -> Tensor:
    """``a + b`` with broadcasting; ``b`` a Tensor or a Python/numpy number (which adopts ``a``'s dtype)."""
    if isinstance(b, Scalar):
        ad, k = _with_number(a, b)
        return Tensor._node(ad + k, (a,), lambda g: (g,), "add")
    b = _as_tensor(a, b)
    ad, bd = _promote(a, b)
    return Tensor._node(ad + bd, (a, b), lambda g: (_unbroadcast(g, a), _unbroadcast(g, b)), "add")


def _no_bool_subtraction(a: Tensor, b: Any) -> None:
    """Raise TypeError, as torch does, when a subtraction has a bool operand."""
    xp = a.backend.xp
    if a._data.dtype == xp.bool or isinstance(b, (bool, np.bool_)) or (
            isinstance(b, Tensor) and b._data.dtype == b.backend.xp.bool):
        raise TypeError("subtraction with a bool tensor or bool is not supported (as in torch); convert the mask "
                        "first, e.g. mask.astype('int64')")


@ieee
def sub(a: Tensor, b: Any) -> Tensor:
    """``a - b`` with broadcasting. Raises TypeError for a bool operand (as torch)."""
    _no_bool_subtraction(a, b)
    if isinstance(b, Scalar):
        ad, k = _with_number(a, b)
        return Tensor._node(ad - k, (a,), lambda g: (g,), "sub")
    b = _as_tensor(a, b)
    ad, bd = _promote(a, b)
    return Tensor._node(ad - bd, (a, b), lambda g: (_unbroadcast(g, a), _unbroadcast(-g, b)), "sub")


@ieee
def rsub(a: Tensor, b: Any) -> Tensor:
    """``b - a`` for a number ``b`` (an array ``b`` broadcasts, as ``sub``)."""
    _no_bool_subtraction(a, b)
    if not isinstance(b, Scalar):
        return sub(_as_tensor(a, b), a)
    ad, k = _with_number(a, b)
    return Tensor._node(k - ad, (a,), lambda g: (-g,), "rsub")


def neg(a: Tensor) -> Tensor:
    """``-a``."""
    return Tensor._node(-a._data, (a,), lambda g: (-g,), "neg")


@ieee
def mul(a: Tensor, b: Any) -> Tensor:
    """``a * b`` with broadcasting."""
    if isinstance(b, Scalar):
        ad, k = _with_number(a, b)
        return Tensor._node(ad * k, (a,), lambda g: (g * k,), "mul")
    b = _as_tensor(a, b)
    ad, bd = _promote(a, b)
    return Tensor._node(ad * bd, (a, b), lambda g: (_unbroadcast(g * bd, a), _unbroadcast(g * ad, b)), "mul",
                        (a, b))


@ieee
def div(a: Tensor, b: Any) -> Tensor:
    """``a / b`` with broadcasting: d/da = 1/b, d/db = -a/b**2."""
    if isinstance(b, Scalar):
        ad, k = _with_number(a, b, divides=True)
        return Tensor._node(ad / k, (a,), lambda g: (g / k,), "div")
    b = _as_tensor(a, b)
    ad, bd = _promote(a, b)
    if not _is_float(a.backend, ad):  # int / int is the default float, as in torch
        ad, bd = a.backend.astype(ad, DEFAULT_DTYPE), a.backend.astype(bd, DEFAULT_DTYPE)
    out = ad / bd
    return Tensor._node(out, (a, b), lambda g: (_unbroadcast(g / bd, a), _unbroadcast(-g * out / bd, b)), "div",
                        (a, b, OUTPUT))


@ieee
def rdiv(a: Tensor, b: Any) -> Tensor:
    """``b / a`` for a number ``b``: d/da = -b/a**2 (an array ``b`` broadcasts, as ``div``)."""
    if not isinstance(b, Scalar):
        return div(_as_tensor(a, b), a)
    ad, k = _with_number(a, b, divides=True)
    out = k / ad
    return Tensor._node(out, (a,), lambda g: (-g * out / ad,), "rdiv", (a, OUTPUT))


def _power(xp: Any, x: Any, k: Any) -> Any:
    """``x ** k`` for a number ``k``, with torch's special cases of a float ``x`` (``pow_tensor_scalar``): 2 and 3
    by products, -1 and -2 by a division, 0.5 and -0.5 by a square root. They are torch's exact values (x**3 is
    ``x * x * x`` there), and 100-200x faster than numpy's ``powf`` for 3 and -0.5 (x**3 is makemore's GELU)."""
    if k not in _POWERS or not xp.isdtype(x.dtype, "real floating"):
        return x**k
    return _POWERS[k](xp, x)


_POWERS: dict[float, Callable[[Any, Any], Any]] = {
    2: lambda xp, x: x * x, 3: lambda xp, x: x * x * x, -1: lambda xp, x: 1.0 / x, -2: lambda xp, x: 1.0 / (x * x),
    0.5: lambda xp, x: xp.sqrt(x), -0.5: lambda xp, x: 1.0 / xp.sqrt(x)}


@ieee
def pow(a: Tensor, b: Any) -> Tensor:  # noqa: A001 (the operator's name)
    """``a ** b``: d/da = b a**(b-1) (0 where b == 0); for a Tensor exponent d/db = a**b ln(a), which is 0 where
    a == 0 and b >= 0 (torch's values at a base of zero), -inf/inf where a == 0 and b < 0, nan where a < 0.
    An integer tensor to a float power is float32 (the default float); int ** int stays an integer."""
    xp = a.backend.xp
    if isinstance(b, Scalar):
        ad, k = _with_number(a, b)
        if k == 0:  # a**0 is constant; k * a**-1 would be 0 * inf = nan at a = 0
            return Tensor._node(ad**k, (a,), lambda g: (xp.zeros_like(g),), "pow")
        return Tensor._node(_power(xp, ad, k), (a,), lambda g: (g * k * _power(xp, ad, k - 1),), "pow", (a,))
    b = _as_tensor(a, b)
    ad, bd = _promote(a, b)
    out = ad**bd

    def backward(g: Any) -> tuple[Any, Any]:
        zero = xp.zeros_like(out)
        da = xp.where(bd == 0, zero, bd * ad ** (bd - 1))
        db = xp.where((ad == 0) & (bd >= 0), zero, out * xp.log(ad))
        return _unbroadcast(g * da, a), _unbroadcast(g * db, b)

    return Tensor._node(out, (a, b), backward, "pow", (a, b, OUTPUT))


@ieee
def rpow(a: Tensor, b: Any) -> Tensor:
    """``b ** a`` for a number ``b``: d/da = b**a ln(b); 0 where b == 0 and a >= 0 (torch's value), nan for
    b < 0 (an array ``b`` broadcasts, as ``pow``)."""
    if not isinstance(b, Scalar):
        return pow(_as_tensor(a, b), a)
    ad, k = _with_number(a, b)
    xp = a.backend.xp
    out = k**ad
    if k > 0:
        log_k = math.log(k)
        return Tensor._node(out, (a,), lambda g: (g * out * log_k,), "rpow", (OUTPUT,))
    if k == 0:
        return Tensor._node(out, (a,), lambda g: (xp.where(ad >= 0, xp.zeros_like(g), g * out * -math.inf),),
                            "rpow", (a, OUTPUT))
    return Tensor._node(out, (a,), lambda g: (g * math.nan,), "rpow")


@ieee
def matmul(a: Tensor, b: Any) -> Tensor:
    """``a @ b``: 1-D and batched operands as in numpy (batch axes broadcast, gradients summed back)."""
    b = _as_tensor(a, b)
    ad, bd = _promote(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul needs operands with at least one dimension; use * for scalars")
    if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
        raise ValueError(f"matmul shape mismatch: {a.shape} @ {b.shape} (the inner dimensions differ)")
    xp = a.backend.xp

    def backward(g: Any) -> tuple[Any, Any]:
        a2 = ad if a.ndim > 1 else xp.reshape(ad, (1, -1))
        b2 = bd if b.ndim > 1 else xp.reshape(bd, (-1, 1))
        g2 = xp.reshape(g, (*g.shape, 1)) if b.ndim == 1 else g
        g2 = xp.reshape(g2, (*g2.shape[:-1], 1, g2.shape[-1])) if a.ndim == 1 else g2
        ga = g2 @ xp.matrix_transpose(b2)
        gb = xp.matrix_transpose(a2) @ g2
        ga = xp.reshape(ga, (*ga.shape[:-2], ga.shape[-1])) if a.ndim == 1 else ga
        gb = xp.reshape(gb, gb.shape[:-1]) if b.ndim == 1 else gb
        return _unbroadcast(ga, a), _unbroadcast(gb, b)

    return Tensor._node(ad @ bd, (a, b), backward, "matmul", (a, b))


def mm(input: Tensor, mat2: Any) -> Tensor:  # noqa: A002 (torch's name)
    """``(n, m) @ (m, p) -> (n, p)``, as ``torch.mm``: both operands 2-D, no broadcasting (``matmul`` does that).

    Raises:
        RuntimeError: an operand that is not 2-D, inner dimensions or dtypes that differ (torch's messages)."""
    mat2 = _as_tensor(input, mat2)
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"{'self' if input.ndim != 2 else 'mat2'} must be a matrix (mm takes two 2-D tensors, got "
                           f"{input.ndim}-D and {mat2.ndim}-D; matmul broadcasts)")
    if input.shape[1] != mat2.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({input.shape[0]}x{input.shape[1]} and "
                           f"{mat2.shape[0]}x{mat2.shape[1]})")
    _same_dtype(input, mat2)
    return matmul(input, mat2)


def _same_dtype(m1: Tensor, m2: Tensor) -> None:
    """torch's refusal of mixed dtypes in ``mm`` and ``bmm`` (``@`` promotes; see ``matmul``)."""
    if m1.dtype != m2.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {m1.dtype} != {m2.dtype}")


def bmm(input: Tensor, mat2: Any) -> Tensor:  # noqa: A002 (torch's name)
    """``(b, n, m) @ (b, m, p) -> (b, n, p)``, as ``torch.bmm``: both operands 3-D with the same batch, no
    broadcasting.

    Raises:
        RuntimeError: an operand that is not 3-D, batches, inner dimensions or dtypes that differ."""
    mat2 = _as_tensor(input, mat2)
    if input.ndim != 3 or mat2.ndim != 3:
        raise RuntimeError(f"{'batch1' if input.ndim != 3 else 'batch2'} must be a 3D tensor (bmm got "
                           f"{input.ndim}-D and {mat2.ndim}-D)")
    if input.shape[0] != mat2.shape[0] or input.shape[2] != mat2.shape[1]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{input.shape[0]}, {input.shape[2]}] but got: [{mat2.shape[0]}, {mat2.shape[1]}].")
    _same_dtype(input, mat2)
    return matmul(input, mat2)


def dot(input: Tensor, tensor: Any) -> Tensor:  # noqa: A002 (torch's name)
    """The inner product of two 1-D tensors of one length and dtype, a 0-d tensor, as ``torch.dot``.

    Raises:
        RuntimeError: an operand that is not 1-D, lengths or dtypes that differ (torch does not promote)."""
    tensor = _as_tensor(input, tensor)
    if input.ndim != 1 or tensor.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {tensor.ndim}D tensors")
    if input.shape[0] != tensor.shape[0]:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{input.shape[0]}] and src "
                           f"[{tensor.shape[0]}] to have the same number of elements, but got {input.shape[0]} and "
                           f"{tensor.shape[0]} elements respectively")
    if input.dtype != tensor.dtype:
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found {input.dtype} and "
                           f"{tensor.dtype}")
    return matmul(input, tensor)


def clone(input: Tensor, *, memory_format: Any = None) -> Tensor:  # noqa: A002 (torch's name)
    """A copy of ``input`` (same shape, dtype, backend) recorded in the graph, as ``torch.clone``
    (``Tensor.clone``); ``memory_format`` is accepted and ignored (gradkit's arrays are C-ordered)."""
    return input.clone()


def is_tensor(obj: Any) -> bool:
    """True when ``obj`` is a gradkit ``Tensor`` (a ``Parameter`` too), as ``torch.is_tensor``."""
    return isinstance(obj, Tensor)


# Elementwise functions.
@ieee
def exp(a: Tensor) -> Tensor:
    """``e ** a``; overflows to inf as IEEE does. An integer tensor gives float32 (as torch)."""
    out = a.backend.xp.exp(_float_data(a))
    return Tensor._node(out, (a,), lambda g: (g * out,), "exp", (OUTPUT,))


@ieee
def log(a: Tensor) -> Tensor:
    """Natural log; ``log(0) = -inf`` and ``log(x < 0) = nan`` as IEEE (and torch) say, without warnings."""
    ad = _float_data(a)
    return Tensor._node(a.backend.xp.log(ad), (a,), lambda g: (g / ad,), "log", (a,))


def tanh(a: Tensor) -> Tensor:
    """Hyperbolic tangent; d/da = 1 - tanh(a)**2. An integer tensor gives float32."""
    out = a.backend.xp.tanh(_float_data(a))

    def backward(g: Any) -> tuple[Any]:  # g * (1 - out**2), the last product in place
        d = a.backend.scratch(1 - out * out)
        d *= g
        return (d,)

    return Tensor._node(out, (a,), backward, "tanh", (OUTPUT,))


def sigmoid(a: Tensor) -> Tensor:
    """``1 / (1 + e**-a)``, from ``e = e**-|a|`` (which never overflows): ``1 / (1 + e)`` for ``a >= 0`` and
    ``e / (1 + e)`` below, so large negative inputs keep their tiny values (sigmoid(-100) is 3.7e-44 in float64,
    as torch) instead of rounding to 0. d/da = s (1 - s). An integer tensor gives float32."""
    xp = a.backend.xp
    ad = _float_data(a)
    e = xp.exp(-xp.abs(ad))
    out = xp.where(ad >= 0, 1 / (1 + e), e / (1 + e))
    return Tensor._node(out, (a,), lambda g: (g * out * (1 - out),), "sigmoid", (OUTPUT,))


def relu(a: Tensor) -> Tensor:
    """``max(a, 0)``, with nan propagated (relu(nan) = nan, as torch); the gradient passes where ``a > 0`` and
    at nan (torch's ``threshold_backward``), not at exactly 0. Raises RuntimeError for a bool tensor (as torch)."""
    xp = a.backend.xp
    if a._data.dtype == xp.bool:
        raise RuntimeError("Boolean inputs not supported for relu")
    off = a._data <= 0
    out = xp.where(off, xp.zeros_like(a._data), a._data)  # not a * mask: -inf * 0 is nan
    return Tensor._node(out, (a,), lambda g: (g * xp.astype(xp.logical_not(off), g.dtype),), "relu")


def abs(a: Tensor) -> Tensor:  # noqa: A001
    """``|a|``; d/da = sign(a), 0 at 0 and at nan (as torch)."""
    xp = a.backend.xp
    ad = a._data

    def backward(g: Any) -> tuple[Any]:
        return (g * (xp.astype(ad > 0, g.dtype) - xp.astype(ad < 0, g.dtype)),)

    return Tensor._node(xp.abs(ad), (a,), backward, "abs", (a,))


# Reductions.
@ieee
def sum(a: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Sum over ``axis`` (an int, a tuple, or None or ``()`` for all, as torch's ``dim``). An empty axis sums to 0;
    a bool tensor sums to int64 (a count), as torch."""
    xp = a.backend.xp
    axes = _axes(axis, a.ndim)
    shape = _keepdims_shape(a.shape, axes)
    data = a._data if _category(a.backend, a._data.dtype) else a.backend.astype(a._data, "int64")  # bools count
    out = xp.sum(data, axis=axes, keepdims=keepdims)
    return Tensor._node(out, (a,), lambda g: (xp.broadcast_to(xp.reshape(g, shape), a.shape),), "sum")


@ieee
def mean(a: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis`` (as ``sum``); the mean of an empty axis is nan (as torch, without a warning).

    Raises:
        TypeError: ``a`` is an integer or bool tensor (as torch: the mean has no integer dtype); use
            ``a.astype("float32").mean()``.
    """
    if not _is_float(a.backend, a._data):
        raise TypeError(f"mean() of a {a.dtype} tensor: the mean of integers is not an integer; convert first, "
                        "e.g. t.astype('float32').mean() (as torch, which raises too)")
    axes = _axes(axis, a.ndim)
    count = math.prod(a.shape[i] for i in axes)
    return div(sum(a, axes, keepdims), count) if count else mul(sum(a, axes, keepdims), math.nan)


def _reduced_nonempty(a: Tensor, axes: tuple[int, ...], name: str) -> None:
    """Raise ValueError (torch: IndexError) when ``name`` reduces over an empty axis, which has no maximum."""
    empty = [i for i in axes if a.shape[i] == 0]
    if empty or (not axes and a.size == 0):
        raise ValueError(f"{name}() over an empty axis ({'axis ' + str(empty[0]) if empty else 'all axes'} of a "
                         f"tensor of shape {a.shape}) has no value; reduce over a non-empty axis")


def max(a: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Maximum over ``axis`` (as ``sum``); the gradient is shared equally among tied maxima, as ``torch.max()``
    (for ``axis=None``) and ``torch.amax(x, dim)`` do; nan wins, and its gradient is torch's: shared among the
    nans for ``axis=None``, nan for an axis. Raises ValueError over an empty axis."""
    return _extremum(a, axis, keepdims, True)


def min(a: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Minimum over ``axis``, as ``max`` (exact at an integer type's minimum; a bool tensor's is ``all``)."""
    return _extremum(a, axis, keepdims, False)


def _extremum(a: Tensor, axis: Axis, keepdims: bool, largest: bool) -> Tensor:
    xp = a.backend.xp
    axes = _axes(axis, a.ndim)
    _reduced_nonempty(a, axes, "max" if largest else "min")
    if _category(a.backend, a._data.dtype) == 0:  # the array API orders no bools: any is their maximum, all minimum
        return Tensor._wrap((xp.any if largest else xp.all)(a._data, axis=axes, keepdims=keepdims), a.backend)
    top = (xp.max if largest else xp.min)(a._data, axis=axes, keepdims=True)
    out = top if keepdims else xp.reshape(top, tuple(n for i, n in enumerate(a.shape) if i not in axes))

    def backward(g: Any) -> tuple[Any]:
        hit = a._data == top
        if axis is None:  # torch.max(): a nan maximum's gradient is shared among the nans (amax(dim): all nan)
            hit = hit | (xp.isnan(a._data) & xp.isnan(top))
        mask = xp.astype(hit, g.dtype)
        return (mask * (xp.reshape(g, top.shape) / xp.sum(mask, axis=axes, keepdims=True)),)

    return Tensor._node(out, (a,), backward, "max" if largest else "min", (a, OUTPUT))


def argmax(a: Tensor, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the maximum along ``axis`` (of the flattened tensor for None), int64, not differentiable; the
    first of tied maxima. Raises ValueError over an empty axis."""
    xp = a.backend.xp
    axes = _axes(axis, a.ndim)
    _reduced_nonempty(a, axes, "argmax")
    if not a.ndim:
        return Tensor._wrap(a.backend.zeros((), "int64"), a.backend)
    data = a._data
    if axis is None:
        data = xp.reshape(data, (-1,))
    out = xp.argmax(data, axis=None if axis is None else axes[0], keepdims=keepdims and axis is not None)
    if keepdims and axis is None:
        out = xp.reshape(out, (1,) * a.ndim)
    return Tensor._wrap(a.backend.astype(out, "int64"), a.backend)


def _scatter_along(backend: Any, shape: tuple[int, ...], axis: int, index: Any, values: Any) -> Any:
    """Zeros of ``shape`` with ``values`` added at ``index`` along ``axis`` (repeats summed): torch's
    ``scatter_add`` along a dim, the backward of a gather along one (sort, cummax). ``index`` (integers in
    ``[0, shape[axis])``) and ``values`` have one shape, which is ``shape`` except along ``axis``."""
    xp = backend.xp
    idx, vals = xp.moveaxis(index, axis, -1), xp.moveaxis(values, axis, -1)
    n, k, rest = shape[axis], idx.shape[-1], idx.shape[:-1]
    rows = math.prod(rest)
    flat = xp.reshape(idx, (rows, k)) + xp.reshape(backend.arange(rows, dtype=idx.dtype) * n, (rows, 1))
    out = backend.scatter_add(backend.zeros((rows * n,), values.dtype), xp.reshape(flat, (-1,)),
                              xp.reshape(vals, (-1,)))
    return xp.moveaxis(xp.reshape(out, (*rest, n)), -1, axis)


# Shapes.
def view_op(a: Tensor, fn: Callable[[Any], Any], backward: Callable[[Any], Sequence[Any]], op: str) -> Tensor:
    """The tensor of a view op: ``fn(a._data)``, where ``fn`` maps an array of ``a``'s shape to a view of it
    (basic slicing, ``reshape`` without a copy, ``permute_dims``, ``broadcast_to``, ...), recorded with
    ``backward`` as op ``op``. The result shares ``a``'s storage and version counter, as PyTorch's views do: a
    write through either is seen by the other (``fn`` is applied again where the storage must be rebound).
    ``expand``'s views overlap: writing through one raises torch's error."""
    return _inplace.view(a, fn, backward, op)


def _reshapes_as_view(backend: Any, x: Any, shape: tuple[int, ...]) -> bool:
    """True when ``x`` reshapes to ``shape`` without a copy: always for a C-contiguous array (the common case),
    otherwise when the namespace's ``reshape(copy=False)`` agrees."""
    if backend.contiguous(x):
        return True
    try:
        backend.xp.reshape(x, shape, copy=False)
    except (ValueError, AttributeError, TypeError):
        return False
    return True


def reshape(a: Tensor, *shape: Any) -> Tensor:
    """The same elements in ``shape`` (ints or one tuple; one axis may be -1)."""
    shape = dims(shape)
    xp = a.backend.xp
    try:
        out = xp.reshape(a._data, shape)
    except ValueError as exc:
        raise ValueError(f"cannot reshape a tensor of shape {a.shape} into {shape}: {exc}") from None
    shape = tuple(out.shape)  # -1 resolved
    backward = lambda g: (xp.reshape(g, a.shape),)  # noqa: E731
    if _inplace.overlaps(a):  # an expanded view: a copy, as torch's (never the memory of the view's array)
        return Tensor._node(xp.asarray(out, copy=True), (a,), backward, "reshape")
    if not _reshapes_as_view(a.backend, a._data, shape):  # a copy (a non-contiguous input): a new tensor, as torch's
        return Tensor._node(out, (a,), backward, "reshape")
    return view_op(a, lambda x: xp.reshape(x, shape), backward, "reshape")


def permute(a: Tensor, axes: Sequence[int] | None = None) -> Tensor:
    """Axes permuted by ``axes`` (default: reversed, as ``.T``). PyTorch's two-axis ``transpose(dim0, dim1)`` is
    ``gradkit.shapes.transpose``."""
    perm = tuple(reversed(range(a.ndim))) if axes is None else tuple(i % a.ndim for i in axes)
    inverse = tuple(sorted(range(len(perm)), key=perm.__getitem__))
    xp = a.backend.xp
    return view_op(a, lambda x: xp.permute_dims(x, perm), lambda g: (xp.permute_dims(g, inverse),), "permute")


def expand(a: Tensor, *sizes: Any) -> Tensor:
    """``a`` broadcast to ``sizes`` without copying, as ``torch.Tensor.expand``: ``-1`` keeps an axis, new axes
    go in front, and only size-1 axes grow. A view whose elements share memory: writing through it raises.

    Raises:
        RuntimeError: torch's message for a size that is neither -1, the axis's size, nor a growth of 1.
        TypeError: no size at all (``expand(())`` is the 0-d shape)."""
    if not sizes:
        raise TypeError('expand() missing 1 required positional arguments: "size"')
    sizes = dims(sizes)
    lead = len(sizes) - a.ndim
    if lead < 0:
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to the "
                           f"number of dimensions in the tensor ({a.ndim})")
    shape = []
    for i, n in enumerate(sizes):
        if i < lead:  # a new axis in front
            if n < 0:
                raise RuntimeError(f"The expanded size of the tensor ({n}) isn't allowed in a leading, non-existing "
                                   f"dimension {i}")
            shape.append(int(n))
            continue
        old = a.shape[i - lead]
        n = old if n == -1 else n
        if n < 0 or (old != 1 and n != old):
            raise RuntimeError(f"The expanded size of the tensor ({n}) must match the existing size ({old}) at "
                               f"non-singleton dimension {i}.  Target sizes: {list(sizes)}.  Tensor sizes: "
                               f"{list(a.shape)}")
        shape.append(int(n))
    target = tuple(shape)
    xp = a.backend.xp
    return view_op(a, lambda x: xp.broadcast_to(x, target), lambda g: (_unbroadcast(g, a),), "expand")


def concat(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """The tensors joined along an existing ``axis``."""
    first = tensors[0]
    parts = [_as_tensor(first, t) for t in tensors]
    xp = first.backend.xp
    axis = axis % first.ndim
    bounds = [0]
    for t in parts:
        bounds.append(bounds[-1] + t.shape[axis])
    target = result_dtype(first.backend, [t._data for t in parts])  # torch's promotion (ints with floats: float)
    out = xp.concat([first.backend.astype(t._data, target) for t in parts], axis=axis)

    def backward(g: Any) -> list[Any]:
        lead = (slice(None),) * axis
        pieces = (g[lead + (slice(lo, hi), ...)] for lo, hi in zip(bounds[:-1], bounds[1:]))  # `...`: strict
        return [_unbroadcast(piece, t) for piece, t in zip(pieces, parts)]

    return Tensor._node(out, tuple(parts), backward, "concat")


def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """The tensors joined along a new ``axis``."""
    first = tensors[0]
    axis = axis % (first.ndim + 1)
    return concat([reshape(t, (*t.shape[:axis], 1, *t.shape[axis:])) for t in tensors], axis)


# Indexing.
def compare(a: Tensor, b: Any, op: Callable[[Any, Any], Any]) -> Tensor:
    """``op(a, b)`` for a comparison ``op`` (``operator.lt``, ...), after torch's promotion (an int64 tensor
    compares with a float32 one on every backend); a bool tensor, not differentiable."""
    if isinstance(b, Scalar):
        ad, k = _with_number(a, b)
        return Tensor._wrap(op(ad, k), a.backend)
    ad, bd = _promote(a, _as_tensor(a, b))
    return Tensor._wrap(op(ad, bd), a.backend)


def getitem(a: Tensor, key: Any) -> Tensor:
    """``a[key]``, with torch's meaning.

    Ints, slices, None and ``...`` index as numpy (a view's values, copied). An integer array (a Tensor, a list,
    an array of ``a``'s backend) gathers rows along axis 0, repeated indices included (an embedding lookup); a
    tuple of integer arrays gathers elements ``a[i, j]`` (broadcast together). A boolean mask (a bool Tensor or
    array, or a list of bools) of the shape of ``a``'s leading axes selects those rows or elements, as torch's
    ``a[mask]``. Every gather records its backward (``backend.scatter_add``).

    Index arrays mixed with slices and ints (``x[:, [-1], :]``, ``x[0, :, idx]``) gather as torch does: the
    slices and ints select first (a view), then the arrays gather; the gathered axes stand where the arrays stood
    when those are adjacent, else in front. (numpy differs where an int is separated from an array: it counts the
    int as an index array.)

    Raises:
        IndexError: an integer index outside ``[-n, n)`` for an axis of size ``n`` (the message names the index
            and the size), a mask whose shape does not match, float index arrays, too many indices, or index
            arrays mixed with ``None`` (new axes).
        DeviceMismatchError: an index array on another backend.
    """
    if isinstance(key, Tensor) and key.backend is a.backend and getattr(key._data.dtype, "kind", "") in ("i", "u"):
        return _gather(a, [key._data])  # the embedding lookup's fast path
    mixed = _mixed_key(a, key)
    if mixed is not None:
        return _mixed_gather(a, *mixed)
    arrays = _index_arrays(a, key)
    if arrays is None:
        key = key if isinstance(key, tuple) else (key,)
        if not any(k is Ellipsis for k in key):
            key = (*key, Ellipsis)  # the standard indexes every axis; numpy's implicit trailing ':' made explicit
        key = _clamped_slices(key, a.shape)
        out = a._data[key]
        # the backward writes g into zeros at the key without its new axes (None), which assignment refuses
        put = tuple(k for k in key if k is not None)
        put_shape = out.shape if len(put) == len(key) else a._data[put].shape

        def backward(g: Any) -> tuple[Any]:
            value = g if put_shape == g.shape else a.backend.xp.reshape(g, put_shape)
            return (a.backend.setitem(a.backend.zeros(a.shape, g.dtype), put, value),)

        return view_op(a, lambda x: x[key], backward, "getitem")
    return _gather(a, arrays)


def _mixed_key(a: Tensor, key: Any) -> tuple[tuple, list[Any]] | None:
    """For a key that mixes index arrays (or masks) with slices or ints: ``(the basic key, per-axis items of what
    the basic key leaves)``, where the basic key holds the slices and ints (torch indexes with those first) and
    ``slice(None)`` on the other axes, and the items hold ``slice(None)`` or an integer array per remaining axis
    (``...`` expanded, a mask of ``d`` axes as its ``d`` nonzero arrays). None for any other key. Raises
    IndexError for ``None`` among them, a mask that does not fit, or too many indices."""
    keys = key if isinstance(key, tuple) else (key,)
    if not any(isinstance(k, (slice, int, np.integer)) or k is Ellipsis for k in keys):
        return None
    arrays = [None if isinstance(k, (slice, int, np.integer)) or k is None or k is Ellipsis else _int_array(a, k)
              for k in keys]
    if all(k is None for k in arrays):
        return None
    if any(k is None for k in keys):
        raise IndexError("index arrays mixed with None (a new axis) are not supported; add the axis in a second "
                         "step (x[...][:, None])")
    xp = a.backend.xp
    basic: list[Any] = []
    items: list[Any] = []
    for k, arr in zip(keys, arrays):
        if k is Ellipsis:
            used = builtins.sum(1 if x is None or x.dtype != xp.bool else x.ndim for x, kk in zip(arrays, keys)
                                if kk is not Ellipsis)
            basic.extend([slice(None)] * (a.ndim - used))
            items.extend([slice(None)] * (a.ndim - used))
        elif arr is None:
            basic.append(k)
            if isinstance(k, slice):
                items.append(slice(None))
        elif arr.dtype == xp.bool:
            items.extend(_mask_nonzero(a, arr, len(basic)))
            basic.extend([slice(None)] * arr.ndim)
        else:
            basic.append(slice(None))
            items.append(arr)
    if len(basic) > a.ndim:
        raise IndexError(f"too many indices ({len(basic)}) for a tensor of shape {a.shape}")
    items.extend([slice(None)] * (a.ndim - len(basic)))
    return tuple(basic), items


def _mixed_gather(a: Tensor, basic: tuple, items: list[Any]) -> Tensor:
    """``a[basic]`` (slices and ints: a view), then the integer arrays of ``items`` gathered on their axes, as
    torch: the indexed axes moved to the front (a view), one gather, and the gathered axes moved back to where
    the arrays stood when those axes are adjacent."""
    sliced = getitem(a, basic)
    adv = [i for i, k in enumerate(items) if not isinstance(k, slice)]
    rest = [i for i in range(sliced.ndim) if i not in adv]
    front = permute(sliced, adv + rest) if adv + rest != list(range(sliced.ndim)) else sliced
    out = _gather(front, [items[i] for i in adv])
    if adv != list(range(adv[0], adv[0] + len(adv))) or adv[0] == 0:
        return out
    batch = out.ndim - len(rest)  # the gathered axes, in front now
    order = list(range(batch, batch + adv[0])) + list(range(batch)) + list(range(batch + adv[0], out.ndim))
    return permute(out, order)


def _clamped_slices(key: tuple, shape: tuple[int, ...]) -> tuple:
    """``key`` (with one ``...``) with every forward slice's bounds clamped to its axis, as numpy and torch read
    them (``x[-5:]`` of 3 elements is all 3); the array API standard leaves out-of-range bounds unspecified.
    Raises IndexError, in torch's words, for an integer outside ``[-n, n)`` on an axis of size ``n``."""
    cut = key.index(Ellipsis)
    after = builtins.sum(1 for k in key[cut + 1:] if k is not None)
    out, axis = list(key), 0
    for i, k in enumerate(key):
        if k is Ellipsis:
            axis = len(shape) - after
        elif k is not None:
            if isinstance(k, slice) and (k.step is None or k.step > 0) and axis < len(shape):
                out[i] = slice(*k.indices(shape[axis]))
            elif isinstance(k, (int, np.integer)) and axis < len(shape) and not -shape[axis] <= k < shape[axis]:
                raise IndexError(f"index {k} is out of bounds for dimension {axis} with size {shape[axis]}")
            axis += 1
    return tuple(out)


def _index_arrays(a: Tensor, key: Any) -> list[Any] | None:
    """One integer array per leading axis of ``a`` for an integer-array or mask key (a mask of ``d`` axes
    becomes ``d`` arrays, its ``nonzero``), or None for basic indexing."""
    keys = key if isinstance(key, tuple) else (key,)
    arrays = [_int_array(a, k) for k in keys]
    if all(k is None for k in arrays):
        return None
    if any(k is None for k in arrays):
        raise IndexError("mixing integer arrays or masks with slices in one index is not supported; index in two "
                         "steps")
    flat: list[Any] = []
    xp = a.backend.xp
    for k in arrays:
        flat.extend(_mask_nonzero(a, k, len(flat)) if k.dtype == xp.bool else (k,))
    if len(flat) > a.ndim:
        raise IndexError(f"too many indices ({len(flat)}) for a tensor of shape {a.shape}")
    return flat


def _mask_nonzero(a: Tensor, mask: Any, axis: int) -> tuple[Any, ...]:
    """The integer arrays (``nonzero``) of a boolean ``mask`` that selects from ``a``'s axes from ``axis`` on.
    Raises IndexError for a mask whose shape is not those axes' shape."""
    if mask.ndim == 0 or tuple(mask.shape) != a.shape[axis:axis + mask.ndim]:
        raise IndexError(f"a boolean mask of shape {tuple(mask.shape)} does not match the tensor's shape {a.shape} "
                         f"at axis {axis}; a mask has the shape of the axes it selects from")
    return tuple(a.backend.xp.nonzero(mask))


def _int_array(a: Tensor, k: Any) -> Any:
    """``k`` as an integer or bool array of ``a``'s backend, or None when it is a basic index."""
    if isinstance(k, Tensor):
        if k.backend != a.backend:
            raise DeviceMismatchError(f"index on {k.backend!r}, tensor on {a.backend!r}: move the index with "
                                      f".to({a.backend.name!r})")
        k = k._data
    elif isinstance(k, range):  # the course's x[range(n), Y]: made on the device (a constant in a compiled step)
        return a.backend.arange(k.start, k.stop, "int64", k.step)
    elif isinstance(k, list):
        host = np.asarray(k)
        if host.dtype.kind not in "biu":
            raise IndexError(f"an index list holds integers or booleans, got {host.dtype}")
        k = a.backend.asarray(host, "bool" if host.dtype == np.bool_ else "int64")
    elif isinstance(k, np.ndarray) and not a.backend.owns(k):
        raise DeviceMismatchError(f"a numpy index array for a tensor on {a.backend!r}: move it with "
                                  f"Tensor(index, backend={a.backend.name!r})")
    elif not a.backend.owns(k) or not hasattr(k, "dtype"):
        return None
    xp = a.backend.xp
    if k.dtype != xp.bool and not xp.isdtype(k.dtype, "integral"):
        raise IndexError(f"index arrays must be integers or booleans (a mask), got {k.dtype}")
    return k


def _check_bounds(a: Tensor, arrays: Sequence[Any]) -> list[Any]:
    """The index arrays with negative entries counted from the end, after one bounds check for all of them.

    Every backend's ``take`` would otherwise read an out-of-range index silently (wrapped or clamped) on some
    device. The check is one fused comparison and reduction per array and ONE device -> host read of a bool per
    lookup: on CuPy that read waits for the queued work (a synchronisation, tens of microseconds, once per
    embedding lookup, which is small next to a training step). Correctness first, as torch (whose CUDA kernels
    assert on the device instead).
    """
    xp = a.backend.xp
    bad = None
    for k, n in zip(arrays, a.shape):
        out = xp.any((k < -n) | (k >= n))
        bad = out if bad is None else bad | out
    if bad is not None:
        raise_if(bad, lambda: _out_of_bounds(a, arrays))
    return [k % n for k, n in zip(arrays, a.shape)]  # in [-n, n) now, so this counts negatives from the end


def _out_of_bounds(a: Tensor, arrays: Sequence[Any]) -> IndexError:
    """The IndexError naming the first index out of range (read on the host, once the check has failed)."""
    for axis, (k, n) in enumerate(zip(arrays, a.shape)):
        host = a.backend.to_numpy(getattr(k, "_v", k)).reshape(-1)
        wrong = host[(host < -n) | (host >= n)]
        if wrong.size:
            return IndexError(f"index {int(wrong[0])} is out of bounds for dimension {axis} with size {n}")
    return IndexError(f"an index is out of bounds for a tensor of shape {a.shape}")


def _take_rows(a: Tensor, index: Any) -> Tensor:
    """``a[index]`` for one signed integer array of any shape, where the namespace's ``take`` checks the bounds,
    counts negative indices from the end and keeps the index's shape (``TAKE_RAISES``: numpy's): one call."""
    backend, shape = a.backend, a._data.shape

    def backward(g: Any) -> tuple[Any]:
        return (backend.scatter_add(backend.zeros(shape, g.dtype), index, g),)

    return Tensor._node(backend.xp.take(a._data, index, axis=0), (a,), backward, "gather")


def _gather(a: Tensor, arrays: Sequence[Any]) -> Tensor:
    """``a[arrays[0], arrays[1], ...]`` (integer arrays broadcast together) as one ``take`` on the leading axes
    flattened, with ``scatter_add`` as its backward."""
    xp, backend, shape = a.backend.xp, a.backend, a._data.shape
    if len(arrays) == 1 and getattr(xp, "TAKE_RAISES", False) and xp.isdtype(arrays[0].dtype, "signed integer"):
        return _take_rows(a, arrays[0])
    arrays = _check_bounds(a, arrays)
    depth, flat = len(arrays), arrays[0]
    for k, n in zip(arrays[1:], shape[1:depth]):
        flat = flat * n + k
    rows = math.prod(shape[:depth])
    table_shape = (rows, *shape[depth:])
    table = a._data if depth == 1 else xp.reshape(a._data, table_shape)
    out = xp.take(table, flat if flat.ndim == 1 else xp.reshape(flat, (-1,)), axis=0)
    if flat.ndim != 1:
        out = xp.reshape(out, (*flat.shape, *shape[depth:]))

    def backward(g: Any) -> tuple[Any]:
        summed = backend.scatter_add(backend.zeros(table_shape, g.dtype), flat, g)
        return (summed if depth == 1 else xp.reshape(summed, a.shape),)

    return Tensor._node(out, (a,), backward, "gather")
