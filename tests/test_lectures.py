"""The lectures' idioms, written as makemore parts 1-5 write them, with ``torch`` replaced by ``gradkit`` (issue 9).

No torch needed. The default backend is set to the one under test (``GRADKIT_BACKEND``), so the code below creates
tensors exactly as the lectures do, without ``device=``. Words: the names embedded in gradkit (a subset, for
speed). Each test checks real numbers: counts against numpy, probabilities against closed forms, a falling
loss, and part 4's whole manual backward against autograd's gradients (float64, tight tolerance).
"""

from __future__ import annotations

import numpy as np
import pytest

import gradkit as gk
import gradkit.nn.functional as F
from gradkit.data.words import load_words
from gradkit.testing import assert_close

WORDS = load_words()[:400]
CHARS = sorted(set("".join(WORDS)))
STOI = {s: i + 1 for i, s in enumerate(CHARS)}
STOI["."] = 0
ITOS = {i: s for s, i in STOI.items()}
V = len(ITOS)


@pytest.fixture(autouse=True)
def _default_backend(backend, monkeypatch):
    """The lectures never say device=: make the backend under test the default one."""
    monkeypatch.setenv("GRADKIT_BACKEND", backend.name)


def build_dataset(words, block_size):
    X, Y = [], []
    for w in words:
        context = [0] * block_size
        for ch in w + ".":
            ix = STOI[ch]
            X.append(context)
            Y.append(ix)
            context = context[1:] + [ix]
    return gk.tensor(X), gk.tensor(Y)


def _bigrams(words):
    for w in words:
        chs = ["."] + list(w) + ["."]
        yield from zip(chs, chs[1:])


# Part 1: counting, normalising, sampling, the likelihood; the neural bigram.
def test_part1_counting_normalising_and_sampling(backend):
    N = gk.zeros((V, V), dtype=gk.int32)
    for ch1, ch2 in _bigrams(WORDS):
        ix1 = STOI[ch1]
        ix2 = STOI[ch2]
        N[ix1, ix2] += 1
    expected = np.zeros((V, V), np.int32)
    for ch1, ch2 in _bigrams(WORDS):
        expected[STOI[ch1], STOI[ch2]] += 1
    assert N.backend == backend and N.dtype == gk.int32
    np.testing.assert_array_equal(N.numpy(), expected)

    p = N[0].float()
    p = p / p.sum()
    assert_close(p, expected[0] / expected[0].sum(), dtype="float32")

    P = (N + 1).float()
    P /= P.sum(1, keepdims=True)
    assert P.shape == (V, V) and P.dtype == gk.float32
    assert_close(P, (expected + 1) / (expected + 1).sum(1, keepdims=True), dtype="float32")
    assert_close(P.sum(1, keepdim=True), np.ones((V, 1)), dtype="float32")

    def sample(seed):
        g = gk.Generator().manual_seed(seed)
        out = []
        for _ in range(5):
            name = []
            ix = 0
            while True:
                p = P[ix]
                ix = gk.multinomial(p, num_samples=1, replacement=True, generator=g).item()
                name.append(ITOS[ix])
                if ix == 0:
                    break
            out.append("".join(name))
        return out

    names = sample(2147483647)
    assert names == sample(2147483647) and all(n.endswith(".") for n in names)
    assert names == _sample_on_numpy(P.numpy(), 2147483647)  # one seed, the same names on every backend

    log_likelihood = 0.0
    n = 0
    for ch1, ch2 in _bigrams(WORDS[:3]):
        prob = P[STOI[ch1], STOI[ch2]]
        logprob = gk.log(prob)
        log_likelihood += logprob
        n += 1
    nll = -log_likelihood
    host = (expected + 1) / (expected + 1).sum(1, keepdims=True)
    ref = -sum(np.log(host[STOI[a], STOI[b]]) for a, b in _bigrams(WORDS[:3])) / n
    assert abs((nll / n).item() - ref) < 1e-5


def _sample_on_numpy(P, seed):
    Pn = gk.tensor(P, device="numpy")
    g = gk.Generator().manual_seed(seed)
    out = []
    for _ in range(5):
        name, ix = [], 0
        while True:
            ix = gk.multinomial(Pn[ix], num_samples=1, replacement=True, generator=g).item()
            name.append(ITOS[ix])
            if ix == 0:
                break
        out.append("".join(name))
    return out


