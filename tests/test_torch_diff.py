"""The differential suite: every op that shares a name with PyTorch gives torch's values, dtypes, errors and
gradients, on every backend (numpy, strict; cupy where a GPU answers).

``OPS`` is a table: one line per op (its name, the gradkit call, the torch call when it is spelled differently,
and the strategy that draws its arguments). Hypothesis draws shapes (0-d, size-1 and empty axes, broadcasting
pairs), axes (negative, tuples, None, ``()``), dtypes (float32, float64, int64; mixed between operands) and
values (a grid of quarters in [-4, 4] with zeros and ties, wide floats, nan and +-inf); each example runs on
both libraries and compares:

* errors: where torch raises, gradkit raises (any exception); where torch does not, gradkit must not;
* the output's dtype and shape exactly, its values within ``gradkit.testing.tolerance(dtype)`` (integers and
  booleans exactly; nan matches nan);
* the gradient of every float input, for the same upstream gradient, within the same tolerance.

torch is a test-only dependency (``nox -s torch``); the Value oracle and gradcheck remain the proof of every
gradient (tests/test_tensor_oracle.py), torch is the proof of what the names mean.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from gradkit.backends.random import dtype_name
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import gradkit
from gradkit import Tensor
from gradkit.testing import compare, tolerance

torch = pytest.importorskip("torch")
F = torch.nn.functional

pytestmark = pytest.mark.torch

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True, print_blob=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.filter_too_much])

FLOATS = ("float32", "float64")
ALL = ("float32", "float64", "int64")
WITH_BOOL = (*ALL, "bool")

# Values. The grid's quarters are exact in float32, so sums do not depend on the order of addition, and its
# zeros and repeats hit the kinks (relu, abs at 0, pow at a zero base, ties of max).
GRID = [i / 4 for i in range(-16, 17)]
SPECIAL = [math.nan, math.inf, -math.inf, -0.0]
WIDE = st.one_of(st.floats(-100, 100, width=32), st.sampled_from([-1e4, 1e4, 88.0, -88.0, -100.0, -104.0, 1e-30]))


@dataclass
class Arr:
    """A tensor argument: host values, a dtype name, and whether it is a leaf that requires grad."""

    data: np.ndarray
    dtype: str
    grad: bool = False

    def torch(self) -> Any:
        return torch.tensor(self.data, dtype=getattr(torch, self.dtype), requires_grad=self.grad)

    def gradkit(self, backend: Any) -> Tensor:
        return Tensor(self.data, backend=backend, dtype=self.dtype, requires_grad=self.grad)


class Device:
    """An argument that is the backend under test on gradkit's side and ``"cpu"`` on torch's."""


class Dtype:
    """A dtype argument: ``gradkit.<name>`` on gradkit's side, ``torch.<name>`` on torch's (None: the default)."""

    def __init__(self, name: str | None) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Dtype({self.name!r})"


def elements(dtype: str, values: str, specials: bool) -> st.SearchStrategy:
    if dtype == "int64":
        return st.integers(-4, 4)
    if dtype == "bool":
        return st.booleans()
    base = {"grid": st.sampled_from(GRID), "wide": WIDE, "positive": st.sampled_from([v for v in GRID if v > 0])}
    return st.one_of(base[values], st.sampled_from(SPECIAL)) if specials else base[values]


@st.composite
def arr(draw, shape: tuple[int, ...], dtypes: tuple[str, ...], values: str = "grid", specials: bool = True) -> Arr:
    dtype = draw(st.sampled_from(dtypes))
    flat = draw(st.lists(elements(dtype, values, specials), min_size=math.prod(shape), max_size=math.prod(shape)))
    data = np.array(flat, dtype=np.float64 if dtype != "int64" else np.int64).reshape(shape)
    return Arr(data, dtype, grad=dtype in FLOATS)


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1) -> st.SearchStrategy:
    return array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=4)


# Argument strategies: each draws the whole argument tuple of one op.
def unary(dtypes: tuple[str, ...] = ALL, values: str = "grid", min_side: int = 0) -> st.SearchStrategy:
    return shapes(min_side=min_side).flatmap(lambda s: st.tuples(arr(s, dtypes, values)))


def binary(dtypes: tuple[str, ...] = ALL, values: str = "grid", same_dtype: bool = False) -> st.SearchStrategy:
    @st.composite
    def draw_pair(draw):
        pair = draw(mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=1, max_side=3))
        x = draw(arr(pair.input_shapes[0], dtypes, values))
        y = draw(arr(pair.input_shapes[1], (x.dtype,) if same_dtype else dtypes, values))
        return x, y

    return draw_pair()


NUMBERS = st.sampled_from([0, 1, 2, -3, 0.0, 0.5, -1.5, 2.5])


def with_number(dtypes: tuple[str, ...] = ALL) -> st.SearchStrategy:
    return shapes().flatmap(lambda s: st.tuples(arr(s, dtypes), NUMBERS))


@st.composite
def axes(draw, ndim: int, tuples: bool = True) -> Any:
    span = max(ndim, 1)
    single = st.integers(-span, span - 1)
    options = [st.none(), single]
    if tuples:
        options.append(st.lists(st.integers(0, span - 1), unique=True, max_size=span).map(
            lambda xs: tuple(a - span if i % 2 else a for i, a in enumerate(xs)) if ndim else tuple(xs)))
    return draw(st.one_of(*options))


def reduction(dtypes: tuple[str, ...] = ALL, tuples: bool = True) -> st.SearchStrategy:
    @st.composite
    def draw_args(draw):
        x = draw(arr(draw(shapes(min_side=0)), dtypes))
        return x, draw(axes(x.data.ndim, tuples)), draw(st.booleans())

    return draw_args()


def along_axis(dtypes: tuple[str, ...] = FLOATS, values: str = "grid", min_dims: int = 1) -> st.SearchStrategy:
    @st.composite
    def draw_args(draw):
        x = draw(arr(draw(shapes(min_dims=min_dims)), dtypes, values))
        span = max(x.data.ndim, 1)
        return x, draw(st.integers(-span, span - 1))

    return draw_args()


@st.composite
def matmul_args(draw):
    n, k, m = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    batch = draw(st.sampled_from([(), (2,), (1,)]))
    left = draw(st.sampled_from([(k,), (*batch, n, k)]))
    right = draw(st.sampled_from([(k,), (k, m), (*batch[:1], k, m)]))
    x = draw(arr(left, FLOATS))
    return x, draw(arr(right, (x.dtype,)))  # torch's matmul does not promote (gradkit does: see the notes)


@st.composite
def reshape_args(draw):
    x = draw(arr(draw(shapes()), ALL))
    s = x.data.shape
    return x, draw(st.sampled_from([(-1,), tuple(reversed(s)), (1, *s), (*s, 1), (math.prod(s),)]))


@st.composite
def permute_args(draw):
    x = draw(arr(draw(shapes(min_dims=1)), ALL))
    return x, tuple(draw(st.permutations(range(x.data.ndim))))


@st.composite
def index_args(draw, depth: int = 1):
    """An integer index array per leading axis (broadcast together), sometimes out of range (both must raise)."""
    x = draw(arr(draw(shapes(min_dims=depth)), FLOATS))
    shape = draw(shapes(min_dims=1, max_dims=2))
    index = []
    for n in x.data.shape[:depth]:
        lo, hi = (-n - 1, n) if draw(st.integers(0, 9)) == 0 else (-n, n - 1)
        values = draw(st.lists(st.integers(lo, hi), min_size=math.prod(shape), max_size=math.prod(shape)))
        index.append(Arr(np.array(values, dtype=np.int64).reshape(shape), "int64"))
    return (x, *index)


@st.composite
def mask_args(draw):
    x = draw(arr(draw(shapes(min_dims=1)), FLOATS))
    depth = draw(st.integers(1, x.data.ndim))
    mask = draw(st.lists(st.booleans(), min_size=math.prod(x.data.shape[:depth]),
                         max_size=math.prod(x.data.shape[:depth])))
    return x, Arr(np.array(mask, dtype=bool).reshape(x.data.shape[:depth]), "bool")


BASIC_KEYS = [(slice(1, None),), (slice(None, None, 2),), (0,), (-1,), (Ellipsis, 0), (None,), (slice(None), None),
              (0, Ellipsis), (slice(-2, None), Ellipsis)]


@st.composite
def basic_index_args(draw):
    x = draw(arr(draw(shapes(min_dims=1)), ALL))
    return x, draw(st.sampled_from(BASIC_KEYS))


@st.composite
def join_args(draw, new_axis: bool):
    base = list(draw(shapes(min_dims=1)))
    ndim = len(base) + new_axis
    axis = draw(st.integers(-ndim, ndim - 1))
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        shape = list(base)
        if not new_axis:
            shape[axis] = draw(st.integers(0, 3))
        parts.append(draw(arr(tuple(shape), ALL)))
    return parts, axis


@st.composite
def cross_entropy_args(draw):
    n, c = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    logits = draw(arr((n, c), FLOATS, "wide", specials=False))
    targets = Arr(np.array(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), dtype=np.int64), "int64")
    return logits, targets, draw(st.sampled_from(["mean", "sum", "none"]))


def reduction_with(extra: st.SearchStrategy, dtypes: tuple[str, ...] = FLOATS) -> st.SearchStrategy:
    """``reduction``'s arguments and one more drawn from ``extra`` (a correction, ...)."""
    return st.tuples(reduction(dtypes), extra).map(lambda r: (*r[0], r[1]))


