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
    assert out.dtype == gradkit.float32 if dtype == "float32" else gradkit.float64
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
