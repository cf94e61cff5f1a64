"""Property tests: random shapes, axes, indices and whole random expression graphs, Tensor against Value.

Hypothesis draws the structure (shapes, axes, ops, graphs) and a seed; numpy draws the numbers from that
seed. ``derandomize=True`` makes every run (and CI) draw the same examples.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

from gradkit.testing import check_against_value

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True, print_blob=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
seeds = st.integers(0, 2**32 - 1)


def _nonzero(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Magnitudes in [0.5, 2] with random signs: safe denominators."""
    return rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


BINARY = {
    "add": (lambda o, x, y: x + y, "normal", "normal"),
    "sub": (lambda o, x, y: x - y, "normal", "normal"),
    "mul": (lambda o, x, y: x * y, "normal", "normal"),
    "div": (lambda o, x, y: x / y, "normal", "nonzero"),
    "pow": (lambda o, x, y: x**y, "positive", "normal"),
}


def _draw(rng: np.random.Generator, kind: str, shape: tuple[int, ...]) -> np.ndarray:
    if kind == "positive":
        return rng.uniform(0.5, 2.0, shape)
    if kind == "nonzero":
        return _nonzero(rng, shape)
    return rng.normal(size=shape)


@SETTINGS
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=1, max_side=3),
       op=st.sampled_from(sorted(BINARY)), seed=seeds)
def test_broadcasting_binary_ops(backend, shapes, op, seed):
    fn, kx, ky = BINARY[op]
    rng = np.random.default_rng(seed)
    (sx, sy) = shapes.input_shapes
    report = check_against_value(fn, [_draw(rng, kx, sx), _draw(rng, ky, sy)], backend, seed=seed)
    assert report.output.shape == np.broadcast_shapes(sx, sy) == shapes.result_shape


@st.composite
def reductions(draw):
    shape = draw(array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=3))
    ndim = len(shape)
    axis = draw(st.one_of(
        st.none(),
        st.integers(-ndim, ndim - 1),
        st.lists(st.integers(-ndim, ndim - 1), min_size=1, max_size=ndim, unique_by=lambda a: a % ndim).map(tuple),
    ))
    return shape, axis


@SETTINGS
@given(shape_axis=reductions(), op=st.sampled_from(["sum", "mean", "max"]), keepdims=st.booleans(),
       ties=st.booleans(), seed=seeds)