BOUNDS = st.sampled_from([None, -1, 0, 0.5, 2, -1.5])


def unary_with(*extra: st.SearchStrategy, dtypes: tuple[str, ...] = ALL, min_dims: int = 0,
               values: str = "grid", specials: bool = True) -> st.SearchStrategy:
    return shapes(min_dims=min_dims).flatmap(lambda s: st.tuples(arr(s, dtypes, values, specials), *extra))


@st.composite
def masked_fill_args(draw):
    x = draw(arr(draw(shapes()), ALL))
    mask = draw(st.lists(st.booleans(), min_size=x.data.size, max_size=x.data.size))
    value = draw(st.sampled_from([0, -1, 0.5, -math.inf, 2.5]))
    return x, Arr(np.array(mask, dtype=bool).reshape(x.data.shape), "bool"), value


@st.composite
def where_args(draw):
    x, y = draw(binary())
    shape = np.broadcast_shapes(x.data.shape, y.data.shape)
    cond = draw(st.lists(st.booleans(), min_size=math.prod(shape), max_size=math.prod(shape)))
    return Arr(np.array(cond, dtype=bool).reshape(shape), "bool"), x, y


@st.composite
def dim_args(draw, min_dims: int = 1, extra: int = 0, dtypes: tuple[str, ...] = ALL, values: str = "grid",
             specials: bool = True):
    """A tensor and a dim in its range (``extra`` more at the top, for unsqueeze)."""
    x = draw(arr(draw(shapes(min_dims=min_dims)), dtypes, values, specials))
    span = max(x.data.ndim + extra, 1)
    return x, draw(st.integers(-span, span - 1))


