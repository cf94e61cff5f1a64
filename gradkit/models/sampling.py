"""Generating words from any language model, one character at a time, 1024 samples at once."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..autograd import no_grad
from ..data import Vocab
from .base import LanguageModel

BATCH = 1024
"""Words drawn together by ``iter_samples``: memory and the first word's delay do not grow with ``n``."""


def sample(model: LanguageModel, vocab: Vocab, n: int = 20, *, seed: int = 0, temperature: float = 1.0,
           top_k: int | None = None, max_len: int = 64) -> list[str]:
    """``list(iter_samples(...))``: ``n`` words drawn from ``model`` (see ``iter_samples``)."""
    return list(iter_samples(model, vocab, n, seed=seed, temperature=temperature, top_k=top_k, max_len=max_len))


def iter_samples(model: LanguageModel, vocab: Vocab, n: int = 20, *, seed: int = 0, temperature: float = 1.0,
                 top_k: int | None = None, max_len: int = 64) -> Iterator[str]:
    """``n`` words drawn from ``model``, yielded ``BATCH`` (1024) at a time as each batch is done, from one
    seeded generator (so the words depend on ``seed`` and ``n``'s batches, not on how they are consumed).
    Each batch is drawn as ``_draw`` describes.

    Raises:
        ValueError: ``n`` or ``max_len`` < 1, ``temperature`` <= 0, ``top_k`` not in [1, vocab_size].
    """
    if n < 1 or max_len < 1:
        raise ValueError(f"sample needs n >= 1 and max_len >= 1, got n={n}, max_len={max_len}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if top_k is not None and not 1 <= top_k <= model.vocab_size:
        raise ValueError(f"top_k must be between 1 and {model.vocab_size}, got {top_k}")
    rng = np.random.default_rng(seed)
    for lo in range(0, n, BATCH):
        yield from _draw(model, vocab, min(BATCH, n - lo), rng, temperature, top_k, max_len)


@no_grad()
def _draw(model: LanguageModel, vocab: Vocab, n: int, rng: np.random.Generator, temperature: float,
          top_k: int | None, max_len: int) -> list[str]:
    """``n`` words drawn from ``model``, each until it emits '.' (index 0) or reaches ``max_len`` characters.

    The model runs on its backend on all ``n`` words at once (``model.next_logits`` of what each has so
    far); the probabilities ``(n, vocab_size)`` come to the host once per character, where a seeded
    ``numpy.random.Generator`` draws (so one seed gives the same words on every backend). ``temperature``
    divides the logits (below 1: more likely words); ``top_k`` keeps only the k most likely characters.
    Source: makemore's ``generate``.
    """
    was_training = model.training
    model.eval()
    out = np.zeros((n, max_len), dtype=np.int64)
    done = np.zeros(n, dtype=bool)
    for t in range(max_len):
        logits = model.next_logits(out[:, :t]).numpy().astype(np.float64) / temperature
        if top_k is not None:
            kth = np.sort(logits, axis=1)[:, -top_k][:, None]
            logits = np.where(logits < kth, -np.inf, logits)
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        cdf = np.cumsum(probs, axis=1)
        ix = (cdf < rng.random((n, 1)) * cdf[:, -1:]).sum(axis=1)
        ix = np.minimum(ix, model.vocab_size - 1)
        out[:, t] = np.where(done, 0, ix)
        done |= ix == 0
        if done.all():
            break
    model.train(was_training)
    return [vocab.decode(row.tolist()) for row in _until_end(out)]


def _until_end(out: np.ndarray) -> list[np.ndarray]:
    """Each row up to (not including) its first 0."""
    rows = []
    for row in out:
        zeros = np.flatnonzero(row == 0)
        rows.append(row[: zeros[0]] if zeros.size else row)
    return rows
