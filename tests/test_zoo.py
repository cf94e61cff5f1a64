"""The ops and modules of the model zoo (issue 10): layer norm, GELU, sigmoid gates, FlattenConsecutive,
batched 4-D matmul, ModuleList/ModuleDict. Each op against the Value oracle in float64 and by gradcheck on
every backend, and against torch where the name is torch's."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradkit import Tensor, functional, nn
from gradkit.testing import TensorOps, assert_close, check_against_value, gradcheck

RNG = np.random.default_rng(0)
X3 = RNG.normal(0.0, 1.5, (2, 3, 4))
W4, B4 = RNG.normal(1.0, 0.3, 4), RNG.normal(0.0, 0.3, 4)
C_GELU = (2 / np.pi) ** 0.5


def _layer_norm(ops, x, w, b):
    """layer_norm over the last axis: fused on the Tensor side, composed of mean/sub/mul/pow on the Value side."""
    if ops.name == "tensor":
        return functional.layer_norm(x, 4, w, b)
    centred = x - ops.mean(x, -1, keepdims=True)
    var = ops.mean(centred * centred, -1, keepdims=True)
    return centred / (var + 1e-5) ** 0.5 * w + b


def _gelu(ops, x):
    if ops.name == "tensor":
        return functional.gelu(x, "tanh")
    return 0.5 * x * (1.0 + ops.tanh(C_GELU * (x + 0.044715 * x * x * x)))


def _gru_gate(ops, x, h, wz, wh):
    """A GRU's blend: z = sigmoid(x Wz); (1 - z) h + z tanh(x Wh)."""
    z = ops.sigmoid(x @ wz)
    return (1.0 - z) * h + z * ops.tanh(x @ wh)


def _attention(ops, q, k, v):
    """Scaled dot-product attention of (B, nh, T, hs) heads: batched 4-D matmuls and a softmax."""
    att = ops.matmul(q, ops.permute(k, 0, 1, 3, 2)) * (1.0 / q.shape[-1] ** 0.5)
    return ops.matmul(ops.softmax(att, -1), v)


CASES = {
    "layer_norm": (_layer_norm, [X3, W4, B4]),
    "gelu": (_gelu, [RNG.normal(0.0, 2.0, (3, 5))]),
    "gru_gate": (_gru_gate, [RNG.normal(size=(3, 4)), RNG.normal(size=(3, 2)), RNG.normal(size=(4, 2)),
                             RNG.normal(size=(4, 2))]),
    "attention_4d": (_attention, [RNG.normal(size=(2, 2, 3, 4)) for _ in range(3)]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_op_matches_the_value_oracle_and_finite_differences(case, backend):
    fn, inputs = CASES[case]
    check_against_value(fn, inputs, backend)
    gradcheck(fn, inputs, backend)


def test_layer_norm_without_affine_and_over_two_axes(backend):
    x = Tensor(X3, backend=backend, dtype="float64")
    out = functional.layer_norm(x, (3, 4)).numpy()
    flat = X3.reshape(2, -1)
    expected = ((flat - flat.mean(1, keepdims=True)) / np.sqrt(flat.var(1, keepdims=True) + 1e-5)).reshape(X3.shape)
    assert_close(out, expected)
    gradcheck(lambda ops, x: functional.layer_norm(x, (3, 4)), [X3], backend)
    with pytest.raises(ValueError, match=r"does not end in normalized_shape \(5,\)"):
        functional.layer_norm(x, 5)
    with pytest.raises(ValueError, match=r"weight has shape \(3,\), expected normalized_shape \(4,\)"):
        functional.layer_norm(x, 4, Tensor(np.ones(3), backend=backend))


def test_gelu_defaults_to_the_exact_form(backend):
    """torch's default is the exact x Phi(x) (issue 16); "tanh" stays available (makemore's NewGELU)."""
    x = Tensor(RNG.normal(0.0, 2.0, (3, 5)), backend=backend, dtype="float64")
    exact = np.vectorize(lambda v: 0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0))))(x.numpy())
    assert_close(functional.gelu(x), exact)
    assert_close(nn.GELU()(x), exact)
    assert nn.GELU().approximate == "none" and nn.GELU("tanh").approximate == "tanh"
    assert_close(nn.GELU(approximate="tanh")(x), _gelu(TensorOps(backend), x))
    gradcheck(lambda ops, t: functional.gelu(t), [RNG.normal(0.0, 2.0, (2, 3))], backend)
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh'"):
        functional.gelu(x, approximate="exact")
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh'"):
        nn.GELU("erf")


def test_layer_norm_and_gelu_match_torch():
    torch = pytest.importorskip("torch")
    x = torch.tensor(X3, requires_grad=True)
    w, b = torch.tensor(W4, requires_grad=True), torch.tensor(B4, requires_grad=True)
    upstream = torch.tensor(RNG.normal(size=X3.shape))
    y = torch.nn.functional.gelu(torch.nn.functional.layer_norm(x, (4,), w, b), approximate="tanh")
    (y * upstream).sum().backward()
    gx, gw, gb = (Tensor(a, dtype="float64", requires_grad=True) for a in (X3, W4, B4))
    z = functional.gelu(functional.layer_norm(gx, 4, gw, gb), approximate="tanh")
    z.backward(upstream.numpy())
    assert_close(z.numpy(), y.detach().numpy())
    for ours, theirs in ((gx, x), (gw, w), (gb, b)):
        assert_close(ours.grad.numpy(), theirs.grad.numpy())


