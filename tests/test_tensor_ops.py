"""Tensor behaviour beyond the oracle: dtypes, extreme logits, backends meeting, creation, host access."""

from __future__ import annotations

import numpy as np
import pytest

import gradkit as gk
from gradkit import DeviceMismatchError, Tensor, backends
from gradkit.testing import TOLERANCES, assert_close, check_against_value, tolerance


def _strict_or_skip() -> backends.Backend:
    report = backends.probe()["strict"]
    if not report.usable:
        pytest.skip(f"strict backend not usable: {report.reason}")
    return backends.get_backend("strict")


def _name(dtype) -> str:
    return backends.random.dtype_name(dtype)


# The tolerance table.
def test_tolerance_table():
    assert tolerance("float64") == TOLERANCES["float64"] == {"rtol": 1e-9, "atol": 1e-12}
    assert tolerance(np.float32) == TOLERANCES["float32"]
    assert tolerance(np.dtype("float32"))["rtol"] > tolerance("float64")["rtol"]
    with pytest.raises(KeyError, match="int64"):
        tolerance("int64")


def test_assert_close_names_the_worst_element():
    expected = np.zeros((2, 3))
    actual = expected.copy()
    actual[1, 2] = 1e-3
    actual[0, 1] = 1e-6
    with pytest.raises(AssertionError, match=r"worst element \(1, 2\): actual=0\.001, expected=0\.0"):
        assert_close(actual, expected, what="w")
    assert assert_close(actual, expected, atol=1e-2).ok
    with pytest.raises(AssertionError, match="shape"):
        assert_close(np.zeros(3), np.zeros(4))
    with pytest.raises(AssertionError, match="MISMATCH"):
        assert_close(np.array([np.nan]), np.array([1.0]))
    assert_close(np.array([np.nan, np.inf]), np.array([np.nan, np.inf]))


# float32 discipline.
LEFT_SCALARS = {
    "np.float64 * x": lambda x: np.float64(2.0) * x,
    "np.float64 + x": lambda x: np.float64(2.0) + x,
    "np.float64 - x": lambda x: np.float64(2.0) - x,
    "np.float64 / x": lambda x: np.float64(2.0) / x,
    "np.float64 ** x": lambda x: np.float64(2.0) ** x,
    "x ** np.float64": lambda x: x ** np.float64(2.0),
    "x / np.float32": lambda x: x / np.float32(3.0),
    "int * x": lambda x: 3 * x,
    "float - x": lambda x: 1.5 - x,
    "x.mean()": lambda x: x.mean(0, keepdims=True) * x,
}


@pytest.mark.parametrize("expr", LEFT_SCALARS.values(), ids=LEFT_SCALARS.keys())
def test_numbers_do_not_promote_float32(backend, expr):
    x = Tensor(np.array([0.5, 1.0, 2.0], dtype=np.float32), backend=backend, requires_grad=True)
    y = expr(x)
    assert _name(y.dtype) == "float32"
    y.sum().backward()
    assert _name(x.grad.dtype) == "float32"
    x64 = Tensor(np.array([0.5, 1.0, 2.0]), backend=backend, requires_grad=True)
    expr(x64).sum().backward()
    assert_close(y, expr(x64), dtype="float32")
    assert_close(x.grad, x64.grad, dtype="float32")


def test_int_tensor_times_float_tensor_gives_float_gradients(backend):
    x = Tensor([1, 2, 3], backend=backend)  # int64 data, no grad
    w = Tensor([0.5, 0.25, 0.125], backend=backend, requires_grad=True)
    y = x * w
    assert _name(x.dtype) == "int64" and _name(y.dtype) == "float32"
    (y / w.sum()).sum().backward()
    # d/dw_i of sum(x w) / sum(w) = x_i / S - sum(x w) / S**2, with S = 0.875, sum(x w) = 1.375
    expected = np.array([1, 2, 3]) / 0.875 - 1.375 / 0.875**2
    assert _name(w.grad.dtype) == "float32"
    assert_close(w.grad, expected, dtype="float32")