def test_part1_neural_bigram_manual_sgd(backend):
    xs, ys = [], []
    for ch1, ch2 in _bigrams(WORDS[:100]):
        xs.append(STOI[ch1])
        ys.append(STOI[ch2])
    xs = gk.tensor(xs)
    ys = gk.tensor(ys)
    num = xs.nelement()
    g = gk.Generator().manual_seed(2147483647)
    W = gk.randn((V, V), generator=g, requires_grad=True)
    losses = []
    for _ in range(40):
        xenc = F.one_hot(xs, num_classes=V).float()
        logits = xenc @ W
        counts = logits.exp()
        probs = counts / counts.sum(1, keepdims=True)
        loss = -probs[gk.arange(num), ys].log().mean() + 0.01 * (W**2).mean()
        W.grad = None
        loss.backward()
        W.data += -50 * W.grad
        losses.append(loss.item())
    assert W.backend == backend and W.is_leaf
    assert losses[-1] < losses[0] - 1.0 and all(b <= a + 1e-4 for a, b in zip(losses, losses[1:]))
    assert abs(F.cross_entropy(F.one_hot(xs, V).float() @ W, ys).item() - losses[-1]) < 0.1


# Part 2: the MLP's embedding idioms and its training loop.
def test_part2_embedding_idioms_and_training(backend):
    X, Y = build_dataset(WORDS[:200], 3)
    g = gk.Generator().manual_seed(2147483647)
    C = gk.randn((V, 2), generator=g)
    emb = C[X]
    assert emb.shape == (X.shape[0], 3, 2)
    a = emb.view(-1, 6)
    b = gk.cat([emb[:, 0, :], emb[:, 1, :], emb[:, 2, :]], 1)
    c = gk.cat(gk.unbind(emb, 1), 1)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(a.numpy(), c.numpy())
    np.testing.assert_array_equal(a.numpy(), C.numpy()[X.numpy()].reshape(-1, 6))

    W1 = gk.randn((6, 100), generator=g)
    b1 = gk.randn(100, generator=g)
    W2 = gk.randn((100, V), generator=g)
    b2 = gk.randn(V, generator=g)
    parameters = [C, W1, b1, W2, b2]
    assert sum(p.nelement() for p in parameters) == V * 2 + 600 + 100 + 100 * V + V
    for p in parameters:
        p.requires_grad = True
    lre = gk.linspace(-3, 0, 1000)
    lrs = 10**lre
    assert_close(lrs[[0, -1]], [1e-3, 1.0], dtype="float32")
    losses = []
    for _ in range(60):
        ix = gk.randint(0, X.shape[0], (32,), generator=g)
        emb = C[X[ix]]
        h = gk.tanh(emb.view(-1, 6) @ W1 + b1)
        logits = h @ W2 + b2
        loss = F.cross_entropy(logits, Y[ix])
        for p in parameters:
            p.grad = None
        loss.backward()
        for p in parameters:
            p.data += -0.1 * p.grad
        losses.append(loss.item())
    assert np.mean(losses[-10:]) < np.mean(losses[:10]) - 2


# Part 3: BatchNorm by hand.
def test_part3_batchnorm_by_hand(backend):
    X, Y = build_dataset(WORDS[:200], 3)
    g = gk.Generator().manual_seed(2147483647)
    C = gk.randn((V, 10), generator=g, dtype=gk.float64)
    W1 = gk.randn((30, 200), generator=g, dtype=gk.float64) * (5 / 3) / (30**0.5)
    W2 = gk.randn((200, V), generator=g, dtype=gk.float64) * 0.01
    b2 = gk.randn(V, generator=g, dtype=gk.float64) * 0
    bngain = gk.ones((1, 200), dtype=gk.float64)
    bnbias = gk.zeros((1, 200), dtype=gk.float64)
    bnmean_running = gk.zeros((1, 200), dtype=gk.float64)
    bnstd_running = gk.ones((1, 200), dtype=gk.float64)
    parameters = [C, W1, W2, b2, bngain, bnbias]
    for p in parameters:
        p.requires_grad = True
    ix = gk.randint(0, X.shape[0], (32,), generator=g)
    emb = C[X[ix]]
    embcat = emb.view(emb.shape[0], -1)
    hpreact = embcat @ W1
    bnmeani = hpreact.mean(0, keepdim=True)
    bnstdi = hpreact.std(0, keepdim=True)
    host = hpreact.numpy()
    assert_close(bnmeani, host.mean(0, keepdims=True))
    assert_close(bnstdi, host.std(0, ddof=1, keepdims=True))  # torch's default: Bessel's correction
    hpreact = bngain * (hpreact - bnmeani) / bnstdi + bnbias
    with gk.no_grad():
        bnmean_running = 0.999 * bnmean_running + 0.001 * bnmeani
        bnstd_running = 0.999 * bnstd_running + 0.001 * bnstdi
    assert not bnmean_running.requires_grad
    assert_close(bnmean_running, 0.001 * host.mean(0, keepdims=True))
    h = gk.tanh(hpreact)
    logits = h @ W2 + b2
    loss = F.cross_entropy(logits, Y[ix])
    loss.backward()
    assert_close(hpreact.mean(0), np.zeros(200), atol=1e-12)
    assert bngain.grad.shape == (1, 200) and np.isfinite(W1.grad.numpy()).all() and W1.grad.abs().max().item() > 0
    assert abs(loss.item() - np.log(V)) < 0.05  # part 3's fixed init: the loss starts near -log(1/27)


