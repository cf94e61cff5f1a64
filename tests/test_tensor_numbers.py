"""Where a name is torch's, the numbers are torch's: the cases issue 9 found differing, on every backend.

The expected values are torch 2.13's (CPU), written out so that these tests run without torch; the
differential suite (tests/test_torch_diff.py, ``nox -s torch``) draws many more cases against torch itself.
"""

from __future__ import annotations

import math
import re
import threading

import numpy as np
import pytest

import gradkit
from gradkit import Tensor, enable_grad, is_grad_enabled, nn, no_grad, set_grad_enabled

INF, NAN = math.inf, math.nan


def t(data, backend, dtype="float64", grad=False):
    return Tensor(np.asarray(data), backend=backend, dtype=dtype, requires_grad=grad)


def same(actual, expected) -> bool:
    """Elementwise equal, nan matching nan and the sign of zero ignored."""
    a, e = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    return a.shape == e.shape and bool(np.all((a == e) | (np.isnan(a) & np.isnan(e))))


# Indexing.
@pytest.mark.parametrize("index", [[0, 3], [-4], [1, 7, 0]])
def test_integer_index_out_of_range_raises_naming_index_and_size(backend, index):
    x = t([1.0, 2.0, 3.0], backend)
    with pytest.raises(IndexError, match=rf"index {[i for i in index if not -3 <= i < 3][0]} .* size 3"):
        x[Tensor(index, backend=backend)]
    with pytest.raises(IndexError, match="size 3"):
        x[index]


def test_out_of_range_in_a_tuple_of_index_arrays_raises(backend):
    x = t(np.arange(6.0).reshape(2, 3), backend)
    with pytest.raises(IndexError, match="index -4 is out of bounds for dimension 1 with size 3"):
        x[[0, 1], [0, -4]]  # -4 + 3 would have read x[1, -1] (the flat index wraps into the row above)
    with pytest.raises(IndexError, match="index 2 is out of bounds for dimension 0 with size 2"):
        x[Tensor([2], backend=backend), Tensor([0], backend=backend)]


def test_an_integer_out_of_range_raises_torchs_words(backend):
    """``C[27]`` of a ``(27, 10)`` table: torch's IndexError naming the dimension, on every backend."""
    x = t(np.zeros((27, 10)), backend)
    for key, words in ((27, "index 27 is out of bounds for dimension 0 with size 27"),
                       ((0, -11), "index -11 is out of bounds for dimension 1 with size 10"),
                       ((..., 10), "index 10 is out of bounds for dimension 1 with size 10")):
        with pytest.raises(IndexError, match=f"^{re.escape(words)}$"):
            x[key]
    assert x[-27, 9].item() == 0.0


def test_negative_indices_count_from_the_end_with_gradient(backend):
    x = t([1.0, 2.0, 3.0], backend, grad=True)
    y = x[Tensor([-1, -3, -1], backend=backend)]
    assert y.tolist() == [3.0, 1.0, 3.0]
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 2.0]
    m = t(np.arange(6.0).reshape(2, 3), backend)
    assert m[[-1, 0], [-1, -3]].tolist() == [5.0, 0.0]


@pytest.mark.parametrize("kind", ["list", "tensor"])
def test_boolean_mask_selects_rows_with_gradient(backend, kind):
    x = t(np.arange(6.0).reshape(3, 2), backend, grad=True)
    mask = [True, False, True]
    key = mask if kind == "list" else Tensor(mask, backend=backend)
    y = x[key]
    assert y.tolist() == [[0.0, 1.0], [4.0, 5.0]]  # rows 0 and 2, not rows 1, 0, 1
    y.sum().backward()
    assert x.grad.tolist() == [[1.0, 1.0], [0.0, 0.0], [1.0, 1.0]]


def test_full_boolean_mask_selects_elements(backend):
    x = t(np.arange(6.0).reshape(2, 3), backend)
    assert x[x > 2.5].tolist() == [3.0, 4.0, 5.0]
    with pytest.raises(IndexError, match="mask of shape"):
        x[[True, False, True]]


