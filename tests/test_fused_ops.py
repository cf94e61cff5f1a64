"""The fused ops and the fast paths under them, on every backend: sums by a product with ones (ops.row_sum,
ops.lead_sum) against the plain sums, and softmax, log_softmax, cross_entropy, layer_norm, gelu and the embedding
lookup by central differences in float64 along every axis and layout that picks a different path (short and long
rows, leading axes, non-contiguous inputs)."""

from __future__ import annotations

import numpy as np
import pytest

import gradkit
from gradkit import Tensor, functional, nn, ops
from gradkit.nn import functional as F
from gradkit.testing import assert_close, gradcheck

RNG = np.random.default_rng(18)


@pytest.mark.parametrize("shape", [(5, 3), (4, 2, 7), (3, 1100), (6,), (2, 0, 3), (1, 1)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_row_and_lead_sums_are_sums(backend, shape, dtype):
    host = RNG.standard_normal(shape).astype(dtype)
    a = backend.asarray(host)
    got = backend.to_numpy(ops.row_sum(backend, a))
    assert got.shape == (*shape[:-1], 1)
    assert_close(got, host.astype("float64").sum(axis=-1, keepdims=True), dtype=dtype)
    for k in range(len(shape) + 1):
        got = backend.to_numpy(ops.lead_sum(backend, a, k))
        assert got.shape == shape[k:]
        assert_close(got, host.astype("float64").sum(axis=tuple(range(k))), dtype=dtype)


def test_row_sum_of_a_transposed_or_integer_array(backend):
    host = RNG.standard_normal((4, 6))
    a = backend.xp.matrix_transpose(backend.asarray(host))  # not C-contiguous: the plain sum
    assert_close(backend.to_numpy(ops.row_sum(backend, a)), host.T.sum(axis=-1, keepdims=True))
    ints = backend.asarray(np.arange(12).reshape(3, 4))
    assert backend.to_numpy(ops.row_sum(backend, ints)).tolist() == [[6], [22], [38]]
    assert backend.to_numpy(ops.lead_sum(backend, ints, 1)).tolist() == [12, 15, 18, 21]


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_family_by_finite_differences_along_every_axis(backend, fn, dim):
    f = getattr(functional, fn)
    gradcheck(lambda o, x: f(x, dim), [RNG.normal(0.0, 2.0, (3, 40, 5))], backend)


def test_softmax_of_a_transposed_input_and_of_long_rows(backend):
    gradcheck(lambda o, x: functional.softmax(x.transpose(0, 1), -1), [RNG.normal(size=(6, 4))], backend)
    x = Tensor(RNG.normal(size=(2, 1500)), backend=backend)  # past the product-with-ones length: numpy's sum
    e = np.exp(x.numpy() - x.numpy().max(-1, keepdims=True))
    assert_close(functional.softmax(x, -1).numpy(), e / e.sum(-1, keepdims=True))


def test_cross_entropy_by_finite_differences_with_ignored_targets(backend):
    targets = Tensor(np.array([0, 3, -1, 2, 3, -1, 1]), backend=backend)
    gradcheck(lambda o, x: functional.cross_entropy(x, targets, ignore_index=-1), [RNG.normal(size=(7, 4))],
              backend)
    gradcheck(lambda o, x: functional.cross_entropy(x, targets, ignore_index=-1, reduction="none"),
              [RNG.normal(size=(7, 4))], backend)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cross_entropy_without_ignored_targets_is_the_masked_form_bit_for_bit(backend, dtype):
    """Targets all in [0, C) take the unmasked path; one ignored target more takes the masked one. Row by row
    (reduction "none") their losses and gradients are the same numbers, and so is the mean over the rows."""
    logits, targets = RNG.normal(0.0, 3.0, (9, 5)), RNG.integers(0, 5, 8)
    results = []
    for extra in ([], [-100]):
        x = Tensor(logits[:8 + len(extra)], backend=backend, dtype=dtype, requires_grad=True)
        t = Tensor(np.concatenate([targets, extra]).astype(np.int64), backend=backend)
        rows = functional.cross_entropy(x, t, reduction="none")
        (rows * Tensor(np.arange(1.0, 10.0)[:len(rows)], backend=backend, dtype=dtype)).sum().backward()
        mean = functional.cross_entropy(x.detach(), t)
        results.append((rows.numpy()[:8], x.grad.numpy()[:8], mean.numpy()))
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b, strict=True)
    assert results[0][0][0] != 0.0  # (the rows hold losses, not the zeros of ignored targets)


@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
def test_a_minibatch_of_ignored_targets_has_a_nan_mean_and_zero_gradients(backend, loss):
    """Every target ignored: the mean over no targets is nan and the gradient is zero, as torch's (a nan gradient
    would turn every parameter into nan at the next optimizer step)."""
    x = Tensor(RNG.normal(size=(4, 5)), backend=backend, requires_grad=True)
    for ignore_index in (-100, 2):
        x.grad = None
        out = getattr(F, loss)(x, Tensor(np.full(4, ignore_index), backend=backend), ignore_index=ignore_index)
        out.backward()
        assert np.isnan(out.item())
        np.testing.assert_array_equal(x.grad.numpy(), np.zeros((4, 5)), strict=True)


@pytest.mark.parametrize("affine", ["both", "weight", "none"])
def test_layer_norm_by_finite_differences(backend, affine):
    x = RNG.normal(0.0, 1.5, (2, 5, 6))
    extra = {"both": [RNG.normal(1.0, 0.3, 6), RNG.normal(0.0, 0.3, 6)], "weight": [RNG.normal(1.0, 0.3, 6)],
             "none": []}[affine]
    gradcheck(lambda o, x, *wb: functional.layer_norm(x, 6, *wb), [x, *extra], backend)


def test_layer_norm_over_two_axes_of_a_transposed_input(backend):
    gradcheck(lambda o, x, w, b: functional.layer_norm(x.transpose(0, 2), (3, 2), w, b),
              [RNG.normal(size=(2, 3, 4)), RNG.normal(size=(3, 2)), RNG.normal(size=(3, 2))], backend)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_by_finite_differences_across_both_pieces_of_erf(backend, approximate):
    x = np.concatenate([RNG.normal(0.0, 0.5, 8), RNG.uniform(1.0, 5.0, 8), -RNG.uniform(1.0, 5.0, 8)])
    gradcheck(lambda o, t: functional.gelu(t, approximate), [x.reshape(4, 6)], backend)


@pytest.mark.parametrize("batch", [1, 2, 5])
def test_embedding_backward_sums_repeated_ids_at_small_batches(backend, batch):
    ids = Tensor(np.array([[1, 1, 3], [0, 3, 3]] * batch)[:batch], backend=backend)  # repeats; row 2 never used
    gradcheck(lambda o, w: nn.functional.linear(w[ids], Tensor(np.eye(2, 5), backend=backend, dtype="float64")),
              [RNG.normal(size=(4, 5))], backend)


def test_bias_gradient_sums_the_leading_axes(backend):
    gradcheck(lambda o, x, b: x + b, [RNG.normal(size=(3, 4, 5)), RNG.normal(size=(5,))], backend)
    gradcheck(lambda o, x, b: x * b, [RNG.normal(size=(3, 4, 5)), RNG.normal(size=(4, 1))], backend)


def test_softmax_rows_that_are_all_masked_give_nan_as_torch(backend):
    x = Tensor(np.array([[0.0, 1.0], [-np.inf, -np.inf]]), backend=backend)
    out = gradkit.softmax(x, -1).numpy()
    assert np.isnan(out[1]).all() and np.allclose(out[0], [0.26894142, 0.73105858])


def test_float32_gelu_is_within_a_few_ulps_of_the_exact_one(backend):
    """The one-piece logistic form of Phi in float32 (special.normal_cdf): within 4 ulps of x Phi(x) for |x| < 1,
    3 beyond 1 on the positive side, 16 on [-3, -1] (torch's: 2,000 there) and 3e-8 absolute below -3."""
    import math

    xs = np.linspace(-8.0, 8.0, 20001).astype("float32")
    exact = np.array([float(v) * 0.5 * math.erfc(-float(v) / math.sqrt(2.0)) for v in xs])
    got = functional.gelu(Tensor(xs, backend=backend)).numpy().astype("float64")
    ulps = np.abs(got - exact) / np.spacing(np.abs(exact).astype("float32")).astype("float64")
    for lo, hi, bound in ((-1.0, 1.0, 4), (1.0, 8.0, 3), (-3.0, -1.0, 16)):
        inside = (xs >= lo) & (xs < hi)
        assert ulps[inside].max() <= bound, (lo, hi, ulps[inside].max())
    assert np.abs(got - exact)[xs < -3.0].max() < 3e-8


@pytest.mark.parametrize("mask", ["causal", "bool", "float", "none"])
def test_scaled_dot_product_attention_by_finite_differences(backend, mask):
    q, k, v = (RNG.normal(size=(2, 2, 5, 3)) for _ in range(3))
    keep = np.tril(np.ones((5, 5), bool), 1)
    extra = {"causal": {"is_causal": True}, "none": {},
             "bool": {"attn_mask": Tensor(keep, backend=backend)},
             "float": {"attn_mask": Tensor(np.where(keep, 0.5, -3.0), backend=backend, dtype="float64")}}[mask]
    gradcheck(lambda o, q, k, v: nn.functional.scaled_dot_product_attention(q, k, v, **extra), [q, k, v], backend)
