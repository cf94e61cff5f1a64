"""PyTorch's names on Tensor (issue 9, item 1), on every backend, against numpy and closed forms; every
gradient by the Value oracle (float64) or gradcheck. The same names against torch itself are in
test_torch_compare.py."""

from __future__ import annotations

import numpy as np
import pytest

import gradkit as gk
from gradkit import Tensor
from gradkit.testing import assert_close, check_against_value, gradcheck

RNG = np.random.default_rng(7)


def N(*shape: int) -> np.ndarray:  # noqa: N802
    return RNG.normal(size=shape)


def t(data, backend, **kw) -> Tensor:
    return Tensor(np.asarray(data), backend=backend, **kw)


X34 = np.array([[0.5, -1.0, 2.0, 0.25], [3.0, 0.0, -2.5, 1.5], [-0.75, 4.0, 1.0, -3.0]])


# dim= / keepdim= and axis= / keepdims=.
@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin", "var", "std", "all", "any"])
def test_dim_and_axis_spellings_agree(backend, name):
    x = t(X34, backend, dtype="float64")
    method = getattr(x, name)
    a = method(1, keepdim=True)
    b = method(axis=1, keepdims=True)
    c = method(dim=1, keepdims=True)
    d = getattr(gk, name)(x, dim=1, keepdim=True)
    for r in (b, c, d):
        np.testing.assert_array_equal(r.numpy(), a.numpy())
    assert a.shape == (3, 1)
    with pytest.raises(TypeError, match="both dim=1 and axis=1"):
        method(dim=1, axis=1)
    with pytest.raises(TypeError, match="both keepdim= and keepdims="):
        method(1, keepdim=True, keepdims=True)


def test_reductions_match_numpy(backend):
    x = t(X34, backend, dtype="float64")
    assert_close(x.sum((0, 1)), X34.sum())
    assert_close(gk.mean(x, 0), X34.mean(0))
    assert_close(x.var(1), X34.var(1, ddof=1))
    assert_close(x.var(1, unbiased=False), X34.var(1))
    assert_close(x.var(1, correction=0, keepdim=True), X34.var(1, keepdims=True))
    assert_close(x.std(), X34.std(ddof=1))
    assert_close(x.std(0, correction=2), X34.std(0, ddof=2))
    assert np.isnan(t([1.0], backend, dtype="float64").var().item())  # n - correction = 0: torch's nan
    with pytest.raises(TypeError, match="unbiased= and correction="):
        x.var(0, unbiased=True, correction=1)
    assert_close(x.amin(0), X34.min(0))
    assert_close(x.min(), X34.min())
    assert x.max().shape == () and x.max().item() == 4.0
    np.testing.assert_array_equal(x.all(1).numpy(), [True, False, True])
    np.testing.assert_array_equal(gk.any(x == 0, dim=0).numpy(), [False, True, False, False])
    np.testing.assert_array_equal(x.argmin(1).numpy(), X34.argmin(1))
    assert x.argmax().item() == X34.argmax()


def test_max_min_with_dim_return_values_and_indices(backend):
    x = t([[1.0, 3.0, 3.0], [2.0, -1.0, 0.0]], backend, dtype="float64", requires_grad=True)
    out = x.max(1)
    values, indices = out
    assert out.values is values and out.indices is indices
    np.testing.assert_array_equal(values.numpy(), [3.0, 2.0])
    np.testing.assert_array_equal(indices.numpy(), [1, 0])  # the first of tied maxima, as torch
    assert indices.dtype == gk.int64
    values.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 0], [1, 0, 0]])  # to that index only, as torch
    lo = gk.min(x, dim=0, keepdim=True)
    np.testing.assert_array_equal(lo.values.numpy(), [[1.0, -1.0, 0.0]])
    np.testing.assert_array_equal(lo.indices.numpy(), [[0, 1, 1]])
    with pytest.raises(TypeError, match="amax"):
        x.max((0, 1))
    np.testing.assert_array_equal(gk.max(x, t([[2.0, 2, 2], [2, 2, 2]], backend, dtype="float64")).numpy(),
                                  [[2, 3, 3], [2, 2, 2]])


def test_allclose_histogram_log10_and_to_device(backend):
    x = t([1.0, np.inf, np.nan, -2.0], backend, dtype="float64")
    assert gk.allclose(x, x, equal_nan=True) and not gk.allclose(x, x)  # nan != nan unless equal_nan
    assert x.allclose(x + 1e-9, equal_nan=True) and not x.allclose(x + 1e-3, equal_nan=True)
    assert gk.allclose(t([1.0, 2.0], backend), t([1.0, 2.0 + 1e-6], backend), rtol=1e-5)
    values = N(500)
    hist, edges = gk.histogram(t(values, backend, dtype="float64"), 7, density=True)
    ref_hist, ref_edges = np.histogram(values, 7, density=True)
    assert_close(hist, ref_hist)
    assert_close(edges, ref_edges)
    assert_close(t([1.0, 1000.0], backend).log10(), [0.0, 3.0], dtype="float32")
    assert gk.log10(t([10, 100], backend)).dtype == gk.float32
    y = t([1.0, 2.0], backend)
    assert y.to(device="numpy").backend == gk.get_backend("numpy") and y.to(gk.float64).dtype == gk.float64
    with pytest.raises(TypeError, match="both backend= and device="):
        y.to("numpy", device="numpy")