# Elementwise functions.
@pytest.mark.parametrize(("dtype", "x", "expected"), [
    ("float64", -100.0, 3.7200759760208356e-44), ("float64", -104.0, 6.813556821545298e-46),
    ("float64", -20.0, 2.0611536181902037e-09), ("float64", 17.0, 0.9999999586006244),
    ("float32", -88.0, 6.054601485195952e-39), ("float32", -87.0, 1.6458114537543937e-38),
])
def test_sigmoid_keeps_tiny_values_for_large_negative_inputs(backend, dtype, x, expected):
    a = t([x], backend, dtype, grad=True)
    s = a.sigmoid()
    s.backward(Tensor(np.ones(1), backend=backend, dtype=dtype))
    assert s.item() == pytest.approx(expected, rel=1e-6) and s.item() > 0
    assert a.grad.item() == pytest.approx(expected * (1 - expected), rel=1e-6)


def test_relu_propagates_nan_and_passes_its_gradient_as_torch(backend):
    x = t([NAN, -1.0, 0.0, 1.0, -INF], backend, grad=True)
    y = x.relu()
    assert same(y.numpy(), [NAN, 0.0, 0.0, 1.0, 0.0])
    y.sum().backward()
    assert same(x.grad.numpy(), [1.0, 0.0, 0.0, 1.0, 0.0])  # torch's threshold_backward passes nan's gradient


def test_abs_gradient_is_zero_at_nan_and_zero(backend):
    x = t([NAN, -2.0, 0.0, 3.0], backend, grad=True)
    abs(x).sum().backward()
    assert same(x.grad.numpy(), [0.0, -1.0, 0.0, 1.0])


# (a, b, a ** b, d/da, d/db) from torch 2.13 (float64); Value has the same table (tests/test_value.py).
POW_AT_ZERO = [
    (0.0, 0.0, 1.0, 0.0, 0.0), (0.0, 1.0, 0.0, 1.0, 0.0), (0.0, 2.0, 0.0, 0.0, 0.0), (0.0, 0.5, 0.0, INF, 0.0),
    (0.0, 3.0, 0.0, 0.0, 0.0), (0.0, -1.0, INF, -INF, -INF), (0.0, -2.0, INF, -INF, -INF),
    (0.0, -0.5, INF, -INF, -INF), (-0.0, -1.0, -INF, -INF, INF), (2.0, 0.0, 1.0, 0.0, 0.6931471805599453),
    (-2.0, 2.0, 4.0, -4.0, NAN), (-2.0, 0.5, NAN, NAN, NAN),
]


def test_pow_gradients_at_a_base_of_zero_are_torch_values(backend):
    a, b, out, da, db = (list(c) for c in zip(*POW_AT_ZERO))
    x, y = t(a, backend, grad=True), t(b, backend, grad=True)
    z = x**y
    z.sum().backward()
    assert same(z.numpy(), out) and same(x.grad.numpy(), da) and same(y.grad.numpy(), db)


def test_number_to_a_tensor_power_at_a_base_of_zero(backend):
    x = t([0.0, 1.0, -1.0, 2.0, 0.5], backend, grad=True)
    (0.0**x).sum().backward()
    assert same(x.grad.numpy(), [0.0, 0.0, -INF, 0.0, 0.0])  # torch: 0 where the exponent is >= 0
    x.grad = None
    (2.0**x).sum().backward()
    assert same(x.grad.numpy(), np.log(2.0) * 2.0 ** np.array([0.0, 1.0, -1.0, 2.0, 0.5]))


def test_tensor_to_a_number_power_at_zero(backend):
    for k, grads in [(2, [0.0, 2.0]), (0.5, [INF, 0.5]), (1, [1.0, 1.0]), (0, [0.0, 0.0]), (-1, [-INF, -1.0])]:
        x = t([0.0, 1.0], backend, grad=True)
        (x**k).sum().backward()
        assert same(x.grad.numpy(), grads), k


