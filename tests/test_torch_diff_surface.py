"""The differential suite, continued: issue 16's op surface (elementwise math, ``//`` and ``%``, logical and bitwise
ops, scans, sorting, reductions, construction and shape ops, einsum, losses, activations, ``pad``, ``normalize``),
their in-place variants, and the nn modules, against torch with ``test_torch_diff``'s driver (values, dtypes, errors
and gradients, on every backend). Fewer hypothesis examples per op than the first table (``examples``), so the
whole suite stays fast.

``test_table_covers_every_shared_name`` lives here: it checks both tables against every name gradkit shares with
torch, on ``Tensor``, in ``gradkit``, in ``gradkit.nn.functional`` and in ``gradkit.nn``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import strategies as st
from test_torch_diff import (
    ALL,
    BOUNDS,
    DTYPES,
    FLOATS,
    NOT_DIFFERENTIATED,
    OPS,
    WITH_BOOL,
    Arr,
    Device,
    Dtype,
    Op,
    _two_bools,
    arr,
    binary,
    check_op,
    dim_args,
    reduction,
    reduction_with,
    shapes,
    unary,
    unary_with,
    where_args,
    with_number,
)

import gradkit
from gradkit import Tensor

torch = pytest.importorskip("torch")
F = torch.nn.functional
G = gradkit.nn.functional

pytestmark = pytest.mark.torch

FEW = 10  # examples per op and backend


def few(name: str, fn: Any, args: st.SearchStrategy, torch_fn: Any = None, **kw: Any) -> Op:
    return Op(name, fn, args, torch_fn, examples=kw.pop("examples", FEW), **kw)


def _strip(a: Any) -> Any:
    """``a`` (an argument) with no tensor requiring grad: torch refuses in-place ops on such leaves."""
    if isinstance(a, Arr):
        return dataclasses.replace(a, grad=False)
    return [_strip(x) for x in a] if isinstance(a, list) else a


def no_grad(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return strategy.map(lambda args: tuple(_strip(a) for a in args))


def method(name: str) -> Any:
    return lambda x, *rest: getattr(x, name)(*rest)


def function(name: str) -> tuple[Any, Any]:
    """``gradkit.<name>`` and ``torch.<name>``."""
    return (lambda *a, **k: getattr(gradkit, name)(*a, **k)), (lambda *a, **k: getattr(torch, name)(*a, **k))


def _has_inf(x: Arr, *_: Any) -> bool:
    """float32 infinities: torch's vectorised float32 GELU gives nan at +inf (its float64 one gives inf)."""
    return x.dtype == "float32" and bool(np.isinf(x.data).any())


def _has_infinity(x: Arr, *_: Any) -> bool:
    """torch's var_mean/std_mean take the mean by Welford's update: nan for a mean with an infinity."""
    return bool(np.isinf(x.data).any())


# Strategies.
@st.composite
def sort_args(draw):
    x, d = draw(dim_args(min_dims=0, dtypes=WITH_BOOL))
    return x, d, draw(st.booleans())


@st.composite
def lerp_args(draw):
    start, end = draw(binary(FLOATS, same_dtype=True))
    weight = draw(st.one_of(st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0, -0.5, 1.5]),
                            arr(draw(st.sampled_from([(), (1,)])), (start.dtype,), specials=False)))
    return start, end, weight


@st.composite
def three_broadcast(draw, dtypes=ALL):
    from hypothesis.extra.numpy import mutually_broadcastable_shapes

    trio = draw(mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, min_side=1, max_side=3))
    return tuple(draw(arr(s, dtypes)) for s in trio.input_shapes)


@st.composite
def addc_args(draw):
    """``addcmul``/``addcdiv``'s three tensors (broadcast together) and a ``value`` torch stores exactly in any
    dtype (an integer one too: torch casts ``value`` to the result's dtype, as gradkit)."""
    return (*draw(three_broadcast(ALL)), draw(st.sampled_from([1, 2, -3])))


def _fits_first(*args: Any) -> bool:
    """In-place ops write into the first tensor: drawn where it has the broadcast shape (torch refuses others)."""
    tensors = [a.data.shape for a in args if isinstance(a, Arr)]
    return tensors[0] == np.broadcast_shapes(*tensors)


def _int_divisor(a: Arr, b: Arr, c: Arr, v: Any) -> bool:
    """torch's addcdiv backward fails (its own cast error) where a divisor operand is an integer tensor; both
    integer is refused by both (test_inplace_ops checks gradkit's error)."""
    return "int" in b.dtype or "int" in c.dtype or "bool" in (b.dtype, c.dtype)


@st.composite
def reduction_int_dim(draw, dtypes=WITH_BOOL):
    x = draw(arr(draw(shapes(min_side=0)), dtypes))
    span = max(x.data.ndim, 1)
    return x, draw(st.one_of(st.none(), st.integers(-span, span - 1))), draw(st.booleans())


EINSUM = ["ij,jk->ik", "bij,bjk->bik", "ii->i", "ii", "i,i->", "i,j->ij", "...ij->...ji", "ij->", "ji",
          "bhqd,bhkd->bhqk", "ij,jk,kl->il", "iij->j", "ij,ij->ij", "...i,...i->...", "bi,i->b", "ijk->kji"]