def test_integer_data_cannot_require_grad(backend):
    """As torch (issue 16): integer or bool data that requires grad raises; it used to become float32 silently."""
    for data in ([1, 2, 3], [True, False]):
        with pytest.raises(RuntimeError, match="Only Tensors of floating point dtype can require gradients"):
            Tensor(data, backend=backend, requires_grad=True)
        with pytest.raises(RuntimeError, match="floating point"):
            gk.tensor(data, backend=backend, requires_grad=True)
    for make in (gk.zeros, gk.ones):
        with pytest.raises(RuntimeError, match="floating point"):
            make(3, backend=backend, dtype="int64", requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        gk.full((2,), 1, backend=backend, requires_grad=True)  # an int fill is int64, as torch
    x = Tensor([1, 2, 3], backend=backend, dtype="float32", requires_grad=True)
    (x * 0.5 + x / 3).sum().backward()
    assert_close(x.grad, np.full(3, 0.5 + 1 / 3), dtype="float32")


def test_integer_input_to_linear_and_division_gives_float_gradients(backend):
    x = Tensor([[1, 2], [3, 4]], backend=backend)  # int64
    w = Tensor(np.array([[0.5, -1.0], [0.25, 2.0]]), backend=backend, requires_grad=True)
    b = Tensor(np.array([0.1, 0.2]), backend=backend, requires_grad=True)
    y = gk.linear(x, w, b)
    assert _name(y.dtype) == "float64"
    assert_close(y, np.array([[1, 2], [3, 4]]) @ np.array([[0.5, -1.0], [0.25, 2.0]]).T + [0.1, 0.2])
    y.sum().backward()
    assert_close(w.grad, np.array([[4.0, 6.0], [4.0, 6.0]]))  # (out, in): g.T @ x
    assert_close(b.grad, np.array([2.0, 2.0]))
    d = Tensor(np.array([2.0, 4.0]), backend=backend, requires_grad=True)
    (Tensor([3, 5], backend=backend) / d).sum().backward()
    assert_close(d.grad, -np.array([3, 5]) / np.array([2.0, 4.0]) ** 2)  # -0.75, -0.3125: not integers


def test_casting_to_int_ends_the_graph(backend):
    x = Tensor([1.7, -2.2], backend=backend, requires_grad=True)
    i = x.astype("int64")
    assert not i.requires_grad and i.tolist() == [1, -2]
    w = Tensor([0.5, 0.25], backend=backend, requires_grad=True)
    (i * w + x).sum().backward()
    assert_close(w.grad, np.array([1.0, -2.0]), dtype="float32")
    assert_close(x.grad, np.ones(2), dtype="float32")


def test_mixed_float_widths_keep_each_leafs_dtype(backend):
    a = Tensor(np.ones(3, np.float32), backend=backend, requires_grad=True)
    b = Tensor(np.full(3, 2.0), backend=backend, requires_grad=True)
    for y in (a * b, gk.concat([a, b]), gk.stack([a, b], 1), gk.linear(a, b.reshape(1, 3)), b**a):
        assert _name(y.dtype) == "float64"
        y.sum().backward()
        assert _name(a.grad.dtype) == "float32" and _name(b.grad.dtype) == "float64"
        a.zero_grad()
        b.zero_grad()


# cross_entropy at extreme logits.
EXTREME = np.array([[1e8, 0.0, -1e8], [1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -1000.0], [1e8, 1e8, -1e8]])
EXTREME_TARGETS = np.array([0, 1, 2, 1])
EXTREME_NLL = np.array([0.0, 2000.0, np.log(3.0), np.log(2.0)])
EXTREME_SOFTMAX = np.array([[1, 0, 0], [1, 0, 0], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0]])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_finite_at_extreme_logits(backend, dtype, reduction):
    logits = Tensor(EXTREME, backend=backend, dtype=dtype, requires_grad=True)
    loss = gk.cross_entropy(logits, Tensor(EXTREME_TARGETS, backend=backend), reduction=reduction)
    expected = {"mean": EXTREME_NLL.mean(), "sum": EXTREME_NLL.sum(), "none": EXTREME_NLL}[reduction]
    assert _name(loss.dtype) == dtype
    assert_close(loss, expected, dtype=dtype)
    upstream = np.array([1.0, -2.0, 0.5, 3.0]) if reduction == "none" else np.array(1.0)
    loss.backward(upstream)
    grad = logits.grad.numpy()
    assert grad.dtype == np.dtype(dtype) and np.all(np.isfinite(grad))
    scale = upstream[:, None] if reduction == "none" else 1.0 / len(EXTREME) if reduction == "mean" else 1.0
    analytic = (EXTREME_SOFTMAX - np.eye(3)[EXTREME_TARGETS]) * scale  # softmax - onehot
    assert_close(grad, analytic, dtype=dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_and_log_softmax_finite_at_extreme_logits(backend, dtype):
    x = Tensor(EXTREME, backend=backend, dtype=dtype, requires_grad=True)
    assert_close(gk.softmax(x), EXTREME_SOFTMAX, dtype=dtype)
    logp = gk.log_softmax(x)
    assert _name(logp.dtype) == dtype
    assert_close(logp[Tensor(np.arange(4), backend=backend), Tensor(EXTREME_TARGETS, backend=backend)],
                 -EXTREME_NLL, dtype=dtype)
    logp.backward(np.ones(EXTREME.shape))
    # d/dx of sum_j log_softmax(x)_j = 1 - C softmax(x)
    assert_close(x.grad, 1 - 3 * EXTREME_SOFTMAX, dtype=dtype)


def test_cross_entropy_checks_its_arguments(backend):
    logits = Tensor(np.zeros((2, 3)), backend=backend)
    with pytest.raises(ValueError, match=r"targets of shape \(3,\)"):
        gk.cross_entropy(logits, Tensor([0, 1, 2], backend=backend))
    with pytest.raises(ValueError, match="unknown reduction 'avg'"):
        gk.cross_entropy(logits, Tensor([0, 1], backend=backend), reduction="avg")


# Elementwise edge values and indexing semantics.
def test_relu_of_infinities(backend):
    x = Tensor(np.array([-np.inf, -1.0, 0.0, 2.0, np.inf]), backend=backend, requires_grad=True)
    y = x.relu()
    assert y.tolist() == [0.0, 0.0, 0.0, 2.0, np.inf]
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]