@st.composite
def topk_args(draw):
    x, d = draw(dim_args(values="wide", specials=False, dtypes=FLOATS))
    x.data = np.arange(x.data.size, dtype=np.float64).reshape(x.data.shape)[...] * 1.5 - 3  # distinct: the order
    x.data = np.random.default_rng(draw(st.integers(0, 99))).permutation(x.data.reshape(-1)).reshape(x.data.shape)
    n = x.data.shape[d] if x.data.ndim else 1  # of ties is unspecified in torch
    return x, draw(st.integers(0, n + 1)), d, draw(st.booleans())


@st.composite
def expand_args(draw):
    x = draw(arr(draw(shapes(max_dims=3)), ALL))
    target = [draw(st.sampled_from([1, 3])) if n == 1 else draw(st.sampled_from([n, -1])) for n in x.data.shape]
    lead = [draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 1)))]
    return x, tuple(lead + target)


@st.composite
def squeeze_args(draw):
    x = draw(arr(draw(shapes(max_dims=4)), ALL))
    return x, draw(axes(x.data.ndim))


@st.composite
def flatten_args(draw):
    x = draw(arr(draw(shapes()), ALL))
    span = max(x.data.ndim, 1)
    return x, draw(st.integers(-span, span - 1)), draw(st.integers(-span, span - 1))


@st.composite
def transpose_args(draw):
    x = draw(arr(draw(shapes(min_dims=0)), ALL))
    span = max(x.data.ndim, 1)
    return x, draw(st.integers(-span, span - 1)), draw(st.integers(-span, span - 1))


@st.composite
def layout_cross_entropy_args(draw):
    """PyTorch's layouts: (C,), (N, C) or (N, C, d); targets sometimes ``ignore_index``."""
    c = draw(st.integers(1, 4))
    shape = draw(st.sampled_from([(c,), (draw(st.integers(1, 3)), c), (draw(st.integers(1, 3)), c, 2)]))
    logits = draw(arr(shape, FLOATS, "wide", specials=False))
    tshape = () if len(shape) == 1 else (shape[0], *shape[2:])
    ignore = draw(st.sampled_from([-100, 0, 1]))
    values = draw(st.lists(st.sampled_from([*range(c), ignore]), min_size=math.prod(tshape),
                           max_size=math.prod(tshape)))
    targets = Arr(np.array(values, dtype=np.int64).reshape(tshape), "int64")
    return logits, targets, ignore, draw(st.sampled_from(["mean", "sum", "none"]))


@st.composite
def linear_args(draw):
    fan_in, fan_out = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    x = draw(arr((*draw(shapes(max_dims=2)), fan_in), FLOATS))
    w = draw(arr((fan_out, fan_in), (x.dtype,)))
    bias = draw(st.one_of(st.none(), arr((fan_out,), (x.dtype,))))
    return x, w, bias


@st.composite
def one_hot_args(draw):
    c = draw(st.integers(1, 4))
    shape = draw(shapes(max_dims=2))
    ids = draw(st.lists(st.integers(0, c - 1), min_size=math.prod(shape), max_size=math.prod(shape)))
    return Arr(np.array(ids, dtype=np.int64).reshape(shape), "int64"), draw(st.sampled_from([c, c + 1, -1]))


