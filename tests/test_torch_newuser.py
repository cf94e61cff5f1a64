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


RNG = np.random.default_rng(3)
X = RNG.normal(size=(3, 4))


def _both(backend, data):
    return gk.tensor(data, device=backend, requires_grad=True), torch.tensor(data, requires_grad=True)


def _same(backend, g_out, t_out, g_in, t_in):
    """Values, dtypes, shapes and the gradient of sum(out * w) agree."""
    assert g_out.shape == tuple(t_out.shape)
    assert str(g_out.dtype).split(".")[1] == str(t_out.dtype).split(".")[1]
    assert_close(g_out, t_out.detach().numpy())
    w = RNG.normal(size=tuple(t_out.shape))
    (g_out * gk.tensor(w, device=backend)).sum().backward()
    (t_out * torch.tensor(w)).sum().backward()
    assert_close(g_in.grad, t_in.grad.numpy())


@pytest.mark.parametrize("case", [
    ("mm", lambda m, x: m.mm(x, x.T)), ("mm method", lambda m, x: x.mm(x.T)),
    ("bmm", lambda m, x: m.bmm(x.reshape(1, 3, 4), x.reshape(1, 4, 3))), ("dot", lambda m, x: m.dot(x[0], x[1])),
    ("dot method", lambda m, x: x[0].dot(x[2])), ("clone", lambda m, x: m.clone(x)),
    ("square", lambda m, x: m.square(x)), ("square method", lambda m, x: x.square()), ("mT", lambda m, x: x.mT),
    ("norm", lambda m, x: x.norm()), ("norm p1 dim", lambda m, x: x.norm(1, dim=1)),
    ("norm keepdim", lambda m, x: m.norm(x, dim=0, keepdim=True)), ("norm inf", lambda m, x: x.norm(float("inf"))),
    ("norm fro tuple", lambda m, x: x.norm("fro", dim=(0, 1))), ("norm p3", lambda m, x: x.norm(3, 1)),
    ("gather 1", lambda m, x: m.gather(x, 1, m.tensor([[0, 0, 3], [1, 2, 1], [3, 3, 3]], device=x.device))),
    ("gather 0", lambda m, x: x.gather(0, m.tensor([[2, 0, 1, 1]], device=x.device))),
    ("gather -1", lambda m, x: x.gather(-1, m.tensor([[1], [0]], device=x.device))),
    ("nan_to_num", lambda m, x: m.nan_to_num(x / (x > 0).to(x.dtype) - x)),
    ("nan_to_num args", lambda m, x: (x.log()).nan_to_num(nan=7.0, posinf=2.0, neginf=-3.0)),
    ("nan_to_num infs", lambda m, x: m.nan_to_num(x * 1e308 * 1e308)),
], ids=lambda c: c[0])
def test_new_names_match_torch(backend, case):
    _, fn = case
    g, t = _both(backend, X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # torch's own ops in float64 overflow quietly
        t_out = fn(torch, t)
    _same(backend, fn(gk, g), t_out, g, t)


def test_new_name_errors_as_torch(backend):
    g = gk.tensor(X, device=backend)
    for m, x in ((gk, g), (torch, torch.tensor(X))):
        if m is gk:
            m = _On(backend)
        with pytest.raises(RuntimeError, match="must be a matrix"):
            m.mm(x[0], x)
        with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
            m.mm(x, x)
        with pytest.raises(RuntimeError, match="3D tensor"):
            m.bmm(x, x)
        with pytest.raises(RuntimeError, match="same dtype|expected scalar type"):
            m.mm(x, x.T.float())
        with pytest.raises(RuntimeError, match="same dtype|expected scalar type"):
            m.bmm(x.reshape(1, 3, 4), x.reshape(1, 4, 3).float())
        with pytest.raises(RuntimeError, match="1D tensors expected"):
            m.dot(x, x)
        with pytest.raises(RuntimeError, match="same number of elements"):
            m.dot(x[0], x[0, :2])
        with pytest.raises(RuntimeError, match="same dtype"):
            m.dot(x[0], x[0].float())
        with pytest.raises(RuntimeError, match="Expected dtype int32/int64"):
            x.gather(0, m.tensor([[0.0]]))
        assert x.gather(0, m.tensor([[2]], dtype=m.int32)).item() == X[2, 0]
        with pytest.raises(RuntimeError, match="same number of dimensions"):
            x.gather(0, m.tensor([0]))
        with pytest.raises(RuntimeError):
            x.gather(0, m.tensor([[5]]))
        with pytest.raises(RuntimeError):
            x.gather(0, m.tensor([[-1]]))
        with pytest.raises(RuntimeError, match="only supported on matrices"):
            _ = x[0].mT
        with pytest.raises(RuntimeError):
            m.tensor([1, 2]).norm()
        with pytest.raises(RuntimeError):
            m.rand_like(m.tensor([1, 2]))


class _On:
    """gradkit with ``tensor`` making tensors on one backend (the rest of gradkit's names unchanged)."""

    def __init__(self, backend):
        self._backend = backend

    def tensor(self, data, **kw):
        return gk.tensor(data, device=self._backend, **kw)

    def __getattr__(self, name):
        return getattr(gk, name)


def test_like_draws_match_torch(backend):
    g, t = gk.tensor(X, device=backend), torch.tensor(X)
    for name in ("randn_like", "rand_like", "empty_like"):
        go, to = getattr(gk, name)(g), getattr(torch, name)(t)
        assert go.shape == tuple(to.shape) and go.dtype == gk.float64 and to.dtype == torch.float64
        assert go.backend is g.backend and not go.requires_grad
        assert getattr(gk, name)(g, dtype=gk.float32, requires_grad=True).requires_grad
    u = gk.rand_like(gk.zeros(10000, device=backend)).numpy()
    assert 0 <= u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.02
    n = gk.randn_like(gk.zeros(10000, device=backend)).numpy()
    assert abs(n.mean()) < 0.05 and abs(n.std() - 1) < 0.05
    for args in ((5,), (2, 5)):
        go, to = gk.randint_like(g, *args), torch.randint_like(t, *args)
        assert go.shape == tuple(to.shape) and go.dtype == gk.float64 and to.dtype == torch.float64
        assert set(np.unique(go.numpy())) <= set(range(args[0] if len(args) == 2 else 0, args[-1]))
    i = gk.randint_like(gk.zeros(4, dtype=gk.int64, device=backend), 3)
    assert i.dtype == gk.int64 == str(torch.randint_like(torch.zeros(4, dtype=torch.int64), 3).dtype).split(".")[1]


def test_in_place_draws(backend):
    for m in (gk, torch):
        z = m.zeros(20000, dtype=m.float64) if m is torch else m.zeros(20000, dtype=m.float64, device=backend)
        alias = z[:10]
        assert z.uniform_(2, 3) is z
        a = z.numpy()
        assert 2 <= a.min() and a.max() < 3 and abs(a.mean() - 2.5) < 0.02
        assert float(alias[0]) == float(z[0])  # views see the write
        assert z.normal_(1.0, 2.0) is z
        a = z.numpy()
        assert abs(a.mean() - 1) < 0.1 and abs(a.std() - 2) < 0.1
        w = m.zeros(3, requires_grad=True)
        with pytest.raises(RuntimeError):
            w.uniform_()
        with m.no_grad():
            w.normal_()
        assert w.requires_grad
    with pytest.raises(RuntimeError):
        gk.zeros(3, dtype=gk.int64).uniform_()


def test_small_names_as_torch():
    x = gk.tensor([1.0])
    assert gk.is_tensor(x) and not gk.is_tensor([1.0]) and torch.is_tensor(torch.tensor(1.0))
    assert gk.get_default_dtype() == gk.float32 and torch.get_default_dtype() == torch.float32
    assert gk.get_float32_matmul_precision() == "highest"
    try:
        gk.set_float32_matmul_precision("high")
        assert gk.get_float32_matmul_precision() == "high" and gk.backends.cuda.matmul.allow_tf32
    finally:
        gk.set_float32_matmul_precision("highest")
    assert not gk.backends.cuda.matmul.allow_tf32
    with pytest.raises(ValueError, match="precision"):
        gk.set_float32_matmul_precision("fast")
    ident, tident = gk.nn.Identity(3, bias=False), torch.nn.Identity(3, bias=False)
    assert ident(x) is x and list(ident.parameters()) == [] == list(tident.parameters())


def test_size_as_torch():
    for m in (gk, torch):
        t = m.zeros(2, 3)
        assert m.Size([2, 3]) == m.Size((2, 3)) == t.shape == t.size() == (2, 3)
        assert isinstance(t.size(), m.Size) and isinstance(m.Size([2, 3]), tuple)
        assert m.Size([2, 3]).numel() == 6 and m.Size([]) == () and m.Size().numel() == 1
        assert isinstance(m.Size([2, 3, 4])[1:], m.Size) and m.Size([2, 3])[0] == 2
        assert t.size(1) == 3 and t.size(-1) == 3 and t.numel() == 6
        with pytest.raises(TypeError):
            m.Size([2.5])
    t = gk.zeros(2, 3)
    assert t.size == 6 and repr(gk.Size([2, 3])) == "gradkit.Size([2, 3])"