def test_topk(backend):
    x = t([[1.0, 5.0, 3.0, 5.0], [0.0, -1.0, 2.0, 1.0]], backend, dtype="float64")
    v, i = x.topk(2)
    np.testing.assert_array_equal(v.numpy(), [[5, 5], [2, 1]])
    np.testing.assert_array_equal(i.numpy(), [[1, 3], [2, 3]])
    v, i = gk.topk(x, 1, dim=0, largest=False)
    np.testing.assert_array_equal(v.numpy(), [[0.0, -1.0, 2.0, 1.0]])
    with pytest.raises(ValueError, match="k=5"):
        x.topk(5)


W432, W122 = N(4, 3, 2), N(12, 2)
ORACLE = {
    "var": (lambda o, x: o.var(x, 1), (N(3, 4),)),
    "var all, correction 0": (lambda o, x: o.var(x, None, 0), (N(3, 4),)),
    "std keepdim": (lambda o, x: o.std(x, 0, 1, True), (N(3, 4),)),
    "std tuple dims": (lambda o, x: o.std(x, (0, 2)), (N(2, 3, 4),)),
    "sqrt": (lambda o, x: o.sqrt(x * x + 0.5), (N(3, 4),)),
    "log10": (lambda o, x: o.log10(x * x + 0.5), (N(3, 4),)),
    "amin": (lambda o, x: o.amin(x, 1), (N(3, 4),)),
    "max values": (lambda o, x: o.max_values(x, 0), (N(3, 4),)),
    "min values keepdim": (lambda o, x: -o.max_values(-x, 1, True), (N(3, 4),)),
    "topk": (lambda o, x: o.topk_values(x, 2, 1), (N(3, 5),)),
    "topk smallest dim 0": (lambda o, x: o.topk_values(x, 2, 0, False), (N(4, 3),)),
    "clamp": (lambda o, x: o.clamp(x, -0.5, 0.7), (N(4, 5),)),
    "clamp min": (lambda o, x: o.clamp(x, 0.1), (N(4, 5),)),
    "where": (lambda o, x, y: o.where(X34 > 0.3, x, y), (N(3, 4), N(4))),
    "masked_fill": (lambda o, x: o.masked_fill(x, X34 > 0.3, -7.0) * x, (N(3, 4),)),
    "maximum": (lambda o, x, y: o.maximum(x, y), (N(3, 4), N(4))),
    "tril": (lambda o, x: o.tril(x), (N(2, 3, 4),)),
    "triu diagonal 1": (lambda o, x: o.triu(x, 1), (N(4, 4),)),
    "tril diagonal -1": (lambda o, x: o.tril(x, -1) * x, (N(3, 5),)),
    "transpose(0, 2)": (lambda o, x: o.transpose(x, 0, 2) * o.const(W432), (N(2, 3, 4),)),
    "squeeze": (lambda o, x: o.squeeze(x) * o.const(np.arange(3.0)), (N(1, 3, 1),)),
    "squeeze dim": (lambda o, x: o.squeeze(x, 0), (N(1, 3, 1),)),
    "unsqueeze": (lambda o, x: o.unsqueeze(x, -1) * o.const(np.arange(2.0)), (N(3, 4),)),
    "flatten": (lambda o, x: o.flatten(x, 1) @ o.const(W122), (N(2, 3, 4),)),
    "softmax dim 0": (lambda o, x: o.softmax(x, 0), (N(3, 4),)),
}


@pytest.mark.parametrize("case", list(ORACLE))
def test_gradients_against_value_oracle(backend, case):
    fn, inputs = ORACLE[case]
    check_against_value(fn, inputs, backend)


@pytest.mark.parametrize("case", ["var", "std keepdim", "sqrt", "clamp", "where", "maximum", "tril"])
def test_gradients_against_finite_differences(backend, case):
    fn, inputs = ORACLE[case]
    gradcheck(fn, inputs, backend)


