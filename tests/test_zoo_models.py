"""Every model type of the zoo: one training step against the Value oracle (float64, every gradient) and
central differences, resume equivalence (N straight steps == N/2 + N/2 resumed, bitwise), and a short run on
the names that ship with gradkit that learns."""

from __future__ import annotations

import math

import numpy as np
import pytest
from safetensors.numpy import load_file

from gradkit import nn
from gradkit.cli import main
from gradkit.models import BatchNormMLP, BoW, Transformer, WaveNet
from gradkit.models.gru import GRUCell
from gradkit.models.rnn import RNN
from gradkit.tensor import Tensor
from gradkit.testing import ValueOps, check_against_value, gradcheck
from gradkit.train import TrainConfig, fit, new_run, prepare

V = ValueOps
VOCAB = 5
# A tiny configuration of each gradient-trained type (vocabulary of 5, blocks of 4).
TINY = {
    "bigram": {},
    "mlp": {"block_size": 2, "n_embd": 2, "n_hidden": 3},
    "bnmlp": {"block_size": 2, "n_embd": 2, "n_hidden": 3, "n_layer": 2},
    "wavenet": {"block_size": 4, "n_embd": 2, "n_hidden": 3},
    "bow": {"block_size": 4, "n_embd": 3, "n_embd2": 4},
    "rnn": {"block_size": 4, "n_embd": 2, "n_embd2": 3},
    "gru": {"block_size": 4, "n_embd": 2, "n_embd2": 3},
    "transformer": {"block_size": 4, "n_embd": 4, "n_head": 2, "n_layer": 1},
}
WORDS = ["ab", "bcd", "d", "ca"]  # padded rows of block size 4
VOCAB_CHARS = ".abcd"


def _tiny(kind, backend):
    config = TrainConfig.of(kind, dtype="float64", seed=3, **TINY[kind]).resolved()
    model = config.spec.build(VOCAB, backend.random(3), "float64")
    from gradkit.data import Vocab

    X, Y = config.spec.rows(WORDS, Vocab(WORDS))
    if config.spec.layout == "windows":
        X, Y = X[:6], Y[:6]
    return config, model, X, Y


def _bind(model, names, tensors):
    """Make ``model`` compute with ``tensors`` in place of its parameters ``names`` (same order)."""
    for name, t in zip(names, tensors, strict=True):
        *path, attr = name.split(".")
        owner = model
        for part in path:
            owner = owner[int(part)] if isinstance(owner, (list, nn.ModuleList)) else getattr(owner, part)
        setattr(owner, attr, t)


