"""The course's models: the lectures' figures on the names that ship with gradkit (against closed forms from the
count table), one training step against the ``Value`` oracle, and sampling."""

from __future__ import annotations

import numpy as np
import pytest

from gradkit import Tensor, get_backend, optim
from gradkit.data import Vocab, bigram_pairs, build_dataset, load_words
from gradkit.models import (
    CountingBigram,
    MLPClassifier,
    MLPLanguageModel,
    NeuralBigram,
    max_margin_loss,
    sample,
    uniform_loss,
)
from gradkit.testing import tolerance
from gradkit.train import TrainConfig
from gradkit.value import Value

F64 = tolerance("float64")


@pytest.fixture(scope="module")
def names():
    """(words, vocab) of the names that ship with gradkit (29,910 names, 214,764 bigrams)."""
    words = load_words()
    return words, Vocab(words)


def count_table(xs: np.ndarray, ys: np.ndarray, V: int = 27) -> np.ndarray:
    """The course's N, counted independently of gradkit's models."""
    N = np.zeros((V, V))
    np.add.at(N, (xs, ys), 1.0)
    return N


def counts_nll(N: np.ndarray, smoothing: float) -> float:
    """makemore part 1's mean NLL of the counting bigram, in float64 from the count table."""
    with np.errstate(divide="ignore"):
        logP = np.log((N + smoothing) / (N + smoothing).sum(axis=1, keepdims=True))
    return float(-(N[N > 0] * logP[N > 0]).sum() / N.sum())


def test_counting_bigram_nll_on_names(names, backend):
    words, vocab = names
    X, Y = build_dataset(words, vocab, 1)
    xs, ys = bigram_pairs(words, vocab)
    assert X.shape == (214_764, 1) and vocab.vocab_size == 27
    np.testing.assert_array_equal(X[:, 0], xs)
    np.testing.assert_array_equal(Y, ys)
    Xt, Yt = Tensor(X, backend=backend), Tensor(Y, backend=backend)
    N = count_table(xs, ys)
    for smoothing in (0.0, 1.0):
        model = CountingBigram(vocab.vocab_size, smoothing, backend=backend).fit(Xt, Yt)
        assert abs(model.evaluate(Xt, Yt) - counts_nll(N, smoothing)) < 1e-9, smoothing
    assert 2.3 < counts_nll(N, 1.0) < 2.6  # the lecture's 2.45 on its own names: the same kind of data
    # The table is the course's N: exact integer counts, 214,764 in all.
    np.testing.assert_array_equal(model.counts.numpy(), N)


def test_counting_bigram_fit_accumulates_and_smooths(backend):
    X = np.array([[0], [1], [1], [2], [0]])
    Y = np.array([1, 2, 2, 0, 1])
    m = CountingBigram(3, 0.5, backend=backend)
    m.fit(Tensor(X[:3], backend=backend), Tensor(Y[:3], backend=backend))
    m.fit(Tensor(X[3:], backend=backend), Tensor(Y[3:], backend=backend))  # fit adds to the counts
    N = np.array([[0, 2, 0], [0, 0, 2], [1, 0, 0]], dtype=float)
    np.testing.assert_array_equal(m.counts.numpy(), N)
    P = (N + 0.5) / (N + 0.5).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(m.log_probs().numpy(), np.log(P), **F64)
    np.testing.assert_allclose(m(Tensor(np.array([[2], [0]]), backend=backend)).numpy(), np.log(P[[2, 0]]), **F64)
    nll = -np.log(P[X[:, 0], Y]).mean()
    assert abs(m.evaluate(Tensor(X, backend=backend), Tensor(Y, backend=backend), chunk=2) - nll) < 1e-12


