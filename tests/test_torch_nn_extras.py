"""Issue 16's nn additions against torch: Module's buffers, children, named_modules and apply; state_dict with
persistent and non-persistent buffers; zero_grad; Linear's init; Embedding's refusal of negative ids; nn.init;
clip_grad_norm_; Dropout and F.dropout; GradScaler; autocast; inference_mode."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import gradkit as gk  # noqa: E402
from gradkit.testing import assert_close  # noqa: E402

pytestmark = pytest.mark.torch


def _tree(lib):
    """The same small model written against ``lib`` (gradkit or torch)."""
    nn = lib.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 3)
            self.drop = nn.Dropout(0.5)
            self.register_buffer("mask", lib.ones(3, 3))
            self.register_buffer("scratch", lib.zeros(2), persistent=False)

        def forward(self, x):
            return self.drop(self.fc(x)) * self.mask[0]

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(5, 3)
            self.blocks = nn.ModuleList([Block(), Block()])
            self.head = nn.Linear(3, 5, bias=False)
            self.head.weight = self.emb.weight  # tied, as GPT-2's

        def forward(self, x):
            h = self.emb(x)
            for b in self.blocks:
                h = b(h)
            return self.head(h)

    return Net()


def test_module_traversal_matches_torch():
    g, t = _tree(gk), _tree(torch)
    assert [n for n, _ in g.named_modules()] == [n for n, _ in t.named_modules()]
    assert [type(m).__name__ for m in g.children()] == [type(m).__name__ for m in t.children()]
    assert [n for n, _ in g.named_children()] == [n for n, _ in t.named_children()]
    assert [n for n, _ in g.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in g.named_buffers()] == [n for n, _ in t.named_buffers()]
    # Persistent buffers only, the tied weight under both names. The order differs (a documented difference):
    # gradkit's is the order of assignment, torch's puts a module's own tensors before its children's.
    assert sorted(g.state_dict()) == sorted(t.state_dict())
    seen_g, seen_t = [], []
    g.apply(lambda m: seen_g.append(type(m).__name__))
    t.apply(lambda m: seen_t.append(type(m).__name__))
    assert seen_g == seen_t  # children first, then the module itself
    assert len(list(g.modules())) == len(list(t.modules()))


def test_compile_of_a_module_is_torchs_wrapper(backend):
    g, t = _tree(gk), _tree(torch)
    with warnings.catch_warnings():  # torch's compiler warns of its own deprecations when it is imported
        warnings.simplefilter("ignore", DeprecationWarning)
        ct = torch.compile(t)  # torch compiles lazily, on the first call: not called here
    cg = gk.compile(g)
    assert type(cg).__name__ == type(ct).__name__ == "OptimizedModule"
    assert cg._orig_mod is g and isinstance(cg, gk.nn.Module)
    assert sorted(cg.state_dict()) == sorted(ct.state_dict())  # "_orig_mod.emb.weight", ... (nanoGPT strips it)
    assert [n for n, _ in cg.named_parameters()] == [n for n, _ in ct.named_parameters()]
    assert cg.blocks is g.blocks and cg.emb is g.emb  # attributes reach the wrapped module
    cg.eval()
    assert not g.training and not g.blocks[0].drop.training
    x = gk.tensor([[1, 2], [3, 4]], device=backend)
    cg.to(backend)
    assert_close(cg(x), g(x), rtol=0, atol=0)
    with pytest.raises(AttributeError, match="no_such"):
        getattr(cg, "no_such")  # noqa: B009 (the attribute lookup is the test)


def test_state_dict_round_trip_with_buffers(backend):
    a, b = _tree(gk).to(backend), _tree(gk).to(backend)
    with gk.no_grad():
        a.blocks[0].mask.mul_(3.0)
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(b.blocks[0].mask.numpy(), a.blocks[0].mask.numpy())
    assert b.blocks[0].scratch.backend == backend  # a non-persistent buffer moves with the module
    with pytest.raises(KeyError, match="already exists"):
        a.register_buffer("blocks", gk.zeros(1))
    with pytest.raises(KeyError, match="already exists"):
        a.head.register_buffer("weight", gk.zeros(1))  # a parameter's name
    with pytest.raises(KeyError):
        torch.nn.Linear(2, 2).register_buffer("weight", torch.zeros(1))
    with pytest.raises(TypeError, match="a Tensor or None"):
        a.register_buffer("x", np.zeros(1))


def test_zero_grad_set_to_none(backend):
    m = _tree(gk).to(backend)
    m(gk.tensor([[1, 2]], device=backend)).sum().backward()
    m.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_linear_init_as_torch():
    """torch's Linear: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias: the same bounds and spread."""
    gk.manual_seed(0)
    torch.manual_seed(0)
    g, t = gk.nn.Linear(300, 400), torch.nn.Linear(300, 400)
    for gp, tp in ((g.weight, t.weight), (g.bias, t.bias)):
        a, b = gp.numpy(), tp.detach().numpy()
        assert a.shape == b.shape and a.dtype == b.dtype
        assert abs(a.max() - b.max()) < 2e-3 and abs(a.min() - b.min()) < 2e-3
        assert abs(a.std() / b.std() - 1) < (0.02 if a.ndim == 2 else 0.2)


