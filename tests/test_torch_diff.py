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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import gradkit
from backends.random import dtype_name
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


@dataclass(frozen=True)
class Op:
    """One line of the table: ``fn(*args)`` on gradkit tensors, ``torch_fn(*args)`` (default ``fn``) on torch's."""

    name: str
    fn: Callable[..., Any]
    args: st.SearchStrategy
    torch_fn: Callable[..., Any] | None = None
    unless: Callable[..., bool] | None = None  # arguments where gradkit deliberately differs (see DIFFERENCES)


def _two_bools(x: Arr, y: Arr) -> bool:
    return x.dtype == y.dtype == "bool"


def _max_torch(x: Any, axis: Any, keepdims: bool) -> Any:
    if axis is None:
        out = x.max()
        return out.reshape((1,) * x.ndim) if keepdims else out
    return x.amax(axis, keepdims)


OPS = [
    Op("add", lambda x, y: x + y, binary(WITH_BOOL), unless=_two_bools),
    Op("sub", lambda x, y: x - y, binary(WITH_BOOL)),
    Op("mul", lambda x, y: x * y, binary(WITH_BOOL), unless=_two_bools),
    Op("truediv", lambda x, y: x / y, binary(WITH_BOOL)),
    Op("pow", lambda x, y: x**y, binary(WITH_BOOL),
       unless=lambda x, y: y.dtype == "bool" or x.dtype == y.dtype == "int64" and (y.data < 0).any()),
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
    Op("sum", lambda x, a, k: x.sum(a, k), reduction()),
    Op("mean", lambda x, a, k: x.mean(a, k), reduction()),
    Op("max", lambda x, a, k: x.max(a, k), reduction(), _max_torch),
    Op("argmax", lambda x, a, k: x.argmax(a, k), reduction(tuples=False)),
    Op("reshape", lambda x, s: x.reshape(s), reshape_args()),
    Op("view", lambda x, s: x.view(s), reshape_args()),
    Op("permute", lambda x, p: x.permute(*p), permute_args()),
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
def _convert(arg: Any, to: Callable[[Arr], Any]) -> Any:
    if isinstance(arg, Arr):
        return to(arg)
    if isinstance(arg, list):
        return [_convert(a, to) for a in arg]
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
    torch_args = tuple(_convert(a, Arr.torch) for a in args)
    gk_args = tuple(_convert(a, lambda x: x.gradkit(backend)) for a in args)
    torch_fn = op.torch_fn or op.fn
    try:
        expected = torch_fn(*torch_args)
        torch_error = None
    except Exception as exc:  # noqa: BLE001 (any error of torch's is the reference)
        torch_error = exc
    if torch_error is not None:
        with pytest.raises(Exception):  # noqa: B017, PT011 (gradkit's class may differ; it must not answer)
            op.fn(*gk_args)
        return
    actual = op.fn(*gk_args)
    assert isinstance(actual, Tensor), f"{op.name} returned {type(actual).__name__}"
    dtype = _torch_dtype(expected)
    assert dtype_name(actual.dtype) == dtype, f"{op.name}: dtype {dtype_name(actual.dtype)}, torch gives {dtype}"
    want = tuple(expected.shape)
    assert actual.shape == want, f"{op.name}: shape {actual.shape}, torch gives {want}"
    _close(f"{op.name} output", actual.numpy(), expected.detach().numpy(), dtype)

    if not expected.requires_grad:
        assert not actual.requires_grad
        return
    rng = np.random.default_rng(weights_seed)
    w = rng.choice([-1.0, 0.5, 1.0, 2.0], size=tuple(expected.shape))
    expected.backward(torch.tensor(w, dtype=expected.dtype))
    actual.backward(Tensor(w, backend=backend, dtype=dtype))
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
    @SETTINGS
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        args = data.draw(op.args, label="args")
        assume(op.unless is None or not op.unless(*args))
        run_both(op, args, backend, data.draw(st.integers(0, 2**16), label="weights seed"))

    check()


def test_table_covers_every_shared_name() -> None:
    """A name torch and gradkit share on Tensor must be in the table (or in NOT_DIFFERENTIATED with a reason)."""
    tested = {op.name.split()[0].removeprefix("F.") for op in OPS}
    methods = {n for n in dir(Tensor) if not n.startswith("_") and hasattr(torch.Tensor, n)}
    missing = methods - tested - set(NOT_DIFFERENTIATED)
    assert not missing, f"Tensor methods that torch also has, not in OPS: {sorted(missing)}"


# The deliberate differences that ``unless`` skips, with the reason (the README lists them too).
DIFFERENCES = {
    "pow": "an integer tensor to a negative integer tensor power raises ValueError (numpy's rule, and torch's for a "
           "negative number exponent); torch computes a truncated integer there (2 ** -1 == 0)",
    "rpow number": "the same, for an integer number to an integer tensor power",
    "pow (bool exponent)": "torch itself fails in the backward of x ** bool_tensor (it subtracts 1 from a bool)",
    "two bools": "bool (+, *, <, ...) bool: the array API standard (strict) has no arithmetic or ordering on bools; "
                 "numpy gives torch's answer; the course never does it",
}


# Names shared with torch.Tensor that the table does not draw, each with the reason.
NOT_DIFFERENTIATED = {
    "add_": "in place: test_optim and test_tensor_ops check the updates", "sub_": "in place", "mul_": "in place",
    "div_": "in place", "copy_": "in place", "zero_": "in place", "backward": "the driver calls it on every op",
    "detach": "test_tensor_numbers (version counter)", "requires_grad_": "a flag, not a number",
    "clone": "identity on values", "to": "device/dtype moves: test_backends", "numpy": "host copy",
    "item": "host read", "tolist": "host read", "grad": "checked for every op", "requires_grad": "a flag",
    "is_leaf": "a flag", "shape": "compared for every op", "ndim": "a count", "dtype": "compared for every op",
    "data": "torch's .data: test_tensor_numbers", "transpose": "gradkit's transpose(axes) is numpy's (torch's "
    "transpose(d0, d1) is api's, issue 9): permute is drawn", "size": "gradkit's is numpy's count (api: size())",
    "matmul": "drawn as @", "astype": "not a torch name", "zero_grad": "not a torch name",
}
