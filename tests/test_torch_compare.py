"""The names gradkit shares with PyTorch (issue 9, item 1) give PyTorch's values, dtypes and gradients, on every
backend. Each case is written once against a library namespace (``gradkit`` or ``torch``) and its functional
module; float64 inputs, values and every gradient compared to tight tolerances."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import gradkit as gk  # noqa: E402
from gradkit.testing import assert_close  # noqa: E402

pytestmark = pytest.mark.torch

RNG = np.random.default_rng(3)
X = RNG.normal(size=(3, 4))
Y = RNG.normal(size=(4,))
X3 = RNG.normal(size=(2, 5, 3))
TIES = np.array([[1.0, 3.0, 3.0, -2.0], [0.5, 0.5, -1.0, 0.5], [2.0, 2.0, 2.0, 2.0]])
MASK = X > 0.2
TARGETS3 = np.array([[1, 0, 4], [2, -100, 0]])


def _functional(lib):
    return torch.nn.functional if lib is torch else gk.functional


def _tensor(lib, data, backend, grad=False):
    if lib is torch:
        return torch.tensor(data, requires_grad=grad)
    return gk.tensor(data, device=backend, requires_grad=grad)


def _long(lib, data, backend):
    return torch.tensor(data, dtype=torch.int64) if lib is torch else gk.tensor(data, device=backend, dtype=gk.int64)


def _bool(lib, data, backend):
    return torch.tensor(data) if lib is torch else gk.tensor(data, device=backend)


CASES = {
    "sum dim keepdim": (lambda L, b, x: L.sum(x, dim=1, keepdim=True), (X,)),
    "sum tuple dim": (lambda L, b, x: x.sum((0, 1)), (X,)),
    "mean dim": (lambda L, b, x: x.mean(0), (X,)),
    "amax ties": (lambda L, b, x: L.amax(x, dim=1), (TIES,)),
    "amin ties keepdim": (lambda L, b, x: x.amin(0, keepdim=True), (TIES,)),
    "max all ties": (lambda L, b, x: x.max(), (TIES,)),
    "min all": (lambda L, b, x: L.min(x), (X,)),
    "max dim values": (lambda L, b, x: x.max(1).values, (TIES,)),
    "max dim indices": (lambda L, b, x: x.max(1).indices, (TIES,)),
    "min dim keepdim": (lambda L, b, x: L.min(x, 0, keepdim=True).values, (TIES,)),
    "min dim indices": (lambda L, b, x: L.min(x, dim=0).indices, (TIES,)),
    "argmax": (lambda L, b, x: x.argmax(1), (TIES,)),
    "argmin flat": (lambda L, b, x: x.argmin(), (TIES,)),
    "var": (lambda L, b, x: x.var(0), (X,)),
    "var unbiased=False keepdim": (lambda L, b, x: x.var(1, unbiased=False, keepdim=True), (X,)),
    "var correction 2": (lambda L, b, x: L.var(x, dim=(0, 1), correction=2), (X,)),
    "std": (lambda L, b, x: x.std(), (X,)),
    "std dim": (lambda L, b, x: x.std(0, keepdim=True), (X3,)),
    "sqrt": (lambda L, b, x: L.sqrt(x * x + 0.1), (X,)),
    "log10": (lambda L, b, x: (x * x + 0.1).log10(), (X,)),
    "clamp": (lambda L, b, x: L.clamp(x, -0.3, 0.4), (X,)),
    "clamp min": (lambda L, b, x: x.clamp(min=0.1), (X,)),
    "clamp_max": (lambda L, b, x: x.clamp_max(0.1), (X,)),
    "where": (lambda L, b, x, y: L.where(x > 0, x, y), (X, Y)),
    "where number": (lambda L, b, x: L.where(x > 0, x, 0.0), (X,)),
    "masked_fill": (lambda L, b, x: x.masked_fill(_bool(L, MASK, b), -1.5) * x, (X,)),
    "maximum ties": (lambda L, b, x, y: L.maximum(x, y), (TIES, np.array([3.0, 0.5, 2.0, 0.0]))),
    "minimum": (lambda L, b, x, y: L.minimum(x, y), (X, Y)),
    "tril": (lambda L, b, x: L.tril(x), (X,)),
    "triu -1": (lambda L, b, x: x.triu(-1), (X3,)),
    "causal softmax": (lambda L, b, x: x[:, :3, :].masked_fill(L.tril(L.ones(3, 3, **_dev(L, b))) == 0,
                                                               float("-inf")).softmax(dim=-1), (X3,)),
    "transpose": (lambda L, b, x: x.transpose(0, 2), (X3,)),
    "fn transpose": (lambda L, b, x: L.transpose(x, -1, 1), (X3,)),
    "permute": (lambda L, b, x: x.permute(2, 0, 1), (X3,)),
    "squeeze": (lambda L, b, x: x.reshape(1, 3, 1, 4).squeeze(), (X,)),
    "squeeze dim": (lambda L, b, x: x.reshape(1, 3, 1, 4).squeeze(2), (X,)),
    "unsqueeze": (lambda L, b, x: x.unsqueeze(-2), (X,)),
    "flatten": (lambda L, b, x: x.flatten(1), (X3,)),
    "flatten range": (lambda L, b, x: L.flatten(x, 0, 1), (X3,)),
    "cat dim": (lambda L, b, x: L.cat([x, x * 2], dim=1), (X,)),
    "stack dim": (lambda L, b, x: L.stack([x, x * 2], dim=-1), (X,)),
    "unbind cat": (lambda L, b, x: L.cat(L.unbind(x, 1), 1), (X3,)),
    "topk values": (lambda L, b, x: x.topk(2).values, (X,)),
    "topk smallest dim 0": (lambda L, b, x: L.topk(x, 2, dim=0, largest=False).values, (X,)),
    "topk indices": (lambda L, b, x: x.topk(3, dim=1).indices, (X,)),
    "all": (lambda L, b, x: (x > -1).all(1), (X,)),
    "any": (lambda L, b, x: L.any(x > 1, dim=0), (X,)),
    "softmax dim 0": (lambda L, b, x: _functional(L).softmax(x, dim=0), (X,)),
    "log_softmax dim": (lambda L, b, x: _functional(L).log_softmax(x, dim=1), (X3,)),
    "cross_entropy (N, C, d)": (lambda L, b, x: _functional(L).cross_entropy(x, _long(L, TARGETS3, b)), (X3,)),
    "cross_entropy sum": (lambda L, b, x: _functional(L).cross_entropy(x, _long(L, TARGETS3, b), reduction="sum"),
                          (X3,)),
    "cross_entropy none": (lambda L, b, x: _functional(L).cross_entropy(x, _long(L, TARGETS3, b), reduction="none"),
                           (X3,)),
    "cross_entropy ignore_index": (lambda L, b, x: _functional(L).cross_entropy(x, _long(L, [1, 3, 1], b),
                                                                                ignore_index=1), (X,)),
    "linear": (lambda L, b, x, w, c: _functional(L).linear(x, w, c), (X, RNG.normal(size=(2, 4)),
                                                                       RNG.normal(size=(2,)))),
    "linear 3-D no bias": (lambda L, b, x, w: _functional(L).linear(x, w), (X3, RNG.normal(size=(4, 3)))),
    "index_put accumulate": (lambda L, b, x, v: x.index_put((_long(L, [0, 2, 0], b),), v, accumulate=True),
                             (X, RNG.normal(size=(3, 4)))),
    "one_hot": (lambda L, b, x: _functional(L).one_hot(_long(L, [0, 3, 1], b), 5), (X,)),
    "one_hot default classes": (lambda L, b, x: _functional(L).one_hot(_long(L, [[0, 3], [1, 1]], b)), (X,)),
    "int sum": (lambda L, b, x: L.sum(_long(L, [[1, 2], [3, 4]], b), 1), (X,)),
    "float cast of ints": (lambda L, b, x: (_long(L, [1, 2], b) + 1).float(), (X,)),
    "eq": (lambda L, b, x: x == x.amax(), (TIES,)),
}


def _dev(lib, backend):
    return {} if lib is torch else {"device": backend}


def _host(out):
    if isinstance(out, torch.Tensor):
        return out.detach().numpy(), str(out.dtype).split(".")[-1]
    return out.numpy(), out.dtype.name


@pytest.mark.parametrize("case", list(CASES))
def test_values_dtypes_and_gradients_match_torch(backend, case):
    fn, inputs = CASES[case]
    ours = [gk.tensor(x, device=backend, dtype=gk.float64, requires_grad=True) for x in inputs]
    theirs = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in inputs]
    out, ref = fn(gk, backend, *ours), fn(torch, backend, *theirs)
    (value, dtype), (ref_value, ref_dtype) = _host(out), _host(ref)
    assert dtype == ref_dtype and value.shape == ref_value.shape
    if value.dtype.kind == "f":
        assert_close(value, ref_value, dtype="float64")
    else:
        np.testing.assert_array_equal(value, ref_value)
    if not ref.requires_grad:
        return
    weights = np.random.default_rng(0).normal(size=ref_value.shape)
    ref.backward(torch.tensor(weights))
    out.backward(weights)
    for a, b in zip(ours, theirs):
        expected = np.zeros(b.shape) if b.grad is None else b.grad.numpy()
        got = np.zeros(a.shape) if a.grad is None else a.grad.numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


def test_creation_dtypes_match_torch(backend):
    pairs = [
        (gk.full((2,), 1.5, device=backend), torch.full((2,), 1.5)),
        (gk.full((2,), 3, device=backend), torch.full((2,), 3)),
        (gk.full((2,), True, device=backend), torch.full((2,), True)),
        (gk.zeros_like(gk.zeros(2, dtype=gk.int32, device=backend)),
         torch.zeros_like(torch.zeros(2, dtype=torch.int32))),
        (gk.arange(0, 1, 0.25, device=backend), torch.arange(0, 1, 0.25)),
        (gk.arange(5, device=backend), torch.arange(5)),
        (gk.linspace(-3, 0, 7, device=backend), torch.linspace(-3, 0, 7)),
        (gk.randint(0, 5, (3,), device=backend), torch.randint(0, 5, (3,))),
        (gk.randn(2, 3, device=backend), torch.randn(2, 3)),
        (gk.multinomial(gk.ones(2, 4, device=backend), 3, replacement=True),
         torch.multinomial(torch.ones(2, 4), 3, True)),
        (gk.randperm(4, device=backend), torch.randperm(4)),
        (gk.one_hot(gk.tensor([0, 2], device=backend), 3), torch.nn.functional.one_hot(torch.tensor([0, 2]), 3)),
        (gk.tensor([1, 2], device=backend) / 2, torch.tensor([1, 2]) / 2),
    ]
    for ours, theirs in pairs:
        assert ours.dtype.name == str(theirs.dtype).split(".")[-1] and ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(pairs[6][0].numpy(), pairs[6][1].numpy(), rtol=1e-6)


def test_setitem_and_index_add_match_torch(backend):
    ours, theirs = gk.tensor(X, device=backend), torch.tensor(X)
    for op in (lambda t, L, b: t.__setitem__((_long(L, [0, 2], b), _long(L, [1, 3], b)), -1.0),
               lambda t, L, b: t.__setitem__(t > 1, 0.0),
               lambda t, L, b: t.__setitem__((slice(None), 0), 7.0),
               lambda t, L, b: t.index_put_((_long(L, [1, 1, 2], b),), _tensor(L, np.ones(4), b), accumulate=True),
               lambda t, L, b: t.index_add_(1, _long(L, [0, 0], b), _tensor(L, np.ones((3, 2)), b))):
        op(ours, gk, backend)
        op(theirs, torch, backend)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_allclose_and_special_values_match_torch(backend):
    a = np.array([1.0, np.inf, np.nan])
    for b, nan in ((a + 1e-9, True), (a + 1e-9, False), (a + 1e-3, True)):
        assert gk.allclose(gk.tensor(a, device=backend), gk.tensor(b, device=backend), equal_nan=nan) == \
            torch.allclose(torch.tensor(a), torch.tensor(b), equal_nan=nan)
    one = gk.tensor([2.0], device=backend, dtype=gk.float64)
    with pytest.warns(UserWarning, match="degrees of freedom"):  # torch warns; gradkit's nan is silent
        assert np.isnan(one.var().item()) and np.isnan(torch.tensor([2.0]).var().item())
    z = np.array([0.0, 4.0])
    ours, theirs = gk.tensor(z, device=backend, requires_grad=True), torch.tensor(z, requires_grad=True)
    gk.sqrt(ours).sum().backward()
    torch.sqrt(theirs).sum().backward()
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())