# Promotion.
@pytest.mark.parametrize("op", [lambda x: x / 2, lambda x: x**0.5, lambda x: x.exp(), lambda x: x.log(),
                                lambda x: x.sigmoid(), lambda x: x.tanh(), lambda x: x / x, lambda x: 1 / x,
                                lambda x: x * 1.5, lambda x: gradkit.concat([x, t([1.5], x.backend, "float32")])])
def test_integer_tensors_in_float_ops_give_float32(backend, op):
    x = Tensor([1, 2, 4], backend=backend)
    assert str(x.dtype).endswith("int64")
    assert str(op(x).dtype).endswith("float32")


def test_integer_ops_stay_integers(backend):
    x = Tensor([1, 2, 4], backend=backend)
    for y in (x + 1, x * 2, x**2, x - x, x.sum()):
        assert str(y.dtype).endswith("int64")


def test_zero_dim_float64_does_not_upcast_float32(backend):
    x = t([1.0, 2.0], backend, "float32", grad=True)
    s = t(3.0, backend, "float64", grad=True)
    for y in (x + s, x * s, s - x, x / s, x**s):
        assert str(y.dtype).endswith("float32")
    (x * s).sum().backward()
    assert str(s.grad.dtype).endswith("float64") and s.grad.item() == 3.0
    assert str((Tensor([1, 2], backend=backend) + s).dtype).endswith("float64")  # a higher category wins
    assert str((x + t([1.0], backend, "float64")).dtype).endswith("float64")  # both with dimensions


def test_mean_of_integers_raises_as_torch(backend):
    with pytest.raises(TypeError, match="astype"):
        Tensor([1, 2], backend=backend).mean()


# Reductions.
def test_empty_reductions_without_warnings(backend):
    x = t(np.zeros((0, 3)), backend)
    assert x.sum(0).tolist() == [0.0, 0.0, 0.0] and x.sum().item() == 0.0
    assert same(x.mean(0).numpy(), [NAN] * 3) and math.isnan(x.mean().item())
    assert x.amax(1).shape == (0,) and x.max(1).values.shape == (0,)
    with pytest.raises(ValueError, match="empty axis"):
        x.max()
    with pytest.raises(ValueError, match="empty axis"):
        x.amax(0)
    with pytest.raises(IndexError, match="length 0"):
        x.max(0)


def test_empty_mean_backward(backend):
    x = t(np.zeros((0, 2)), backend, grad=True)
    x.mean().backward()
    assert x.grad.shape == (0, 2)


@pytest.mark.parametrize("axis", [0, -1, (0,), ()])
def test_zero_dim_reductions_accept_axis_0_and_minus_1(backend, axis):
    x = t(3.0, backend, grad=True)
    for op in ("sum", "mean", "amax"):
        assert getattr(x, op)(axis).item() == 3.0
    if not isinstance(axis, tuple):
        assert x.max(axis).values.item() == 3.0 and x.max(axis).indices.item() == 0
    x.sum(axis).backward()
    assert x.grad.item() == 1.0
    with pytest.raises(IndexError, match="out of range"):
        x.sum(1)


def test_sum_over_no_axes_reduces_everything_as_torch(backend):
    x = t(np.arange(6.0).reshape(2, 3), backend)
    assert x.sum(()).item() == 15.0 and x.mean(()).item() == 2.5 and x.amax(()).item() == 5.0


def test_repeated_axis_raises(backend):
    with pytest.raises(ValueError, match="more than once"):
        t(np.ones((2, 2)), backend).sum((0, -2))


def test_argmax_on_zero_dim_and_flattened(backend):
    assert t(3.0, backend).argmax(0).item() == 0
    x = t([[1.0, 5.0], [7.0, 2.0]], backend)
    assert x.argmax().item() == 2 and x.argmax(1).tolist() == [1, 0]


# IEEE specials are results, never warnings (pytest turns warnings into errors).
def test_ieee_specials_are_silent(backend):
    x = t([0.0, -1.0, 1000.0], backend, grad=True)
    y = x.log() + x.exp() + 1 / x + x / x + x**-1.0 + 0.0**x
    y.sum().backward()
    assert x.grad.shape == (3,)