def test_sqrt_and_std_give_torchs_special_values_without_warnings(backend):
    x = t([4.0, 0.0, -1.0], backend, dtype="float64", requires_grad=True)
    y = x.sqrt()
    np.testing.assert_array_equal(y.numpy()[:2], [2.0, 0.0])
    assert np.isnan(y.numpy()[2])
    y.backward(t([1.0, 1.0, 1.0], backend, dtype="float64"))
    assert x.grad.numpy()[0] == 0.25 and x.grad.numpy()[1] == np.inf  # 1 / (2 sqrt(0)), as torch
    c = t([2.0, 2.0, 2.0], backend, dtype="float64", requires_grad=True)
    c.std().backward()
    assert (c.grad.numpy() == 0).all()  # 0 where std is 0: torch masks grad / (2 std) there
    assert gk.sqrt(t([4, 9], backend)).dtype == gk.float32  # integers meet the default float


def test_clamp_int_float_and_errors(backend):
    x = t([-3, 0, 5], backend)
    np.testing.assert_array_equal(x.clamp(-1, 2).numpy(), [-1, 0, 2])
    assert x.clamp(-1, 2).dtype == gk.int64
    assert x.clamp(max=0.5).dtype == gk.float32
    np.testing.assert_array_equal(x.clamp_min(0).numpy(), [0, 0, 5])
    np.testing.assert_array_equal(gk.clamp_max(x, 0).numpy(), [-3, 0, 0])
    with pytest.raises(ValueError, match="min, max or both"):
        x.clamp()


def test_where_masked_fill_tril_values(backend):
    x = t(X34, backend, dtype="float64")
    np.testing.assert_array_equal(gk.where(x > 0, x, 0.0).numpy(), np.where(X34 > 0, X34, 0.0))
    np.testing.assert_array_equal(gk.where(x > 0, 1.0, x).numpy(), np.where(X34 > 0, 1.0, X34))
    tril = gk.tril(gk.ones(4, 4, backend=backend))
    wei = gk.zeros((4, 4), backend=backend).masked_fill(tril == 0, float("-inf")).softmax(dim=-1)
    np.testing.assert_allclose(wei.numpy(), np.tril(np.ones((4, 4))) / np.arange(1, 5)[:, None], rtol=1e-6)
    np.testing.assert_array_equal(x.triu(1).numpy(), np.triu(X34, 1))
    with pytest.raises(TypeError, match="bool tensor"):
        gk.where(x, x, x)


def test_shapes(backend):
    x = t(np.arange(24.0).reshape(2, 3, 4), backend)
    np.testing.assert_array_equal(x.transpose(0, 2).numpy(), np.arange(24.0).reshape(2, 3, 4).swapaxes(0, 2))
    np.testing.assert_array_equal(gk.transpose(x, -1, 1).numpy(), np.arange(24.0).reshape(2, 3, 4).swapaxes(-1, 1))
    assert x.permute(2, 0, 1).shape == (4, 2, 3) and x.T.shape == (4, 3, 2)
    assert x.unsqueeze(0).shape == (1, 2, 3, 4) and x.unsqueeze(-1).shape == (2, 3, 4, 1)
    assert x.unsqueeze(1).squeeze(1).shape == (2, 3, 4) and x.squeeze(0).shape == (2, 3, 4)  # size 2: kept
    assert t(np.zeros((1, 3, 1)), backend).squeeze().shape == (3,)
    assert x.flatten().shape == (24,) and x.flatten(1).shape == (2, 12) and x.flatten(0, 1).shape == (6, 4)
    assert gk.cat([x, x], dim=2).shape == (2, 3, 8) and gk.stack([x, x], dim=-1).shape == (2, 3, 4, 2)
    parts = x.unbind(1)
    assert len(parts) == 3 and parts[1].shape == (2, 4)
    host = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(gk.cat(parts, 0).numpy(), np.concatenate(list(host.swapaxes(0, 1))))
    with pytest.raises(IndexError, match="out of range"):
        x.transpose(0, 3)


def test_size_numel_dim_and_casts(backend):
    x = t(np.zeros((2, 3, 4)), backend)
    assert x.size() == (2, 3, 4) and x.size(-1) == 4 and x.size(0) == 2
    assert x.size == 24 and x.numel() == 24 and x.nelement() == 24 and x.dim() == 3
    with pytest.raises(IndexError):
        x.size(3)
    i = t([1.7, -2.2, 0.0], backend, dtype="float64")
    assert i.float().dtype == gk.float32 and i.double() is i
    assert i.long().dtype == gk.int64 and i.long().tolist() == [1, -2, 0]
    assert i.int().dtype == gk.int32 and i.bool().tolist() == [True, True, False]