def test_power_zero_has_zero_gradient_everywhere(backend):
    x = Tensor(np.array([0.0, -2.0, 3.0]), backend=backend, requires_grad=True)
    y = x**0
    assert y.tolist() == [1.0, 1.0, 1.0]
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]  # not nan at 0 (0 * 0**-1)


def test_negative_and_tuple_indices_match_numpy(backend):
    host = np.arange(12.0).reshape(3, 4)
    x = Tensor(host, backend=backend, requires_grad=True)
    rows, cols = np.array([0, -1, 2, 0]), np.array([-1, 0, -4, -1])
    y = x[Tensor(rows, backend=backend), Tensor(cols, backend=backend)]
    assert y.tolist() == host[rows, cols].tolist() == [3.0, 8.0, 8.0, 3.0]
    y.backward(np.array([1.0, 10.0, 100.0, 1000.0]))
    expected = np.zeros((3, 4))
    np.add.at(expected, (rows, cols), [1.0, 10.0, 100.0, 1000.0])
    assert x.grad.tolist() == expected.tolist()
    x.zero_grad()
    z = x[[-1, -1, 0]]  # a Python list gathers rows
    assert z.tolist() == host[[-1, -1, 0]].tolist()
    z.sum().backward()
    assert x.grad.numpy().sum(axis=1).tolist() == [4.0, 0.0, 8.0]


# Host arrays on the left of an operator.
HOST_LEFT = {
    "ndarray - x": lambda o, x: np.full((2, 3), 2.0) - x,
    "ndarray / x": lambda o, x: np.full((2, 3), 2.0) / x,
    "ndarray ** x": lambda o, x: np.full((2, 3), 2.0) ** x,
    "ndarray + x": lambda o, x: np.full((2, 3), 2.0) + x,
    "ndarray * x": lambda o, x: np.full((2, 3), 2.0) * x,
    "ndarray @ x": lambda o, x: np.ones((2, 3)) @ x.reshape((3, 1)),
}


@pytest.mark.parametrize("fn", HOST_LEFT.values(), ids=HOST_LEFT.keys())
def test_host_array_on_the_left(backend, fn):
    """numpy arrays broadcast against numpy-backend tensors (gradients summed back to the tensor's shape);
    on any other backend they raise DeviceMismatchError instead of moving implicitly."""
    x = np.array([0.5, 1.0, 1.5])
    if backend.name == "numpy":
        report = check_against_value(fn, [x], backend)
        assert report.grads[0].shape == (3,)
    else:
        with pytest.raises(DeviceMismatchError, match="backend="):
            fn(None, Tensor(x, backend=backend, requires_grad=True))


# Backends meeting in one operation.
def _pairs():
    return [("numpy", "strict"), ("strict", "numpy")]


MIXED = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
    "matmul": lambda a, b: a @ b,
    "concat": lambda a, b: gk.concat([a, b]),
    "stack": lambda a, b: gk.stack([a, b]),
    "linear weight": lambda a, b: gk.linear(a, b),
    "linear bias": lambda a, b: gk.linear(a, a.detach(), b[0]),
    "cross_entropy targets": lambda a, b: gk.cross_entropy(a, b[0].astype("int64")),
    "index": lambda a, b: a[b[0].astype("int64")],
    "add_": lambda a, b: a.detach().add_(b),
    "backward gradient": lambda a, b: (a * 1).backward(b),
}