# Part 4: exercise 1, the whole manual backward, checked against autograd with retain_grad().
def test_part4_manual_backward_matches_autograd(backend):
    Xtr, Ytr = build_dataset(WORDS[:300], 3)
    block_size, n_embd, n_hidden = 3, 10, 64
    g = gk.Generator().manual_seed(2147483647)
    f64 = {"dtype": gk.float64}
    C = gk.randn((V, n_embd), generator=g, **f64)
    W1 = gk.randn((n_embd * block_size, n_hidden), generator=g, **f64) * (5 / 3) / ((n_embd * block_size) ** 0.5)
    b1 = gk.randn(n_hidden, generator=g, **f64) * 0.1
    W2 = gk.randn((n_hidden, V), generator=g, **f64) * 0.1
    b2 = gk.randn(V, generator=g, **f64) * 0.1
    bngain = gk.randn((1, n_hidden), **f64) * 0.1 + 1.0
    bnbias = gk.randn((1, n_hidden), **f64) * 0.1
    parameters = [C, W1, b1, W2, b2, bngain, bnbias]
    for p in parameters:
        p.requires_grad = True
    batch_size = 32
    n = batch_size
    ix = gk.randint(0, Xtr.shape[0], (batch_size,), generator=g)
    Xb, Yb = Xtr[ix], Ytr[ix]

    emb = C[Xb]
    embcat = emb.view(emb.shape[0], -1)
    hprebn = embcat @ W1 + b1
    bnmeani = 1 / n * hprebn.sum(0, keepdim=True)
    bndiff = hprebn - bnmeani
    bndiff2 = bndiff**2
    bnvar = 1 / (n - 1) * (bndiff2).sum(0, keepdim=True)
    bnvar_inv = (bnvar + 1e-5) ** -0.5
    bnraw = bndiff * bnvar_inv
    hpreact = bngain * bnraw + bnbias
    h = gk.tanh(hpreact)
    logits = h @ W2 + b2
    logit_maxes = logits.max(1, keepdim=True).values
    norm_logits = logits - logit_maxes
    counts = norm_logits.exp()
    counts_sum = counts.sum(1, keepdims=True)
    counts_sum_inv = counts_sum**-1
    probs = counts * counts_sum_inv
    logprobs = probs.log()
    loss = -logprobs[range(n), Yb].mean()

    for p in parameters:
        p.grad = None
    for t in [logprobs, probs, counts, counts_sum, counts_sum_inv, norm_logits, logit_maxes, logits, h, hpreact,
              bnraw, bnvar_inv, bnvar, bndiff2, bndiff, hprebn, bnmeani, embcat, emb]:
        t.retain_grad()
    loss.backward()
    assert_close(loss, F.cross_entropy(logits, Yb).item())

    dlogprobs = gk.zeros_like(logprobs)
    dlogprobs[range(n), Yb] = -1.0 / n
    dprobs = (1.0 / probs) * dlogprobs
    dcounts_sum_inv = (counts * dprobs).sum(1, keepdim=True)
    dcounts = counts_sum_inv * dprobs
    dcounts_sum = (-counts_sum**-2) * dcounts_sum_inv
    dcounts += gk.ones_like(counts) * dcounts_sum
    dnorm_logits = counts * dcounts
    dlogits = dnorm_logits.clone()
    dlogit_maxes = (-dnorm_logits).sum(1, keepdim=True)
    dlogits += F.one_hot(logits.max(1).indices, num_classes=logits.shape[1]) * dlogit_maxes
    dh = dlogits @ W2.T
    dW2 = h.T @ dlogits
    db2 = dlogits.sum(0)
    dhpreact = (1.0 - h**2) * dh
    dbngain = (bnraw * dhpreact).sum(0, keepdim=True)
    dbnraw = bngain * dhpreact
    dbnbias = dhpreact.sum(0, keepdim=True)
    dbndiff = bnvar_inv * dbnraw
    dbnvar_inv = (bndiff * dbnraw).sum(0, keepdim=True)
    dbnvar = (-0.5 * (bnvar + 1e-5) ** -1.5) * dbnvar_inv
    dbndiff2 = (1.0 / (n - 1)) * gk.ones_like(bndiff2) * dbnvar
    dbndiff += (2 * bndiff) * dbndiff2
    dhprebn = dbndiff.clone()
    dbnmeani = (-dbndiff).sum(0)
    dhprebn += 1.0 / n * (gk.ones_like(hprebn) * dbnmeani)
    dembcat = dhprebn @ W1.T
    dW1 = embcat.T @ dhprebn
    db1 = dhprebn.sum(0)
    demb = dembcat.view(emb.shape)
    dC = gk.zeros_like(C)
    with gk.no_grad():  # the one change: item assignment into a graph is refused (it names this fix)
        for k in range(Xb.shape[0]):
            for j in range(Xb.shape[1]):
                ix = Xb[k, j]
                dC[ix] += demb[k, j]

    def cmp(s, dt, t):
        ex = gk.all(dt == t.grad).item()
        app = gk.allclose(dt, t.grad, rtol=1e-9, atol=1e-12)
        maxdiff = (dt - t.grad).abs().max().item()
        assert app, f"{s:15s} | exact: {str(ex):5s} | approximate: {str(app):5s} | maxdiff: {maxdiff}"

    for name, d, t in [("logprobs", dlogprobs, logprobs), ("probs", dprobs, probs),
                       ("counts_sum_inv", dcounts_sum_inv, counts_sum_inv), ("counts_sum", dcounts_sum, counts_sum),
                       ("counts", dcounts, counts), ("norm_logits", dnorm_logits, norm_logits),
                       ("logit_maxes", dlogit_maxes, logit_maxes), ("logits", dlogits, logits), ("h", dh, h),
                       ("W2", dW2, W2), ("b2", db2, b2), ("hpreact", dhpreact, hpreact), ("bngain", dbngain, bngain),
                       ("bnbias", dbnbias, bnbias), ("bnraw", dbnraw, bnraw), ("bnvar_inv", dbnvar_inv, bnvar_inv),
                       ("bnvar", dbnvar, bnvar), ("bndiff2", dbndiff2, bndiff2), ("bndiff", dbndiff, bndiff),
                       ("bnmeani", dbnmeani, bnmeani), ("hprebn", dhprebn, hprebn), ("embcat", dembcat, embcat),
                       ("W1", dW1, W1), ("b1", db1, b1), ("emb", demb, emb), ("C", dC, C)]:
        cmp(name, d, t)

    # Exercise 2: cross_entropy's backward in one go (under no_grad: item assignment into the graph).
    with gk.no_grad():
        dlogits = F.softmax(logits, 1)
        dlogits[range(n), Yb] -= 1
        dlogits /= n
    cmp("logits (fused)", dlogits, logits)
    # Exercise 3: batchnorm's backward in one go.
    hpreact_fast = bngain * (hprebn - hprebn.mean(0, keepdim=True)) / gk.sqrt(
        hprebn.var(0, keepdim=True, unbiased=True) + 1e-5) + bnbias
    assert (hpreact_fast - hpreact).abs().max().item() < 1e-12
    dhprebn = bngain * bnvar_inv / n * (n * dhpreact - dhpreact.sum(0) - n / (n - 1) * bnraw
                                        * (dhpreact * bnraw).sum(0))
    cmp("hprebn (fused)", dhprebn, hprebn)