# Grad mode.
def test_no_grad_is_per_thread(backend):
    seen = []
    with no_grad():
        th = threading.Thread(target=lambda: seen.append(is_grad_enabled()))
        th.start()
        th.join()
        assert not is_grad_enabled()
    assert seen == [True]


def test_no_grad_holds_inside_a_decorated_generator(backend):
    x = t([1.0], backend, grad=True)

    @no_grad()
    def gen():
        for _ in range(2):
            yield (x * 2).requires_grad, is_grad_enabled()

    it = gen()
    assert next(it) == (False, False)
    assert is_grad_enabled()  # restored between the steps
    assert (x * 2).requires_grad
    assert next(it) == (False, False)


def test_no_grad_without_parentheses_and_enable_grad(backend):
    x = t([1.0], backend, grad=True)

    @no_grad
    def f():
        with enable_grad():
            inner = (x * 2).requires_grad
        return inner, (x * 2).requires_grad

    assert f() == (True, False)


def test_set_grad_enabled_as_call_and_context(backend):
    with set_grad_enabled(False):
        assert not is_grad_enabled()
    assert is_grad_enabled()
    set_grad_enabled(False)
    try:
        assert not is_grad_enabled()
    finally:
        set_grad_enabled(True)


# Version counter.
def test_inplace_change_through_a_detached_alias_is_caught(backend):
    x = t([1.0, 2.0], backend, grad=True)
    y = x * 1.0
    z = y * y  # saves y
    y.detach().add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_inplace_change_through_data_is_not_tracked_as_torch(backend):
    x = t([1.0, 2.0], backend, grad=True)
    z = x * x
    x.data.add_(1.0)  # torch's .data bypasses the version counter on purpose
    z.sum().backward()
    assert x.grad.tolist() == [4.0, 6.0]


# BatchNorm1d.
def test_batchnorm_training_on_a_batch_of_one_raises(backend):
    bn = nn.BatchNorm1d(3, backend=backend, dtype="float64")
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        bn(t(np.ones((1, 3)), backend))
    bn.eval()
    assert bn(t(np.ones((1, 3)), backend)).shape == (1, 3)


@pytest.mark.parametrize("axis", [(), 0, -1, None])
def test_value_oracle_reads_axes_as_the_engine(backend, axis):
    from gradkit.testing import check_against_value

    for op in ("sum", "mean", "max"):
        for data in (np.array(2.5), np.arange(6.0).reshape(2, 3)):  # 0-d: axis 0 and -1 reduce it to itself
            check_against_value(lambda o, x, op=op: getattr(o, op)(x, axis), [data], backend)


@pytest.mark.parametrize("view", [lambda x: x[0], lambda x: x.reshape(-1), lambda x: x.permute(1, 0)])
def test_inplace_change_through_a_view_is_caught(backend, view):
    x = t(np.ones((2, 2)), backend, grad=True)
    y = x * 1.0
    z = y * y  # saves y
    with no_grad():
        view(y).add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_a_view_whose_base_changes_later_still_backpropagates(backend):
    w = t(np.ones((2, 3)), backend, grad=True)
    loss = (w.reshape(-1) * 2.0).sum()  # the reshape's backward reads no data, as in torch
    with no_grad():
        w.add_(1.0)
    loss.backward()
    assert w.grad.tolist() == [[2.0] * 3] * 2


def test_errstate_fallback_silences_numpy():
    from gradkit.ops import _Errstate

    fallback = _Errstate()
    token = fallback.set(None)
    try:
        assert np.log(np.zeros(1))[0] == -INF  # no RuntimeWarning (pytest turns one into an error)
    finally:
        fallback.reset(token)
    with pytest.raises(RuntimeWarning):
        np.log(np.zeros(1))


def test_unary_plus_is_the_tensor_itself_as_torchs_positive(backend):
    x = t([1.0, -2.0], backend)
    assert +x is x
    with pytest.raises(RuntimeError, match="The `\\+` operator, on a bool tensor is not supported"):
        +(x > 0)  # noqa: B018 (the expression raises)
