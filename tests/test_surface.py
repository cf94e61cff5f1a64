"""Issue 16's op surface without torch: every new differentiable op against central differences in float64
(``gradkit.testing.gradcheck``), values against numpy and closed forms, and the edge cases torch defines (zeros in
``cumprod`` and ``prod``, ties and nans in ``sort``, integer division by negative numbers and by zero, rounding half
to even), plus the silent differences of issue 16, item 3. The same names against torch itself are in
test_torch_diff_surface.py."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradkit as gk
from gradkit import Tensor
from gradkit.nn import functional as F
from gradkit.testing import assert_close, gradcheck

RNG = np.random.default_rng(16)


def t(data, backend, **kw) -> Tensor:
    return Tensor(np.asarray(data), backend=backend, **kw)


def away(shape, low=0.2, high=0.9):
    """Values of random sign with magnitudes in ``[low, high]``: away from kinks at 0 and from each other."""
    magnitude = np.linspace(low, high, math.prod(shape))
    return (RNG.permutation(magnitude) * RNG.choice([-1.0, 1.0], size=magnitude.size)).reshape(shape)


UNIT = away((2, 3))
POSITIVE = np.abs(away((2, 3))) + 1.2  # above 1: acosh, rsqrt, log2
PROBS = np.abs(away((2, 3), 0.1, 0.8))
IDX = np.array([0, 2])
CE_TARGETS = np.array([[1, 0], [2, -100]])

def _method(name):
    return lambda o, x: getattr(x, name)()


def _functional(name):
    return lambda o, x: getattr(F, name)(x)


def _normalize(p):
    return lambda o, x: F.normalize(x, p, 1)


# name -> (fn(ops, *tensors), inputs): each checked by central differences on every backend.
GRADCHECK = {
    **{n: (_method(n), [UNIT]) for n in ("sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh",
                                         "atanh", "expm1", "exp2", "erf", "log1p", "frac")},
    **{n: (_method(n), [POSITIVE]) for n in ("acosh", "rsqrt", "log2")},
    "atan2": (lambda o, y, x: y.atan2(x), [UNIT, away((3,))]),
    "lerp": (lambda o, a, b, w: a.lerp(b, w), [UNIT, away((2, 3)), PROBS]),
    "lerp number": (lambda o, a, b: gk.lerp(a, b, 0.7), [UNIT, away((3,))]),
    "remainder": (lambda o, x, y: x % y, [UNIT * 3, np.array([0.7, -1.3, 2.1])]),
    "rmod": (lambda o, x: 2.5 % x, [POSITIVE]),
    "clamp tensors": (lambda o, x, lo, hi: x.clamp(lo, hi), [away((2, 3)), np.full(3, -0.5),
                                                             np.array([[0.55], [0.85]])]),
    "cumsum": (lambda o, x: x.cumsum(1), [UNIT]),
    "cumprod with zeros": (lambda o, x: x.cumprod(1), [np.array([[2.0, 0.0, 3.0, 0.0, 4.0],
                                                                 [0.5, 1.5, 0.0, 2.0, 1.0]])]),
    "cumprod": (lambda o, x: x.cumprod(0), [UNIT]),
    "cummax": (lambda o, x: x.cummax(1).values, [UNIT]),
    "cummin": (lambda o, x: x.cummin(0).values, [UNIT]),
    "logcumsumexp": (lambda o, x: x.logcumsumexp(-1), [UNIT * 3]),
    "sort": (lambda o, x: x.sort(1, descending=True).values * o.const(np.arange(3.0)), [UNIT]),
    "prod with a zero": (lambda o, x: x.prod(1), [np.array([[2.0, 0.0, 3.0], [0.5, 1.5, -2.0]])]),
    "prod with two zeros": (lambda o, x: x.prod(), [np.array([[2.0, 0.0, 3.0], [0.0, 1.5, -2.0]])]),
    "logsumexp": (lambda o, x: x.logsumexp((0, 1), keepdim=True), [UNIT]),
    "std_mean": (lambda o, x: gk.std_mean(x, 1)[0] + gk.std_mean(x, 1)[1] * 2, [UNIT]),
    "var_mean": (lambda o, x: gk.var_mean(x, 0, correction=0)[0], [UNIT]),
    "einsum ij,jk->ik": (lambda o, a, b: gk.einsum("ij,jk->ik", a, b), [UNIT, away((3, 2))]),
    "einsum bij,bjk": (lambda o, a, b: gk.einsum("bij,bjk->bik", a, b), [away((2, 2, 3)), away((2, 3, 2))]),
    "einsum ii->i": (lambda o, a: gk.einsum("ii->i", a), [away((3, 3))]),
    "einsum ...ij->...ji": (lambda o, a: gk.einsum("...ij->...ji", a), [away((2, 2, 3))]),
    "einsum i,i,i->": (lambda o, a, b, c: gk.einsum("i,i,i->", a, b, c), [away((3,)), away((3,)), away((3,))]),
    "repeat": (lambda o, x: x.repeat(2, 1, 2), [UNIT]),
    "repeat_interleave": (lambda o, x: x.repeat_interleave(gk.tensor([2, 0, 1], backend=o.backend), dim=1), [UNIT]),
    "flip": (lambda o, x: x.flip(0, 1) * o.const(np.arange(6.0).reshape(2, 3)), [UNIT]),
    "diagonal": (lambda o, x: x.diagonal(1, 0, 2), [away((3, 2, 4))]),
    "diag": (lambda o, x: gk.diag(x, -1), [away((3,))]),
    "diag of a matrix": (lambda o, x: gk.diag(x, 1), [away((3, 4))]),
    "masked_select": (lambda o, x: gk.masked_select(x, gk.tensor([True, False, True], backend=o.backend)), [UNIT]),
    "meshgrid": (lambda o, a, b: gk.meshgrid(a, b, indexing="xy")[0] * gk.meshgrid(a, b)[1].T, [away((2,)),
                                                                                              away((3,))]),
    "unflatten": (lambda o, x: x.unflatten(1, (3, 1)) * o.const(np.arange(3.0).reshape(3, 1)), [UNIT]),
    "where numbers": (lambda o, x: gk.where(x > 0, x, 2.0), [UNIT]),
    "nll_loss weighted": (lambda o, x: F.nll_loss(x, gk.tensor(IDX, backend=o.backend), o.const([1.0, 2.0, 0.5])),
                          [UNIT]),
    "cross_entropy smoothed": (lambda o, x: F.cross_entropy(x, gk.tensor(CE_TARGETS, backend=o.backend),
                                                            o.const([1.0, 2.0, 0.5]), label_smoothing=0.2),
                               [away((2, 3, 2))]),
    "cross_entropy probabilities": (lambda o, x, p: F.cross_entropy(x, p), [UNIT, PROBS]),
    "mse_loss": (lambda o, x, y: F.mse_loss(x, y, reduction="sum"), [UNIT, away((2, 3))]),
    "l1_loss": (lambda o, x: F.l1_loss(x, o.const(UNIT + 0.05)), [UNIT]),
    "binary_cross_entropy": (lambda o, p, y: F.binary_cross_entropy(p, y), [PROBS, PROBS[::-1].copy()]),
    "binary_cross_entropy_with_logits": (lambda o, x, y: F.binary_cross_entropy_with_logits(
        x, y, pos_weight=o.const([1.0, 2.0, 0.5])), [UNIT * 3, PROBS]),
    **{n: (_functional(n), [UNIT * 3]) for n in ("silu", "elu", "leaky_relu", "softplus", "mish", "logsigmoid",
                                                 "gelu")},
    "hardtanh": (lambda o, x: F.hardtanh(x, -0.5, 0.5), [UNIT]),
    "relu6": (lambda o, x: F.relu6(x * 8), [UNIT]),
    "pad constant": (lambda o, x: F.pad(x, (1, -1, 2, 0), value=0.5), [UNIT]),
    "pad reflect": (lambda o, x: F.pad(x, (2, 1), mode="reflect") * o.const(np.arange(6.0)), [UNIT]),
    "pad replicate": (lambda o, x: F.pad(x, (2, 1), mode="replicate") * o.const(np.arange(6.0)), [UNIT]),
    "pad circular": (lambda o, x: F.pad(x, (1, 2), mode="circular") * o.const(np.arange(6.0)), [UNIT]),
    **{f"normalize p={p}": (_normalize(p), [UNIT]) for p in (1, 2, 3, math.inf)},
}


@pytest.mark.parametrize("case", list(GRADCHECK))
def test_gradient_against_central_differences(backend, case):
    fn, inputs = GRADCHECK[case]
    gradcheck(fn, inputs, backend)


def test_cumprod_gradient_with_zeros_is_torchs(backend):
    """The first zero of a row gets the product of the others up to each later output; later positions get 0."""
    x = t([2.0, 0.0, 3.0, 0.0, 4.0], backend, dtype="float64", requires_grad=True)
    x.cumprod(0).backward(t([1.0, 2.0, 3.0, 4.0, 5.0], backend, dtype="float64"))
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 22.0, 0.0, 0.0, 0.0])  # 22 = 2 * 2 + 3 * (2 * 3)
    z = t([0.0, 0.0], backend, dtype="float64", requires_grad=True)
    z.cumprod(0).backward(t([1.0, 1.0], backend, dtype="float64"))
    np.testing.assert_array_equal(z.grad.numpy(), [1.0, 0.0])


def test_prod_gradient_with_zeros(backend):
    x = t([[2.0, 0.0, 3.0], [0.0, 0.0, 5.0], [1.0, 2.0, 4.0]], backend, dtype="float64", requires_grad=True)
    x.prod(1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 6.0, 0.0], [0.0, 0.0, 0.0], [8.0, 4.0, 2.0]])
    assert gk.prod(t([2, 3], backend)).dtype == gk.int64 and gk.prod(t([True, True], backend)).item() == 1
    with pytest.raises(TypeError, match="one int dim"):
        gk.prod(t([[1.0]], backend), (0, 1))


def test_sort_is_stable_with_nans_last_or_first(backend):
    x = t([3.0, np.nan, 1.0, 3.0, -np.inf, np.nan, 1.0, -0.0, 0.0], backend)
    values, indices = x.sort()
    np.testing.assert_array_equal(indices.numpy(), [4, 7, 8, 2, 6, 0, 3, 1, 5])  # ties keep their order
    down = x.sort(descending=True)
    np.testing.assert_array_equal(down.indices.numpy(), [1, 5, 0, 3, 2, 6, 7, 8, 4])  # nans first, ties in order
    assert np.isnan(values.numpy()[-2:]).all() and np.isnan(down.values.numpy()[:2]).all()
    ints = t([2, -2**63, 2**63 - 1, 2, 0], backend)
    np.testing.assert_array_equal(gk.argsort(ints, descending=True).numpy(), [2, 0, 3, 4, 1])  # no overflow
    np.testing.assert_array_equal(t([True, False, True], backend).argsort().numpy(), [1, 0, 2])
    assert gk.msort(t([[2, 1], [0, 3]], backend)).tolist() == [[0, 1], [2, 3]]


def test_integer_division_by_negative_numbers_and_zero(backend):
    a, b = [7, -7, 0, 7, -7, 5], [2, 2, 3, -2, -2, 7]
    x, y = t(a, backend), t(b, backend)
    assert (x // y).tolist() == [i // j for i, j in zip(a, b)]  # Python's floor: -7 // 2 == -4
    assert (x % y).tolist() == [i % j for i, j in zip(a, b)]  # the divisor's sign: 7 % -2 == -1
    assert (13 // y).tolist() == [13 // j for j in b] and (x % 3).tolist() == [i % 3 for i in a]
    assert (x // 2.5).dtype == gk.float32
    for divide in (lambda: x // t([1, 0, 1, 1, 1, 1], backend), lambda: x % 0, lambda: 5 // x):
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            divide()
    f = t([7.5, -7.5, 0.0], backend, dtype="float64")
    assert (f // 0).tolist()[:2] == [math.inf, -math.inf] and math.isnan((f // 0).tolist()[2])
    assert np.isnan((f % 0).numpy()).all()
    assert (f // -2).tolist() == [-4.0, 3.0, -0.0] and (f % -2).tolist() == [-0.5, -1.5, 0.0]
    with pytest.raises(TypeError, match="bool"):
        t([True], backend) // t([True], backend)
    g = t([1.0], backend, requires_grad=True)
    with pytest.raises(RuntimeError, match="derivative for floor_divide is not implemented"):
        (g // 2).sum().backward()


def test_round_half_to_even_and_decimals(backend):
    x = t([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999997], backend)
    assert x.round().tolist() == [0.0, 2.0, 2.0, -0.0, -2.0, -2.0, 0.0]
    assert_close(t([1.25, 0.125, 1234.5], backend, dtype="float64").round(decimals=2), [1.25, 0.12, 1234.5])
    assert t([1254.0, -15.0], backend, dtype="float64").round(decimals=-1).tolist() == [1250.0, -20.0]
    assert t([3, -3], backend).round().tolist() == [3, -3] and t([3], backend).floor().dtype == gk.int64
    with pytest.raises(TypeError):
        t([True], backend).floor()
    with pytest.raises(TypeError):
        t([3], backend).round(decimals=1)


def test_elementwise_values_and_dtypes(backend):
    x = np.array([-0.75, -0.25, 0.0, 0.5, 0.9])
    gx = t(x, backend, dtype="float64")
    for name, ref in [("sin", np.sin), ("cos", np.cos), ("tan", np.tan), ("asin", np.arcsin), ("acos", np.arccos),
                      ("atan", np.arctan), ("sinh", np.sinh), ("cosh", np.cosh), ("asinh", np.arcsinh),
                      ("atanh", np.arctanh), ("expm1", np.expm1), ("log1p", np.log1p), ("exp2", np.exp2),
                      ("trunc", np.trunc), ("ceil", np.ceil), ("floor", np.floor), ("sign", np.sign)]:
        assert_close(getattr(gx, name)(), ref(x), what=name)
        assert_close(getattr(gk, name)(gx), ref(x), what=name)
    y = np.array([1.0, 2.0, 4.5])
    assert_close(gk.acosh(t(y, backend, dtype="float64")), np.arccosh(y))
    assert_close(gk.rsqrt(t(y, backend, dtype="float64")), 1 / np.sqrt(y))
    assert_close(gk.log2(t(y, backend, dtype="float64")), np.log2(y))
    assert_close(gk.frac(t([2.75, -2.75], backend, dtype="float64")), [0.75, -0.75])
    assert_close(gk.atan2(t([1.0, -1.0], backend, dtype="float64"), t([-1.0, -1.0], backend, dtype="float64")),
                 np.arctan2([1.0, -1.0], [-1.0, -1.0]))
    assert_close(gk.lerp(gx, gx * 3, 0.25), x * 1.5)
    assert gk.sin(t([1, 2], backend)).dtype == gk.float32 and gk.sign(t([True], backend)).dtype == gk.bool
    assert gk.sign(t([np.nan, -2.0], backend)).tolist() == [0.0, -1.0]  # torch's sign(nan) is 0
    assert math.isnan(gk.asin(t([2.0], backend)).item()) and gk.atanh(t([1.0], backend)).item() == math.inf
    assert gk.clip(t([-3, 5], backend), 0, 2).tolist() == [0, 2]
    with pytest.raises(TypeError, match="two tensors"):
        gk.atan2(gx, 2.0)
    with pytest.raises(TypeError, match="one dtype"):
        gk.lerp(gx, gx.float(), 0.5)


def test_erf_is_exact_to_the_dtype():
    grid = np.concatenate([np.linspace(-7.0, 7.0, 20001), [0.0, -0.0, 1e-300, 1.0, 0.999999999, 4.0, 6.0]])
    expected = np.array([math.erf(v) for v in grid])
    got = gk.erf(Tensor(grid, dtype="float64")).numpy()
    assert np.max(np.abs(got - expected)) <= 1e-15
    assert np.all(np.abs(got - expected) <= 8 * np.spacing(np.abs(expected)))  # a few ulps, relative at 1e-300 too
    g32 = grid.astype(np.float32)
    got32 = gk.erf(Tensor(g32)).numpy()
    ref32 = np.array([math.erf(float(v)) for v in g32])
    assert got32.dtype == np.float32 and np.max(np.abs(got32 - ref32) / np.maximum(np.abs(ref32), 1e-30)) < 3e-7
    specials = gk.erf(Tensor([math.inf, -math.inf, math.nan])).numpy()
    assert specials[0] == 1.0 and specials[1] == -1.0 and math.isnan(specials[2])


def test_logical_and_bitwise_ops(backend):
    b, c = t([True, False, True, False], backend), t([True, True, False, False], backend)
    i = t([7, -7, 0, 12], backend)
    assert (b & c).tolist() == [True, False, False, False] and (b | c).tolist() == [True, True, True, False]
    assert (b ^ c).tolist() == [False, True, True, False] and (~b).tolist() == [False, True, False, True]
    assert (i & 3).tolist() == [3, 1, 0, 0] and (~i).tolist() == [-8, 6, -1, -13] and (5 | i).tolist() == [7, -3, 5, 13]
    assert (b & i).tolist() == [1, 0, 0, 0] and (b | 1).dtype == gk.int64
    assert gk.logical_and(i, t([1.0, 0.0, 2.0, 3.0], backend)).tolist() == [True, False, False, True]
    assert gk.logical_xor(b, c).tolist() == [False, True, True, False] and gk.logical_not(i).tolist() == [
        False, False, True, False]
    f = t([1.0, np.inf, -np.inf, np.nan], backend)
    assert gk.isnan(f).tolist() == [False, False, False, True] and gk.isinf(f).tolist() == [False, True, True, False]
    assert gk.isfinite(i).tolist() == [True] * 4 and gk.isnan(i).tolist() == [False] * 4
    assert gk.eq(i, 7).tolist() == [True, False, False, False] and i.ge(0).tolist() == [True, False, True, True]
    for bad in (lambda: f & 1, lambda: ~f, lambda: i & 1.5, lambda: gk.logical_and(b, 1)):
        with pytest.raises(TypeError):
            bad()
    m = t([True, True, False], backend)
    m &= t([True, False, True], backend)
    assert m.tolist() == [True, False, False]


def test_scans_against_numpy(backend):
    x = np.array([[1.0, 3.0, 3.0, 2.0, 3.0], [0.5, -1.0, -1.0, 4.0, -2.0]])
    gx = t(x, backend, dtype="float64")
    assert_close(gx.cumsum(1), np.cumsum(x, 1))
    assert_close(gx.cumprod(0), np.cumprod(x, 0))
    top = gx.cummax(1)
    assert_close(top.values, np.maximum.accumulate(x, 1))
    np.testing.assert_array_equal(top.indices.numpy(), [[0, 1, 2, 2, 4], [0, 0, 0, 3, 3]])  # ties: the latest
    low = gk.cummin(gx, 1)
    np.testing.assert_array_equal(low.indices.numpy(), [[0, 0, 0, 0, 0], [0, 1, 2, 2, 4]])
    assert_close(gx.logcumsumexp(1), np.logaddexp.accumulate(x, 1))
    big = t([-1000.0, 0.0, -np.inf, 1000.0], backend, dtype="float64")
    assert gk.logcumsumexp(big, 0).tolist() == [-1000.0, 0.0, 0.0, 1000.0]  # no underflow to -inf
    nans = gk.cummax(t([1.0, np.nan, 3.0, np.nan, 0.0], backend), 0)
    assert nans.indices.tolist() == [0, 1, 1, 3, 3]  # a nan wins and stays, as torch
    assert gk.cumsum(t([True, False, True], backend), 0).tolist() == [1, 1, 2]
    assert gk.cumsum(t([1, 2], backend, dtype="int32"), 0).dtype == gk.int64
    assert gk.cumsum(t(3.0, backend), 0).item() == 3.0
    with pytest.raises(TypeError):
        gk.logcumsumexp(t([1, 2], backend), 0)


def test_construction_and_shapes_against_numpy(backend):
    assert_close(gk.eye(2, 3, backend=backend), np.eye(2, 3), dtype="float32")
    assert gk.eye(2, dtype=gk.int64, backend=backend).dtype == gk.int64
    np.testing.assert_array_equal(gk.tril_indices(3, 4, 1, backend=backend).numpy(), np.stack(np.tril_indices(3, 1, 4)))
    np.testing.assert_array_equal(gk.triu_indices(3, 3, -1, backend=backend).numpy(),
                                  np.stack(np.triu_indices(3, -1, 3)))
    a, b = np.arange(2.0), np.arange(3.0)
    for indexing in ("ij", "xy"):
        for got, want in zip(gk.meshgrid(t(a, backend), t(b, backend), indexing=indexing),
                             np.meshgrid(a, b, indexing=indexing)):
            np.testing.assert_array_equal(got.numpy(), want)
    x = np.arange(6.0).reshape(2, 3)
    gx = t(x, backend)
    np.testing.assert_array_equal(gx.repeat(2, 1, 2).numpy(), np.tile(x, (2, 1, 2)))
    np.testing.assert_array_equal(gx.repeat_interleave(2).numpy(), np.repeat(x, 2))
    np.testing.assert_array_equal(gx.repeat_interleave(t([1, 0, 2], backend), dim=1).numpy(),
                                  np.repeat(x, [1, 0, 2], axis=1))
    assert gk.repeat_interleave(t([2, 1], backend)).tolist() == [0, 0, 1]
    np.testing.assert_array_equal(gk.flip(gx, (0, 1)).numpy(), x[::-1, ::-1])
    np.testing.assert_array_equal(gk.diag(t([1, 2], backend), 1).numpy(), np.diag([1, 2], 1))
    np.testing.assert_array_equal(gx.diag(-1).numpy(), np.diag(x, -1))
    cube = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(t(cube, backend).diagonal(1, 0, 2).numpy(), np.diagonal(cube, 1, 0, 2))
    assert gx.unflatten(1, (-1, 1)).shape == (2, 3, 1) and gk.unflatten(gx, 0, (1, 2)).shape == (1, 2, 3)
    np.testing.assert_array_equal(gk.masked_select(gx, t([True, False, True], backend)).numpy(), [0, 2, 3, 5])
    np.testing.assert_array_equal(gk.nonzero(t([[0, 1], [2, 0]], backend)).numpy(), [[0, 1], [1, 0]])
    assert [k.tolist() for k in gk.nonzero(t([0, 3, 4], backend), as_tuple=True)] == [[1, 2]]
    assert gk.where(t([True, False], backend), 1.0, 0.0).dtype == gk.float32
    assert gk.where(t([True, False], backend), 1, 0).dtype == gk.int64
    assert gk.where(t([True, False], backend), True, False).dtype == gk.bool
    for eq in ("ij,jk->ik", "ii->i", "i,i->", "bij,bjk->bik", "ij", "ji", "...ij->...ji", "iij->j"):
        shapes = {"ij,jk->ik": [(2, 3), (3, 4)], "ii->i": [(3, 3)], "i,i->": [(3,), (3,)],
                  "bij,bjk->bik": [(2, 2, 3), (2, 3, 2)], "ij": [(2, 3)], "ji": [(2, 3)],
                  "...ij->...ji": [(2, 2, 3)], "iij->j": [(2, 2, 3)]}[eq]
        arrays = [RNG.normal(size=s) for s in shapes]
        assert_close(gk.einsum(eq, *[t(a, backend, dtype="float64") for a in arrays]), np.einsum(eq, *arrays))
    with pytest.raises(ValueError, match="label 'j' has sizes 3 and 4"):
        gk.einsum("ij,jk", gx, t(np.ones((4, 2)), backend))
    with pytest.raises(TypeError, match="sublist form .* not supported: write einsum"):
        gk.einsum(gx, [0, 1], gx, [1, 0])


def test_views_share_storage_on_numpy():
    x = Tensor(np.arange(12.0).reshape(3, 4), backend="numpy", dtype="float32")
    assert np.shares_memory(x.diagonal()._data, x._data)
    assert np.shares_memory(x.unflatten(1, (2, 2))._data, x._data)
    bits = x.view(gk.int32)
    assert bits.dtype == gk.int32 and np.shares_memory(bits._data, x._data) and not bits.requires_grad
    assert Tensor([1.0], dtype="float32").view(gk.int32).item() == 1065353216
    assert Tensor([1.0, 2.0], dtype="float64").view(gk.float32).shape == (4,)
    with pytest.raises(RuntimeError, match="last axis must divide"):
        Tensor([1.0, 2.0, 3.0], dtype="float32").view(gk.int64)


def test_in_place_variants_write_through_the_door(backend):
    x = t([0.5, -1.5, 2.5], backend)
    assert x.floor_() is x and x.tolist() == [0.0, -2.0, 2.0]
    assert x.clamp_(-1, 1).tolist() == [0.0, -1.0, 1.0] and x.abs_().tolist() == [0.0, 1.0, 1.0]
    y = t([1.0, 4.0], backend)
    y.lerp_(t([3.0, 0.0], backend), 0.5)
    assert y.tolist() == [2.0, 2.0]
    z = t([0, 2], backend)
    z.cumsum_(0)
    assert z.tolist() == [0, 2] and z.dtype == gk.int64
    with pytest.raises(RuntimeError, match="can't be cast"):
        t([1, 2], backend).sin_()
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        t(1.0, backend).atan2_(t([1.0, 2.0], backend))
    w = t([1.0, 0.0], backend)
    w.logical_not_()
    assert w.tolist() == [0.0, 1.0]


def test_losses_against_closed_forms(backend):
    logits = RNG.normal(size=(3, 4))
    targets = np.array([1, 0, 3])
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    x, tt = t(logits, backend, dtype="float64"), t(targets, backend)
    weight = np.array([1.0, 2.0, 0.5, 1.5])
    w = t(weight, backend, dtype="float64")
    picked = -logp[np.arange(3), targets]
    assert_close(F.nll_loss(t(logp, backend, dtype="float64"), tt, w), (picked * weight[targets]).sum()
                 / weight[targets].sum())
    assert_close(F.cross_entropy(x, tt, w), (picked * weight[targets]).sum() / weight[targets].sum())
    smooth = 0.1
    expected = (1 - smooth) * picked.mean() + smooth / 4 * (-logp.sum(1)).mean()
    assert_close(F.cross_entropy(x, tt, label_smoothing=smooth), expected)
    probs = np.abs(RNG.normal(size=(3, 4)))
    probs /= probs.sum(1, keepdims=True)
    assert_close(F.cross_entropy(x, t(probs, backend, dtype="float64")), -(probs * logp).sum(1).mean())
    with pytest.raises(RuntimeError, match="expected class-index targets of an integer dtype"):
        F.cross_entropy(x, t(targets.astype(np.float64), backend))  # torch refuses; it used to be truncated
    p, y = np.array([0.0, 0.2, 0.9, 1.0]), np.array([0.0, 1.0, 0.5, 0.0])
    with np.errstate(divide="ignore"):
        bce = -(y * np.maximum(np.log(p), -100) + (1 - y) * np.maximum(np.log1p(-p), -100))
    assert_close(F.binary_cross_entropy(t(p, backend, dtype="float64"), t(y, backend, dtype="float64"),
                                        reduction="none"), bce)  # the logs are clamped at -100, as torch
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(t([1.5], backend), t([1.0], backend))
    z = np.array([-100.0, -1.0, 0.0, 3.0])
    assert_close(F.binary_cross_entropy_with_logits(t(z, backend, dtype="float64"), t(y, backend, dtype="float64"),
                                                    reduction="sum"),
                 np.sum(np.logaddexp(0, z) - y * z))
    assert_close(F.mse_loss(x, x * 0), (logits**2).mean())
    assert_close(F.l1_loss(x, x * 0, reduction="sum"), np.abs(logits).sum())
    with pytest.warns(UserWarning, match="different to the input size"):
        F.mse_loss(t([1.0, 2.0], backend), t([[1.0, 2.0]], backend))
    with pytest.raises(TypeError):
        F.mse_loss(t([1, 2], backend), t([1, 2], backend))


def test_activations_pad_normalize_against_closed_forms(backend):
    x = np.array([-3.0, -0.5, 0.0, 0.5, 3.0, 7.0])
    gx = t(x, backend, dtype="float64")
    sig = 1 / (1 + np.exp(-x))
    assert_close(F.silu(gx), x * sig)
    assert_close(F.elu(gx, 0.5), np.where(x > 0, x, 0.5 * np.expm1(x)))
    assert_close(F.leaky_relu(gx, 0.2), np.where(x > 0, x, 0.2 * x))
    assert_close(F.softplus(gx, 2.0, 10.0), np.where(2 * x > 10, x, np.log1p(np.exp(2 * x)) / 2))
    assert_close(F.hardtanh(gx), np.clip(x, -1, 1))
    assert_close(F.relu6(gx), np.clip(x, 0, 6))
    assert_close(F.mish(gx), x * np.tanh(np.log1p(np.exp(x))))
    assert_close(F.logsigmoid(gx), np.log(sig))
    assert F.hardtanh(t([-2, 0, 3], backend), -0.5, 2.5).tolist() == [0, 0, 2]  # torch truncates the bounds
    assert F.relu(gx).tolist() == np.maximum(x, 0).tolist()
    y = t([1.0, -1.0], backend)
    assert F.relu(y, inplace=True) is y and y.tolist() == [1.0, 0.0]
    m = RNG.normal(size=(2, 3, 4))
    gm = t(m, backend, dtype="float64")
    for mode, numpy_mode in (("reflect", "reflect"), ("replicate", "edge"), ("circular", "wrap")):
        assert_close(F.pad(gm, (2, 1, 1, 0), mode=mode), np.pad(m, ((0, 0), (1, 0), (2, 1)), mode=numpy_mode))
    assert_close(F.pad(gm, (1, 1), value=-2.0), np.pad(m, ((0, 0), (0, 0), (1, 1)), constant_values=-2.0))
    assert_close(F.pad(gm, (-1, 0, 0, -1)), m[:, :-1, 1:])
    with pytest.raises(ValueError, match="must be smaller than dimension"):
        F.pad(gm, (4, 0), mode="reflect")
    with pytest.raises(RuntimeError, match="without overflow"):
        F.pad(t([1, 2], backend), (1, 1), value=math.inf)
    assert_close(F.normalize(gm, dim=-1), m / np.linalg.norm(m, axis=-1, keepdims=True))
    assert_close(F.normalize(gm, p=1, dim=0), m / np.abs(m).sum(0, keepdims=True))
    zero = t(np.zeros((1, 2)), backend, dtype="float64", requires_grad=True)
    out = F.normalize(zero)
    out.sum().backward()
    assert out.tolist() == [[0.0, 0.0]] and zero.grad.tolist() == [[1e12, 1e12]]  # 1 / eps, as torch


def test_nn_modules(backend):
    x = t(RNG.normal(size=(2, 3)), backend, dtype="float64")
    assert_close(gk.nn.Softmax(dim=0)(x), F.softmax(x, 0))
    assert_close(gk.nn.LogSoftmax(1)(x), F.log_softmax(x, 1))
    for module, fn in ((gk.nn.SiLU(), F.silu), (gk.nn.Mish(), F.mish), (gk.nn.ELU(0.3), lambda v: F.elu(v, 0.3)),
                       (gk.nn.LeakyReLU(0.1), lambda v: F.leaky_relu(v, 0.1)), (gk.nn.Softplus(2.0), lambda v:
                       F.softplus(v, 2.0)), (gk.nn.Hardtanh(-0.2, 0.2), lambda v: F.hardtanh(v, -0.2, 0.2)),
                       (gk.nn.ReLU6(), F.relu6), (gk.nn.LogSigmoid(), F.logsigmoid)):
        assert_close(module(x), fn(x), what=type(module).__name__)
    targets = t([2, 0], backend)
    w = t([1.0, 2.0, 3.0], backend, dtype="float64")
    loss = gk.nn.CrossEntropyLoss(weight=w, label_smoothing=0.1)
    assert_close(loss(x, targets), F.cross_entropy(x, targets, w, label_smoothing=0.1))
    assert "weight" in loss.state_dict()  # a buffer, as torch's
    assert_close(gk.nn.NLLLoss(reduction="sum")(x, targets), F.nll_loss(x, targets, reduction="sum"))
    assert_close(gk.nn.MSELoss()(x, x * 2), F.mse_loss(x, x * 2))
    assert_close(gk.nn.L1Loss(reduction="none")(x, x * 2), F.l1_loss(x, x * 2, reduction="none"))
    p = t([[0.2, 0.7]], backend, dtype="float64")
    assert_close(gk.nn.BCELoss()(p, p), F.binary_cross_entropy(p, p))
    pw = t([2.0, 0.5], backend, dtype="float64")
    assert_close(gk.nn.BCEWithLogitsLoss(pos_weight=pw)(p, p), F.binary_cross_entropy_with_logits(p, p, pos_weight=pw))
    assert gk.nn.MSELoss(reduce=False).reduction == "none" and gk.nn.L1Loss(size_average=False).reduction == "sum"


# Issue 16, item 3: the silent differences, each now torch's behaviour.
def test_integer_min_is_exact_and_bool_min_is_all(backend):
    x = t([-2**63, 5, 2**63 - 1], backend)
    assert x.min().item() == -2**63 and gk.amin(x).item() == -2**63 and x.max().item() == 2**63 - 1
    assert gk.amin(t([[3, -2**63]], backend), 1).tolist() == [-2**63]
    b = t([[True, False], [True, True]], backend)
    assert b.min().item() is False and b.amin(1).tolist() == [False, True] and b.amin(0).dtype == gk.bool
    assert b.min(1).values.tolist() == [False, True] and b.min(1).indices.tolist() == [1, 0]


def test_tensor_refuses_ints_beyond_int64():
    for data in ([2**63], [[1, -2**63 - 1]], 2**64):
        with pytest.raises(ValueError, match="Overflow when unpacking long long"):
            gk.tensor(data)
    assert gk.tensor([2**63 - 1, -2**63]).dtype == gk.int64
    assert gk.tensor([2**63], dtype=gk.float64).item() == 2.0**63


def test_python_bool_operands_on_every_backend(backend):
    f = t([1.5, -2.5], backend, dtype="float32")
    assert (f + True).tolist() == [2.5, -1.5] and (f * False).tolist() == [0.0, -0.0]
    assert (f > True).tolist() == [True, False] and (True * f).tolist() == [1.5, -2.5] and (f ** True).tolist() == [
        1.5, -2.5]
    assert (t([4, 5], backend) + True).tolist() == [5, 6] and (f + True).dtype == gk.float32
    with pytest.raises(TypeError, match="bool"):
        f - True  # as torch: subtraction with a bool


def test_fills_that_the_dtype_cannot_hold_raise(backend):
    i = t([1, 2], backend)
    for fill in (lambda: gk.full((2,), -math.inf, dtype=gk.int64, backend=backend),
                 lambda: gk.full((2,), math.nan, dtype=gk.int32, backend=backend),
                 lambda: gk.full((2,), 2**40, dtype=gk.int32, backend=backend),
                 lambda: gk.full_like(i, math.inf), lambda: i.masked_fill(t([True, False], backend), -math.inf),
                 lambda: gk.full((1,), 1e300, dtype=gk.float32, backend=backend)):
        with pytest.raises(RuntimeError, match="cannot be converted to type .* without overflow"):
            fill()
    assert i.masked_fill(t([True, False], backend), 2.5).tolist() == [2, 2]  # truncated, as torch
    assert gk.full((1,), math.inf, dtype=gk.bool, backend=backend).tolist() == [True]
    assert gk.full((1,), -math.inf, backend=backend).tolist() == [-math.inf]