def _reference_bigram_descent(xs, ys, W0, lr, steps):
    """Full-batch gradient descent on the bigram's mean NLL, computed independently from the 27x27 count table
    in float64 (the loss and its gradient only depend on the counts): the loss before each step."""
    V = W0.shape[0]
    N = np.zeros((V, V))
    np.add.at(N, (xs, ys), 1.0)
    n, W, out = N.sum(), W0.astype(np.float64), []
    for _ in range(steps):
        P = np.exp(W - W.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        out.append(-(N * np.log(P)).sum() / n)
        W = W - lr * (N.sum(axis=1, keepdims=True) * P - N) / n
    return np.array(out)


def test_neural_bigram_gradient_descent_on_names(names):
    """makemore part 1's full-batch descent (lr 50, W ~ N(0, 1)) on the first 5,000 names: the loss falls at
    every step toward the counting bigram's, along the curve computed from the count table."""
    words, vocab = names
    be = get_backend("numpy")
    xs, ys = bigram_pairs(words[:5000], vocab)
    X, Y = Tensor(xs[:, None], backend=be), Tensor(ys, backend=be)
    model = NeuralBigram(vocab.vocab_size, generator=be.random(2147483647), dtype="float32")
    W0 = model.W.numpy()
    opt = optim.SGD(model.parameters(), lr=50.0)
    losses = []
    for _ in range(100):
        loss = model.loss(X, Y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    final = model.evaluate(X, Y)
    optimum = counts_nll(count_table(xs, ys), 0.0)
    assert optimum - 1e-6 < final <= optimum + 0.05
    assert losses[0] > 3.5 > uniform_loss(27)  # N(0, 1) logits start well above ln 27 = 3.2958
    steps_up = np.diff(losses) > 1e-6
    assert not steps_up.any(), f"the loss went up at steps {np.flatnonzero(steps_up)[:10]}"
    assert final <= losses[-1]  # evaluated after the last update
    # The whole curve agrees with the same descent computed from the count table.
    np.testing.assert_allclose(losses, _reference_bigram_descent(xs, ys, W0, 50.0, 100), **tolerance("float32"))


# One training step against the Value oracle.
def _values(t: Tensor) -> np.ndarray:
    """A parameter as a numpy object array of leaf ``Value``s."""
    return np.vectorize(Value, otypes=[object])(t.numpy().astype(np.float64))


_tanh = np.vectorize(lambda v: v.tanh(), otypes=[object])
_relu = np.vectorize(lambda v: v.relu(), otypes=[object])
_data = np.vectorize(lambda v: v.data, otypes=[np.float64])
_grad = np.vectorize(lambda v: v.grad, otypes=[np.float64])


def _value_cross_entropy(logits: np.ndarray, Y: np.ndarray) -> Value:
    """Mean of ``logsumexp(row) - row[y]`` over rows, from exp/log/sum with the row max subtracted."""
    total = []
    for row, y in zip(logits, Y):
        m = max(v.data for v in row)
        lse = Value.sum([(v - m).exp() for v in row]).log() + m
        total.append(lse - row[y])
    return Value.sum(total) / len(total)


def _mlp_value_loss(p, X, Y):
    emb = p["C.weight"][X].reshape(X.shape[0], -1)
    h = _tanh(emb @ p["hidden.weight"].T + p["hidden.bias"])
    return _value_cross_entropy(h @ p["out.weight"].T + p["out.bias"], Y)


def _bigram_value_loss(p, X, Y):
    return _value_cross_entropy(p["W"][X[:, -1]], Y)


TINY_X = np.array([[0, 0], [0, 3], [3, 5], [5, 1]])
TINY_Y = np.array([3, 5, 1, 0])


def _tiny_model(kind, backend):
    g = backend.random(7)
    if kind == "mlp":
        m = MLPLanguageModel(6, 2, 2, 3, generator=g, dtype="float64")
        # W2 ~ N(0, 0.01) makes every logit ~0; larger weights make the step exercise tanh's curvature.
        m.out.weight.data = g.normal(0.0, 1.0, m.out.weight.shape, "float64")
        m.out.bias.data = g.normal(0.0, 0.5, m.out.bias.shape, "float64")
        m.hidden.bias.data = g.normal(0.0, 0.5, m.hidden.bias.shape, "float64")
        return m, _mlp_value_loss
    return NeuralBigram(6, generator=g, dtype="float64"), _bigram_value_loss


def _check_step(model, tensor_loss_fn, value_loss_fn, lr):
    """One SGD step on Tensor and on Value: same loss, same gradients, same parameters, same next loss."""
    names = [n for n, _ in model.named_parameters()]
    vparams = {n: _values(p) for n, p in model.named_parameters()}
    loss = tensor_loss_fn()
    vloss = value_loss_fn(vparams)
    vloss.backward()
    assert abs(loss.item() - vloss.data) <= F64["atol"] + F64["rtol"] * abs(vloss.data)
    opt = optim.SGD(model.parameters(), lr=lr)
    opt.zero_grad()
    loss.backward()
    for n, p in model.named_parameters():
        expected = _grad(vparams[n])
        assert np.abs(expected).max() > 1e-6, f"{n}: a zero gradient checks nothing"
        np.testing.assert_allclose(p.grad.numpy(), expected, **F64, err_msg=n)
    opt.step()
    stepped = {n: _data(vparams[n]) - lr * _grad(vparams[n]) for n in names}
    for n, p in model.named_parameters():
        np.testing.assert_allclose(p.numpy(), stepped[n], **F64, err_msg=n)
    after = value_loss_fn({n: np.vectorize(Value, otypes=[object])(v) for n, v in stepped.items()})
    assert abs(tensor_loss_fn().item() - after.data) <= F64["atol"] + F64["rtol"] * abs(after.data)
    assert after.data < vloss.data  # a small step downhill


@pytest.mark.parametrize("kind", ["mlp", "bigram"])
def test_one_training_step_matches_value_oracle(kind, backend):
    model, value_loss = _tiny_model(kind, backend)
    X, Y = Tensor(TINY_X, backend=backend), Tensor(TINY_Y, backend=backend)
    _check_step(model, lambda: model.loss(X, Y), lambda p: value_loss(p, TINY_X, TINY_Y), lr=0.1)


def test_classifier_step_matches_value_oracle(backend):
    model = MLPClassifier(2, [3, 3, 1], generator=backend.random(3), dtype="float64")
    Xh = np.array([[1.5, -3.0], [4.5, 0.6], [-0.9, 2.4], [-3.6, -2.1]])
    yh = np.array([1.0, 1.0, -1.0, 1.0])  # scores 0.34, 1.35, 1.11, 0.77: one margin met, one misclassified
    X, y = Tensor(Xh, backend=backend, dtype="float64"), Tensor(yh, backend=backend, dtype="float64")
    alpha = 1e-2

    def value_loss(p):
        margins = _relu(1 - yh * _scores(p, Xh))
        reg = Value.sum([v * v for a in p.values() for v in a.reshape(-1)])
        return Value.sum(list(margins)) / len(margins) + reg * alpha

    scores = _data(_scores({n: _values(t) for n, t in model.named_parameters()}, Xh))
    assert np.sum(1 - yh * scores > 0) == 3, "the margins should be partly active, so relu's kink matters"
    _, accuracy = max_margin_loss(model, X, y, alpha)
    assert accuracy == np.mean((scores > 0) == (yh > 0)) == 0.75
    _check_step(model, lambda: max_margin_loss(model, X, y, alpha)[0], value_loss, lr=0.05)


def _scores(p, Xh):
    h = _relu(Xh @ p["layers.0.weight"].T + p["layers.0.bias"])
    h = _relu(h @ p["layers.1.weight"].T + p["layers.1.bias"])
    return (h @ p["layers.2.weight"].T + p["layers.2.bias"])[:, 0]


# Model construction and evaluation.
def test_mlp_init_as_makemore_part_3():
    m = MLPLanguageModel(27, 8, 50, 1000, generator=get_backend("numpy").random(0), dtype="float64")
    assert abs(m.C.weight.numpy().std() - 1) < 0.05  # 1,350 draws
    assert abs(m.hidden.weight.numpy().std() / ((5 / 3) / 400**0.5) - 1) < 0.02  # Kaiming, tanh gain, fan_in 400
    assert abs(m.out.weight.numpy().std() / 0.01 - 1) < 0.02
    assert not m.hidden.bias.numpy().any() and not m.out.bias.numpy().any()


def test_mlp_initial_loss_is_about_uniform():
    words = load_words()
    vocab = Vocab(words)
    X, Y = build_dataset(words[:2000], vocab, 3)
    be = get_backend("numpy")
    m = MLPLanguageModel(vocab.vocab_size, generator=be.random(42))
    assert abs(m.evaluate(Tensor(X, backend=be), Tensor(Y, backend=be)) - uniform_loss(27)) < 0.01
    assert uniform_loss(27) == pytest.approx(3.295837, abs=1e-6)


def test_evaluate_chunks_and_restores_mode(backend):
    m, _ = _tiny_model("mlp", backend)
    X, Y = Tensor(TINY_X, backend=backend), Tensor(TINY_Y, backend=backend)
    whole = m.evaluate(X, Y)
    assert abs(m.evaluate(X, Y, chunk=3) - whole) < 1e-12
    assert abs(whole - m.loss(X, Y).item()) < 1e-12
    m.eval()
    m.evaluate(X, Y)
    assert not m.training
    m.train()
    m.evaluate(X, Y)
    assert m.training
    with pytest.raises(ValueError, match="empty split"):
        m.evaluate(X[0:0], Y[0:0])


def test_bigram_one_hot_path_equals_row_lookup(backend):
    a = NeuralBigram(6, generator=backend.random(1), dtype="float64")
    b = NeuralBigram(6, generator=backend.random(1), dtype="float64", one_hot=True)
    X, Y = Tensor(TINY_X, backend=backend), Tensor(TINY_Y, backend=backend)
    np.testing.assert_allclose(b(X).numpy(), a(X).numpy(), **F64)
    np.testing.assert_array_equal(a(X).numpy(), a.W.numpy()[TINY_X[:, -1]])
    a.loss(X, Y).backward()
    b.loss(X, Y).backward()
    np.testing.assert_allclose(b.W.grad.numpy(), a.W.grad.numpy(), **F64)


def test_configs_build_their_models_and_bad_sizes_raise():
    g = get_backend("numpy").random(0)
    mlp = TrainConfig.of("mlp", block_size=2).resolved().spec.build(5, g, "float32")
    assert isinstance(mlp, MLPLanguageModel) and (mlp.block_size, mlp.vocab_size) == (2, 5)
    counts = TrainConfig.of("counts", smoothing=0.0).resolved().spec.build(5, g, "float32")
    assert counts.counts.dtype == np.float64 and counts.smoothing == 0.0  # counts always in float64
    with pytest.raises(ValueError, match="n_hidden must be a positive integer, got 0"):
        MLPLanguageModel(5, n_hidden=0, generator=g)
    with pytest.raises(ValueError, match="block_size must be a positive integer, got True"):
        MLPLanguageModel(5, block_size=True, generator=g)
    with pytest.raises(ValueError, match="vocab_size must be a positive integer"):
        NeuralBigram(0, generator=g)
    with pytest.raises(ValueError, match="smoothing must be >= 0"):
        CountingBigram(5, -1.0)


# Sampling.
@pytest.fixture(scope="module")
def small_counts():
    """A counting bigram fitted on the embedded names, with its vocabulary."""
    words = load_words()
    vocab = Vocab(words)
    X, Y = build_dataset(words, vocab, 1)
    be = get_backend("numpy")
    return CountingBigram(vocab.vocab_size, 1.0, backend=be).fit(Tensor(X, backend=be), Tensor(Y, backend=be)), vocab


def test_sample_same_seed_same_words_different_seed_different_words(small_counts):
    model, vocab = small_counts
    a = sample(model, vocab, 20, seed=5)
    assert a == sample(model, vocab, 20, seed=5)
    assert a != sample(model, vocab, 20, seed=6)
    assert len(a) == 20 and len(set(a)) > 10
    assert all(set(w) <= set(vocab.symbols) - {"."} for w in a)
    lengths = [len(w) for w in sample(model, vocab, 200, seed=1, max_len=5)]
    assert max(lengths) <= 5 and 5 in lengths


def test_sample_same_words_on_every_backend(small_counts, backend):
    model, vocab = small_counts
    moved = CountingBigram(vocab.vocab_size, 1.0, backend=backend)
    moved.load_state_dict(model.state_dict())
    assert sample(moved, vocab, 30, seed=11) == sample(model, vocab, 30, seed=11)
    mlp = MLPLanguageModel(vocab.vocab_size, generator=backend.random(3))
    ref = MLPLanguageModel(vocab.vocab_size, generator=get_backend("numpy").random(3))
    assert sample(mlp, vocab, 10, seed=2, temperature=0.5) == sample(ref, vocab, 10, seed=2, temperature=0.5)


def _greedy(model, vocab, max_len=64):
    context, out = [0] * model.block_size, []
    be = model.backend
    for _ in range(max_len):
        ix = int(np.argmax(model(Tensor(np.array([context]), backend=be)).numpy()[0]))
        if ix == 0:
            break
        out.append(ix)
        context = context[1:] + [ix]
    return vocab.decode(out)


def test_top_k_one_is_greedy(small_counts):
    model, vocab = small_counts
    words = sample(model, vocab, 8, seed=0, top_k=1)
    assert words == [_greedy(model, vocab)] * 8
    assert sample(model, vocab, 3, seed=99, top_k=1) == words[:3]
    # A temperature near 0 is greedy too.
    assert sample(model, vocab, 4, seed=3, temperature=1e-4) == words[:4]


def _first_letter_frequencies(model, vocab, n, **kwargs):
    """How often each symbol comes first in ``n`` samples (index 0, '.', is the empty word)."""
    first = sample(model, vocab, n, max_len=1, seed=0, **kwargs)
    counts = {w: 0 for w in [""] + [vocab.itos[i] for i in range(1, vocab.vocab_size)]}
    for w in first:
        counts[w] += 1
    return np.array(list(counts.values())) / n


@pytest.mark.parametrize(("temperature", "top_k"), [(1.0, None), (0.5, None), (2.0, None), (1.0, 3)])
def test_sample_temperature_and_top_k_distribution(small_counts, temperature, top_k):
    """The first letters follow softmax(logits['.'] / temperature), restricted to the top k."""
    model, vocab = small_counts
    logits = model.log_probs().numpy()[0] / temperature
    if top_k is not None:
        logits = np.where(logits < np.sort(logits)[-top_k], -np.inf, logits)
    p = np.exp(logits - logits.max())
    p /= p.sum()
    n = 20_000
    freq = _first_letter_frequencies(model, vocab, n, temperature=temperature, top_k=top_k)
    sigma = np.sqrt(p * (1 - p) / n)
    assert np.all(np.abs(freq - p) <= 5 * sigma + 1e-12), np.max(np.abs(freq - p) / (sigma + 1e-12))
    if top_k is not None:
        assert np.count_nonzero(freq) == top_k


def test_sampled_words_follow_the_bigram_table(small_counts):
    """Every transition of the sampled words ('.' + word + '.') follows P[previous]: the context update and
    the end of words are right, not only the first draw."""
    model, vocab = small_counts
    P = np.exp(model.log_probs().numpy())
    words = sample(model, vocab, 4000, seed=8)
    counts = np.zeros_like(P)
    for w in words:
        ids = [0, *vocab.encode(w), 0]
        np.add.at(counts, (ids[:-1], ids[1:]), 1.0)
    rows = counts.sum(axis=1)
    assert rows[0] == 4000 and counts[:, 0].sum() == 4000  # every word starts and ends once
    for i in np.flatnonzero(rows >= 300):
        freq, sigma = counts[i] / rows[i], np.sqrt(P[i] * (1 - P[i]) / rows[i])
        assert np.all(np.abs(freq - P[i]) <= 5 * sigma + 1e-9), (vocab.itos[i], np.max(np.abs(freq - P[i]) / sigma))


def test_temperature_orders_diversity(small_counts):
    model, vocab = small_counts
    cold = _first_letter_frequencies(model, vocab, 5000, temperature=0.5)
    hot = _first_letter_frequencies(model, vocab, 5000, temperature=2.0)
    def entropy(f):
        return -(f[f > 0] * np.log(f[f > 0])).sum()
    assert entropy(cold) < entropy(_first_letter_frequencies(model, vocab, 5000)) < entropy(hot)


def test_sample_restores_training_mode(small_counts):
    model, vocab = small_counts
    model.train()
    sample(model, vocab, 2)
    assert model.training
    model.eval()
    sample(model, vocab, 2)
    assert not model.training
    model.train()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"n": 0}, "n >= 1"), ({"max_len": 0}, "max_len >= 1"), ({"temperature": 0.0}, "temperature must be > 0"),
    ({"temperature": -1.0}, "temperature must be > 0"), ({"temperature": float("nan")}, "temperature must be > 0"),
    ({"top_k": 0}, "top_k must be between 1 and 27, got 0"), ({"top_k": 28}, "top_k must be between 1 and 27"),
])
def test_sample_bad_arguments(small_counts, kwargs, message):
    model, vocab = small_counts
    with pytest.raises(ValueError, match=message):
        sample(model, vocab, **{"n": 3, **kwargs})
