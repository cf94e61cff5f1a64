"""Issue 16's Tensor additions against torch (values, dtypes, gradients), on every backend: split, chunk,
expand, roll, contiguous, __index__, __format__, __array__, indexing that mixes index lists with slices, devices
and from_numpy."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import gradkit as gk  # noqa: E402
from gradkit.testing import assert_close  # noqa: E402

pytestmark = pytest.mark.torch

RNG = np.random.default_rng(16)
X = RNG.normal(size=(2, 3, 4, 5))


def _pair(backend, data=X):
    return gk.tensor(data, device=backend, requires_grad=True), torch.tensor(data, requires_grad=True)


def _same(g_out, t_out, g_in, t_in, weights=None):
    """Values, dtypes and the gradient of sum(out * weights) agree."""
    g_list = g_out if isinstance(g_out, (tuple, list)) else [g_out]
    t_list = t_out if isinstance(t_out, (tuple, list)) else [t_out]
    assert len(g_list) == len(t_list)
    g_loss, t_loss = 0, 0
    for i, (g, t) in enumerate(zip(g_list, t_list)):
        assert g.shape == tuple(t.shape)
        assert_close(g, t.detach().numpy())
        w = RNG.normal(size=tuple(t.shape)) * (i + 1)
        g_loss = g_loss + (g * gk.tensor(w, device=g.backend)).sum()
        t_loss = t_loss + (t * torch.tensor(w)).sum()
    g_loss.backward()
    t_loss.backward()
    assert_close(g_in.grad, t_in.grad.numpy())


@pytest.mark.parametrize(("arg", "dim"), [(2, 1), ([1, 3, 1], 3), (5, -1), (3, 3), ([0, 2], 0)])
def test_split_matches_torch(backend, arg, dim):
    g, t = _pair(backend)
    _same(g.split(arg, dim), t.split(arg, dim), g, t)


@pytest.mark.parametrize(("chunks", "dim"), [(2, 1), (3, 3), (4, 2), (1, 0)])
def test_chunk_matches_torch(backend, chunks, dim):
    g, t = _pair(backend)
    _same(g.chunk(chunks, dim), t.chunk(chunks, dim), g, t)
    assert len(gk.chunk(g, chunks, dim)) == len(torch.chunk(t, chunks, dim))


def test_split_errors_as_torch(backend):
    g = gk.tensor(X, device=backend)
    with pytest.raises(RuntimeError, match="split_with_sizes expects split_sizes to sum exactly to 3"):
        g.split([1, 1], 1)
    with pytest.raises(RuntimeError, match="greater than 0"):
        g.chunk(0)
    with pytest.raises(RuntimeError):
        torch.tensor(X).split([1, 1], 1)


def test_split_pieces_are_views(backend):
    g = gk.tensor(np.arange(6.0), device=backend)
    a, b = g.split(3)
    with gk.no_grad():
        a[0] = 100.0
    assert g[0].item() == 100.0  # a write through a piece reaches the whole, as torch's views


@pytest.mark.parametrize(("shape", "sizes"), [((3, 1), (3, 4)), ((3, 1), (2, 3, -1)), ((1, 4), (5, -1, 4)),
                                              ((4,), (2, 4))])
def test_expand_matches_torch(backend, shape, sizes):
    data = RNG.normal(size=shape)
    g, t = _pair(backend, data)
    _same(g.expand(*sizes), t.expand(*sizes), g, t)
    g.grad, t.grad = None, None
    _same(g.expand(sizes), t.expand(sizes), g, t)


def test_expand_errors(backend):
    g = gk.tensor(np.ones((3, 2)), device=backend)
    with pytest.raises(RuntimeError, match="must match the existing size"):
        g.expand(3, 4)
    with pytest.raises(RuntimeError, match="leading, non-existing"):
        g.expand(-1, 3, 2)
    with pytest.raises(RuntimeError):
        torch.ones(3, 2).expand(3, 4)


@pytest.mark.parametrize(("shifts", "dims"), [(1, 1), (-2, 0), (3, None), ((1, -1), (1, 3)), (7, 2)])
def test_roll_matches_torch(backend, shifts, dims):
    g, t = _pair(backend)
    _same(g.roll(shifts, dims), torch.roll(t, shifts, dims), g, t)
    assert_close(gk.roll(g, shifts, dims).detach(), t.roll(shifts, dims).detach().numpy())


def test_contiguous_after_transpose(backend):
    g, t = _pair(backend)
    _same(g.transpose(1, 2).contiguous().view(2, 4, 15), t.transpose(1, 2).contiguous().view(2, 4, 15), g, t)
    plain = gk.tensor(np.ones((2, 3)), device=backend)
    if backend.name != "strict":  # strict does not tell its layout, so contiguous copies there
        assert plain.contiguous() is plain


def test_index_format_and_iteration(backend):
    i = gk.tensor(3, device=backend)
    data = list(range(10))
    assert data[i] == 3 and data[i:i + 2] == [3, 4] and np.arange(10)[i] == 3
    assert data[gk.tensor([4], device=backend)] == 4  # one element of any shape, as torch
    assert data[gk.tensor(True, device=backend)] == data[torch.tensor(True)] == 1
    for bad in (gk.tensor(3.0, device=backend), gk.tensor([1, 2], device=backend)):
        with pytest.raises(TypeError, match="only integer tensors of a single element"):
            data[bad]
        with pytest.raises(TypeError):
            data[torch.tensor(bad.numpy())]
    loss = gk.tensor(1.23456, device=backend)
    assert f"{loss:.4f}" == f"{torch.tensor(1.23456):.4f}" == "1.2346"
    assert f"{gk.tensor(7, device=backend):d}" == "7"
    with pytest.raises(TypeError):
        f"{gk.tensor([1.0, 2.0], device=backend):.2f}"
    with pytest.raises(TypeError):
        f"{torch.tensor([1.0, 2.0]):.2f}"
    rows = list(gk.tensor(np.arange(6).reshape(3, 2), device=backend))
    assert [r.tolist() for r in rows] == [r.tolist() for r in torch.arange(6).reshape(3, 2)]
    with pytest.raises(TypeError, match="0-d"):
        iter(gk.tensor(1.0, device=backend))


def test_array_protocol_as_a_torch_cpu_tensor(backend):
    data = RNG.normal(size=(3, 4)).astype(np.float32)
    g = gk.tensor(data, device=backend)
    if backend.name == "cupy":
        with pytest.raises(TypeError, match=r"Use Tensor\.cpu\(\)"):
            np.asarray(g)
        g = g.cpu()
    for out, ref in ((np.asarray(g), np.asarray(torch.tensor(data))),
                     (np.asarray(g, dtype=np.float64), np.asarray(torch.tensor(data), dtype=np.float64))):
        assert out.dtype == ref.dtype
        np.testing.assert_array_equal(out, ref)
    with pytest.raises(RuntimeError, match=r"detach\(\)"):
        np.asarray(gk.tensor(data, device=backend, requires_grad=True))
    with pytest.raises(RuntimeError):
        np.asarray(torch.tensor(data, requires_grad=True))


@pytest.mark.parametrize("key", [
    (slice(None), [-1], slice(None)),
    (0, slice(None), [1, 2]),  # torch: the int indexes first (numpy would put the gathered axis in front)
    (slice(None), 0, [1, 2]),
    ([0, 1], slice(None), 0),
    (0, [0, 1], slice(None), [1, 2]),
    (slice(None), [0, 1], 0, [1, 2]),
    (slice(None), [0, 2], [1, 3]),
    (slice(None), [0, 2], slice(None), [1, 3]),
    (Ellipsis, [4, 0, 4]),
    (slice(1, None), [[0, 1], [2, 2]], slice(0, 3)),
    (slice(None), slice(None, 2), [True, False, True, True]),
])
def test_mixed_indexing_matches_torch(backend, key):
    g, t = _pair(backend)
    _same(g[key], t[key], g, t)


def test_mixed_indexing_with_none_is_refused(backend):
    g = gk.tensor(X, device=backend)
    with pytest.raises(IndexError, match="None"):
        g[None, :, [0]]


def test_devices_and_to(backend):
    g = gk.tensor([1.0, 2.0], device=backend)
    d = g.device
    assert d.type == {"numpy": "cpu", "cupy": "cuda", "strict": "strict"}[backend.name]
    assert gk.zeros(2, device=d).backend == backend  # a device is accepted wherever a device string is
    assert repr(gk.device("cpu")) == repr(torch.device("cpu")) == "device(type='cpu')"
    assert str(gk.device("cuda", 0)) == str(torch.device("cuda", 0)) == "cuda:0"
    assert repr(gk.device("cuda:0")) == repr(torch.device("cuda:0"))
    assert g.to("cpu").device == "cpu" and g.cpu().backend.name == "numpy"
    assert g.to(gk.float64).dtype == gk.float64 and g.to("cpu", gk.float64).dtype == gk.float64
    assert g.to(gk.tensor([1], dtype=gk.int64, device="cpu")).dtype == gk.int64
    assert g.to(backend, non_blocking=True) is g and g.to(backend, copy=True) is not g
    assert not g.is_pinned()
    if gk.cuda.is_available():
        assert g.pin_memory() is g
    else:  # torch's refusal without an accelerator
        with pytest.raises(RuntimeError, match="Cannot access accelerator device"):
            g.pin_memory()
    with pytest.raises(gk.UnknownBackendError, match="CUDA_VISIBLE_DEVICES=1"):
        gk.device("cuda:1")
    with pytest.raises(gk.UnknownBackendError):
        gk.device("tpu")


def test_from_numpy_shares_memory_as_torch():
    a = np.arange(6, dtype=np.int64).reshape(2, 3)
    g, t = gk.from_numpy(a), torch.from_numpy(a.copy())
    assert g.dtype == gk.int64 and g.device == "cpu" and str(t.dtype) == "torch.int64"
    a[0, 0] = 42
    assert g[0, 0].item() == 42  # shared, as torch's
    np.testing.assert_array_equal(g.numpy()[1], t.numpy()[1])
    with pytest.raises(TypeError, match="expected np.ndarray"):
        gk.from_numpy([1, 2])
    with pytest.raises(TypeError, match="can't convert np.ndarray of type"):
        gk.from_numpy(np.array(["a"]))