def test_dtype_objects(backend):
    x = gk.zeros(2, dtype=gk.int32, backend=backend)
    assert x.dtype == gk.int32 and x.dtype != gk.int64 and repr(x.dtype) == "gradkit.int32"
    assert gk.ones(2, backend=backend).dtype == gk.float32
    assert t([1.0], backend, dtype=gk.float64).dtype == gk.float64 == backend.dtype("float64")
    assert (x > 0).dtype == gk.bool and gk.long == gk.int64 and gk.double == gk.float64
    assert gk.float32.is_floating_point and not gk.int64.is_floating_point
    assert x.to(dtype=gk.float64).dtype == gk.float64
    assert {gk.float32: 1}[x.float().dtype] == 1


# softmax / cross_entropy.
def test_softmax_dim(backend):
    x = t(X34, backend, dtype="float64")
    e = np.exp(X34 - X34.max(0))
    assert_close(gk.softmax(x, dim=0), e / e.sum(0))
    assert_close(x.softmax(0), e / e.sum(0))
    assert_close(gk.functional.log_softmax(x, dim=1), X34 - np.log(np.exp(X34).sum(1, keepdims=True)))
    with pytest.raises(TypeError, match="both"):
        gk.softmax(x, dim=0, axis=0)


def _ce_reference(logits: np.ndarray, targets: np.ndarray, ignore: int = -100) -> np.ndarray:
    """Per-target nll with the class axis 1, 0 where ignored."""
    moved = np.moveaxis(logits, 1, -1)
    logp = moved - np.log(np.exp(moved).sum(-1, keepdims=True))
    valid = targets != ignore
    return np.where(valid, -np.take_along_axis(logp, np.where(valid, targets, 0)[..., None], -1)[..., 0], 0.0)


def test_cross_entropy_torch_layout_and_ignore_index(backend):
    logits = N(2, 5, 3)  # (N, C, d1)
    targets = np.array([[1, 0, 4], [2, -100, 0]])
    nll = _ce_reference(logits, targets)
    x = t(logits, backend, dtype="float64")
    tt = t(targets, backend)
    assert_close(gk.cross_entropy(x, tt, reduction="none"), nll)
    assert_close(gk.cross_entropy(x, tt, reduction="sum"), nll.sum())
    assert_close(gk.cross_entropy(x, tt), nll.sum() / 5)  # the mean over the 5 targets not ignored
    flat, t2 = N(4, 5), np.array([3, 1, 3, 0])
    expected = _ce_reference(flat, np.where(t2 == 3, -100, t2))
    assert_close(gk.cross_entropy(t(flat, backend, dtype="float64"), t(t2, backend), ignore_index=3),
                 expected.sum() / 2)
    everything = gk.cross_entropy(x, t(np.full((2, 3), -100), backend))
    assert np.isnan(everything.item())  # the mean of nothing, as torch
    one = gk.cross_entropy(t(logits[0, :, 0], backend, dtype="float64"), t(np.array(1), backend))
    assert_close(one, nll[0, 0])
    with pytest.raises(ValueError, match="expected targets of shape \\(2, 3\\)"):
        gk.cross_entropy(x, t(np.zeros((2, 5), dtype=np.int64), backend))
    with pytest.raises(ValueError, match="not a class index in \\[0, 5\\)"):
        gk.cross_entropy(x, t(np.array([[1, 0, 4], [2, -1, 0]]), backend))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_ignore_index_gradients_against_value(backend, reduction):
    targets = np.array([[1, -100, 4], [2, 2, 0]])
    check_against_value(lambda o, x: o.cross_entropy(x, targets, reduction), (N(2, 5, 3),), backend)
    flat = np.array([0, 7, 2, 7])
    check_against_value(lambda o, x: o.cross_entropy(x, flat, reduction, ignore_index=7), (N(4, 5),), backend)


# F.linear and nn.Linear: PyTorch's layout.
def test_linear_is_torchs_layout(backend):
    x, w, b = N(4, 3), N(2, 3), N(2)
    out = gk.functional.linear(t(x, backend, dtype="float64"), t(w, backend, dtype="float64"),
                               t(b, backend, dtype="float64"))
    assert_close(out, x @ w.T + b)
    lin = gk.nn.Linear(3, 2, generator=backend.random(0), dtype="float64")
    assert lin.weight.shape == (2, 3)
    with pytest.raises(ValueError, match="last axis must be 3"):
        lin(t(np.ones((2, 2)), backend, dtype="float64"))


def test_one_hot_is_int64(backend):
    ids = t([0, 2, 1], backend)
    oh = gk.functional.one_hot(ids, 4)
    assert oh.dtype == gk.int64
    np.testing.assert_array_equal(oh.numpy(), np.eye(4, dtype=np.int64)[[0, 2, 1]])
    assert gk.one_hot(ids).shape == (3, 3)  # num_classes=-1: the largest id + 1
    with pytest.raises(ValueError, match="outside \\[0, 2\\)"):
        gk.one_hot(ids, 2)
    with pytest.raises(ValueError, match="integer"):
        gk.one_hot(ids.float())
