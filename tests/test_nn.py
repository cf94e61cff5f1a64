"""gradkit.nn: parameter order, state dicts, train/eval (BatchNorm1d), to(), the layers' shapes and init."""

from __future__ import annotations

import numpy as np
import pytest

import gradkit
from gradkit import Tensor, get_backend, nn
from gradkit.models import MLPLanguageModel
from gradkit.testing import tolerance

F64 = tolerance("float64")


def _close(actual, expected, dtype="float64"):
    np.testing.assert_allclose(actual, expected, **tolerance(dtype))


class Tiny(nn.Module):
    """A module with a child, a list of children, a buffer and a parameter shared by two children."""

    def __init__(self, backend):
        g = backend.random(0)
        self.first = nn.Linear(3, 4, generator=g, dtype="float64")
        self.blocks = [nn.Linear(4, 4, generator=g, dtype="float64"), nn.Tanh(),
                       nn.Linear(4, 2, bias=False, generator=g, dtype="float64")]
        self.scale = nn.Parameter(np.ones(2), backend=backend, dtype="float64")
        self.steps = Tensor(np.zeros(1), backend=backend, dtype="float64")  # a buffer: saved, not trained
        self.again = nn.Linear(3, 4, generator=g, dtype="float64")
        self.again.weight = self.first.weight  # shared: listed once

    def forward(self, x):
        h = self.first(x)
        for layer in self.blocks:
            h = layer(h)
        return h * self.scale


# Parameters and state dicts.
def test_named_parameters_order_and_sharing(backend):
    m = Tiny(backend)
    names = [n for n, _ in m.named_parameters()]
    assert names == ["first.weight", "first.bias", "blocks.0.weight", "blocks.0.bias", "blocks.2.weight", "scale",
                     "again.bias"]
    assert [id(p) for p in m.parameters()] == [id(p) for _, p in m.named_parameters()]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in m.parameters())
    # The state dict has every tensor, buffers and both names of the shared weight included.
    assert list(m.state_dict()) == ["first.weight", "first.bias", "blocks.0.weight", "blocks.0.bias",
                                    "blocks.2.weight", "scale", "steps", "again.weight", "again.bias"]
    assert [type(x).__name__ for x in m.modules()] == ["Tiny", "Linear", "Linear", "Tanh", "Linear", "Linear"]


def test_mlp_language_model_parameter_names():
    m = MLPLanguageModel(27, 3, 10, 200, generator=get_backend("numpy").random(0))
    assert [(n, p.shape) for n, p in m.named_parameters()] == [
        ("C.weight", (27, 10)), ("hidden.weight", (200, 30)), ("hidden.bias", (200,)),
        ("out.weight", (27, 200)), ("out.bias", (27,))]
    assert sum(p.nelement() for p in m.parameters()) == 27 * 10 + 30 * 200 + 200 + 200 * 27 + 27  # 11,897


def test_state_dict_round_trip(backend):
    a, b = Tiny(backend), Tiny(backend)
    for p in b.parameters():
        p.data = p.data * 2 + 1  # make b different
    x = Tensor(np.linspace(-1, 1, 15).reshape(5, 3), backend=backend, dtype="float64")
    assert not np.allclose(a(x).numpy(), b(x).numpy())
    state = a.state_dict()
    assert all(isinstance(v, Tensor) and not v.requires_grad for v in state.values())  # detached, as torch's
    state["steps"] = np.array([7.0])
    b.load_state_dict(state)
    np.testing.assert_array_equal(b(x).numpy(), a(x).numpy())
    np.testing.assert_array_equal(b.steps.numpy(), [7.0])
    assert b.backend == backend
    # The state dict shares a's storage (as torch's); b got copies: changing a afterwards does not touch b.
    with gradkit.no_grad():
        state["first.bias"][:] = 99.0
    assert np.all(a.first.bias.numpy() == 99.0) and not np.any(b.first.bias.numpy() == 99.0)


def test_load_state_dict_keeps_dtype_and_backend(backend):
    m = nn.Linear(2, 3, generator=backend.random(0), dtype="float32")
    m.load_state_dict({"weight": np.arange(6.0).reshape(3, 2), "bias": np.array([1.0, 2.0, 3.0])})
    assert m.weight.dtype == backend.dtype("float32") and m.weight.backend == backend
    np.testing.assert_array_equal(m.weight.numpy(), np.arange(6.0, dtype=np.float32).reshape(3, 2))


