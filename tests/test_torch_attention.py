"""``F.scaled_dot_product_attention`` against torch's: values and the gradients of query, key, value (and of a
float mask), with each option, on every backend (float64)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import gradkit as gk  # noqa: E402
import gradkit.nn.functional as F  # noqa: E402
from gradkit.testing import assert_close  # noqa: E402

pytestmark = pytest.mark.torch

RNG = np.random.default_rng(1)


def _inputs(shape_q, shape_k, shape_v):
    return [RNG.normal(size=s) for s in (shape_q, shape_k, shape_v)]


CASES = {
    "plain": ((2, 3, 5, 4), (2, 3, 6, 4), (2, 3, 6, 7), {}),
    "causal": ((2, 3, 5, 4), (2, 3, 5, 4), (2, 3, 5, 4), {"is_causal": True}),
    "causal rectangular": ((1, 2, 3, 4), (1, 2, 5, 4), (1, 2, 5, 4), {"is_causal": True}),
    "scale": ((2, 5, 4), (2, 6, 4), (2, 6, 3), {"scale": 0.3}),
    "bool mask": ((2, 3, 5, 4), (2, 3, 6, 4), (2, 3, 6, 4), {"attn_mask": "bool"}),
    "float mask": ((2, 3, 5, 4), (2, 3, 6, 4), (2, 3, 6, 4), {"attn_mask": "float"}),
    "gqa": ((2, 4, 5, 4), (2, 2, 6, 4), (2, 2, 6, 3), {"enable_gqa": True}),
    "3-d": ((3, 5, 8), (3, 5, 8), (3, 5, 2), {"is_causal": True, "scale": 2.0}),
}


def _masks(kw, L, S):
    bool_mask = RNG.random((L, S)) > 0.3
    bool_mask[:, 0] = True  # every query attends to something
    float_mask = RNG.normal(size=(L, S))
    return {"bool": bool_mask, "float": float_mask}.get(kw.get("attn_mask"))


@pytest.mark.parametrize("case", list(CASES))
def test_sdpa_matches_torch(backend, case):
    sq, sk, sv, kw = CASES[case]
    q, k, v = _inputs(sq, sk, sv)
    mask = _masks(kw, sq[-2], sk[-2])
    g_in = [gk.tensor(x, device=backend, requires_grad=True) for x in (q, k, v)]
    t_in = [torch.tensor(x, requires_grad=True) for x in (q, k, v)]
    g_kw, t_kw = dict(kw), dict(kw)
    if mask is not None:
        g_kw["attn_mask"] = gk.tensor(mask, device=backend, requires_grad=mask.dtype == np.float64)
        t_kw["attn_mask"] = torch.tensor(mask, requires_grad=mask.dtype == np.float64)
    g_out = F.scaled_dot_product_attention(*g_in, **g_kw)
    t_out = torch.nn.functional.scaled_dot_product_attention(*t_in, **t_kw)
    assert g_out.shape == tuple(t_out.shape) and g_out.dtype == gk.float64
    assert_close(g_out, t_out.detach().numpy())
    w = RNG.normal(size=tuple(t_out.shape))
    (g_out * gk.tensor(w, device=backend)).sum().backward()
    (t_out * torch.tensor(w)).sum().backward()
    for g, t in zip(g_in, t_in):
        assert_close(g.grad, t.grad.numpy())
    if mask is not None and mask.dtype == np.float64:
        assert_close(g_kw["attn_mask"].grad, t_kw["attn_mask"].grad.numpy())


def test_sdpa_dropout_keeps_or_drops_whole_weights(backend):
    """With dropout, each attention weight is kept and scaled by 1/(1-p) or dropped; the backward uses the same
    mask: checked against the weights computed without dropout (value = identity picks the weights out)."""
    q, k, _ = _inputs((1, 4, 3), (1, 4, 3), (1, 4, 4))
    eye = np.eye(4)[None]
    gq = gk.tensor(q, device=backend, requires_grad=True)
    gk.manual_seed(0)
    dropped = F.scaled_dot_product_attention(gq, gk.tensor(k, device=backend), gk.tensor(eye, device=backend),
                                             dropout_p=0.5).detach().numpy()
    plain = torch.nn.functional.scaled_dot_product_attention(*(torch.tensor(x) for x in (q, k, eye))).numpy()
    kept = dropped != 0
    assert kept.any() and (~kept).any()
    np.testing.assert_allclose(dropped[kept], plain[kept] * 2.0, rtol=1e-12)
    gk.manual_seed(0)  # the same draws: the gradient of sum(out) is that of sum of the kept, scaled weights
    out = F.scaled_dot_product_attention(gq, gk.tensor(k, device=backend), gk.tensor(eye, device=backend),
                                         dropout_p=0.5)
    (out * gk.tensor(RNG.normal(size=(1, 4, 4)), device=backend)).sum().backward()
    assert np.isfinite(gq.grad.numpy()).all()


def test_sdpa_errors(backend):
    q = gk.tensor(RNG.normal(size=(2, 3, 4)), device=backend)
    with pytest.raises(RuntimeError, match="is_causal"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=gk.ones(3, 3, dtype=gk.bool, device=backend),
                                       is_causal=True)
    with pytest.raises(RuntimeError, match="same dtype"):
        F.scaled_dot_product_attention(q, q.float(), q)
    with pytest.raises(ValueError, match="dropout_p"):
        F.scaled_dot_product_attention(q, q, q, dropout_p=1.0)
    with pytest.raises(ValueError, match="do not match"):
        F.scaled_dot_product_attention(q, gk.tensor(RNG.normal(size=(2, 3, 5)), device=backend), q)