@pytest.mark.parametrize("op", MIXED.values(), ids=MIXED.keys())
@pytest.mark.parametrize("names", _pairs(), ids=["numpy+strict", "strict+numpy"])
def test_mixing_backends_raises(names, op):
    _strict_or_skip()
    a = Tensor(np.ones((2, 2)), backend=names[0], requires_grad=True)
    b = Tensor(np.zeros((2, 2)), backend=names[1])
    with pytest.raises(DeviceMismatchError) as info:
        op(a, b)
    message = str(info.value)
    assert "numpy" in message and "strict" in message  # names both
    assert ".to(" in message  # and the fix


HOST_WITH_STRICT = {
    "t + ndarray": lambda t: t + np.ones(2),
    "ndarray + t": lambda t: np.ones(2) + t,
    "t * ndarray": lambda t: t * np.ones(2),
    "ndarray - t": lambda t: np.ones(2) - t,
    "t @ ndarray": lambda t: t @ np.ones(2),
    "ndarray @ t": lambda t: np.ones(2) @ t,
    "t[ndarray]": lambda t: t[np.array([0, 1])],
    "t.add_(ndarray)": lambda t: t.detach().add_(np.ones(2)),
    "concat": lambda t: gk.concat([t, np.ones((2, 2))]),
}


@pytest.mark.parametrize("op", HOST_WITH_STRICT.values(), ids=HOST_WITH_STRICT.keys())
def test_numpy_array_with_strict_tensor_raises(op):
    _strict_or_skip()
    t = Tensor(np.ones((2, 2)), backend="strict", requires_grad=True)
    with pytest.raises(DeviceMismatchError, match=r"strict.*backend='strict'|strict.*\.to\("):
        op(t)


# Moving between backends, host access.
def test_to_moves_between_numpy_and_strict():
    strict = _strict_or_skip()
    host = np.array([[1.5, -2.0], [3.25, 0.0]])
    a = Tensor(host, backend="numpy", requires_grad=True)
    b = a.to(strict)
    assert b.backend == strict and b.requires_grad and b.is_leaf and _name(b.dtype) == "float64"
    assert np.array_equal(b.numpy(), host)
    c = b.to("numpy", dtype="float32")
    assert c.backend.name == "numpy" and c.requires_grad and c.numpy().dtype == np.float32
    assert np.array_equal(c.numpy(), host.astype(np.float32))
    frozen = Tensor(host, backend="strict").to("numpy")
    assert not frozen.requires_grad and np.array_equal(frozen.numpy(), host)
    assert a.to("numpy") is a
    (b * b).sum().backward()  # the moved tensor is a leaf of its own graph
    assert np.array_equal(b.grad.numpy(), 2 * host) and a.grad is None


def test_item_and_numpy(backend):
    t = Tensor(np.array([[2.5]]), backend=backend)
    value = t.item()
    assert value == 2.5 and type(value) is float
    assert Tensor([7], backend=backend).item() == 7
    with pytest.raises(ValueError, match=r"one element.*shape \(2,\)"):
        Tensor([1.0, 2.0], backend=backend).item()
    u = Tensor(np.array([1.0, 2.0]), backend=backend)
    host = u.numpy()
    assert isinstance(host, np.ndarray) and host.dtype == np.float64 and host.tolist() == [1.0, 2.0]
    host[0] = 100.0  # a copy: the tensor is unchanged
    assert u.tolist() == [1.0, 2.0]


# Creation.
def test_creation_functions(backend):
    z = gk.zeros(2, 3, backend=backend)
    o = gk.ones((3,), backend=backend, dtype="float64", requires_grad=True)
    assert z.shape == (2, 3) and _name(z.dtype) == "float32" and z.numpy().tolist() == [[0.0] * 3] * 2
    assert o.requires_grad and _name(o.dtype) == "float64" and o.tolist() == [1.0, 1.0, 1.0]
    r = gk.arange(5, backend=backend)
    assert _name(r.dtype) == "int64" and r.tolist() == [0, 1, 2, 3, 4]
    assert gk.arange(2, 5, backend=backend).tolist() == [2, 3, 4]
    t = gk.tensor([1.5, 2.0], backend=backend)
    assert _name(t.dtype) == "float32" and t.tolist() == [1.5, 2.0]
    assert _name(gk.tensor([1, 2], backend=backend).dtype) == "int64"
    assert _name(gk.tensor(np.array([1.5]), backend=backend).dtype) == "float64"


