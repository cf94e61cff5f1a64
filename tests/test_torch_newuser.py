"""A new user's pass against torch: silent float -> int casts, std/var gradients at a constant input, the names
course followers reach for (``*_like``, ``mm``, ``gather``, ``Size``, ...) and torch's printed form of a tensor."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import gradkit as gk  # noqa: E402

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