def test_load_state_dict_strict_errors():
    m = Tiny(get_backend("numpy"))
    state = {k: v.numpy() for k, v in m.state_dict().items()}
    before = {k: v.copy() for k, v in state.items()}
    missing = {k: v for k, v in state.items() if k != "scale"}
    with pytest.raises(RuntimeError, match=r"missing keys \['scale'\], unexpected keys \[\]"):
        m.load_state_dict(missing)
    with pytest.raises(RuntimeError, match=r"missing keys \[\], unexpected keys \['extra'\]"):
        m.load_state_dict({**state, "extra": np.zeros(1)})
    with pytest.raises(ValueError, match=r"'first.bias' has shape \(5,\), the tensor it loads into has shape \(4,\)"):
        m.load_state_dict({**state, "first.bias": np.zeros(5)})
    changed = {k: v + 1.0 for k, v in state.items()}  # every entry differs, the last one has a bad shape
    changed["again.bias"] = np.zeros(7)
    with pytest.raises(ValueError, match="again.bias"):
        m.load_state_dict(changed)
    for k, v in m.state_dict().items():  # a strict failure loads nothing
        np.testing.assert_array_equal(v.numpy(), before[k])
    # strict=False loads what is there and keeps the rest.
    m.load_state_dict({"scale": np.array([3.0, 4.0]), "extra": np.zeros(1)}, strict=False)
    np.testing.assert_array_equal(m.scale.numpy(), [3.0, 4.0])
    np.testing.assert_array_equal(m.first.weight.numpy(), before["first.weight"])


def test_zero_grad_and_backend(backend):
    m = Tiny(backend)
    x = Tensor(np.ones((2, 3)), backend=backend, dtype="float64")
    m(x).sum().backward()
    assert [p.grad is not None for p in m.parameters()] == [True] * 6 + [False]  # again.bias is not used
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    assert m.backend == backend


# train / eval and BatchNorm1d.
def _bn_reference(x, running_mean, running_var, momentum=0.1, eps=1e-5):
    """numpy's training-mode batch norm: (output, new running mean, new running var (unbiased))."""
    mean, var = x.mean(axis=0), x.var(axis=0)
    out = (x - mean) / np.sqrt(var + eps)
    return (out, (1 - momentum) * running_mean + momentum * mean,
            (1 - momentum) * running_var + momentum * x.var(axis=0, ddof=1))


def test_batchnorm_training_statistics_and_running_update(backend):
    rng = np.random.default_rng(3)
    bn = nn.BatchNorm1d(4, backend=backend, dtype="float64")
    rm, rv = np.zeros(4), np.ones(4)
    for step in range(3):
        x = rng.normal(2.0 + step, 3.0, (8, 4))
        out = bn(Tensor(x, backend=backend, dtype="float64")).numpy()
        expected, rm, rv = _bn_reference(x, rm, rv)
        _close(out, expected)
        _close(bn.running_mean.numpy(), rm)
        _close(bn.running_var.numpy(), rv)
    # By hand after one step from the initial buffers: 0.9 * 0 + 0.1 * mean, 0.9 * 1 + 0.1 * unbiased var.
    bn2 = nn.BatchNorm1d(4, backend=backend, dtype="float64")
    x = rng.normal(0.0, 1.0, (5, 4))
    bn2(Tensor(x, backend=backend, dtype="float64"))
    _close(bn2.running_mean.numpy(), 0.1 * x.mean(axis=0))
    _close(bn2.running_var.numpy(), 0.9 + 0.1 * np.var(x, axis=0, ddof=1))
    # The training output has mean 0 and (biased) variance 1 / (1 + eps / var) per feature.
    out = bn2(Tensor(x, backend=backend, dtype="float64")).numpy()
    _close(out.mean(axis=0), np.zeros(4))
    _close(out.var(axis=0), x.var(axis=0) / (x.var(axis=0) + 1e-5))


def test_batchnorm_eval_uses_running_stats_and_does_not_update(backend):
    bn = nn.BatchNorm1d(3, backend=backend, dtype="float64")
    bn.running_mean.data = backend.asarray(np.array([1.0, -2.0, 0.5]), "float64")
    bn.running_var.data = backend.asarray(np.array([4.0, 0.25, 1.0]), "float64")
    bn.gamma.data = backend.asarray(np.array([2.0, 1.0, -1.0]), "float64")
    bn.beta.data = backend.asarray(np.array([0.0, 3.0, 1.0]), "float64")
    x = np.array([[1.0, 2.0, 3.0], [-1.0, 0.0, 1.0]])
    assert bn.eval() is bn and not bn.training
    out = bn(Tensor(x, backend=backend, dtype="float64")).numpy()
    expected = (x - [1.0, -2.0, 0.5]) / np.sqrt(np.array([4.0, 0.25, 1.0]) + 1e-5) * [2.0, 1.0, -1.0] + [0, 3, 1]
    _close(out, expected)
    np.testing.assert_array_equal(bn.running_mean.numpy(), [1.0, -2.0, 0.5])  # eval leaves the buffers
    np.testing.assert_array_equal(bn.running_var.numpy(), [4.0, 0.25, 1.0])
    # A single row in eval mode is fine (training with one row would have variance 0).
    _close(bn(Tensor(x[:1], backend=backend, dtype="float64")).numpy(), expected[:1])