def test_embedding_refuses_negative_ids(backend):
    emb = gk.nn.Embedding(4, 2, device=backend)
    with pytest.raises(IndexError, match="index out of range in self"):
        emb(gk.tensor([0, -1], device=backend))
    with pytest.raises(IndexError, match="index out of range in self"):
        torch.nn.Embedding(4, 2)(torch.tensor([0, -1]))
    with pytest.raises(IndexError):
        emb(gk.tensor([4], device=backend))


@pytest.mark.parametrize(("name", "args", "std"), [
    ("normal_", {"mean": 1.0, "std": 0.02}, 0.02),
    ("uniform_", {"a": -0.5, "b": 0.5}, 1 / 12**0.5),
    ("xavier_uniform_", {"gain": 2.0}, 2.0 * (2 / (200 + 300)) ** 0.5),
    ("xavier_normal_", {}, (2 / (200 + 300)) ** 0.5),
    ("kaiming_uniform_", {"a": 5**0.5}, (1 / 3) ** 0.5 / 200**0.5),
    ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"}, 2**0.5 / 300**0.5),
    ("kaiming_normal_", {"nonlinearity": "tanh"}, 5 / 3 / 200**0.5),
])
def test_init_matches_torchs_distribution(backend, name, args, std):
    g = gk.zeros(300, 200, device=backend, requires_grad=True)
    t = torch.zeros(300, 200, requires_grad=True)
    assert getattr(gk.nn.init, name)(g, **args) is g
    getattr(torch.nn.init, name)(t, **args)
    a, b = g.detach().numpy(), t.detach().numpy()
    assert g.requires_grad and g.is_leaf and a.dtype == b.dtype
    assert abs(a.std() / std - 1) < 0.03 and abs(b.std() / std - 1) < 0.03
    assert abs(a.mean() - b.mean()) < 5 * std / 245


def test_init_constants_and_gain(backend):
    g = gk.zeros(2, 3, device=backend)
    np.testing.assert_array_equal(gk.nn.init.ones_(g).numpy(), np.ones((2, 3)))
    np.testing.assert_array_equal(gk.nn.init.constant_(g, 0.5).numpy(), np.full((2, 3), 0.5))
    np.testing.assert_array_equal(gk.nn.init.zeros_(g).numpy(), np.zeros((2, 3)))
    for nl, p in [("tanh", None), ("relu", None), ("leaky_relu", 0.2), ("selu", None), ("sigmoid", None)]:
        assert gk.nn.init.calculate_gain(nl, p) == pytest.approx(torch.nn.init.calculate_gain(nl, p))
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        gk.nn.init.xavier_uniform_(gk.zeros(3))
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        gk.nn.init.calculate_gain("swish")


@pytest.mark.parametrize(("max_norm", "norm_type"), [(1.0, 2.0), (100.0, 2.0), (0.5, 1.0), (0.1, float("inf"))])
def test_clip_grad_norm_matches_torch(backend, max_norm, norm_type):
    rng = np.random.default_rng(3)
    grads = [rng.normal(size=(3, 4)), rng.normal(size=(5,))]
    gp = [gk.tensor(np.zeros_like(x), device=backend, requires_grad=True) for x in grads]
    tp = [torch.zeros(x.shape, dtype=torch.float64, requires_grad=True) for x in grads]
    for p, q, x in zip(gp, tp, grads):
        p.grad, q.grad = gk.tensor(x, device=backend), torch.tensor(x)
    total_g = gk.nn.utils.clip_grad_norm_(gp, max_norm, norm_type)
    total_t = torch.nn.utils.clip_grad_norm_(tp, max_norm, norm_type)
    assert isinstance(total_g, gk.Tensor) and total_g.shape == () and total_g.dtype == gk.float64
    assert_close(total_g, total_t.numpy())
    for p, q in zip(gp, tp):
        assert_close(p.grad, q.grad.numpy())