DTYPES = st.sampled_from([Dtype(None), Dtype("float32"), Dtype("float64"), Dtype("int64")])
SIZES = shapes(min_side=0)
FILLS = st.sampled_from([0, 1, -2, 0.5, -1.5, math.inf])


def creation(*extra: st.SearchStrategy) -> st.SearchStrategy:
    """A size, ``extra`` arguments, a dtype and the device."""
    return st.tuples(SIZES, *extra, DTYPES, st.just(Device()))


def like(*extra: st.SearchStrategy) -> st.SearchStrategy:
    """A tensor, ``extra`` arguments, a dtype and the device."""
    return shapes().flatmap(lambda s: st.tuples(arr(s, ALL), *extra, DTYPES, st.just(Device())))


@st.composite
def arange_args(draw):
    start, end = draw(st.sampled_from([0, 1, -2, 0.5])), draw(st.sampled_from([3, 5, -1, 2.5]))
    return start, end, draw(st.sampled_from([1, 2, 0.5, -1])), draw(DTYPES), Device()


@st.composite
def linspace_args(draw):
    return draw(st.sampled_from([0, -1.5, 2])), draw(st.sampled_from([1, 3.5, -2])), draw(st.integers(0, 5)), \
        draw(st.sampled_from([Dtype(None), Dtype("float32"), Dtype("float64")])), Device()


@st.composite
def tensor_args(draw):
    data = draw(st.sampled_from([1, 2.5, True, [1, 2], [1.0, 2], [[1, 0], [0, 1]], [True, False], [], [[]]]))
    return data, draw(DTYPES), Device()


@dataclass(frozen=True)
class Op:
    """One line of the table: ``fn(*args)`` on gradkit tensors, ``torch_fn(*args)`` (default ``fn``) on torch's."""

    name: str
    fn: Callable[..., Any]
    args: st.SearchStrategy
    torch_fn: Callable[..., Any] | None = None
    unless: Callable[..., bool] | None = None  # arguments where gradkit deliberately differs (see DIFFERENCES)
    examples: int = 30  # hypothesis examples per backend
    grads: bool = True  # compare gradients (False where torch's own backward raises: floor_divide)


def _two_bools(x: Arr, y: Arr) -> bool:
    return x.dtype == y.dtype == "bool"


def _extreme(name: str) -> Callable[..., Any]:
    """``x.max()`` / ``x.max(dim, keepdim)`` (min, all, any): torch's two forms, the same call on both sides."""
    return lambda x, a, k: getattr(x, name)() if a is None else getattr(x, name)(a, k)


