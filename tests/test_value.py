"""The scalar engine ``gradkit.value.Value``: values and derivatives against closed forms and central
differences, micrograd's own tests, IEEE edge cases, graph bookkeeping (reuse, accumulation, identity,
deep chains) and numpy object arrays."""

from __future__ import annotations

import gc
import math
import sys
import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gradkit.value import Value, affine

H = 1e-6


def central_diff(f, xs: list[float], h: float = H) -> list[float]:
    """d f / d xs[i] by central differences, in float64."""
    out = []
    for i in range(len(xs)):
        up = list(xs)
        dn = list(xs)
        up[i] += h
        dn[i] -= h
        out.append((f(*up) - f(*dn)) / (2 * h))
    return out


def grads_of(op, xs: list[float]) -> tuple[float, list[float]]:
    """Run ``op`` on fresh leaves, back-propagate, return (value, [leaf grads])."""
    leaves = [Value(x) for x in xs]
    out = op(*leaves)
    out.backward()
    return out.data, [v.grad for v in leaves]


# (name, op on Values, the same function on floats, closed-form partial derivatives)
BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b, lambda a, b: [1.0, 1.0]),
    "sub": (lambda a, b: a - b, lambda a, b: a - b, lambda a, b: [1.0, -1.0]),
    "mul": (lambda a, b: a * b, lambda a, b: a * b, lambda a, b: [b, a]),
    "div": (lambda a, b: a / b, lambda a, b: a / b, lambda a, b: [1 / b, -a / b**2]),
    "pow": (lambda a, b: a**b, lambda a, b: a**b, lambda a, b: [b * a ** (b - 1), a**b * math.log(a)]),
}
UNARY = {
    "neg": (lambda a: -a, lambda a: -a, lambda a: -1.0),
    "exp": (lambda a: a.exp(), math.exp, math.exp),
    "log": (lambda a: a.log(), math.log, lambda a: 1 / a),
    "tanh": (lambda a: a.tanh(), math.tanh, lambda a: 1 - math.tanh(a) ** 2),
    "relu": (lambda a: a.relu(), lambda a: max(a, 0.0), lambda a: 1.0 if a > 0 else 0.0),
    "sigmoid": (
        lambda a: a.sigmoid(),
        lambda a: 1 / (1 + math.exp(-a)),
        lambda a: math.exp(-a) / (1 + math.exp(-a)) ** 2,
    ),
    "abs": (lambda a: abs(a), abs, lambda a: math.copysign(1.0, a)),
    "square": (lambda a: a**2, lambda a: a**2, lambda a: 2 * a),
    "cube": (lambda a: a**3, lambda a: a**3, lambda a: 3 * a**2),
    "sqrt": (lambda a: a**0.5, math.sqrt, lambda a: 0.5 / math.sqrt(a)),
    "inverse": (lambda a: a**-1, lambda a: 1 / a, lambda a: -1 / a**2),
    "pow_zero": (lambda a: a**0, lambda a: 1.0, lambda a: 0.0),
}
POSITIVE_ONLY = {"log", "sqrt"}


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize(("a", "b"), [(1.7, 0.6), (2.5, -1.3), (0.3, 3.0)])
def test_binary_op_value_and_both_partials(name: str, a: float, b: float) -> None:
    op, fn, partials = BINARY[name]
    value, grads = grads_of(op, [a, b])
    assert value == pytest.approx(fn(a, b), rel=1e-15)
    assert grads == pytest.approx(partials(a, b), rel=1e-12)
    assert grads == pytest.approx(central_diff(fn, [a, b]), rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("a", [0.37, 1.9, -0.8, -2.6])
def test_unary_op_value_and_derivative(name: str, a: float) -> None:
    if name in POSITIVE_ONLY and a <= 0:
        a = -a
    op, fn, deriv = UNARY[name]
    value, (grad,) = grads_of(op, [a])
    assert value == pytest.approx(fn(a), rel=1e-14)
    assert grad == pytest.approx(deriv(a), rel=1e-12)
    assert grad == pytest.approx(central_diff(fn, [a])[0], rel=1e-6, abs=1e-8)


@settings(max_examples=50, deadline=None)
@given(
    st.sampled_from(sorted(BINARY)),
    st.floats(0.1, 5.0),
    st.floats(-3.0, 3.0),
)
def test_binary_ops_match_central_differences(name: str, a: float, b: float) -> None:
    assume(abs(b) > 0.1)  # keep a / b well-conditioned
    op, fn, partials = BINARY[name]
    value, grads = grads_of(op, [a, b])
    assert value == pytest.approx(fn(a, b), rel=1e-14)
    assert grads == pytest.approx(partials(a, b), rel=1e-12, abs=1e-300)
    assert grads == pytest.approx(central_diff(fn, [a, b]), rel=1e-5, abs=1e-6)


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(sorted(UNARY)), st.floats(-4.0, 4.0))
def test_unary_ops_match_central_differences(name: str, a: float) -> None:
    assume(abs(a) > 1e-3)  # away from the kinks of relu / abs and the pole of a**-1
    if name in POSITIVE_ONLY:
        a = abs(a)
    op, fn, deriv = UNARY[name]
    value, (grad,) = grads_of(op, [a])
    assert value == pytest.approx(fn(a), rel=1e-14)
    assert grad == pytest.approx(deriv(a), rel=1e-12, abs=1e-300)
    assert grad == pytest.approx(central_diff(fn, [a])[0], rel=1e-5, abs=1e-6)