def test_part4_item_assignment_into_the_graph_names_the_fix(backend):
    logits = gk.randn(4, 5, requires_grad=True)
    dlogits = F.softmax(logits, 1)
    with pytest.raises(RuntimeError, match="no_grad"):
        dlogits[range(4), gk.tensor([0, 1, 2, 3])] -= 1


# Part 5: the custom layers of the WaveNet-style model.
class Linear:
    def __init__(self, fan_in, fan_out, bias=True):
        self.weight = gk.randn((fan_in, fan_out)) / fan_in**0.5
        self.bias = gk.zeros(fan_out) if bias else None

    def __call__(self, x):
        self.out = x @ self.weight
        if self.bias is not None:
            self.out += self.bias
        return self.out

    def parameters(self):
        return [self.weight] + ([] if self.bias is None else [self.bias])


class BatchNorm1d:
    def __init__(self, dim, eps=1e-5, momentum=0.1):
        self.eps = eps
        self.momentum = momentum
        self.training = True
        self.gamma = gk.ones(dim)
        self.beta = gk.zeros(dim)
        self.running_mean = gk.zeros(dim)
        self.running_var = gk.ones(dim)

    def __call__(self, x):
        if self.training:
            if x.ndim == 2:
                dim = 0
            elif x.ndim == 3:
                dim = (0, 1)
            xmean = x.mean(dim, keepdim=True)
            xvar = x.var(dim, keepdim=True)
        else:
            xmean = self.running_mean
            xvar = self.running_var
        xhat = (x - xmean) / gk.sqrt(xvar + self.eps)
        self.out = self.gamma * xhat + self.beta
        if self.training:
            with gk.no_grad():
                self.running_mean = (1 - self.momentum) * self.running_mean + self.momentum * xmean
                self.running_var = (1 - self.momentum) * self.running_var + self.momentum * xvar
        return self.out

    def parameters(self):
        return [self.gamma, self.beta]


