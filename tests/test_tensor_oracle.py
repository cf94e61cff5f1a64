"""Every Tensor op, on every backend, against the scalar ``Value`` engine and against finite differences.

Each case is one function ``fn(ops, *xs)`` written once (see ``gradkit.testing``) with its inputs. It runs
three ways: against the Value oracle in float64 (output and every input's gradient), against central
differences in float64 (``gradcheck``; smooth cases only: no input at a kink of relu/abs or a tie of max),
and in float32, where the output and every gradient must stay float32 and match the float64 oracle within
the float32 tolerance.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from gradkit.testing import check_against_value, gradcheck


@dataclass(frozen=True)
class Spec:
    """How to draw one input: ``kind`` is normal, positive (in [0.5, 2]) or ties (small integers)."""

    shape: tuple[int, ...]
    kind: str = "normal"

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        if self.kind == "positive":
            return rng.uniform(0.5, 2.0, self.shape)
        if self.kind == "ties":
            return rng.integers(0, 2, self.shape).astype(np.float64)
        if self.kind == "zeros":  # normal with every other element exactly 0 (relu/abs kinks)
            x = rng.normal(size=self.shape)
            x.reshape(-1)[::2] = 0.0
            return x
        return rng.normal(size=self.shape)


def N(*shape: int) -> Spec:  # noqa: N802
    return Spec(shape)


def P(*shape: int) -> Spec:  # noqa: N802
    return Spec(shape, "positive")


@dataclass(frozen=True)
class Case:
    id: str
    fn: Callable
    specs: tuple[Spec, ...]
    smooth: bool = True  # differentiable at the drawn inputs: gradcheck applies

    def inputs(self) -> list[np.ndarray]:
        rng = np.random.default_rng(zlib.crc32(self.id.encode()))
        return [s.draw(rng) for s in self.specs]


IDX = np.array([1, 1, 4, 0, 1])  # repeated rows: an embedding lookup
IDX2 = np.array([[0, 1], [1, 1], [4, 4]])  # 2-D index array
ROWS, COLS = np.array([0, 2, 2, 1]), np.array([3, 0, 0, 3])  # a repeated (row, col) pair
NEG = np.array([-1, 0, -1, -5])
TARGETS = np.array([0, 3, 3, 4])
TARGETS2 = np.array([[1, 0, 4], [2, 2, 0]])

CASES = [
    # Arithmetic, same shapes and broadcast (size-1 axes, missing axes, 0-d).
    Case("add", lambda o, x, y: x + y, (N(3, 4), N(3, 4))),
    Case("sub", lambda o, x, y: x - y, (N(3, 4), N(3, 4))),
    Case("mul", lambda o, x, y: x * y, (N(3, 4), N(3, 4))),
    Case("div", lambda o, x, y: x / y, (N(3, 4), P(3, 4))),
    Case("neg", lambda o, x: -x, (N(2, 3),)),
    Case("add (3,1)+(1,4)", lambda o, x, y: x + y, (N(3, 1), N(1, 4))),
    Case("mul (2,3,4)*(4,)", lambda o, x, y: x * y, (N(2, 3, 4), N(4))),
    Case("sub (1,)-(3,)", lambda o, x, y: x - y, (N(1), N(3))),
    Case("div (2,1,4)/(3,1)", lambda o, x, y: x / y, (N(2, 1, 4), P(3, 1))),
    Case("mul ()*(2,3)", lambda o, x, y: x * y, (N(), N(2, 3))),
    Case("add (2,3)+(1,1)", lambda o, x, y: x + y, (N(2, 3), N(1, 1))),
    Case("numbers", lambda o, x: (x + 2.5) * 3 - 1 + x / 4, (N(3, 2),)),
    Case("numpy scalars", lambda o, x: x * np.float64(2.0) + np.float32(0.5) - np.int64(3), (N(3, 2),)),
    Case("pow 2", lambda o, x: x**2, (N(3, 4),)),
    Case("pow 3", lambda o, x: x**3, (N(3, 4),)),
    Case("pow 0.5", lambda o, x: x**0.5, (P(3, 4),)),
    Case("pow -1.5", lambda o, x: x**-1.5, (P(3, 4),)),
    Case("pow np.float64", lambda o, x: x ** np.float64(2.0), (N(3, 4),)),
    Case("pow tensor", lambda o, x, y: x**y, (P(3, 4), N(3, 4))),
    Case("pow tensor (3,4)**(4,)", lambda o, x, y: x**y, (P(3, 4), N(4))),
    Case("pow tensor (3,1)**(1,4)", lambda o, x, y: x**y, (P(3, 1), N(1, 4))),
    Case("rsub 2-x", lambda o, x: 2 - x, (N(3, 4),)),
    Case("rdiv 2/x", lambda o, x: 2 / x, (P(3, 4),)),
    Case("rpow 2**x", lambda o, x: 2**x, (N(3, 4),)),
    Case("rpow 0.5**x", lambda o, x: 0.5**x, (N(3, 4),)),
    Case("radd rmul", lambda o, x: 3 + 2.5 * x, (N(3, 4),)),
    # matmul.
    Case("matmul 1d@2d", lambda o, x, w: x @ w, (N(4), N(4, 3))),
    Case("matmul 2d@1d", lambda o, x, w: x @ w, (N(3, 4), N(4))),
    Case("matmul 1d@1d", lambda o, x, w: x @ w, (N(4), N(4))),
    Case("matmul 2d@2d", lambda o, x, w: o.matmul(x, w), (N(3, 4), N(4, 2))),
    Case("matmul 3d@2d", lambda o, x, w: x @ w, (N(2, 3, 4), N(4, 5))),
    Case("matmul 2d@3d", lambda o, x, w: x @ w, (N(3, 4), N(2, 4, 5))),
    Case("matmul 4d@3d broadcast", lambda o, x, w: x @ w, (N(2, 1, 3, 4), N(3, 4, 2))),
    Case("matmul 3d@1d", lambda o, x, w: x @ w, (N(2, 3, 4), N(4))),
    # Reductions.
    Case("sum all", lambda o, x: o.sum(x), (N(2, 3, 4),)),
    Case("sum axis 1", lambda o, x: o.sum(x, 1), (N(2, 3, 4),)),
    Case("sum axis -1 keepdims", lambda o, x: o.sum(x, -1, keepdims=True), (N(2, 3, 4),)),
    Case("sum axes (0,2)", lambda o, x: o.sum(x, (0, 2)), (N(2, 3, 4),)),
    Case("sum axes (0,2) keepdims", lambda o, x: o.sum(x, (0, 2), keepdims=True), (N(2, 3, 4),)),
    Case("sum all keepdims", lambda o, x: o.sum(x, None, keepdims=True), (N(2, 3),)),
    Case("mean all", lambda o, x: o.mean(x), (N(2, 3, 4),)),
    Case("mean axis 0", lambda o, x: o.mean(x, 0), (N(2, 3, 4),)),
    Case("mean axes (1,2) keepdims", lambda o, x: o.mean(x, (1, 2), keepdims=True), (N(2, 3, 4),)),
    Case("mean axes (-1,0)", lambda o, x: o.mean(x, (-1, 0)), (N(2, 3, 4),)),
    Case("max all", lambda o, x: o.max(x), (N(2, 3, 4),)),
    Case("max axis 1", lambda o, x: o.max(x, 1), (N(2, 3, 4),)),
    Case("max axis -1 keepdims", lambda o, x: o.max(x, -1, keepdims=True), (N(2, 3, 4),)),
    Case("max axes (0,2) keepdims", lambda o, x: o.max(x, (0, 2), keepdims=True), (N(2, 3, 4),)),
    Case("max ties axis 1", lambda o, x: o.max(x, 1), (Spec((4, 5), "ties"),), smooth=False),
    Case("max ties all", lambda o, x: o.max(x), (Spec((3, 3), "ties"),), smooth=False),
    # Shapes.
    Case("reshape", lambda o, x: o.reshape(x, (6, 4)), (N(2, 3, 4),)),
    Case("reshape -1", lambda o, x: o.reshape(x, (4, -1)) * o.const(np.arange(6.0)), (N(2, 3, 4),)),
    Case("view", lambda o, x: o.view(x, (3, 8)), (N(2, 3, 4),)),
    Case("T", lambda o, x: x.T, (N(2, 3, 4),)),
    Case("transpose(0, 1)", lambda o, x: o.transpose(x, 0, 1), (N(2, 3, 4),)),
    Case(".T", lambda o, x, y: x.T * y, (N(3, 4), N(4, 3))),
    Case("permute", lambda o, x: o.permute(x, 2, 0, 1), (N(2, 3, 4),)),
    Case("reshape transpose chain", lambda o, x, w: o.reshape(o.transpose(x, 1, 2), (8, 3)) @ w,
         (N(2, 3, 4), N(3, 2))),
    # Basic indexing.
    Case("index int", lambda o, x: o.getitem(x, 1), (N(3, 4),)),
    Case("index -1", lambda o, x: o.getitem(x, -1), (N(3, 4),)),
    Case("index slice", lambda o, x: o.getitem(x, (slice(None), slice(1, 3))), (N(3, 4),)),
    Case("index step and int", lambda o, x: o.getitem(x, (slice(None, None, 2), -1)), (N(5, 4),)),
    Case("index reversed", lambda o, x: o.getitem(x, (0, slice(1, None), slice(None, None, -1))), (N(2, 3, 4),)),
    Case("index ellipsis", lambda o, x: o.getitem(x, (Ellipsis, 0)), (N(2, 3, 4),)),
    Case("index element", lambda o, x: o.getitem(x, (1, 2)) * x, (N(3, 4),)),
    Case("index twice, overlapping", lambda o, x: o.getitem(x, slice(0, 2)) * o.getitem(x, slice(1, 3)), (N(3, 4),)),
    # Integer-array gathers, repeated indices.
    Case("gather rows repeated", lambda o, e: o.getitem(e, IDX), (N(5, 3),)),
    Case("gather 2-D index", lambda o, e: o.getitem(e, IDX2), (N(5, 3),)),
    Case("gather then matmul", lambda o, e, w: o.tanh(o.reshape(o.getitem(e, IDX2), (3, 6)) @ w), (N(5, 3), N(6, 2))),
    Case("gather x[rows, cols]", lambda o, x: o.getitem(x, (ROWS, COLS)), (N(3, 4),)),
    Case("gather x[rows, cols] broadcast", lambda o, x: o.getitem(x, (ROWS[:, None], COLS[None, :2])), (N(3, 4),)),
    Case("gather 3-D table", lambda o, x: o.getitem(x, IDX2), (N(5, 2, 3),)),
    Case("gather negative", lambda o, e: o.getitem(e, NEG), (N(5, 3),)),
    Case("gather x[rows, negative]", lambda o, x: o.getitem(x, (ROWS, np.array([-1, 0, -4, -1]))), (N(3, 4),)),
    # Joining.
    Case("concat axis 0", lambda o, x, y: o.concat([x, y], 0), (N(2, 3), N(4, 3))),
    Case("concat axis 1", lambda o, x, y: o.concat([x, y, x], 1), (N(2, 3), N(2, 1))),
    Case("concat axis -1 3-D", lambda o, x, y: o.concat([x, y], -1), (N(2, 3, 1), N(2, 3, 2))),
    Case("stack axis 0", lambda o, x, y: o.stack([x, y, x], 0), (N(2, 3), N(2, 3))),
    Case("stack axis 1", lambda o, x, y: o.stack([x, y], 1), (N(2, 3), N(2, 3))),
    Case("stack axis -1", lambda o, x, y: o.stack([x, y], -1), (N(2, 3), N(2, 3))),
    # Elementwise functions.
    Case("exp", lambda o, x: o.exp(x), (N(3, 4),)),
    Case("log", lambda o, x: o.log(x), (P(3, 4),)),
    Case("tanh", lambda o, x: o.tanh(x), (N(3, 4),)),
    Case("relu", lambda o, x: o.relu(x), (N(3, 4),)),
    Case("sigmoid", lambda o, x: o.sigmoid(x), (N(3, 4),)),
    Case("abs", lambda o, x: o.abs(x), (N(3, 4),)),
    Case("relu at 0", lambda o, x: o.relu(x), (Spec((3, 4), "zeros"),), smooth=False),
    Case("abs at 0", lambda o, x: o.abs(x), (Spec((3, 4), "zeros"),), smooth=False),
    Case("sigmoid large", lambda o, x: o.sigmoid(x * 30), (N(3, 4),)),
    # Fused functions.
    Case("softmax", lambda o, x: o.softmax(x), (N(4, 5),)),
    Case("softmax axis 0", lambda o, x: o.softmax(x, 0), (N(4, 5),)),
    Case("log_softmax", lambda o, x: o.log_softmax(x), (N(4, 5),)),
    Case("log_softmax axis 1 3-D", lambda o, x: o.log_softmax(x, 1), (N(2, 3, 4),)),
    Case("softmax ties", lambda o, x: o.softmax(x), (Spec((4, 5), "ties"),)),
    Case("cross_entropy mean", lambda o, x: o.cross_entropy(x, TARGETS), (N(4, 5),)),
    Case("cross_entropy sum", lambda o, x: o.cross_entropy(x, TARGETS, "sum"), (N(4, 5),)),
    Case("cross_entropy none", lambda o, x: o.cross_entropy(x, TARGETS, "none"), (N(4, 5),)),
    Case("cross_entropy 3-D", lambda o, x: o.cross_entropy(x * 3, TARGETS2), (N(2, 5, 3),)),  # (N, C, d1)
    Case("linear", lambda o, x, w, b: o.linear(x, w, b), (N(4, 3), N(2, 3), N(2))),
    Case("linear no bias", lambda o, x, w: o.linear(x, w), (N(4, 3), N(2, 3))),
    Case("linear 3-D input", lambda o, x, w, b: o.linear(x, w, b), (N(2, 3, 4), N(2, 4), N(2))),
    Case("linear 1-D input", lambda o, x, w, b: o.linear(x, w, b), (N(4), N(2, 4), N(2))),
    # Compositions: a diamond, a two-layer MLP with cross_entropy.
    Case("tanh(x @ w).sum(axis=1)", lambda o, x, w: o.tanh(x @ w).sum(axis=1), (N(3, 4), N(4, 5))),
    Case("diamond", lambda o, x: o.exp(x) * x + o.tanh(x) / (x * x + 1), (N(3, 3),)),
    Case("mlp", lambda o, x, w1, b1, w2, b2: o.cross_entropy(o.linear(o.tanh(o.linear(x, w1, b1)), w2, b2), TARGETS),
         (N(4, 3), N(6, 3), N(6), N(5, 6), N(5))),
    Case("normalise", lambda o, x: (x - o.mean(x, 1, keepdims=True)) / (o.mean(x * x, 1, keepdims=True) + 1) ** 0.5,
         (N(3, 4),)),
]
IDS = [c.id for c in CASES]
SMOOTH = [c for c in CASES if c.smooth]


def test_case_ids_are_unique():
    assert len(set(IDS)) == len(IDS)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_against_value(case, backend):
    report = check_against_value(case.fn, case.inputs(), backend)
    # The check is not vacuous: every input received a gradient, and the two engines agreed on it.
    for g, vg in zip(report.grads, report.value_grads):
        assert np.any(vg != 0)
        assert g.shape == vg.shape


@pytest.mark.parametrize("case", SMOOTH, ids=[c.id for c in SMOOTH])
def test_gradcheck(case, backend):
    gradcheck(case.fn, case.inputs(), backend)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_float32_stays_float32(case, backend):
    """The output and every gradient are float32 (the harness asserts the dtypes) and match the float64
    oracle within the float32 tolerance: no Python number, numpy scalar or constant promoted them."""
    check_against_value(case.fn, case.inputs(), backend, dtype="float32")


def test_oracle_reports_the_worst_element(backend):
    """The harness is not vacuous: a wrong derivative is caught and named (input, index, both values)."""

    def fn(ops, x):
        if ops.name == "value":  # a deliberately wrong oracle: d/dx of x**3 read as 2x
            return x * x * ops.const(np.where(np.arange(6).reshape(2, 3) == 4, 1.0, 0.0)) + x * x * x
        return x * x * x

    with pytest.raises(AssertionError, match=r"grad of input 0 \(shape \(2, 3\)\).*MISMATCH.*\(1, 1\)"):
        check_against_value(fn, [np.ones((2, 3))], backend)


def test_gradcheck_reports_the_worst_element(backend):
    """A gradient that the engine gets wrong on purpose (an upstream gradient of the wrong scale, via a
    function whose forward ignores part of it) is caught by central differences."""
    from gradkit import no_grad

    def fn(ops, x):
        y = x * 2.0
        with no_grad():  # the forward depends on x through this branch, the recorded graph does not
            z = x * x
        return y + z

    with pytest.raises(AssertionError, match=r"gradcheck failed.*grad of input 0.*MISMATCH"):
        gradcheck(fn, [np.array([1.0, 2.0, 3.0])], backend)
    report = gradcheck(fn, [np.array([1.0, 2.0, 3.0])], backend, check=False)
    weights = np.random.default_rng(0).standard_normal(3)
    np.testing.assert_allclose(report.analytic[0], 2.0 * weights, rtol=1e-12)
    np.testing.assert_allclose(report.numerical[0], (2.0 + 2 * np.array([1.0, 2.0, 3.0])) * weights, rtol=1e-6)
