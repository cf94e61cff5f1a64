"""Whole words as padded rows (makemore's ``CharDataset``), for the models that read a word at once."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from gradkit.data.errors import DataError
from gradkit.data.vocab import Vocab, _check_word

IGNORE = -1
"""The target of padding positions; ``cross_entropy(..., ignore_index=-1)`` skips it, as makemore does."""


def padded_words(words: Iterable[str], vocab: Vocab, block_size: int,
                 dtype: np.dtype | type = np.int64) -> tuple[np.ndarray, np.ndarray]:
    """One row per word, as makemore's ``CharDataset``: ``X = [0, c1, ..., cn, 0, ...]`` and
    ``Y = [c1, ..., cn, 0, -1, ...]``, both of length ``block_size``, so that position ``t`` predicts
    ``Y[t]`` from ``X[:t + 1]`` and the word's end ('.' = 0) is predicted once. ``-1`` marks positions with
    nothing to predict. A word of ``n`` characters gives ``n + 1`` targets, as ``build_dataset`` gives
    ``n + 1`` rows, so the two layouts score the same characters.

    Returns:
        ``(X, Y)``: host arrays ``(len(words), block_size)`` of ``dtype`` (a signed integer type; default
        int64).

    Raises:
        DataError: a word longer than ``block_size - 1`` characters (the message names it and the fix), or a
            word with '.' or a line break; ``UnknownCharError`` for a character outside ``vocab``.
    """
    words = list(words)
    X = np.zeros((len(words), block_size), dtype=dtype)
    Y = np.full((len(words), block_size), IGNORE, dtype=dtype)
    for i, word in enumerate(words):
        _check_word(word, i + 1)
        if len(word) >= block_size:
            raise DataError(f"word number {i + 1} ({word!r}) has {len(word)} characters; this model reads words of "
                            f"at most {block_size - 1} (its block size {block_size} includes the start); drop the "
                            "word or train a new model on these words")
        ids = vocab.encode(word)
        X[i, 1:len(ids) + 1] = ids
        Y[i, :len(ids)] = ids
        Y[i, len(ids)] = 0
    return X, Y