class Tanh:
    def __call__(self, x):
        self.out = gk.tanh(x)
        return self.out

    def parameters(self):
        return []


class Embedding:
    def __init__(self, num_embeddings, embedding_dim):
        self.weight = gk.randn((num_embeddings, embedding_dim))

    def __call__(self, IX):  # noqa: N803
        self.out = self.weight[IX]
        return self.out

    def parameters(self):
        return [self.weight]


class FlattenConsecutive:
    def __init__(self, n):
        self.n = n

    def __call__(self, x):
        B, T, C = x.shape
        x = x.view(B, T // self.n, C * self.n)
        if x.shape[1] == 1:
            x = x.squeeze(1)
        self.out = x
        return self.out

    def parameters(self):
        return []


class Sequential:
    def __init__(self, layers):
        self.layers = layers

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        self.out = x
        return self.out

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]


def test_part5_wavenet_layers(backend):
    Xtr, Ytr = build_dataset(WORDS[:300], 8)
    gk.manual_seed(42)
    n_embd, n_hidden = 10, 32
    model = Sequential([
        Embedding(V, n_embd),
        FlattenConsecutive(2), Linear(n_embd * 2, n_hidden, bias=False), BatchNorm1d(n_hidden), Tanh(),
        FlattenConsecutive(2), Linear(n_hidden * 2, n_hidden, bias=False), BatchNorm1d(n_hidden), Tanh(),
        FlattenConsecutive(2), Linear(n_hidden * 2, n_hidden, bias=False), BatchNorm1d(n_hidden), Tanh(),
        Linear(n_hidden, V),
    ])
    with gk.no_grad():
        model.layers[-1].weight *= 0.1
    parameters = model.parameters()
    for p in parameters:
        p.requires_grad = True
    ix = gk.randint(0, Xtr.shape[0], (4,))
    logits = model(Xtr[ix])
    shapes = [tuple(layer.out.shape) for layer in model.layers]
    assert shapes == [(4, 8, 10), (4, 4, 20), (4, 4, 32), (4, 4, 32), (4, 4, 32), (4, 2, 64), (4, 2, 32), (4, 2, 32),
                      (4, 2, 32), (4, 64), (4, 32), (4, 32), (4, 32), (4, V)]
    e = gk.randn(32, 4, 68)
    emean = e.mean((0, 1), keepdim=True)
    evar = e.var((0, 1), keepdim=True)
    assert emean.shape == (1, 1, 68) and evar.shape == (1, 1, 68)
    assert_close(evar, e.numpy().var((0, 1), ddof=1, keepdims=True), dtype="float32")
    losses = []
    for _ in range(40):
        ix = gk.randint(0, Xtr.shape[0], (32,))
        Xb, Yb = Xtr[ix], Ytr[ix]
        logits = model(Xb)
        loss = F.cross_entropy(logits, Yb)
        for p in parameters:
            p.grad = None
        loss.backward()
        lr = 0.1
        for p in parameters:
            p.data += -lr * p.grad
        losses.append(loss.log10().item())
    assert np.mean(losses[-10:]) < np.mean(losses[:10])
    for layer in model.layers:
        layer.training = False
    with gk.no_grad():
        assert model(Xtr[:5]).shape == (5, V)