OPS = [
    Op("add", lambda x, y: x + y, binary(WITH_BOOL), unless=_two_bools),
    Op("sub", lambda x, y: x - y, binary(WITH_BOOL)),
    Op("mul", lambda x, y: x * y, binary(WITH_BOOL), unless=_two_bools),
    Op("truediv", lambda x, y: x / y, binary(WITH_BOOL)),
    Op("pow", lambda x, y: x**y, binary(WITH_BOOL),
       unless=lambda x, y: y.dtype == "bool" or x.dtype in ("int64", "bool") and y.dtype == "int64" and (
           y.data < 0).any()),  # a bool base is promoted to int64: the same difference
    Op("add number", lambda x, k: x + k, with_number(WITH_BOOL)),
    Op("rsub number", lambda x, k: k - x, with_number(WITH_BOOL)),
    Op("mul number", lambda x, k: x * k, with_number(WITH_BOOL)),
    Op("truediv number", lambda x, k: x / k, with_number(WITH_BOOL)),
    Op("rtruediv number", lambda x, k: k / x, with_number(WITH_BOOL)),
    Op("pow number", lambda x, k: x**k, with_number(WITH_BOOL)),
    Op("rpow number", lambda x, k: k**x, with_number(WITH_BOOL),
       unless=lambda x, k: x.dtype == "int64" and isinstance(k, int) and (x.data < 0).any()),
    Op("lt", lambda x, y: x < y, binary(WITH_BOOL), unless=_two_bools),
    Op("le", lambda x, y: x <= y, binary(WITH_BOOL), unless=_two_bools),
    Op("gt", lambda x, y: x > y, binary(WITH_BOOL), unless=_two_bools),
    Op("ge", lambda x, y: x >= y, binary(WITH_BOOL), unless=_two_bools),
    Op("matmul", lambda x, y: x @ y, matmul_args()),
    Op("neg", lambda x: -x, unary(WITH_BOOL)),
    Op("abs", lambda x: abs(x), unary()),
    Op("exp", lambda x: x.exp(), unary(WITH_BOOL, values="wide")),
    Op("log", lambda x: x.log(), unary(WITH_BOOL, values="wide")),
    Op("tanh", lambda x: x.tanh(), unary(WITH_BOOL, values="wide")),
    Op("sigmoid", lambda x: x.sigmoid(), unary(WITH_BOOL, values="wide")),
    Op("relu", lambda x: x.relu(), unary()),
    Op("sum", lambda x, a, k: x.sum(a, k), reduction(WITH_BOOL)),
    Op("mean", lambda x, a, k: x.mean(a, k), reduction()),
    Op("max", _extreme("max"), reduction(WITH_BOOL, tuples=False)),
    Op("min", _extreme("min"), reduction(ALL, tuples=False)),
    Op("amax", lambda x, a, k: x.amax(a, k), reduction(), lambda x, a, k: x.amax(() if a is None else a, k)),
    Op("amin", lambda x, a, k: x.amin(a, k), reduction(), lambda x, a, k: x.amin(() if a is None else a, k)),
    Op("argmin", lambda x, a, k: x.argmin(a, k), reduction(tuples=False)),
    Op("std", lambda x, a, k, c: x.std(a, keepdim=k, correction=c), reduction_with(st.sampled_from([0, 1, 2]), ALL),
       unless=lambda x, *_: x.dtype == "int64"),
    Op("var", lambda x, a, k, c: x.var(a, keepdim=k, correction=c), reduction_with(st.sampled_from([0, 1, 2]), ALL),
       unless=lambda x, *_: x.dtype == "int64"),
    Op("all", _extreme("all"), reduction(WITH_BOOL), unless=lambda x, a, k: a == ()),
    Op("any", _extreme("any"), reduction(WITH_BOOL), unless=lambda x, a, k: a == ()),
    Op("sqrt", lambda x: x.sqrt(), unary(WITH_BOOL, values="wide")),
    Op("log10", lambda x: x.log10(), unary(WITH_BOOL, values="wide")),
    Op("clamp", lambda x, lo, hi: x.clamp(lo, hi), unary_with(BOUNDS, BOUNDS)),
    Op("clamp_min", lambda x, lo: x.clamp_min(lo), unary_with(BOUNDS.filter(lambda b: b is not None))),
    Op("clamp_max", lambda x, hi: x.clamp_max(hi), unary_with(BOUNDS.filter(lambda b: b is not None))),
    Op("maximum", lambda x, y: gradkit.maximum(x, y), binary(), lambda x, y: torch.maximum(x, y)),
    Op("minimum", lambda x, y: gradkit.minimum(x, y), binary(), lambda x, y: torch.minimum(x, y)),
    Op("where", lambda c, x, y: gradkit.where(c, x, y), where_args(), lambda c, x, y: torch.where(c, x, y)),
    Op("masked_fill", lambda x, m, v: x.masked_fill(m, v), masked_fill_args()),
    Op("tril", lambda x, d: x.tril(d), unary_with(st.integers(-2, 2), min_dims=2)),
    Op("triu", lambda x, d: x.triu(d), unary_with(st.integers(-2, 2), min_dims=2)),
    Op("topk", lambda x, k, d, big: x.topk(k, d, big), topk_args()),
    Op("squeeze", lambda x, a: x.squeeze() if a is None else x.squeeze(a), squeeze_args()),
    Op("unsqueeze", lambda x, d: x.unsqueeze(d), dim_args(min_dims=0, extra=1)),
    Op("flatten", lambda x, a, b: x.flatten(a, b), flatten_args()),
    Op("unbind", lambda x, d: x.unbind(d), dim_args()),
    Op("transpose", lambda x, a, b: x.transpose(a, b), transpose_args()),
    Op("float", lambda x: x.float(), unary(WITH_BOOL)),
    Op("double", lambda x: x.double(), unary(WITH_BOOL)),
    Op("long", lambda x: x.long(), unary_with(dtypes=WITH_BOOL, specials=False)),
    Op("int", lambda x: x.int(), unary_with(dtypes=WITH_BOOL, specials=False)),
    Op("bool", lambda x: x.bool(), unary(WITH_BOOL)),
    Op("numel", lambda x: x.numel(), unary()),
    Op("nelement", lambda x: x.nelement(), unary()),
    Op("dim", lambda x: x.dim(), unary()),
    Op("size", lambda x: tuple(x.size()), unary()),
    Op("allclose", lambda x, y: gradkit.allclose(x, y), binary(FLOATS, same_dtype=True),
       lambda x, y: torch.allclose(x, y)),
    Op("cat", lambda xs, a: gradkit.cat(xs, dim=a), join_args(False), lambda xs, a: torch.cat(xs, dim=a)),
    Op("F.linear", lambda x, w, b: gradkit.functional.linear(x, w, b), linear_args(),
       lambda x, w, b: F.linear(x, w, b)),
    Op("F.one_hot", lambda t, c: gradkit.functional.one_hot(t, c), one_hot_args(), lambda t, c: F.one_hot(t, c)),
    Op("F.cross_entropy layouts",
       lambda x, t, i, r: gradkit.functional.cross_entropy(x, t, ignore_index=i, reduction=r),
       layout_cross_entropy_args(), lambda x, t, i, r: F.cross_entropy(x, t, ignore_index=i, reduction=r)),
    Op("zeros", lambda s, d, dev: gradkit.zeros(s, dtype=d, device=dev), creation(),
       lambda s, d, dev: torch.zeros(s, dtype=d, device=dev)),
    Op("ones", lambda s, d, dev: gradkit.ones(*s, dtype=d, device=dev), creation(),
       lambda s, d, dev: torch.ones(*s, dtype=d, device=dev), unless=lambda s, *_: s == ()),
    Op("empty", lambda s, d, dev: gradkit.empty(s, dtype=d, device=dev).shape, creation(),
       lambda s, d, dev: tuple(torch.empty(s, dtype=d, device=dev).shape)),
    Op("full", lambda s, v, d, dev: gradkit.full(s, v, dtype=d, device=dev), creation(FILLS),
       lambda s, v, d, dev: torch.full(s, v, dtype=d, device=dev)),
    Op("zeros_like", lambda x, d, dev: gradkit.zeros_like(x, dtype=d, device=dev), like(),
       lambda x, d, dev: torch.zeros_like(x, dtype=d, device=dev)),
    Op("ones_like", lambda x, d, dev: gradkit.ones_like(x, dtype=d, device=dev), like(),
       lambda x, d, dev: torch.ones_like(x, dtype=d, device=dev)),
    Op("full_like", lambda x, v, d, dev: gradkit.full_like(x, v, dtype=d, device=dev), like(FILLS),
       lambda x, v, d, dev: torch.full_like(x, v, dtype=d, device=dev)),
    Op("arange", lambda a, b, k, d, dev: gradkit.arange(a, b, k, dtype=d, device=dev), arange_args(),
       lambda a, b, k, d, dev: torch.arange(a, b, k, dtype=d, device=dev)),
    Op("linspace", lambda a, b, n, d, dev: gradkit.linspace(a, b, n, dtype=d, device=dev), linspace_args(),
       lambda a, b, n, d, dev: torch.linspace(a, b, n, dtype=d, device=dev)),
    Op("tensor", lambda x, d, dev: gradkit.tensor(x, dtype=d, device=dev), tensor_args(),
       lambda x, d, dev: torch.tensor(x, dtype=d, device=dev)),
    Op("F.softmax dim", lambda x, a: gradkit.functional.softmax(x, dim=a), along_axis(min_dims=0),
       lambda x, a: F.softmax(x, dim=a)),
    Op("argmax", lambda x, a, k: x.argmax(a, k), reduction(tuples=False)),
    Op("reshape", lambda x, s: x.reshape(s), reshape_args()),
    Op("view", lambda x, s: x.view(s), reshape_args()),
    Op("permute", lambda x, p: x.permute(*p), permute_args()),
    Op("t", lambda x: x.t(), shapes(max_dims=2).flatmap(lambda s: st.tuples(arr(s, ALL)))),
    Op("expand", lambda x, s: x.expand(*s), expand_args()),
    Op("T", lambda x: x.T, shapes(2, 2).flatmap(lambda s: st.tuples(arr(s, ALL)))),
    Op("getitem index", lambda x, i: x[i], index_args()),
    Op("getitem pair", lambda x, i, j: x[i, j], index_args(2)),
    Op("getitem mask", lambda x, m: x[m], mask_args()),
    Op("getitem basic", lambda x, key: x[key], basic_index_args()),
    Op("softmax", lambda x, a: x.softmax(a), along_axis(values="wide")),
    Op("log_softmax", lambda x, a: x.log_softmax(a), along_axis(values="wide")),
    Op("F.softmax", lambda x, a: gradkit.softmax(x, a), along_axis(), lambda x, a: F.softmax(x, a)),
    Op("F.log_softmax", lambda x, a: gradkit.log_softmax(x, a), along_axis(), lambda x, a: F.log_softmax(x, a)),
    Op("F.cross_entropy", lambda x, t, r: gradkit.cross_entropy(x, t, reduction=r), cross_entropy_args(),
       lambda x, t, r: F.cross_entropy(x, t, reduction=r)),
    Op("concat", lambda xs, a: gradkit.concat(xs, a), join_args(False), lambda xs, a: torch.concat(xs, a)),
    Op("stack", lambda xs, a: gradkit.stack(xs, a), join_args(True), lambda xs, a: torch.stack(xs, a)),
]