@pytest.mark.parametrize(
    ("op", "value", "grad"),
    [
        (lambda x: 2 - x, 2 - 1.5, -1.0),
        (lambda x: 2 / x, 2 / 1.5, -2 / 1.5**2),
        (lambda x: 3 + x, 4.5, 1.0),
        (lambda x: 2 * x, 3.0, 2.0),
        (lambda x: 2**x, 2**1.5, 2**1.5 * math.log(2)),
        (lambda x: np.float64(2.0) - x, 0.5, -1.0),
        (lambda x: np.int64(3) / x, 2.0, -3 / 1.5**2),
        (lambda x: np.float32(0.5) * x, 0.75, 0.5),
        (lambda x: x - np.int64(1), 0.5, 1.0),
        (lambda x: x ** np.int64(3), 1.5**3, 3 * 1.5**2),
        (lambda x: +x, 1.5, 1.0),
    ],
)
def test_reflected_and_numpy_scalar_operands(op, value: float, grad: float) -> None:
    x = Value(1.5)
    out = op(x)
    assert isinstance(out, Value)
    out.backward()
    assert out.data == pytest.approx(value, rel=1e-15)
    assert x.grad == pytest.approx(grad, rel=1e-15)


def test_division_partial_wrt_denominator_is_minus_b_over_c_squared() -> None:
    b, c = Value(3.0), Value(-0.25)
    (b / c).backward()
    assert c.grad == pytest.approx(-3.0 / 0.0625, rel=1e-15)  # -48
    assert b.grad == pytest.approx(-4.0, rel=1e-15)


def test_pow_with_constant_exponent_is_one_parent_node() -> None:
    b = Value(1.2)
    out = b**3
    assert out._prev == (b,)
    assert out._op == "**3"
    out.backward()
    assert b.grad == pytest.approx(3 * 1.2**2, rel=1e-15)


def test_sanity_check_micrograd() -> None:
    # micrograd's test_engine.test_sanity_check (values from PyTorch)
    x = Value(-4.0)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    assert y.data == -20.0
    assert x.grad == 46.0