@st.composite
def einsum_args(draw):
    eq = draw(st.sampled_from(EINSUM))
    sizes = {c: draw(st.integers(1, 3)) for c in "abcdefghijklmnopqrstuvwxyz"}
    dots = tuple(draw(st.integers(1, 2)) for _ in range(draw(st.integers(0, 2))))
    dtype = draw(st.sampled_from(("float32", "float64", "int64")))
    terms = eq.split("->")[0].split(",")
    operands = [draw(arr((*(dots if "..." in t else ()), *(sizes[c] for c in t.replace("...", ""))), (dtype,),
                         specials=False)) for t in terms]
    return eq, operands


@st.composite
def eye_args(draw):
    return draw(st.integers(0, 4)), draw(st.one_of(st.none(), st.integers(0, 4))), draw(DTYPES), Device()


@st.composite
def meshgrid_args(draw):
    dtype = draw(st.sampled_from(ALL))
    parts = [draw(arr((draw(st.integers(1, 3)),), (dtype,))) for _ in range(draw(st.integers(1, 3)))]
    return parts, draw(st.sampled_from(["ij", "xy"]))


@st.composite
def repeat_args(draw):
    x = draw(arr(draw(shapes(max_dims=2)), ALL))
    extra = draw(st.integers(0, 2))
    return x, tuple(draw(st.integers(0, 2)) for _ in range(x.data.ndim + extra))


@st.composite
def repeat_interleave_args(draw):
    x = draw(arr(draw(shapes(max_dims=2)), ALL))
    span = max(x.data.ndim, 1)
    return x, draw(st.integers(0, 3)), draw(st.one_of(st.none(), st.integers(-span, span - 1)))


@st.composite
def repeat_counts_args(draw):
    x = draw(arr(draw(shapes(min_dims=1, max_dims=2)), ALL))
    d = draw(st.integers(-x.data.ndim, x.data.ndim - 1))
    n = x.data.shape[d]
    counts = Arr(np.array(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)), dtype=np.int64), "int64")
    return x, counts, d


@st.composite
def flip_args(draw):
    x = draw(arr(draw(shapes()), ALL))
    span = max(x.data.ndim, 1)
    chosen = draw(st.lists(st.integers(0, span - 1), unique=True, max_size=span)) if x.data.ndim else []
    return x, tuple(a - span if i % 2 else a for i, a in enumerate(chosen))


@st.composite
def diag_args(draw):
    return draw(arr(draw(shapes(min_dims=1, max_dims=2)), ALL)), draw(st.integers(-2, 2))


@st.composite
def diagonal_args(draw):
    x = draw(arr(draw(shapes(min_dims=2)), ALL))
    n = x.data.ndim
    d1, d2 = draw(st.lists(st.integers(-n, n - 1), min_size=2, max_size=2, unique_by=lambda a: a % n))
    return x, draw(st.integers(-2, 2)), d1, d2


@st.composite
def triangle_args(draw):
    return draw(st.integers(0, 4)), draw(st.integers(0, 4)), draw(st.integers(-2, 2)), Device()


@st.composite
def masked_select_args(draw):
    x, m = draw(binary(ALL))
    m.data, m.dtype, m.grad = np.asarray(m.data != 0), "bool", False
    return x, m