# The Value side: the same models, written with ValueOps over arrays of Value leaves.
def _vlayer(m, x, p):
    """Module ``m`` (training mode) on Value array ``x``; ``p(name)`` gives its parameters."""
    if isinstance(m, nn.Sequential):
        for i, layer in enumerate(m.layers):
            x = _vlayer(layer, x, lambda n, i=i: p(f"{i}.{n}"))
        return x
    if isinstance(m, nn.Embedding):
        return V.getitem(p("weight"), x)
    if isinstance(m, nn.Linear):
        return V.linear(x, p("weight"), p("bias") if m.bias is not None else None)
    if isinstance(m, nn.BatchNorm1d):
        axes = (0,) if x.ndim == 2 else (0, 1)
        centred = x - V.mean(x, axes, keepdims=True)
        var = V.mean(centred * centred, axes, keepdims=True)
        return centred / (var + m.eps) ** 0.5 * p("gamma") + p("beta")
    if isinstance(m, nn.LayerNorm):
        centred = x - V.mean(x, -1, keepdims=True)
        return centred / (V.mean(centred * centred, -1, keepdims=True) + m.eps) ** 0.5 * p("weight") + p("bias")
    if isinstance(m, nn.Tanh):
        return V.tanh(x)
    if isinstance(m, nn.GELU):
        return 0.5 * x * (1.0 + V.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)))
    if isinstance(m, nn.Flatten):
        return V.reshape(x, (x.shape[0], -1))
    if isinstance(m, nn.FlattenConsecutive):
        B, T, C = x.shape
        return V.reshape(x, (B, C * m.n) if T == m.n else (B, T // m.n, C * m.n))
    raise NotImplementedError(type(m).__name__)


def _sub(p, prefix):
    return lambda n: p(f"{prefix}.{n}")


def _vcell(cell, x, h, p):
    if isinstance(cell, GRUCell):
        xh = V.concat([x, h], 1)
        r = V.sigmoid(_vlayer(cell.xh_to_r, xh, _sub(p, "xh_to_r")))
        hbar = V.tanh(_vlayer(cell.xh_to_hbar, V.concat([x, r * h], 1), _sub(p, "xh_to_hbar")))
        z = V.sigmoid(_vlayer(cell.xh_to_z, xh, _sub(p, "xh_to_z")))
        return (1 - z) * h + z * hbar
    return V.tanh(_vlayer(cell.xh_to_h, V.concat([x, h], 1), _sub(p, "xh_to_h")))


def _vattention(attn, x, p):
    B, T, C = x.shape
    nh = attn.n_head
    hs = C // nh
    qkv = V.permute(V.reshape(_vlayer(attn.c_attn, x, _sub(p, "c_attn")), (B, T, 3, nh, hs)), 2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    att = V.matmul(q, V.permute(k, 0, 1, 3, 2)) * (1.0 / math.sqrt(hs))
    att = att + np.triu(np.full((T, T), -np.inf), k=1)
    y = V.permute(V.matmul(V.softmax(att, -1), v), 0, 2, 1, 3)
    return _vlayer(attn.c_proj, V.reshape(y, (B, T, C)), _sub(p, "c_proj"))


def _vlogits(model, X, p):
    """The model's logits on the Value side."""
    if isinstance(model, BatchNormMLP):
        return _vlayer(model.layers, V.reshape(V.getitem(p("C.weight"), X), (X.shape[0], -1)), _sub(p, "layers"))
    if isinstance(model, WaveNet):
        return _vlayer(model.layers, X, _sub(p, "layers"))
    T = X.shape[1]
    if isinstance(model, BoW):
        x = V.getitem(p("wte.weight"), X) + p("wpe.weight")[:T]
        x = x + V.matmul(V.const(model.average.numpy()[:T, :T]), x)
        h = V.tanh(_vlayer(model.c_fc, x, _sub(p, "c_fc")))
        return _vlayer(model.lm_head, x + _vlayer(model.c_proj, h, _sub(p, "c_proj")), _sub(p, "lm_head"))
    if isinstance(model, RNN):
        emb = V.getitem(p("wte.weight"), X)
        h = p("start") + V.const(np.zeros((X.shape[0], 1)))
        hiddens = []
        for t in range(T):
            h = _vcell(model.cell, emb[:, t, :], h, _sub(p, "cell"))
            hiddens.append(h)
        return _vlayer(model.lm_head, V.stack(hiddens, 1), _sub(p, "lm_head"))
    if isinstance(model, Transformer):
        x = V.getitem(p("wte.weight"), X) + p("wpe.weight")[:T]
        for i, block in enumerate(model.h):
            q = _sub(p, f"h.{i}")
            x = x + _vattention(block.attn, _vlayer(block.ln_1, x, _sub(q, "ln_1")), _sub(q, "attn"))
            m = block.mlp
            h = _vlayer(m.act, _vlayer(m.c_fc, _vlayer(block.ln_2, x, _sub(q, "ln_2")), _sub(q, "mlp.c_fc")), None)
            x = x + _vlayer(m.c_proj, h, _sub(q, "mlp.c_proj"))
        return _vlayer(model.lm_head, _vlayer(model.ln_f, x, _sub(p, "ln_f")), _sub(p, "lm_head"))
    raise NotImplementedError(type(model).__name__)


def _vloss(model, X, Y, p):
    logits = _vlogits(model, X, p)
    flat, targets = V.reshape(logits, (-1, VOCAB)), Y.reshape(-1)
    keep = targets >= 0
    return V.cross_entropy(flat[keep], targets[keep])


ORACLE = ["bnmlp", "wavenet", "bow", "rnn", "gru", "transformer"]  # mlp and bigram: tests/test_models.py


@pytest.mark.parametrize("kind", ORACLE)
def test_one_training_step_matches_the_value_oracle(kind, backend):
    """The loss and every parameter's gradient agree with the Value engine in float64; one AdamW/SGD step of
    the library then moves each parameter by what the optimizer's rule gives for those gradients."""
    config, model, X, Y = _tiny(kind, backend)
    names = [n for n, _ in model.named_parameters()]
    hosts = [p.numpy() for _, p in model.named_parameters()]
    Xt, Yt = Tensor(X, backend=backend), Tensor(Y, backend=backend)

    def loss(ops, *params):
        if ops.name == "tensor":
            _bind(model, names, params)
            return model.loss(Xt, Yt)
        table = dict(zip(names, params))
        return _vloss(model, X, Y, lambda n: table[n])

    report = check_against_value(loss, hosts, backend)
    for name, g in zip(names, report.value_grads):
        assert np.abs(g).max() > 0 or name.endswith(("wpe.weight", "start")), f"{name}: a zero gradient"


@pytest.mark.parametrize("kind", list(TINY))
def test_every_gradient_matches_finite_differences(kind, backend):
    _, model, X, Y = _tiny(kind, backend)
    Xt, Yt = Tensor(X, backend=backend), Tensor(Y, backend=backend)
    names = [n for n, _ in model.named_parameters()]

    def loss(ops, *params):
        _bind(model, names, params)
        return model.loss(Xt, Yt)

    gradcheck(loss, [p.numpy() for p in model.parameters()], backend)


def _flags(kind):
    return [f"--{k.replace('_', '-')}={v}" for k, v in TINY[kind].items() if k != "block_size" or kind in
            ("mlp", "bnmlp", "wavenet")]


@pytest.mark.parametrize("kind", list(TINY))
def test_resume_is_bitwise_identical_to_one_run(kind, tmp_path, capsys):
    """6 straight steps == 3 steps, then 3 more resumed from model.safetensors: every weight and optimizer array
    bit for bit (the schedule is a function of the step; the minibatch stream is in the checkpoint)."""
    words = tmp_path / "words.txt"
    words.write_text("\n".join(["emma", "olivia", "ava", "isabella", "sophia", "mia", "amelia", "harper", "evelyn",
                                "abigail", "emily", "ella", "liam", "noah", "oliver", "elijah"] * 4) + "\n")
    common = ["--type", kind, "--backend", "numpy", "-i", str(words), "--batch-size", "4", "--quiet", "-n", "1",
              "--lr-decay-step=3" if kind in ("mlp", "bnmlp", "wavenet") else "--seed=1", *_flags(kind)]
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["train", *common, "--max-steps", "6", "-o", str(a)]) == 0
    assert main(["train", *common, "--max-steps", "3", "-o", str(b)]) == 0
    assert main(["train", "--resume", "--backend", "numpy", "--quiet", "-n", "1", "--max-steps", "6",
                 "-i", str(words), "-o", str(b)]) == 0  # (the words file again: never read from the checkpoint)
    capsys.readouterr()
    za, zb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert sorted(za) == sorted(zb)
    assert any(k.startswith("optimizer.") for k in za) == (kind in ("bow", "rnn", "gru", "transformer"))  # AdamW
    for k in za:
        assert za[k].tobytes() == zb[k].tobytes(), k


SLOW = {"gru", "transformer", "bigram", "bow", "wavenet"}


@pytest.mark.parametrize("kind", [pytest.param(k, marks=pytest.mark.slow) if k in SLOW else k for k in TINY])
def test_a_short_run_on_names_learns(kind):
    """A few hundred steps of each type's recipe on the names that ship with gradkit: the dev loss ends well
    below ln 27 = 3.30 (what a model that knows nothing scores)."""
    from gradkit import get_backend
    from gradkit.data import load_words

    be = get_backend("numpy")
    words = load_words()
    extra = {"batch_size": 2048} if kind == "bigram" else {}
    config = TrainConfig.of(kind, max_steps=300, log_every=100, **extra).resolved().fit_to(words)
    splits = prepare(words, config, be)
    run = fit(new_run(config, splits.vocab, be), splits)
    dev = run.model.evaluate(*splits.tensors["dev"])
    assert dev < 2.8 < math.log(27) - 0.45, (kind, dev)