def test_layer_norm_module_is_torchs(backend):
    ln = nn.LayerNorm(4, backend=backend, dtype="float64")
    assert [n for n, _ in ln.named_parameters()] == ["weight", "bias"]
    assert_close(ln.weight.numpy(), np.ones(4))
    assert_close(ln.bias.numpy(), np.zeros(4))
    assert list(nn.LayerNorm(4, elementwise_affine=False, backend=backend).parameters()) == []
    assert [n for n, _ in nn.LayerNorm(4, bias=False, backend=backend).named_parameters()] == ["weight"]
    x = Tensor(X3, backend=backend, dtype="float64")
    assert_close(ln(x).numpy(), functional.layer_norm(x, 4).numpy())


def test_flatten_consecutive_fuses_pairs(backend):
    x = np.arange(2 * 8 * 3, dtype=np.float64).reshape(2, 8, 3)
    f = nn.FlattenConsecutive(2)
    out = f(Tensor(x, backend=backend)).numpy()
    assert out.shape == (2, 4, 6)
    np.testing.assert_array_equal(out[0, 1], np.concatenate([x[0, 2], x[0, 3]]))  # positions 2 and 3 side by side
    assert f(Tensor(x[:, :2], backend=backend)).shape == (2, 6)  # one position left: the time axis goes
    check_against_value(lambda ops, t: nn.FlattenConsecutive(2)(t) if ops.name == "tensor"
                        else ops.reshape(t, (2, 4, 6)), [x], backend)
    with pytest.raises(ValueError, match=r"FlattenConsecutive\(3\) needs \(B, T, C\) with T a multiple of 3"):
        nn.FlattenConsecutive(3)(Tensor(x, backend=backend))


def test_module_list_and_dict_name_their_children_as_torch(backend):
    g = backend.random(0)

    class Block(nn.Module):
        def __init__(self):
            self.mlp = nn.ModuleDict({"c_fc": nn.Linear(2, 3, generator=g), "act": nn.GELU()})

    class Net(nn.Module):
        def __init__(self):
            self.h = nn.ModuleList([Block(), Block()])
            self.ln_f = nn.LayerNorm(3, backend=backend)

    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        "h.0.mlp.c_fc.weight", "h.0.mlp.c_fc.bias", "h.1.mlp.c_fc.weight", "h.1.mlp.c_fc.bias", "ln_f.weight",
        "ln_f.bias"]
    assert len(net.h) == 2 and net.h[1] is list(net.h)[1]
    assert net.h[0].mlp.c_fc is net.h[0].mlp["c_fc"] and list(net.h[0].mlp.keys()) == ["c_fc", "act"]
    net.eval()
    assert not net.h[1].mlp.act.training
    state = net.state_dict()
    other = Net()
    other.load_state_dict(state)
    for k, v in other.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), state[k].numpy())
    with pytest.raises(TypeError, match="ModuleList holds Modules, got int"):
        nn.ModuleList([1])
    with pytest.raises(AttributeError, match="ModuleDict has no module 'nope'"):
        net.h[0].mlp.nope  # noqa: B018


def test_diagnostics_of_the_batchnorm_mlp(backend, tmp_path):
    """The taps' gradients are d loss / d (tanh output): equal to the gradient of the rest of the network
    fed that output as a leaf; the update ratio row is log10(std(lr g) / std(p)) of each 2-D weight."""
    from gradkit import diagnostics
    from gradkit.models import BatchNormMLP

    model = BatchNormMLP(5, 2, 2, 3, 2, generator=backend.random(1), dtype="float64")
    X = Tensor(np.array([[0, 1], [2, 3], [4, 0], [1, 1]]), backend=backend)
    Y = Tensor(np.array([1, 2, 3, 0]), backend=backend)
    x = model.flatten(model.C(X)).detach()
    stats = diagnostics.layer_statistics(model.layers, x, lambda logits: functional.cross_entropy(logits, Y))
    assert [s[0] for s in stats] == ["layer 2 (Tanh)", "layer 5 (Tanh)"]
    leaf = Tensor(stats[1][1], backend=backend, dtype="float64", requires_grad=True)
    rest = model.layers.layers[6:]
    out = leaf
    for layer in rest:
        out = layer(out)
    functional.cross_entropy(out, Y).backward()
    assert_close(stats[1][2], leaf.grad.numpy())
    assert np.abs(stats[0][2]).max() > 0  # the first tap gets its gradient through the whole network
    ratios = diagnostics.UpdateRatios(model)
    model.loss(X, Y).backward()
    ratios.record(0.1)
    expected = [np.log10((0.1 * p.grad.numpy()).std() / p.numpy().std()) for p in model.parameters() if p.ndim == 2]
    assert_close(np.array(ratios.rows[0]), np.array(expected))
    assert ratios.names == ["C.weight", "layers.0.weight", "layers.3.weight", "layers.6.weight"]


def test_plot_stats_writes_the_diagnostics(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from gradkit.cli import main

    out = tmp_path / "bn"
    assert main(["train", "--type", "bnmlp", "--plot-stats", "--max-steps", "20", "--n-hidden", "8", "--backend",
                 "numpy", "-n", "1", "-o", str(out)]) == 0  # not --quiet: the 'wrote' line lists the pictures
    for name in ("stats.png", "ud.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "stats.png, ud.png" in capsys.readouterr().err
    assert main(["train", "--type", "mlp", "--plot-stats", "-o", str(tmp_path / "x")]) == 2
    assert "--plot-stats does not apply to --type mlp" in capsys.readouterr().err