# The driver.
def _convert(arg: Any, to: Callable[[Arr], Any], device: Any, lib: Any) -> Any:
    if isinstance(arg, Arr):
        return to(arg)
    if isinstance(arg, list):
        return [_convert(a, to, device, lib) for a in arg]
    if isinstance(arg, Device):
        return device
    if isinstance(arg, Dtype):
        return None if arg.name is None else getattr(lib, arg.name)
    return arg


def _leaves(args: tuple) -> list[Any]:
    out = []
    for a in args:
        out.extend(_leaves(tuple(a)) if isinstance(a, list) else [a] if isinstance(a, Arr) else [])
    return out


def _torch_dtype(t: Any) -> str:
    return str(t.dtype).removeprefix("torch.")


def _close(what: str, actual: np.ndarray, expected: np.ndarray, dtype: str) -> None:
    if dtype in FLOATS:
        result = compare(actual, expected, what=what, **tolerance(dtype))
    else:
        result = compare(actual.astype(np.float64), expected.astype(np.float64), what=what, rtol=0.0, atol=0.0)
    assert result.ok, str(result)


def run_both(op: Op, args: tuple, backend: Any, weights_seed: int) -> None:
    """Run ``op`` on torch and on gradkit with the same arguments and compare everything (see the module doc)."""
    torch_args = tuple(_convert(a, Arr.torch, "cpu", torch) for a in args)
    gk_args = tuple(_convert(a, lambda x: x.gradkit(backend), backend, gradkit) for a in args)
    torch_fn = op.torch_fn or op.fn
    try:
        with warnings.catch_warnings():  # torch's own warnings (std's "degrees of freedom <= 0") are not errors
            warnings.simplefilter("ignore")
            expected = torch_fn(*torch_args)
        torch_error = None
    except Exception as exc:  # noqa: BLE001 (any error of torch's is the reference)
        torch_error = exc
    if torch_error is not None:
        with pytest.raises(Exception):  # noqa: B017, PT011 (gradkit's class may differ; it must not answer)
            op.fn(*gk_args)
        return
    actual = op.fn(*gk_args)
    expected_outs = list(expected) if isinstance(expected, (tuple, list)) else [expected]
    actual_outs = list(actual) if isinstance(actual, (tuple, list)) else [actual]
    assert len(actual_outs) == len(expected_outs), f"{op.name}: {len(actual_outs)} outputs, torch gives " \
                                                   f"{len(expected_outs)}"
    pairs = []
    for j, (got, want) in enumerate(zip(actual_outs, expected_outs)):
        if not torch.is_tensor(want):  # a Python value (numel, allclose, size)
            assert not isinstance(got, Tensor) and got == want, f"{op.name}: {got!r}, torch gives {want!r}"
            continue
        assert isinstance(got, Tensor), f"{op.name} output {j} is a {type(got).__name__}"
        dtype = _torch_dtype(want)
        assert dtype_name(got.dtype) == dtype, f"{op.name}: dtype {dtype_name(got.dtype)}, torch gives {dtype}"
        assert got.shape == tuple(want.shape), f"{op.name}: shape {got.shape}, torch gives {tuple(want.shape)}"
        _close(f"{op.name} output {j}", got.numpy(), want.detach().numpy(), dtype)
        assert got.requires_grad == want.requires_grad, f"{op.name}: requires_grad {got.requires_grad}"
        if want.requires_grad:
            pairs.append((got, want))
    if not pairs or not op.grads:
        return
    rng = np.random.default_rng(weights_seed)
    weights = [rng.choice([-1.0, 0.5, 1.0, 2.0], size=tuple(want.shape)) for _, want in pairs]
    torch.autograd.backward([want for _, want in pairs],
                            [torch.tensor(w, dtype=want.dtype) for w, (_, want) in zip(weights, pairs)])
    for w, (got, _) in zip(weights, pairs):
        got.backward(Tensor(w, backend=backend, dtype=got.dtype), retain_graph=True)
    for i, (leaf_t, leaf_g) in enumerate(zip(_leaves(torch_args), _leaves(gk_args))):
        if not leaf_t.requires_grad:
            continue
        want = np.zeros(leaf_t.shape) if leaf_t.grad is None else leaf_t.grad.numpy()
        got = np.zeros(leaf_g.shape) if leaf_g.grad is None else leaf_g.grad.numpy()
        if leaf_g.grad is not None:
            assert dtype_name(leaf_g.grad.dtype) == _torch_dtype(leaf_t), f"{op.name}: grad {i} dtype"
        _close(f"{op.name} grad of argument {i}", got, want, _torch_dtype(leaf_t))