def test_seeded_random_tensors_are_identical_on_every_backend(backend):
    host = np.random.default_rng(1234)
    expected_n = host.normal(0.0, 1.0, (3, 4)).astype(np.float32)
    expected_u = host.uniform(0.0, 1.0, (5,))
    gen = backend.random(1234)
    n = gk.randn(3, 4, generator=gen, requires_grad=True)
    u = gk.rand(5, generator=gen, dtype="float64")
    assert n.backend == backend and n.requires_grad and _name(n.dtype) == "float32"
    assert np.array_equal(n.numpy(), expected_n)  # bitwise: drawn on the host, then moved
    assert np.array_equal(u.numpy(), expected_u)
    assert np.all((u.numpy() >= 0) & (u.numpy() < 1))
    again = gk.randn((3, 4), generator=backend.random(1234))
    assert np.array_equal(again.numpy(), expected_n)


def test_seeded_random_tensors_agree_across_backends():
    strict = _strict_or_skip()
    a = gk.randn(4, 2, generator=backends.get_backend("numpy").random(5))
    b = gk.randn(4, 2, generator=strict.random(5))
    assert np.array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(a.numpy(), gk.randn(4, 2, generator=strict.random(6)).numpy())


def test_cross_entropy_with_minus_inf_logits_off_target(backend):
    """A class the model rules out (logit -inf, as log(0) in the counting bigram) costs nothing when it is not
    the target: the loss stays finite and exact."""
    x = gk.Tensor(np.array([[0.0, -np.inf], [np.log(0.25), np.log(0.75)]]), backend=backend, dtype="float64")
    loss = gk.cross_entropy(x, gk.Tensor(np.array([0, 1]), backend=backend))
    np.testing.assert_allclose(loss.item(), -np.log(0.75) / 2, rtol=1e-12)


def test_python_conversions_read_one_element(backend):
    assert bool(gk.tensor([0.5], backend=backend) > 1) is False
    assert bool(gk.tensor(2.0, backend=backend)) is True and bool(gk.tensor([0.0], backend=backend)) is False
    assert float(gk.tensor([[2.5]], backend=backend)) == 2.5 and int(gk.tensor([3.0], backend=backend)) == 3
    with pytest.raises(RuntimeError, match="truth value of a tensor with 2 elements is ambiguous"):
        bool(gk.tensor([1.0, 2.0], backend=backend))


def test_host_numpy_conversion_as_torch_and_clear_type_errors(backend):
    t = gk.tensor([1.0, 2.0], backend=backend)
    if backend.name == "cupy":  # torch's refusal for a CUDA tensor
        with pytest.raises(TypeError, match=r"Use Tensor\.cpu\(\)"):
            np.asarray(t)
    else:  # a host copy, as a torch CPU tensor gives (plt.plot(t), np.asarray(t))
        host = np.asarray(t)
        assert isinstance(host, np.ndarray) and host.dtype == np.float32
        np.testing.assert_array_equal(host, [1.0, 2.0])
        np.testing.assert_array_equal(np.asarray(t, dtype=np.float64), [1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"detach\(\)"):
        np.asarray(gk.tensor([1.0], backend=backend, requires_grad=True))
    with pytest.raises(TypeError, match="a tensor and a complex"):
        t + 1j
    with pytest.raises(TypeError, match="a tensor and a str"):
        t * "2"


def test_integer_tensors_meet_floats_in_the_default_dtype(backend):
    i = gk.tensor([1, 2], backend=backend)
    for out in (i + 1.5, i - 0.5, 1.5 - i, i * 0.5, i / 2, 3 / i, 2.0**i):
        assert out.dtype == backend.xp.float32
    assert (i * 2).dtype == backend.xp.int64
    np.testing.assert_allclose((i / 2).numpy(), [0.5, 1.0])


def test_tensors_hold_real_numbers_only():
    for bad in (None, ["a"], [1j]):
        with pytest.raises(TypeError, match="real numbers, integers or booleans"):
            gk.tensor(bad)
    with pytest.raises(TypeError, match="complex128"):
        gk.tensor([1.0]) * np.array([1j])


def test_cross_entropy_names_a_target_out_of_range():
    logits = gk.tensor(np.zeros((2, 3)), backend="numpy")
    with pytest.raises(ValueError, match=r"not a class index in \[0, 3\)"):
        gk.cross_entropy(logits, gk.tensor([0, 5], backend="numpy"))