def test_batchnorm_3d_input_normalises_over_batch_and_time(backend):
    x = np.random.default_rng(5).normal(1.0, 2.0, (4, 3, 2))
    bn = nn.BatchNorm1d(2, backend=backend, dtype="float64")
    out = bn(Tensor(x, backend=backend, dtype="float64")).numpy()
    flat = x.reshape(-1, 2)
    _close(out.reshape(-1, 2), (flat - flat.mean(0)) / np.sqrt(flat.var(0) + 1e-5))
    _close(bn.running_var.numpy(), 0.9 + 0.1 * flat.var(0, ddof=1))


def test_train_eval_toggle_reaches_every_module(backend):
    g = backend.random(0)
    seq = nn.Sequential(nn.Linear(3, 4, generator=g, dtype="float64"), nn.BatchNorm1d(4, backend=backend,
                        dtype="float64"), nn.Tanh())
    assert seq.training and all(m.training for m in seq.modules())
    seq.eval()
    assert not any(m.training for m in seq.modules())
    x = Tensor(np.random.default_rng(0).normal(size=(6, 3)), backend=backend, dtype="float64")
    # In eval with the initial running stats (0, 1) BatchNorm is almost the identity.
    _close(seq(x).numpy(), np.tanh(seq.layers[0](x).numpy() / np.sqrt(1 + 1e-5)))
    assert seq.train() is seq and all(m.training for m in seq.modules())


def test_batchnorm_gradient_flows_to_gamma_and_beta(backend):
    x = np.random.default_rng(1).normal(size=(6, 2))
    bn = nn.BatchNorm1d(2, backend=backend, dtype="float64")
    w = np.array([1.0, -2.0])
    (bn(Tensor(x, backend=backend, dtype="float64")) * Tensor(w, backend=backend, dtype="float64")).sum().backward()
    xhat = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)
    _close(bn.gamma.grad.numpy(), (xhat * w).sum(0))
    _close(bn.beta.grad.numpy(), 6 * w)
    assert bn.running_mean.grad is None and not bn.running_mean.requires_grad


# to()
def test_to_strict_keeps_parameter_identity_and_values():
    numpy_be, strict = get_backend("numpy"), get_backend("strict")
    m = MLPLanguageModel(6, 2, 2, 3, generator=numpy_be.random(1), dtype="float64")
    ids = [id(p) for p in m.parameters()]
    values = {k: v.numpy() for k, v in m.state_dict().items()}
    X = np.array([[0, 1], [2, 3], [4, 5]])
    before = m(Tensor(X, backend=numpy_be)).numpy()
    m(Tensor(X, backend=numpy_be)).sum().backward()
    assert m.to("strict") is m
    assert [id(p) for p in m.parameters()] == ids
    assert all(p.backend == strict and p.grad is None and p.requires_grad for p in m.parameters())
    assert m.backend == strict
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), values[k])
    np.testing.assert_array_equal(m(Tensor(X, backend=strict)).numpy(), before)
    # dtype casts the floats only; back to numpy as float32.
    m.to("numpy", "float32")
    assert [id(p) for p in m.parameters()] == ids
    assert all(p.backend == numpy_be and p.dtype == np.float32 for p in m.parameters())
    np.testing.assert_allclose(m(Tensor(X, backend=numpy_be)).numpy(), before, **tolerance("float32"))


def test_to_moves_buffers_and_optimizer_keeps_working():
    from gradkit import optim

    bn = nn.BatchNorm1d(2, backend="numpy", dtype="float64")
    opt = optim.SGD(bn.parameters(), lr=0.5)
    bn.to("strict")
    assert bn.running_mean.backend.name == "strict" and bn.running_var.backend.name == "strict"
    x = Tensor(np.array([[1.0, 2.0], [3.0, 5.0]]), backend="strict", dtype="float64")
    (bn(x) * Tensor(np.array([1.0, 0.0]), backend="strict", dtype="float64")).sum().backward()
    opt.step()
    _close(bn.beta.numpy(), [-0.5 * 2, 0.0])  # d/dbeta of sum(out[:, 0]) = 2 rows