@pytest.mark.parametrize("op", OPS, ids=[op.name for op in OPS])
def test_op_matches_torch(backend, op: Op) -> None:
    check_op(backend, op)


def check_op(backend: Any, op: Op) -> None:
    """Draw ``op.examples`` argument tuples and ``run_both`` each."""

    @settings(SETTINGS, max_examples=op.examples)
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        args = data.draw(op.args, label="args")
        assume(op.unless is None or not op.unless(*args))
        run_both(op, args, backend, data.draw(st.integers(0, 2**16), label="weights seed"))

    check()


# The deliberate differences that ``unless`` skips, with the reason (docs/pytorch.md lists them too).
DIFFERENCES = {
    "pow": "an integer tensor to a negative integer tensor power raises ValueError (numpy's rule, and torch's for a "
           "negative number exponent); torch computes a truncated integer there (2 ** -1 == 0)",
    "rpow number": "the same, for an integer number to an integer tensor power",
    "ones()": "with no size at all gradkit gives a 0-d tensor (as ones(())); torch raises",
    "std/var of int64": "gradkit computes in float32 (api helper's choice, the friendlier answer); torch raises",
    "all/any with dim=()": "torch reduces nothing there (while sum, mean, amax reduce everything); gradkit reads () "
                           "as every axis for all reductions, one rule",
    "pow (bool exponent)": "torch itself fails in the backward of x ** bool_tensor (it subtracts 1 from a bool)",
    "two bools": "bool (+, *, <, ...) bool: the array API standard (strict) has no arithmetic or ordering on bools; "
                 "numpy gives torch's answer; the course never does it",
}