def test_clip_grad_norm_edges(backend):
    p = gk.tensor([1.0], device=backend, requires_grad=True)
    assert gk.nn.utils.clip_grad_norm_([p], 1.0).item() == 0.0  # no gradients
    p.grad = gk.tensor([float("inf")], device=backend)
    with pytest.raises(RuntimeError, match="non-finite"):
        gk.nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    p.grad = gk.tensor([3.0], device=backend)
    gk.nn.utils.clip_grad_value_(p, 0.5)
    assert p.grad.item() == 0.5


def test_dropout_train_and_eval(backend):
    x = gk.ones(200, 100, device=backend, requires_grad=True)
    drop = gk.nn.Dropout(0.25)
    y = drop(x)
    kept = y.detach().numpy() != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(y.detach().numpy()[kept], 1 / 0.75, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy() != 0, kept)  # the same mask in the backward
    assert drop.eval()(x) is x and gk.nn.functional.dropout(x, 0.25, training=False) is x
    assert torch.nn.functional.dropout(torch.ones(3), 0.25, training=False).tolist() == [1.0, 1.0, 1.0]
    assert not gk.nn.functional.dropout(x, 1.0).detach().numpy().any()
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="between 0 and 1"):
            gk.nn.Dropout(bad)
        with pytest.raises(ValueError, match="between 0 and 1"):
            torch.nn.Dropout(bad)


def _scaler_run(lib, grads_seq, **kw):
    """A few steps of SGD under a GradScaler (torch: on the cpu device); the scale, the parameter and the state
    after each step."""
    p = lib.tensor([1.0, -2.0], requires_grad=True)
    opt = lib.optim.SGD([p], lr=0.1)
    scaler = lib.amp.GradScaler("cpu", **kw)
    out = []
    for g in grads_seq:
        loss = (p * lib.tensor(g)).sum()
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        scaler.step(opt)
        scaler.update()
        opt.zero_grad()
        out.append((scaler.get_scale(), p.detach().numpy().copy(), dict(scaler.state_dict())))
    return out


def test_grad_scaler_matches_torch():
    seq = [[1.0, 2.0], [float("inf"), 1.0], [0.5, 0.5], [1.0, 1.0], [float("nan"), 0.0], [2.0, 1.0]]
    kw = {"init_scale": 8.0, "growth_interval": 2}
    for (sg, pg, dg), (st, pt, dt) in zip(_scaler_run(gk, seq, **kw), _scaler_run(torch, seq, **kw)):
        assert sg == st
        np.testing.assert_allclose(pg, pt, rtol=1e-6)
        assert dg == dt


def test_grad_scaler_disabled_without_cuda_and_errors():
    if gk.cuda.is_available():
        pytest.skip("CUDA is available here: the scaler stays enabled")
    with pytest.warns(UserWarning, match="CUDA is not available"):
        scaler = gk.cuda.amp.GradScaler()
    assert not scaler.is_enabled() and scaler.get_scale() == 1.0 and scaler.state_dict() == {}
    x = gk.tensor(2.0)
    assert scaler.scale(x) is x
    p = gk.tensor([1.0], requires_grad=True)
    opt = gk.optim.SGD([p], lr=1.0)
    (p * 3).sum().backward()
    scaler.unscale_(opt)
    scaler.step(opt)
    scaler.update()
    assert p.item() == -2.0
    on = gk.amp.GradScaler("cpu")
    (p * 1).sum().backward()
    on.unscale_(opt)
    with pytest.raises(RuntimeError, match="already been called"):
        on.unscale_(opt)
    with pytest.raises(RuntimeError, match="empty"):
        on.load_state_dict({})


def test_autocast_is_a_documented_no_op(backend):
    x = gk.tensor([[1.0, 2.0]], device=backend)
    with gk.autocast(device_type="cpu", dtype=gk.bfloat16):
        y = x @ x.T
    with gk.amp.autocast("cuda", dtype=gk.float16):
        z = x @ x.T
    assert y.dtype == z.dtype == gk.float32
    assert gk.amp.autocast("cpu")(lambda a: a * 2)(x).dtype == gk.float32
    with pytest.raises(RuntimeError, match="unsupported autocast device_type"):
        gk.autocast("tpu")
    with pytest.raises(RuntimeError):
        torch.autocast("tpu")


def test_inference_mode(backend):
    w = gk.tensor([1.0], device=backend, requires_grad=True)
    with gk.inference_mode():
        assert not (w * 2).requires_grad and gk.is_inference_mode_enabled()
    assert (w * 2).requires_grad and not gk.is_inference_mode_enabled()
    with gk.inference_mode(False):
        assert (w * 2).requires_grad

    @gk.inference_mode()
    def f(a):
        return a * 2

    @gk.inference_mode
    def h(a):
        return a * 2

    assert not f(w).requires_grad and not h(w).requires_grad
    assert (w * 2).requires_grad