@st.composite
def unflatten_args(draw):
    x = draw(arr(draw(shapes(min_dims=1)), ALL))
    d = draw(st.integers(-x.data.ndim, x.data.ndim - 1))
    n = x.data.shape[d]
    first = draw(st.sampled_from([k for k in range(1, n + 1) if n % k == 0]))
    sizes = draw(st.sampled_from([(first, n // first), (first, -1), (-1, first), (n,), (n, 1, 1)]))
    return x, d, sizes


@st.composite
def where_numbers_args(draw):
    cond = Arr(np.array(draw(st.lists(st.booleans(), min_size=1, max_size=4))), "bool")
    values = st.sampled_from([0, 1, -2, 0.5, -1.5, True, False])
    return cond, draw(values), draw(values)


@st.composite
def view_dtype_args(draw):
    source = draw(st.sampled_from(["float32", "float64", "int64"]))
    x = draw(arr(draw(shapes(max_dims=2)), (source,), specials=False))
    x.grad = False
    return x, draw(st.sampled_from([Dtype("int32"), Dtype("float32"), Dtype("float64"), Dtype("int64")]))


@st.composite
def class_layout(draw, ignore: bool = True):
    """Log-probabilities (any floats) of PyTorch's layouts and integer targets, sometimes ``ignore_index``."""
    c = draw(st.integers(1, 4))
    shape = draw(st.sampled_from([(c,), (draw(st.integers(1, 3)), c), (draw(st.integers(1, 3)), c, 2)]))
    x = draw(arr(shape, FLOATS, "wide", specials=False))
    tshape = () if len(shape) == 1 else (shape[0], *shape[2:])
    ignore_index = draw(st.sampled_from([-100, 0, 1])) if ignore else -100
    values = draw(st.lists(st.sampled_from([*range(c), ignore_index]), min_size=math.prod(tshape),
                           max_size=math.prod(tshape)))
    weight = draw(st.one_of(st.none(), arr((c,), (x.dtype,), "positive", specials=False)))
    if weight is not None:
        weight.grad = False
    return x, Arr(np.array(values, dtype=np.int64).reshape(tshape), "int64"), weight, ignore_index, \
        draw(st.sampled_from(["mean", "sum", "none"]))


@st.composite
def smoothing_args(draw):
    return (*draw(class_layout()), draw(st.sampled_from([0.0, 0.1, 0.5, 1.0])))


@st.composite
def probability_args(draw):
    c = draw(st.integers(1, 4))
    shape = draw(st.sampled_from([(c,), (draw(st.integers(1, 3)), c), (draw(st.integers(1, 3)), c, 2)]))
    x = draw(arr(shape, FLOATS, "wide", specials=False))
    target = draw(arr(shape, (x.dtype,), "positive", specials=False))
    target.data = target.data / 4  # in (0, 1]
    weight = draw(st.one_of(st.none(), arr((c,), (x.dtype,), "positive", specials=False)))
    if weight is not None:
        weight.grad = False
    return x, target, weight, draw(st.sampled_from(["mean", "sum", "none"])), draw(st.sampled_from([0.0, 0.2]))


@st.composite
def float_class_targets(draw):
    x, t, _, _, reduction_ = draw(class_layout(ignore=False))
    return x, Arr(t.data.astype(np.float64), x.dtype), reduction_


@st.composite
def pair_args(draw, dtypes=ALL):
    s = draw(shapes(min_side=0))
    return draw(arr(s, dtypes)), draw(arr(s, dtypes)), draw(st.sampled_from(["mean", "sum", "none"]))


PROBABILITIES = [0.0, 0.25, 0.5, 0.75, 1.0]


@st.composite
def bce_args(draw):
    s = draw(shapes(min_side=0))
    dtype = draw(st.sampled_from(FLOATS))
    values = st.one_of(st.sampled_from(PROBABILITIES), st.sampled_from([1.25, -0.5, math.nan])) if draw(
        st.integers(0, 4)) == 0 else st.sampled_from(PROBABILITIES)
    x = Arr(np.array(draw(st.lists(values, min_size=math.prod(s), max_size=math.prod(s)))).reshape(s), dtype, True)
    t = Arr(np.array(draw(st.lists(st.sampled_from(PROBABILITIES), min_size=math.prod(s),
                                   max_size=math.prod(s)))).reshape(s), dtype, True)
    weight = draw(st.one_of(st.none(), arr(s[-1:], (dtype,), "positive", specials=False)))
    if weight is not None:
        weight.grad = False
    return x, t, weight, draw(st.sampled_from(["mean", "sum", "none"]))


@st.composite
def bce_logits_args(draw):
    s = draw(shapes(min_dims=1, min_side=1))
    x = draw(arr(s, FLOATS, "wide"))
    t = Arr(np.array(draw(st.lists(st.sampled_from(PROBABILITIES), min_size=math.prod(s),
                                   max_size=math.prod(s)))).reshape(s), x.dtype, True)
    weight, pos_weight = (draw(st.one_of(st.none(), arr(s[-1:], (x.dtype,), "positive", specials=False)))
                          for _ in range(2))
    for w in (weight, pos_weight):
        if w is not None:
            w.grad = False
    return x, t, weight, draw(st.sampled_from(["mean", "sum", "none"])), pos_weight


@st.composite
def pad_args(draw):
    x = draw(arr(draw(shapes(min_dims=1)), ALL))
    k = draw(st.integers(1, x.data.ndim))
    amounts = tuple(draw(st.integers(-1, 2)) for _ in range(2 * k))
    return x, amounts, draw(st.sampled_from([None, 0, 1.5, -2]))


@st.composite
def pad_mode_args(draw):
    k = draw(st.integers(1, 2))
    x = draw(arr(draw(shapes(min_dims=k + 1, max_dims=k + 2, min_side=2)), FLOATS))
    amounts = tuple(draw(st.integers(0, x.data.shape[-1 - i // 2] - 1)) for i in range(2 * k))
    return x, amounts, draw(st.sampled_from(["reflect", "replicate", "circular"]))


@st.composite
def normalize_args(draw):
    x, d = draw(dim_args(min_dims=1, dtypes=ALL))
    return x, draw(st.sampled_from([1, 2, 3, 0.5, math.inf])), d


ELEMENTWISE = ["sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "rsqrt", "log2",
               "log1p", "exp2", "expm1", "erf"]
ROUNDINGS = ["floor", "ceil", "trunc", "frac", "sign"]
COMPARISONS = ["eq", "ne", "lt", "le", "gt", "ge"]


def _elementwise_ops() -> list[Op]:
    out = [few(n, method(n), unary(WITH_BOOL, values="wide" if n in ("sinh", "cosh", "exp2", "expm1") else "grid"))
           for n in ELEMENTWISE]
    out += [few(n, method(n), unary(WITH_BOOL)) for n in ROUNDINGS]
    for n in ("sin", "erf", "floor", "sign"):
        g, t = function(n)
        out.append(few(f"{n} function", g, unary(WITH_BOOL), t, examples=5))
    return out


def _comparison_ops() -> list[Op]:
    out = []
    for n in COMPARISONS:
        g, t = function(n)
        out.append(few(n, g, binary(WITH_BOOL), t, unless=_two_bools if n not in ("eq", "ne") else None))
        out.append(few(f"{n} method", method(n), with_number(WITH_BOOL), examples=5))
    return out


def _logical_ops() -> list[Op]:
    out = []
    for n in ("logical_and", "logical_or", "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor"):
        g, t = function(n)
        out.append(few(n, g, binary(WITH_BOOL), t))
    out += [few(n, method(n), unary(WITH_BOOL)) for n in ("logical_not", "bitwise_not", "isnan", "isinf",
                                                           "isfinite")]
    out += [few("and", lambda x, y: x & y, binary(WITH_BOOL)), few("or", lambda x, y: x | y, binary(WITH_BOOL)),
            few("xor", lambda x, y: x ^ y, binary(WITH_BOOL)), few("invert", lambda x: ~x, unary(WITH_BOOL)),
            few("and number", lambda x, k: x & k, with_number(WITH_BOOL)),
            few("ror number", lambda x, k: k | x, with_number(WITH_BOOL))]
    return out


_SCAN_ARGS = dim_args(min_dims=0, dtypes=WITH_BOOL)

SURFACE_OPS = [
    *_elementwise_ops(),
    few("round", lambda x, d: x.round() if d == 0 else x.round(decimals=d),  # torch's decimals=0 refuses integers
        unary_with(st.sampled_from([0, 0, 1, 2, -1]), dtypes=WITH_BOOL)),
    few("clip", lambda x, lo, hi: x.clip(lo, hi), unary_with(BOUNDS, BOUNDS)),
    few("clamp tensors", lambda x, lo, hi: x.clamp(lo, hi), three_broadcast(FLOATS).filter(  # torch's result has
        lambda a: a[0].data.shape == np.broadcast_shapes(*(t.data.shape for t in a)))),  # the input's shape
    few("atan2", method("atan2"), binary(ALL)),  # bools: torch's own backward fails (it negates a bool)
    few("lerp", lambda a, b, w: a.lerp(b, w), lerp_args()),
    few("floor_divide", lambda x, y: x // y, binary(WITH_BOOL), grads=False),
    few("floor_divide number", lambda x, k: x // k, with_number(WITH_BOOL), grads=False),
    few("rfloordiv number", lambda x, k: k // x, with_number(WITH_BOOL), grads=False),
    few("remainder", lambda x, y: x % y, binary(WITH_BOOL)),
    few("remainder number", lambda x, k: x.remainder(k), with_number(WITH_BOOL)),
    few("rmod number", lambda x, k: k % x, with_number(WITH_BOOL), grads=False),  # torch: not implemented
    *_comparison_ops(),
    *_logical_ops(),
    few("cumsum", lambda x, d: x.cumsum(d), _SCAN_ARGS),
    few("cumsum dtype", lambda x, d: x.cumsum(d, dtype=gradkit.float64), _SCAN_ARGS,
        lambda x, d: x.cumsum(d, dtype=torch.float64)),
    few("cumprod", lambda x, d: x.cumprod(d), _SCAN_ARGS),
    few("cummax", lambda x, d: x.cummax(d), _SCAN_ARGS),
    few("cummin", lambda x, d: x.cummin(d), _SCAN_ARGS),
    few("logcumsumexp", lambda x, d: x.logcumsumexp(d), dim_args(min_dims=0, dtypes=ALL, values="wide")),
    few("sort", lambda x, d, b: x.sort(d, b), sort_args(), lambda x, d, b: x.sort(dim=d, descending=b, stable=True)),
    few("argsort", lambda x, d, b: gradkit.argsort(x, d, b), sort_args(),
        lambda x, d, b: torch.argsort(x, dim=d, descending=b, stable=True)),
    few("msort", lambda x: gradkit.msort(x), unary(WITH_BOOL).filter(lambda a: a[0].data.ndim),
        lambda x: torch.sort(x, dim=0, stable=True).values),
    few("prod", lambda x, a, k: x.prod() if a is None else x.prod(a, k), reduction_int_dim()),
    few("logsumexp", lambda x, a, k: x.logsumexp(a, k), reduction(ALL), unless=lambda x, a, k: a == ()),
    few("std_mean", lambda x, a, k, c: gradkit.std_mean(x, a, keepdim=k, correction=c),
        reduction_with(st.sampled_from([0, 1, 2])), lambda x, a, k, c: torch.std_mean(x, a, keepdim=k, correction=c),
        unless=_has_infinity),
    few("var_mean", lambda x, a, k, c: gradkit.var_mean(x, a, keepdim=k, correction=c),
        reduction_with(st.sampled_from([0, 1, 2])), lambda x, a, k, c: torch.var_mean(x, a, keepdim=k, correction=c),
        unless=_has_infinity),
    few("einsum", lambda eq, xs: gradkit.einsum(eq, *xs), einsum_args(), lambda eq, xs: torch.einsum(eq, *xs),
        examples=20),
    few("eye", lambda n, m, d, dev: gradkit.eye(n, m, dtype=d, device=dev), eye_args(),
        lambda n, m, d, dev: torch.eye(n, dtype=d, device=dev) if m is None else torch.eye(n, m, dtype=d, device=dev)),
    few("meshgrid", lambda xs, ix: gradkit.meshgrid(*xs, indexing=ix), meshgrid_args(),
        lambda xs, ix: torch.meshgrid(*xs, indexing=ix)),
    few("repeat", lambda x, s: x.repeat(*s), repeat_args(), lambda x, s: x.repeat(*s) if s else x.repeat(())),
    few("repeat_interleave", lambda x, r, d: x.repeat_interleave(r, d), repeat_interleave_args()),
    few("repeat_interleave counts", lambda x, r, d: gradkit.repeat_interleave(x, r, d), repeat_counts_args(),
        lambda x, r, d: torch.repeat_interleave(x, r, d)),
    few("flip", lambda x, d: gradkit.flip(x, d), flip_args(), lambda x, d: torch.flip(x, d)),
    few("diag", lambda x, k: gradkit.diag(x, k), diag_args(), lambda x, k: torch.diag(x, k)),
    few("diagonal", lambda x, k, a, b: x.diagonal(k, a, b), diagonal_args()),
    few("tril_indices", lambda r, c, k, dev: gradkit.tril_indices(r, c, k, device=dev), triangle_args(),
        lambda r, c, k, dev: torch.tril_indices(r, c, k, device=dev)),
    few("triu_indices", lambda r, c, k, dev: gradkit.triu_indices(r, c, k, device=dev), triangle_args(),
        lambda r, c, k, dev: torch.triu_indices(r, c, k, device=dev)),
    few("masked_select", lambda x, m: gradkit.masked_select(x, m), masked_select_args(),
        lambda x, m: torch.masked_select(x, m)),
    few("nonzero", lambda x, t: gradkit.nonzero(x, as_tuple=t), unary_with(st.booleans(), dtypes=WITH_BOOL),
        lambda x, t: torch.nonzero(x, as_tuple=t)),
    few("argwhere", method("argwhere"), unary(WITH_BOOL)),
    few("unflatten", lambda x, d, s: gradkit.unflatten(x, d, s), unflatten_args(),
        lambda x, d, s: torch.unflatten(x, d, s)),
    few("where numbers", lambda c, a, b: gradkit.where(c, a, b), where_numbers_args(),
        lambda c, a, b: torch.where(c, a, b)),
    few("where condition", lambda c, a, b: gradkit.where(c), where_numbers_args(), lambda c, a, b: torch.where(c)),
    few("where method", lambda c, x, y: x.where(c, y), where_args()),
    few("view dtype", lambda x, d: x.view(d), view_dtype_args()),
    few("F.nll_loss", lambda x, t, w, i, r: G.nll_loss(x, t, w, ignore_index=i, reduction=r), class_layout(),
        lambda x, t, w, i, r: F.nll_loss(x, t, w, ignore_index=i, reduction=r), examples=20),
    few("F.cross_entropy weighted", lambda x, t, w, i, r, s: G.cross_entropy(x, t, w, ignore_index=i, reduction=r,
                                                                            label_smoothing=s), smoothing_args(),
        lambda x, t, w, i, r, s: F.cross_entropy(x, t, w, ignore_index=i, reduction=r, label_smoothing=s),
        examples=20),
    few("F.cross_entropy probabilities", lambda x, t, w, r, s: G.cross_entropy(x, t, w, reduction=r,
                                                                              label_smoothing=s), probability_args(),
        lambda x, t, w, r, s: F.cross_entropy(x, t, w, reduction=r, label_smoothing=s), examples=20),
    few("F.cross_entropy float class indices", lambda x, t, r: G.cross_entropy(x, t, reduction=r),
        float_class_targets(), lambda x, t, r: F.cross_entropy(x, t, reduction=r), examples=5),
    few("F.mse_loss", lambda x, y, r: G.mse_loss(x, y, reduction=r), pair_args(),
        lambda x, y, r: F.mse_loss(x, y, reduction=r)),
    few("F.l1_loss", lambda x, y, r: G.l1_loss(x, y, reduction=r), pair_args(),
        lambda x, y, r: F.l1_loss(x, y, reduction=r)),
    few("F.binary_cross_entropy", lambda x, t, w, r: G.binary_cross_entropy(x, t, w, reduction=r), bce_args(),
        lambda x, t, w, r: F.binary_cross_entropy(x, t, w, reduction=r), examples=20),
    few("F.binary_cross_entropy_with_logits", lambda x, t, w, r, p: G.binary_cross_entropy_with_logits(
        x, t, w, reduction=r, pos_weight=p), bce_logits_args(),
        lambda x, t, w, r, p: F.binary_cross_entropy_with_logits(x, t, w, reduction=r, pos_weight=p), examples=20),
    few("F.silu", lambda x: G.silu(x), unary(WITH_BOOL, values="wide"), lambda x: F.silu(x)),
    few("F.mish", lambda x: G.mish(x), unary(WITH_BOOL, values="wide"), lambda x: F.mish(x)),
    few("F.logsigmoid", lambda x: G.logsigmoid(x), unary(WITH_BOOL, values="wide"), lambda x: F.logsigmoid(x)),
    few("F.elu", lambda x, a: G.elu(x, a), unary_with(st.sampled_from([1.0, 0.5]), dtypes=WITH_BOOL),
        lambda x, a: F.elu(x, a)),
    few("F.leaky_relu", lambda x, a: G.leaky_relu(x, a), unary_with(st.sampled_from([0.01, 0.2]), dtypes=WITH_BOOL),
        lambda x, a: F.leaky_relu(x, a)),
    few("F.softplus", lambda x, b, t: G.softplus(x, b, t), unary_with(st.sampled_from([1.0, 2.0]),
                                                                      st.sampled_from([20.0, 1.0]), values="wide"),
        lambda x, b, t: F.softplus(x, b, t)),
    few("F.hardtanh", lambda x, lo, hi: G.hardtanh(x, lo, hi), unary_with(st.sampled_from([-1.0, -0.5]),
                                                                           st.sampled_from([1.0, 2.5])),
        lambda x, lo, hi: F.hardtanh(x, lo, hi)),
    few("F.relu6", lambda x: G.relu6(x), unary(), lambda x: F.relu6(x)),
    few("F.relu", lambda x: G.relu(x), unary(), lambda x: F.relu(x)),
    few("F.gelu", lambda x, a: G.gelu(x, approximate=a), unary_with(st.sampled_from(["none", "tanh"]),
                                                                    dtypes=FLOATS, values="wide"),
        lambda x, a: F.gelu(x, approximate=a), unless=_has_inf),
    few("F.layer_norm", lambda x: G.layer_norm(x, x.shape[-1:]), unary(FLOATS, min_side=1),
        lambda x: F.layer_norm(x, x.shape[-1:]), unless=lambda x: x.data.ndim == 0),
    few("F.pad", lambda x, p, v: G.pad(x, p, value=v), pad_args(), lambda x, p, v: F.pad(x, p, value=v)),
    few("F.pad modes", lambda x, p, m: G.pad(x, p, mode=m), pad_mode_args(), lambda x, p, m: F.pad(x, p, mode=m)),
    few("F.normalize", lambda x, p, d: G.normalize(x, p, d), normalize_args(), lambda x, p, d: F.normalize(x, p, d)),
    few("reciprocal", method("reciprocal"), unary(WITH_BOOL, values="wide")),
    few("addcmul", lambda a, b, c, v: a.addcmul(b, c, value=v), addc_args()),
    few("addcdiv", lambda a, b, c, v: gradkit.addcdiv(a, b, c, value=v), addc_args(),
        lambda a, b, c, v: torch.addcdiv(a, b, c, value=v), unless=_int_divisor),
]


# The nn modules: built on each side with the same arguments, then called.
def module(name: str, args: st.SearchStrategy, *ctor: Any, label: str = "", **kw: Any) -> Op:
    return few(f"nn.{name}{label}", lambda *a: getattr(gradkit.nn, name)(*ctor)(*a), args,
               lambda *a: getattr(torch.nn, name)(*ctor)(*a), **kw)


@st.composite
def _loss_pair(draw):
    x, y, _ = draw(pair_args(FLOATS))
    return x, y


@st.composite
def _ce_module_args(draw):
    x, t, _, _, _ = draw(class_layout(ignore=False))
    return x, t


MODULES = [
    *(module(n, unary(FLOATS, values="wide")) for n in ("SiLU", "Mish", "LogSigmoid", "ELU", "LeakyReLU",
                                                         "Softplus", "Hardtanh", "ReLU6", "ReLU", "Tanh", "Sigmoid")),
    module("GELU", unary(FLOATS, values="wide"), unless=_has_inf),
    module("GELU", unary(FLOATS, values="wide"), "tanh", label=" tanh", unless=_has_inf),
    few("nn.Softmax dim", lambda x, d: gradkit.nn.Softmax(d)(x), dim_args(dtypes=FLOATS),
        lambda x, d: torch.nn.Softmax(d)(x)),
    few("nn.LogSoftmax", lambda x, d: gradkit.nn.LogSoftmax(d)(x), dim_args(dtypes=FLOATS),
        lambda x, d: torch.nn.LogSoftmax(d)(x)),
    few("nn.CrossEntropyLoss", lambda x, t: gradkit.nn.CrossEntropyLoss(label_smoothing=0.1)(x, t),
        _ce_module_args(), lambda x, t: torch.nn.CrossEntropyLoss(label_smoothing=0.1)(x, t)),
    few("nn.NLLLoss", lambda x, t: gradkit.nn.NLLLoss(reduction="sum")(x, t), _ce_module_args(),
        lambda x, t: torch.nn.NLLLoss(reduction="sum")(x, t)),
    module("MSELoss", _loss_pair()),
    module("L1Loss", _loss_pair()),
    few("nn.BCELoss", lambda x, t, w, r: gradkit.nn.BCELoss(w, reduction=r)(x, t), bce_args(),
        lambda x, t, w, r: torch.nn.BCELoss(w, reduction=r)(x, t)),
    few("nn.BCEWithLogitsLoss", lambda x, t, w, r, p: gradkit.nn.BCEWithLogitsLoss(w, reduction=r, pos_weight=p)(x, t),
        bce_logits_args(), lambda x, t, w, r, p: torch.nn.BCEWithLogitsLoss(w, reduction=r, pos_weight=p)(x, t)),
    few("nn.Flatten", lambda x: gradkit.nn.Flatten()(x), unary(ALL, min_side=1).filter(lambda a: a[0].data.ndim >= 2),
        lambda x: torch.nn.Flatten()(x)),
    few("nn.LayerNorm", lambda x: gradkit.nn.LayerNorm(x.shape[-1], dtype=x.dtype, backend=x.backend)(x),
        unary(FLOATS, min_side=1).filter(lambda a: a[0].data.ndim >= 1),
        lambda x: torch.nn.LayerNorm(x.shape[-1], dtype=x.dtype)(x)),
]


# In-place variants: the out-of-place op's arguments, on tensors that do not require grad, on both sides.
_BY_NAME = {op.name: op for op in [*OPS, *SURFACE_OPS]}
INPLACE_OF = {"sin_": "sin", "cos_": "cos", "tan_": "tan", "asin_": "asin", "acos_": "acos", "atan_": "atan",
              "sinh_": "sinh", "cosh_": "cosh", "asinh_": "asinh", "acosh_": "acosh", "atanh_": "atanh",
              "rsqrt_": "rsqrt", "log2_": "log2", "log1p_": "log1p", "exp2_": "exp2", "expm1_": "expm1",
              "erf_": "erf", "floor_": "floor", "ceil_": "ceil", "trunc_": "trunc", "frac_": "frac", "sign_": "sign",
              "abs_": "abs", "log10_": "log10", "atan2_": "atan2", "clamp_min_": "clamp_min",
              "clamp_max_": "clamp_max", "logical_not_": "logical_not", "bitwise_not_": "bitwise_not",
              "exp_": "exp", "log_": "log", "tanh_": "tanh", "sigmoid_": "sigmoid", "sqrt_": "sqrt", "relu_": "relu",
              "reciprocal_": "reciprocal"}


def _inplace_ops() -> list[Op]:
    out = [few(name, method(name), no_grad(_BY_NAME[base].args), examples=5) for name, base in INPLACE_OF.items()]
    out += [
        few("round_", lambda x, d: x.round_(decimals=d), no_grad(_BY_NAME["round"].args), examples=5),
        few("clamp_", lambda x, lo, hi: x.clamp_(lo, hi), no_grad(_BY_NAME["clip"].args), examples=5),
        few("lerp_", lambda a, b, w: a.lerp_(b, w), no_grad(lerp_args()), examples=5),
        few("floor_divide_", lambda x, k: x.floor_divide_(k), no_grad(with_number(WITH_BOOL)), examples=5),
        few("remainder_", lambda x, k: x.remainder_(k), no_grad(with_number(WITH_BOOL)), examples=5),
        few("cumsum_", lambda x, d: x.cumsum_(d), no_grad(_SCAN_ARGS), examples=5),
        few("cumprod_", lambda x, d: x.cumprod_(d), no_grad(_SCAN_ARGS), examples=5),
        few("masked_fill_", lambda x, m, v: x.masked_fill_(m, v), no_grad(_BY_NAME["masked_fill"].args), examples=5),
        few("neg_", lambda x: x.neg_(), no_grad(unary(WITH_BOOL)), examples=5),
        few("square_", lambda x: x.square_(), no_grad(unary(WITH_BOOL)), examples=5),
        few("pow_", lambda x, k: x.pow_(k), no_grad(with_number(WITH_BOOL)), examples=5),
        few("addcmul_", lambda a, b, c, v: a.addcmul_(b, c, value=v), no_grad(addc_args()).filter(
            lambda a: _fits_first(*a)), examples=5),
        few("addcdiv_", lambda a, b, c, v: a.addcdiv_(b, c, value=v), no_grad(addc_args()).filter(
            lambda a: _fits_first(*a)), examples=5, unless=_int_divisor),
    ]
    for n in ("logical_and_", "logical_or_", "logical_xor_", "bitwise_and_", "bitwise_or_", "bitwise_xor_"):
        out.append(few(n, method(n), no_grad(binary(WITH_BOOL)).filter(lambda a: a[0].data.shape == np.broadcast_shapes(
            a[0].data.shape, a[1].data.shape)), examples=5))
    return out


INPLACE = _inplace_ops()
TABLE = [*SURFACE_OPS, *MODULES, *INPLACE]


@pytest.mark.parametrize("op", TABLE, ids=[op.name for op in TABLE])
def test_surface_matches_torch(backend, op: Op) -> None:
    check_op(backend, op)


# Where the table does not follow torch, and why (``unless``, ``grads=False`` and the strategies' limits; the
# docs/pytorch.md lists them too).
SURFACE_DIFFERENCES = {
    "gelu at float32 +inf": "torch's vectorised float32 CPU kernel gives nan; gradkit gives inf (torch's float64 does)",
    "std_mean/var_mean with an infinity": "torch takes the mean by Welford's update, which gives nan; gradkit's mean "
                                          "is mean()'s (inf), as torch.mean's",
    "number % tensor, floor_divide": "torch's backward raises (not implemented); gradkit's remainder has the gradient "
                                    "(-floor(k / x)), its floor_divide raises as torch's",
    "round(int, decimals=0)": "torch refuses an explicit decimals=0 for integers (but not round()); gradkit reads "
                              "decimals=0 as round()",
    "atan2 of bools": "torch's own backward fails there (it negates a bool); not drawn",
    "clamp with tensor bounds wider than the input": "torch refuses to broadcast the input up to the bounds' shape; "
                                                     "gradkit broadcasts (drawn only where the input has the full "
                                                     "shape)",
    "msort of a 0-d tensor": "torch refuses it while sort accepts it; gradkit accepts both (not drawn)",
    "sort stable=False": "gradkit always sorts stably, one of the orders torch allows (drawn with stable=True)",
    "class indices of int32/int16": "torch accepts only int64 (Long) and uint8 (Byte) targets; gradkit any integer",
    "view(dtype) on strict": "a copy: array_api_strict has no byte views (numpy and CuPy share the storage)",
}


# Other names for the same function (each asserted to be the very same object below).
ALIASES = {"arcsin": "asin", "arccos": "acos", "arctan": "atan", "arcsinh": "asinh", "arccosh": "acosh",
           "arctanh": "atanh", "arctan2": "atan2", "fix": "trunc", "clip": "clamp", "greater": "gt",
           "greater_equal": "ge", "less": "lt", "less_equal": "le", "not_equal": "ne"}
ALIASES.update({f"{k}_": f"{v}_" for k, v in ALIASES.items() if k not in ("greater", "greater_equal", "less",
                                                                         "less_equal", "not_equal")})
ALIASES.update({"__and__": "bitwise_and", "__or__": "bitwise_or", "__xor__": "bitwise_xor"})
ALIASES.update({"negative": "neg", "negative_": "neg_"})

# Shared names not drawn, each with the reason (the first table's exemptions are in NOT_DIFFERENTIATED).
EXEMPT = {
    "Module": "the base class: test_nn", "Parameter": "a leaf type: test_nn", "Sequential": "a container: test_nn",
    "ModuleList": "a container: test_zoo", "ModuleDict": "a container: test_zoo",
    "Linear": "F.linear is drawn; its init (uniform, as torch) is the other helper's: test_nn",
    "Embedding": "getitem index is drawn; its init and id checks: test_nn",
    "BatchNorm1d": "makemore's layout ((N, L, C) and gamma/beta names), not torch's (N, C, L): test_nn",
    "functional": "a module: its functions are drawn (F.*)", "cross_entropy": "drawn as F.cross_entropy",
    "one_hot": "drawn as F.one_hot", "linear": "drawn as F.linear",
    "Dropout": "random masks (gradkit's streams are its own): test_torch_nn_extras checks rates, scaling, eval",
    "dropout": "as Dropout", "init": "a module: test_torch_nn_extras draws each initialiser's distribution",
    "parallel": "a module of stubs that refuse multi-process training: test_torch_nn_extras",
    "scaled_dot_product_attention": "one fused node: test_torch_attention (values and gradients, every option)",
}
# A new user's pass: values, dtypes, gradients and errors against torch in test_torch_newuser.
EXEMPT.update({name: "test_torch_newuser" for name in (
    "Identity", "bmm", "dot", "empty_like", "gather", "get_default_dtype", "get_float32_matmul_precision",
    "is_tensor", "mT", "mm", "nan_to_num", "norm", "normal_", "rand_like", "randint_like", "randn_like",
    "set_float32_matmul_precision", "square", "uniform_")})
# The in-place and indexing additions: values, dtypes and gradients against torch, on a leaf under no_grad and a
# non-leaf in grad mode, in test_torch_inplace (its *_leaf_no_grad, *_nonleaf_grad and *_leaf_grad_mode cases).
EXEMPT.update({name: "test_torch_inplace (values, dtypes, versions, gradients against torch)" for name in (
    "scatter", "scatter_", "scatter_add", "scatter_add_", "index_fill", "index_fill_", "index_copy", "index_copy_",
    "fill_diagonal_", "embedding")})
EXEMPT["is_contiguous"] = "a layout flag: test_torch_inplace (expanded_then_copied, against torch)"


def _names_shared_with_torch() -> set[str]:
    methods = {n for n in dir(Tensor) if not n.startswith("_") and hasattr(torch.Tensor, n)}
    functions = {n for n in gradkit.__all__ if hasattr(torch, n)}
    nn_functional = {n for n in gradkit.nn.functional.__all__ if hasattr(torch.nn.functional, n)}
    modules = {n for n in gradkit.nn.__all__ if hasattr(torch.nn, n)}
    return methods | functions | nn_functional | modules


def test_table_covers_every_shared_name() -> None:
    """A name torch and gradkit share (a Tensor method, a gradkit function, an F function, an nn module) is drawn
    in one of the two tables, is an alias of one that is, or is exempt with a reason."""
    tested = {op.name.split()[0].removeprefix("F.").removeprefix("nn.") for op in [*OPS, *TABLE]}
    missing = _names_shared_with_torch() - tested - set(ALIASES) - set(NOT_DIFFERENTIATED) - set(EXEMPT)
    assert not missing, f"names torch also has, not in a table: {sorted(missing)}"


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_aliases_are_the_same_function(alias: str) -> None:
    target = ALIASES[alias]
    found = False
    for owner in (gradkit, Tensor):
        if hasattr(owner, alias):
            found = True
            assert getattr(owner, alias) is getattr(owner, target), f"{owner.__name__}.{alias} is not {target}"
    assert found and (hasattr(torch.Tensor, alias) or hasattr(torch, alias))