# Names shared with torch.Tensor that the table does not draw, each with the reason.
NOT_DIFFERENTIATED = {
    "compile": "a step transformer, not an op: tests/test_compile.py proves compiled == eager bit for bit",
    "save": "serialization, not an op: tests/test_serialization.py checks it against torch.save/torch.load",
    "load": "as save",
    "add_": "in place: test_optim and test_tensor_ops check the updates", "sub_": "in place", "mul_": "in place",
    "div_": "in place", "copy_": "in place", "zero_": "in place", "backward": "the driver calls it on every op",
    "detach": "test_tensor_numbers (version counter)", "requires_grad_": "a flag, not a number",
    "clone": "identity on values", "to": "device/dtype moves: test_backends", "numpy": "host copy",
    "item": "host read", "tolist": "host read", "grad": "checked for every op", "requires_grad": "a flag",
    "is_leaf": "a flag", "shape": "compared for every op", "ndim": "a count", "dtype": "compared for every op",
    "data": "torch's .data: test_tensor_numbers", "matmul": "drawn as @", "astype": "not a torch name",
    "zero_grad": "not a torch name", "index_put": "item assignment: test_item_assignment, test_torch_compare",
    "index_put_": "item assignment (in place)", "index_add_": "item assignment (in place)",
    "retain_grad": "a flag: test_tensor_autograd", "retains_grad": "a flag: test_tensor_autograd",
    "grad_fn": "the node: test_torch_inplace checks the histories it records",
    "clamp_": "in place: test_torch_inplace (values and gradients against torch)", "fill_": "in place",
    "masked_fill_": "in place", "expand_as": "expand with another tensor's shape (drawn as expand)",
    "optim": "a module: test_optim and test_torch_optim",
    "Generator": "a type; its numbers are gradkit's own (host numpy, the same on every backend), not torch's "
                 "(test_torch_names and test_lectures check the seeding API)", "default_generator": "as Generator",
    "manual_seed": "as Generator", "rand": "as Generator", "randn": "as Generator", "randint": "as Generator",
    "randperm": "as Generator", "multinomial": "as Generator", "Size": "a type: size() is drawn",
    "Tensor": "the type", "Value": "not torch's (micrograd's scalar engine)", "float32": "dtype objects: every "
    "op's dtype is compared", "float64": "as float32", "int32": "as float32", "int64": "as float32",
    "functional": "a module: its functions are drawn (F.*)", "nn": "a module: test_nn, test_lectures",
    "no_grad": "grad mode: test_tensor_numbers", "enable_grad": "as no_grad", "set_grad_enabled": "as no_grad",
    "is_grad_enabled": "as no_grad", "histogram": "not torch.histogram's signature: test_lectures",
}
# Issue 16's torch layout and Tensor additions: drawn against torch in their own files.
NOT_DIFFERENTIATED.update({
    "split": "views: test_torch_tensor_extras (values and gradients against torch)", "chunk": "as split",
    "expand": "a view: test_torch_tensor_extras", "expand_as": "as expand", "roll": "test_torch_tensor_extras",
    "contiguous": "identity on values: test_torch_tensor_extras", "cpu": "a device move: test_torch_tensor_extras",
    "cuda": "a device move, and the torch.cuda module: test_torch_tensor_extras, test_gradkit_run",
    "is_cuda": "a flag", "pin_memory": "host memory: test_torch_tensor_extras", "is_pinned": "a flag",
    "device": "the device type: test_torch_tensor_extras", "from_numpy": "shares memory: test_torch_tensor_extras",
    "amp": "a module: test_torch_nn_extras (GradScaler against torch's)", "autocast": "a no-op: test_torch_nn_extras",
    "bfloat16": "a dtype object no tensor holds", "float16": "as float32", "backends": "flags: test_gradkit_run",
    "distributed": "refuses: test_gradkit_run", "utils": "a module: test_utils_data",
    "inference_mode": "grad mode: test_torch_nn_extras", "is_inference_mode_enabled": "as inference_mode",
})