# Layers.
def test_linear_shapes_and_forward(backend):
    g = backend.random(0)
    lin = nn.Linear(5, 3, generator=g, dtype="float64")
    assert lin.weight.shape == (3, 5) and lin.bias.shape == (3,)  # (out_features, in_features), as torch
    assert np.all(np.abs(lin.bias.numpy()) <= 5**-0.5) and np.any(lin.bias.numpy() != 0)  # torch's uniform init
    assert np.all(nn.Linear(5, 3, generator=g, gain=1.0).bias.numpy() == 0)  # the course's init: a zero bias
    x = np.random.default_rng(0).normal(size=(4, 2, 5))  # (..., fan_in)
    lin.bias.data = backend.asarray(np.array([1.0, 2.0, 3.0]), "float64")
    out = lin(Tensor(x, backend=backend, dtype="float64"))
    assert out.shape == (4, 2, 3)
    _close(out.numpy(), x @ lin.weight.numpy().T + [1.0, 2.0, 3.0])
    nob = nn.Linear(5, 3, bias=False, generator=g, dtype="float64")
    assert nob.bias is None and [n for n, _ in nob.named_parameters()] == ["weight"]
    with pytest.raises(ValueError, match="last axis must be 5"):
        lin(Tensor(np.ones((2, 4)), backend=backend, dtype="float64"))


@pytest.mark.parametrize(("gain", "std"), [(1.0, None), (5 / 3, None), (1.0, 0.01)])
def test_linear_init_scale(gain, std):
    g = get_backend("numpy").random(123)
    lin = nn.Linear(1000, 1000, generator=g, gain=gain, std=std, dtype="float64")
    expected = gain / 1000**0.5 if std is None else std
    w = lin.weight.numpy()
    assert abs(w.std() / expected - 1) < 0.02
    assert abs(w.mean()) < 3 * expected / 1000  # 1e6 draws: the mean's standard error is expected / 1000


def test_linear_init_scales_with_fan_in_not_fan_out():
    w = nn.Linear(400, 2500, generator=get_backend("numpy").random(5), dtype="float64", gain=1.0).weight.numpy()
    assert abs(w.std() / (1 / 400**0.5) - 1) < 0.02


def test_linear_default_init_is_torchs_uniform():
    """torch's nn.Linear: weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)) (std 1/sqrt(3 in))."""
    lin = nn.Linear(400, 2500, generator=get_backend("numpy").random(5), dtype="float64")
    w, b = lin.weight.numpy(), lin.bias.numpy()
    bound = 400**-0.5
    assert w.max() <= bound and w.min() >= -bound and w.max() > 0.99 * bound and w.min() < -0.99 * bound
    assert abs(w.std() / (bound / 3**0.5) - 1) < 0.02
    assert b.max() <= bound and b.min() >= -bound and abs(b.std() / (bound / 3**0.5) - 1) < 0.1


def test_linear_init_same_on_every_backend(backend):
    a = nn.Linear(4, 3, generator=backend.random(9), dtype="float32").weight.numpy()
    b = nn.Linear(4, 3, generator=get_backend("numpy").random(9), dtype="float32").weight.numpy()
    np.testing.assert_array_equal(a, b)


def test_embedding_shapes_init_and_backward(backend):
    emb = nn.Embedding(7, 3, generator=backend.random(0), dtype="float64")
    assert emb.weight.shape == (7, 3)
    ids = np.array([[0, 6], [6, 2], [6, 6]])
    out = emb(Tensor(ids, backend=backend))
    assert out.shape == (3, 2, 3)
    np.testing.assert_array_equal(out.numpy(), emb.weight.numpy()[ids])
    out.sum().backward()
    expected = np.zeros((7, 3))
    np.add.at(expected, ids.reshape(-1), 1.0)  # repeated ids add up: id 6 four times
    np.testing.assert_array_equal(emb.weight.grad.numpy(), expected)
    big = nn.Embedding(1000, 1000, generator=get_backend("numpy").random(1), dtype="float64").weight.numpy()
    assert abs(big.std() - 1) < 0.02


def test_sequential_flatten_tanh_relu(backend):
    g = backend.random(0)
    l1, l2 = nn.Linear(6, 4, generator=g, dtype="float64"), nn.Linear(4, 2, generator=g, dtype="float64")
    seq = nn.Sequential(nn.Flatten(), l1, nn.Tanh(), l2, nn.ReLU())
    assert [n for n, _ in seq.named_parameters()] == ["1.weight", "1.bias", "3.weight", "3.bias"]  # torch's names
    x = np.random.default_rng(2).normal(size=(5, 2, 3))
    out = seq(Tensor(x, backend=backend, dtype="float64"))
    assert out.shape == (5, 2)
    h = np.tanh(x.reshape(5, 6) @ l1.weight.numpy().T + l1.bias.numpy())
    _close(out.numpy(), np.maximum(h @ l2.weight.numpy().T + l2.bias.numpy(), 0.0))
    assert nn.Flatten()(Tensor(np.zeros((4, 3, 2, 5)), backend=backend)).shape == (4, 30)


def test_module_forward_is_abstract():
    with pytest.raises(NotImplementedError):
        nn.Module()(1)