def test_reductions_over_axes(backend, shape_axis, op, keepdims, ties, seed):
    shape, axis = shape_axis
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, shape).astype(np.float64) if ties else rng.normal(size=shape)
    report = check_against_value(lambda o, t: getattr(o, op)(t, axis, keepdims=keepdims), [x], backend, seed=seed)
    expected = getattr(np, op if op != "max" else "amax")(x, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(report.output, expected, rtol=1e-12, atol=1e-12)


@st.composite
def gathers(draw):
    """A table and an index: one integer array (any shape, repeats and negatives) or a tuple of them."""
    table = draw(array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    depth = draw(st.integers(1, len(table)))
    index_shapes = draw(mutually_broadcastable_shapes(num_shapes=depth, min_dims=0, max_dims=2, min_side=1,
                                                      max_side=4)).input_shapes
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    index = tuple(rng.integers(-n, n, s) for n, s in zip(table, index_shapes))
    return table, index if depth > 1 else index[0], seed


@SETTINGS
@given(case=gathers())
def test_gather_with_repeated_indices(backend, case):
    table, index, seed = case
    x = np.random.default_rng(seed).normal(size=table)
    report = check_against_value(lambda o, t: o.getitem(t, index), [x], backend, seed=seed)
    np.testing.assert_array_equal(report.output, x[index])
    # every occurrence of a row contributes: the gradient is the scatter-add of the upstream weights
    expected = np.zeros_like(x)
    np.add.at(expected, index, report.weights)
    np.testing.assert_allclose(report.grads[0], expected, rtol=1e-12, atol=1e-12)


# Random expression graphs: every op keeps its values in a safe domain (positive bases, denominators >= 1,
# logs of x*x + 1, exps of bounded values), so any input is valid.
UNARY = {
    "tanh": lambda o, a: o.tanh(a),
    "sigmoid": lambda o, a: o.sigmoid(a),
    "relu": lambda o, a: o.relu(a),
    "abs": lambda o, a: o.abs(a),
    "neg": lambda o, a: -a,
    "exp(tanh)": lambda o, a: o.exp(o.tanh(a)),
    "log(x*x+1)": lambda o, a: o.log(a * a + 1),
    "sqrt(x*x+1)": lambda o, a: (a * a + 1) ** 0.5,
    "affine": lambda o, a: 1.5 * a - 0.25,
    "2**tanh": lambda o, a: 2 ** o.tanh(a),
    "1/(x*x+1)": lambda o, a: 1 / (a * a + 1),
    "square": lambda o, a: a**2,
}
BINARY_GRAPH = {
    "add": lambda o, a, b: a + b,
    "sub": lambda o, a, b: a - b,
    "mul": lambda o, a, b: a * b,
    "div": lambda o, a, b: a / (b * b + 1),
    "pow": lambda o, a, b: (a * a + 0.5) ** o.tanh(b),
}
AXIS_OPS = {  # op(o, a, axis): keepdims reductions and shape-preserving normalisations
    "sum": lambda o, a, axis: o.sum(a, axis, keepdims=True),
    "mean": lambda o, a, axis: o.mean(a, axis, keepdims=True),
    "max": lambda o, a, axis: o.max(a, axis, keepdims=True),
    "softmax": lambda o, a, axis: o.softmax(a, axis),
    "log_softmax": lambda o, a, axis: o.log_softmax(a, axis),
}


@st.composite
def graphs(draw):
    """``(input shapes, expression, seed)``: an expression tree of exactly ``depth`` levels over 1-3 inputs
    (leaves reuse inputs, so diamonds are common). Nodes are tuples: ("x", i), ("unary", name, child),
    ("axis", name, axis, child), ("binary", name, left, right)."""
    n = draw(st.integers(1, 3))
    shapes = draw(mutually_broadcastable_shapes(num_shapes=n, min_dims=0, max_dims=3, min_side=1,
                                                max_side=3)).input_shapes
    depth = draw(st.integers(3, 5))

    def build(d):
        if d == 0:
            i = draw(st.integers(0, n - 1))
            return ("x", i), shapes[i]
        kind = draw(st.sampled_from(["unary", "binary", "binary", "axis"]))
        if kind == "binary":
            left, ls = build(d - 1)
            right, rs = build(draw(st.integers(0, d - 1)))
            if draw(st.booleans()):
                left, ls, right, rs = right, rs, left, ls
            return ("binary", draw(st.sampled_from(sorted(BINARY_GRAPH))), left, right), np.broadcast_shapes(ls, rs)
        child, cs = build(d - 1)
        if kind == "axis" and cs:
            name = draw(st.sampled_from(sorted(AXIS_OPS)))
            axis = draw(st.integers(-len(cs), len(cs) - 1))
            shape = cs if "softmax" in name else tuple(1 if i == axis % len(cs) else s for i, s in enumerate(cs))
            return ("axis", name, axis, child), shape
        return ("unary", draw(st.sampled_from(sorted(UNARY))), child), cs

    expr, _ = build(depth)
    return shapes, expr, draw(seeds)


def evaluate(expr, o, xs):
    tag = expr[0]
    if tag == "x":
        return xs[expr[1]]
    if tag == "unary":
        return UNARY[expr[1]](o, evaluate(expr[2], o, xs))
    if tag == "axis":
        return AXIS_OPS[expr[1]](o, evaluate(expr[3], o, xs), expr[2])
    return BINARY_GRAPH[expr[1]](o, evaluate(expr[2], o, xs), evaluate(expr[3], o, xs))


def depth_of(expr):
    return 0 if expr[0] == "x" else 1 + max(depth_of(e) for e in expr[2:] if isinstance(e, tuple))


@settings(SETTINGS, max_examples=40)
@given(graph=graphs())
def test_random_expression_graphs(backend, graph):
    shapes, expr, seed = graph
    assert 3 <= depth_of(expr) <= 5
    rng = np.random.default_rng(seed)
    inputs = [rng.uniform(-1.5, 1.5, s) for s in shapes]
    check_against_value(lambda o, *xs: evaluate(expr, o, xs), inputs, backend, seed=seed)


@pytest.mark.parametrize("dtype", ["float32"])
@settings(SETTINGS, max_examples=25)
@given(graph=graphs())
def test_random_expression_graphs_float32(backend, dtype, graph):
    """The same graphs in float32: every output and gradient stays float32 and matches float64."""
    shapes, expr, seed = graph
    rng = np.random.default_rng(seed)
    inputs = [rng.uniform(-1.5, 1.5, s) for s in shapes]
    check_against_value(lambda o, *xs: evaluate(expr, o, xs), inputs, backend, dtype=dtype, seed=seed)