def test_more_ops_micrograd() -> None:
    # micrograd's test_engine.test_more_ops (values from PyTorch)
    a = Value(-4.0)
    b = Value(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    assert g.data == pytest.approx(24.70408163265306, rel=1e-12)
    assert a.grad == pytest.approx(138.83381924198252, rel=1e-12)
    assert b.grad == pytest.approx(645.5772594752186, rel=1e-12)


def test_long_expression_with_every_op_matches_central_differences() -> None:
    def f(a, b, c):
        return ((a * b - c / 2.0) ** 2 + (a / c).exp() - (b * b + 1.0).log()).tanh() * 3.0 + (
            (2.0 - a) ** b + abs(c - 4.0) + (c * a).sigmoid() + (b - 0.1).relu() + 2.0 ** (a - b) / c
        )

    def ffloat(a, b, c):
        sig = 1 / (1 + math.exp(-(c * a)))
        return math.tanh((a * b - c / 2) ** 2 + math.exp(a / c) - math.log(b * b + 1)) * 3 + (
            (2 - a) ** b + abs(c - 4) + sig + max(b - 0.1, 0) + 2 ** (a - b) / c
        )

    xs = [0.7, 1.3, 2.2]
    value, grads = grads_of(f, xs)
    assert value == pytest.approx(ffloat(*xs), rel=1e-13)
    assert grads == pytest.approx(central_diff(ffloat, xs), rel=1e-6)


# ------------------------------------------------------------------ reuse and accumulation


def test_node_used_twice_accumulates_every_path() -> None:
    a = Value(3.0)
    (a + a).backward()
    assert a.grad == 2.0
    x = Value(-1.5)
    (x * x).backward()
    assert x.grad == -3.0
    s = Value(2.0)
    (s * s * s).backward()
    assert s.grad == 12.0


def test_diamond_sums_both_branches() -> None:
    a = Value(1.5)
    b = a * 2.0
    c = a * 3.0
    d = b * c  # 6 a**2
    d.backward()
    assert d.data == pytest.approx(13.5)
    assert a.grad == pytest.approx(12 * 1.5)
    assert b.grad == pytest.approx(c.data) and c.grad == pytest.approx(b.data)


def test_backward_twice_doubles_leaves_and_keeps_interior() -> None:
    a, b = Value(2.0), Value(-3.0)
    c = a * b
    d = c.tanh() + a
    d.backward()
    first = (a.grad, b.grad, c.grad, d.grad)
    d.backward()
    assert a.grad == 2 * first[0]
    assert b.grad == 2 * first[1]
    assert c.grad == first[2]  # interior nodes restart from zero
    assert d.grad == 1.0
    a.grad = b.grad = 0.0
    d.backward()
    assert (a.grad, b.grad) == first[:2]


def test_backward_seed_scales_gradients() -> None:
    a = Value(0.5)
    (a.exp()).backward(grad=3.0)
    assert a.grad == pytest.approx(3 * math.exp(0.5))


def test_backward_of_a_leaf_accumulates_one() -> None:
    a = Value(4.0)
    a.backward()
    a.backward()
    assert a.grad == 2.0


def test_interior_node_shared_by_two_roots_restarts() -> None:
    a = Value(2.0)
    h = a * a  # shared interior node
    r1 = h * 3.0
    r2 = h + 1.0
    r1.backward()
    assert h.grad == 3.0
    r2.backward()
    assert h.grad == 1.0  # not 4: interior grads are per call
    assert a.grad == pytest.approx(3 * 4.0 + 4.0)  # leaf accumulated both calls


# ------------------------------------------------------------------ graph bookkeeping


def test_long_chain_with_default_recursion_limit() -> None:
    assert sys.getrecursionlimit() < 100_000  # the chain is deeper than any recursion could go
    x = Value(1.0)
    c = Value(1.00001)
    y = x
    for _ in range(100_000):
        y = y * c  # y = x * c**n, a chain of n = 100,000 nodes
    y.backward()
    n = 100_000
    assert len(y.topo()) == n + 2
    assert y.data == pytest.approx(1.00001**n, rel=1e-9)
    assert x.grad == pytest.approx(1.00001**n, rel=1e-9)
    assert c.grad == pytest.approx(n * 1.00001 ** (n - 1), rel=1e-9)


def test_long_chain_of_unary_ops() -> None:
    x = Value(0.3)
    y = x
    for _ in range(100_000):
        y = -y
    y.backward()
    assert y.data == 0.3 and x.grad == 1.0


def test_topo_lists_each_node_once_parents_first() -> None:
    a, b = Value(1.0), Value(2.0)
    c = a * b
    d = c + a
    e = d * c
    order = e.topo()
    assert len(order) == len({id(n) for n in order}) == 5
    pos = {id(n): i for i, n in enumerate(order)}
    for n in order:
        for p in n._prev:
            assert pos[id(p)] < pos[id(n)]
    assert order[-1] is e


def test_nodes_hash_and_compare_by_identity() -> None:
    a, b = Value(1.0), Value(1.0)
    assert a is not b
    assert a == a and a != b
    assert len({a, b}) == 2
    d = {a: "a", b: "b"}
    assert d[a] == "a" and d[b] == "b"
    assert hash(a) != hash(b)


def test_no_reference_cycles_in_a_graph() -> None:
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        x = [Value(float(i)) for i in range(20)]
        out = Value.sum([(xi * 2.0).tanh().exp() / (xi + 1.0) for xi in x]) ** 2
        out.backward()
        del x, out
        assert gc.collect() == 0  # everything was freed by reference counting alone
    finally:
        if was:
            gc.enable()


def test_value_converts_numbers_and_rejects_others() -> None:
    assert type(Value(3).data) is float and Value(3).data == 3.0
    assert type(Value(np.float32(0.5)).data) is float
    assert type(Value(np.int64(7)).data) is float
    assert Value(True).data == 1.0
    assert Value(2.0, label="w").label == "w"
    assert repr(Value(2.0, label="w")) == "Value(data=2.0, grad=0.0, label='w')"
    for bad in (Value(1.0), "1.0", 1j, np.array([1.0, 2.0]), None):
        with pytest.raises(TypeError):
            Value(bad)
    with pytest.raises(TypeError):
        Value(1.0) + "x"
    with pytest.raises(TypeError):
        "x" * Value(1.0)


# ------------------------------------------------------------------ IEEE edge cases


def test_tanh_exp_sigmoid_at_extremes_are_finite_and_silent() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for x, t in ((1000.0, 1.0), (-1000.0, -1.0)):
            v = Value(x)
            out = v.tanh()
            out.backward()
            assert out.data == t and v.grad == 0.0
        v = Value(1000.0)
        out = v.exp()
        out.backward()
        assert out.data == math.inf and v.grad == math.inf
        v = Value(-1000.0)
        out = v.exp()
        out.backward()
        assert out.data == 0.0 and v.grad == 0.0
        for x, s in ((1000.0, 1.0), (-1000.0, 0.0), (800.0, 1.0), (-800.0, 0.0)):
            v = Value(x)
            out = v.sigmoid()
            out.backward()
            assert out.data == s and v.grad == 0.0
        v = Value(-40.0)
        out = v.sigmoid()
        out.backward()
        assert out.data == pytest.approx(math.exp(-40.0), rel=1e-12)  # no cancellation to 0
        assert v.grad == pytest.approx(math.exp(-40.0), rel=1e-12)


def test_log_of_non_positive_follows_ieee() -> None:
    z = Value(0.0)
    out = z.log()
    out.backward()
    assert out.data == -math.inf and z.grad == math.inf
    n = Value(-2.0)
    out = n.log()
    out.backward()
    assert math.isnan(out.data) and math.isnan(n.grad)
    with np.errstate(all="ignore"):
        assert np.log(np.float64(-2.0)) != np.log(np.float64(-2.0))  # numpy agrees: nan


def test_relu_and_abs_pass_no_gradient_at_zero() -> None:
    for op in (lambda v: v.relu(), abs):
        v = Value(0.0)
        out = op(v)
        out.backward()
        assert out.data == 0.0 and v.grad == 0.0
    v = Value(-2.0)
    out = abs(v)
    out.backward()
    assert out.data == 2.0 and v.grad == -1.0
    v = Value(-2.0)
    v.relu().backward()
    assert v.grad == 0.0


@pytest.mark.parametrize("a", [-2.0, -0.5])
def test_pow_value_exponent_at_negative_base_gives_nan_gradient(a: float) -> None:
    base, expo = Value(a), Value(2.0)
    out = base**expo
    out.backward()
    assert out.data == a**2
    assert math.isnan(expo.grad)
    assert type(expo.grad) is float
    assert base.grad == pytest.approx(2 * a)


# (a, b, a ** b, d/da, d/db) as torch 2.13 gives them (float64) at a base of zero (tests/test_tensor_numbers.py
# checks the Tensor engine against the same table).
TORCH_POW_AT_ZERO = [
    (0.0, 0.0, 1.0, 0.0, 0.0), (0.0, 1.0, 0.0, 1.0, 0.0), (0.0, 2.0, 0.0, 0.0, 0.0),
    (0.0, 0.5, 0.0, math.inf, 0.0), (0.0, 3.0, 0.0, 0.0, 0.0), (0.0, -1.0, math.inf, -math.inf, -math.inf),
    (0.0, -2.0, math.inf, -math.inf, -math.inf), (0.0, -0.5, math.inf, -math.inf, -math.inf),
    (-0.0, -1.0, -math.inf, -math.inf, math.inf), (-0.0, 2.0, 0.0, -0.0, 0.0),
]


@pytest.mark.parametrize("row", TORCH_POW_AT_ZERO, ids=str)
def test_pow_at_a_base_of_zero_has_torch_values(row: tuple[float, ...]) -> None:
    a, b, *expected = row
    base, expo = Value(a), Value(b)
    out = base**expo
    out.backward()
    assert [out.data, base.grad, expo.grad] == expected


def test_negative_base_fractional_exponent_is_nan_never_complex() -> None:
    for out in (Value(-8.0) ** (1 / 3), Value(-8.0) ** Value(1 / 3), (-8.0) ** Value(1 / 3)):
        assert type(out.data) is float and math.isnan(out.data)
    base, expo = Value(-8.0), Value(0.5)
    out = base**expo
    out.backward()
    assert math.isnan(base.grad) and math.isnan(expo.grad)
    assert type(base.grad) is float and type(expo.grad) is float


def test_overflow_and_division_by_zero_give_infinities() -> None:
    assert (Value(10.0) ** 400).data == math.inf
    assert (Value(-10.0) ** 401).data == -math.inf
    assert (Value(-10.0) ** 400).data == math.inf
    assert (Value(0.0) ** -1).data == math.inf
    assert (Value(-0.0) ** -1).data == -math.inf
    assert (Value(0.0) ** -0.5).data == math.inf
    assert (1 / Value(0.0)).data == math.inf
    assert (-1 / Value(0.0)).data == -math.inf
    assert math.isnan((Value(0.0) / Value(0.0)).data)
    x = Value(0.0)
    out = x**0.5
    out.backward()
    assert out.data == 0.0 and x.grad == math.inf
    x = Value(0.0)
    (x**0).backward()
    assert x.grad == 0.0  # d(a**0)/da = 0, not 0 * 0**-1


def test_zero_gradient_skip_keeps_nan_propagation() -> None:
    # relu passes 0 upstream, but log'(0) = inf, and IEEE says 0 * inf = nan
    x = Value(0.0)
    out = (x.log()).relu()
    out.backward()
    assert math.isnan(x.grad)
    y = Value(0.0)
    ((y * 3.0).relu() * 5.0).backward()
    assert y.grad == 0.0


# ------------------------------------------------------------------ fused nodes


def test_sum_node_value_grads_and_multiplicity() -> None:
    a, b = Value(1.5), Value(-2.0)
    out = Value.sum([a, b, 3, a, np.float64(0.5)], start=1.0)
    assert out.data == 1 + 1.5 - 2 + 3 + 1.5 + 0.5
    assert out._op == "sum" and len(out._prev) == 3  # numbers are folded, not nodes
    out.backward()
    assert a.grad == 2.0 and b.grad == 1.0
    assert Value.sum([]).data == 0.0
    with pytest.raises(TypeError):
        Value.sum([a, "b"])


def test_dot_node_matches_expanded_expression() -> None:
    w = [Value(0.5), Value(-1.25), Value(2.0)]
    x = [Value(1.5), Value(0.25), Value(-0.75)]
    bias = Value(0.1)
    out = Value.dot(w, x, bias)
    out.backward()
    w2 = [Value(v.data) for v in w]
    x2 = [Value(v.data) for v in x]
    b2 = Value(bias.data)
    ref = sum((wi * xi for wi, xi in zip(w2, x2)), b2)
    ref.backward()
    assert out.data == pytest.approx(ref.data, rel=1e-15)
    assert [v.grad for v in w + x + [bias]] == pytest.approx([v.grad for v in w2 + x2 + [b2]], rel=1e-15)
    assert len(out._prev) == 7


def test_dot_with_numbers_and_self() -> None:
    w = [Value(0.5), Value(-1.5)]
    out = Value.dot(w, [2.0, np.float64(3.0)], 1.0)
    assert out.data == 1.0 + 1.0 - 4.5
    assert len(out._prev) == 2
    out.backward()
    assert [v.grad for v in w] == [2.0, 3.0]
    p = [Value(3.0), Value(-2.0)]
    sq = Value.dot(p, p)
    sq.backward()
    assert sq.data == 13.0 and [v.grad for v in p] == [6.0, -4.0]
    m = [Value(2.0), 4.0]
    mixed = Value.dot(m, [5.0, Value(-1.0)])
    mixed.backward()
    assert mixed.data == 10.0 - 4.0 and m[0].grad == 5.0
    with pytest.raises(ValueError):
        Value.dot(w, [1.0])
    with pytest.raises(TypeError):
        Value.dot(w, [1.0, "2"])


def test_affine_builds_the_same_nodes_as_dot() -> None:
    rng = np.random.default_rng(3)
    W = [[Value(v) for v in row] for row in rng.normal(size=(4, 3)).tolist()]
    B = [Value(v) for v in rng.normal(size=4).tolist()]
    for x in ([0.5, -1.0, 2.0], [Value(0.5), Value(-1.0), Value(2.0)], [Value(0.5), -1.0, 2.0]):
        outs = affine(W, B, x)
        refs = [Value.dot(w, x, b) for w, b in zip(W, B)]
        for o, r in zip(outs, refs):
            assert o.data == r.data
            assert o._prev == r._prev or sorted(map(id, o._prev)) == sorted(map(id, r._prev))
            assert sorted(o._local) == sorted(r._local)
    with pytest.raises(ValueError):
        affine(W, B, [1.0, 2.0])
    with pytest.raises(ValueError):
        affine(W, B[:2], [1.0, 2.0, 3.0])


# ------------------------------------------------------------------ numpy object arrays


def test_numpy_ufuncs_on_object_arrays_call_the_methods() -> None:
    xs = [0.3, 1.7, 2.5]
    arr = np.array([Value(x) for x in xs], dtype=object)
    for ufunc, fn in ((np.exp, math.exp), (np.log, math.log), (np.tanh, math.tanh), (np.abs, abs)):
        out = ufunc(arr)
        assert out.dtype == object and all(isinstance(v, Value) for v in out)
        assert [v.data for v in out] == pytest.approx([fn(x) for x in xs], rel=1e-15)
    total = np.sum(np.exp(arr) * np.array([1.0, 2.0, 3.0]))
    assert isinstance(total, Value)
    total.backward()
    assert [v.grad for v in arr] == pytest.approx([k * math.exp(x) for k, x in zip((1, 2, 3), xs)])


def test_value_times_ndarray_broadcasts_elementwise() -> None:
    v = Value(2.0)
    out = v * np.array([1.0, 3.0])
    assert out.dtype == object and [o.data for o in out] == [2.0, 6.0]
    Value.sum(out.tolist()).backward()
    assert v.grad == 4.0
