"""A new user's pass against torch: silent float -> int casts, std/var gradients at a constant input, the names
course followers reach for (``*_like``, ``mm``, ``gather``, ``Size``, ...) and torch's printed form of a tensor."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import gradkit as gk  # noqa: E402
from gradkit.testing import assert_close  # noqa: E402

pytestmark = pytest.mark.torch


@pytest.mark.parametrize("dtype", ["int64", "int32"])
def test_float_to_int_casts_are_silent(backend, dtype):
    """NaN, infinities and out-of-range floats cast to an integer dtype give implementation-defined values, as
    torch's do, and no numpy RuntimeWarning (the suite turns warnings into errors)."""
    data = [float("nan"), float("inf"), -float("inf"), 3e9, -3e20, 1.5]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = gk.tensor(data, device=backend)
        out = g.to(getattr(gk, dtype))
        assert out.dtype == getattr(gk, dtype)
        assert out.shape == (6,)
        assert int(out[5].item()) == 1  # in-range values are cast as torch casts them
        g.long(), g.int(), g.astype("int16")
        gk.tensor(np.array(data), dtype=gk.int64)
    torch.tensor(data).to(getattr(torch, dtype))  # torch: silent too


def _grad_pair(backend, data, fn_g, fn_t):
    g = gk.tensor(data, device=backend, requires_grad=True)
    t = torch.tensor(data, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch warns where n - correction <= 0
        out_t = fn_t(t)
        out_t.backward()
    out_g = fn_g(gk, g)
    out_g.backward()
    assert_close(out_g, out_t.detach().numpy(), dtype="float32")
    assert_close(g.grad, t.grad.numpy(), dtype="float32")


@pytest.mark.parametrize("case", [
    lambda m, x: x.std(),
    lambda m, x: x.var(),
    lambda m, x: x.std(correction=0),
    lambda m, x: x.std(dim=1).sum(),
    lambda m, x: x.std(dim=0, keepdim=True).sum(),
    lambda m, x: sum(m.std_mean(x, dim=1)).sum(),
    lambda m, x: sum(m.var_mean(x)),
    lambda m, x: m.nn.functional.normalize(x, dim=1).sum(),
    lambda m, x: x[:1, :1].std(),  # n - correction = 0: nan, as torch
], ids=["std", "var", "std0", "std_dim", "std_keep", "std_mean", "var_mean", "normalize", "std_dof0"])
@pytest.mark.parametrize("data", [[[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]], [[0.0, 0.0, 0.0], [3.0, 1.0, -2.0]]],
                         ids=["constant", "mixed"])
def test_moment_gradients_at_a_constant_input_match_torch(backend, case, data):
    """torch's std backward is 0 where std is 0 (``grad / (2 std)`` masked), not nan."""
    _grad_pair(backend, data, case, lambda t: case(torch, t))
