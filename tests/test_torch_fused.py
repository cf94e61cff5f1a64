"""The fast paths of the eager engine against torch (values and gradients): the special exponents of ``pow``,
and the fused ops (one node each, analytic backward) that the course's programs spend their time in."""

from __future__ import annotations

import numpy as np
import pytest

import gradkit
from gradkit.testing import assert_close

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

RNG = np.random.default_rng(18)


def _both(host: np.ndarray, backend) -> tuple[gradkit.Tensor, object]:
    return (gradkit.tensor(host, backend=backend, requires_grad=True),
            torch.tensor(host, requires_grad=True))


def _check(out, ref, x, tx, dtype: str) -> None:
    """Values and the gradient for one seeded upstream gradient, within gradkit's tolerance for ``dtype``."""
    g = RNG.standard_normal(tuple(ref.shape)).astype(dtype)
    out.backward(gradkit.tensor(g, backend=x.backend))
    ref.backward(torch.from_numpy(g))
    assert out.dtype == (gradkit.float32 if dtype == "float32" else gradkit.float64)
    assert_close(out.numpy(), ref.detach().numpy(), dtype=dtype)
    assert_close(x.grad.numpy(), tx.grad.numpy(), dtype=dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("k", [2, 3, -1, -2, 0.5, -0.5, 3.0, 1.5])
def test_pow_special_exponents_are_torchs(backend, k, dtype):
    host = RNG.uniform(0.5, 2.0, (4, 5)).astype(dtype) * RNG.choice([-1, 1], (4, 5)).astype(dtype)
    if k in (0.5, -0.5, 1.5):
        host = np.abs(host)
    x, tx = _both(host, backend)
    _check(x**k, tx**k, x, tx, dtype)


def test_cube_is_a_product_as_in_torch(backend):
    """torch computes x**3 as x*x*x: the same bits in float32 (numpy's powf would differ in the last place)."""
    host = RNG.standard_normal(1000).astype("float32")
    assert np.array_equal((gradkit.tensor(host, backend=backend) ** 3).numpy(), (torch.from_numpy(host) ** 3).numpy())


def _pair(shape, backend, dtype="float32", scale=1.0):
    return _both((RNG.standard_normal(shape) * scale).astype(dtype), backend)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,dim", [((32, 4, 16, 16), -1), ((8, 27), -1), ((5, 70), 1), ((6, 1200), -1),
                                       ((4, 9, 5), 0), ((4, 9, 5), 1)])
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_family_is_torchs(backend, fn, shape, dim, dtype):
    x, tx = _pair(shape, backend, dtype, 3.0)
    _check(getattr(gradkit.nn.functional, fn)(x, dim=dim), getattr(torch.nn.functional, fn)(tx, dim=dim), x, tx,
           dtype)


def test_softmax_of_masked_attention_is_torchs(backend):
    host = RNG.standard_normal((2, 3, 8, 8)).astype("float32")
    mask = np.tril(np.ones((8, 8), bool))
    x, tx = _both(host, backend)
    out = gradkit.nn.functional.softmax(x.masked_fill(gradkit.tensor(~mask, backend=backend), float("-inf")), dim=-1)
    ref = torch.nn.functional.softmax(tx.masked_fill(torch.from_numpy(~mask), float("-inf")), dim=-1)
    _check(out, ref, x, tx, "float32")


@pytest.mark.parametrize("every", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_with_ignored_targets_is_torchs(backend, reduction, every):
    """Some targets ignored, or every one (a nan mean with zero gradients)."""
    x, tx = _pair((64, 27), backend, "float32", 2.0)
    targets = np.full(64, -1) if every else RNG.integers(-1, 27, 64)
    out = gradkit.nn.functional.cross_entropy(x, gradkit.tensor(targets, backend=backend), ignore_index=-1,
                                              reduction=reduction)
    ref = torch.nn.functional.cross_entropy(tx, torch.from_numpy(targets), ignore_index=-1, reduction=reduction)
    _check(out, ref, x, tx, "float32")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("affine", ["both", "weight", "none"])
@pytest.mark.parametrize("shape,normalized", [((32, 16, 64), (64,)), ((3, 4, 6), (4, 6)), ((7, 1300), (1300,))])
def test_layer_norm_is_torchs(backend, shape, normalized, affine, dtype):
    x, tx = _pair(shape, backend, dtype, 2.0)
    w = b = tw = tb = None
    if affine != "none":
        w, tw = _both(RNG.normal(1.0, 0.3, normalized).astype(dtype), backend)
    if affine == "both":
        b, tb = _both(RNG.normal(0.0, 0.3, normalized).astype(dtype), backend)
    out = gradkit.nn.functional.layer_norm(x, normalized, w, b)
    ref = torch.nn.functional.layer_norm(tx, normalized, tw, tb)
    _check(out, ref, x, tx, dtype)
    for mine, theirs in ((w, tw), (b, tb)):
        if mine is not None:
            assert_close(mine.grad.numpy(), theirs.grad.numpy(), dtype=dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_is_torchs(backend, approximate, dtype):
    x, tx = _pair((12, 64, 8), backend, dtype, 2.5)
    _check(gradkit.nn.functional.gelu(x, approximate=approximate),
           torch.nn.functional.gelu(tx, approximate=approximate), x, tx, dtype)


@pytest.mark.parametrize("batch", [1, 2, 8, 32])
def test_embedding_backward_at_small_batches_is_torchs(backend, batch):
    ids = RNG.integers(0, 6, (batch, 5))
    w, tw = _pair((6, 4), backend)
    _check(gradkit.nn.functional.linear(w[gradkit.tensor(ids, backend=backend)], gradkit.ones(3, 4, backend=backend)),
           torch.nn.functional.linear(torch.nn.functional.embedding(torch.from_numpy(ids), tw), torch.ones(3, 4)),
           w, tw, "float32")
