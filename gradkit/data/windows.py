"""Context windows (X, Y) for next-character prediction, built on the host with numpy."""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from gradkit.data.errors import DataError, UnknownCharError
from gradkit.data.vocab import BOUNDARY, Vocab, check_words


def _encode_all(words: list[str], vocab: Vocab, first: int = 0) -> np.ndarray:
    """Indices of ``word + '.'`` for every word, concatenated: host int64 array of ``sum(len(w) + 1)``."""
    check_words(words, first)
    text = BOUNDARY.join(words) + BOUNDARY if words else ""
    codepoints = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    keys = np.array([ord(s) for s in vocab.symbols], dtype=np.uint32)
    order = np.argsort(keys)
    sorted_keys = keys[order]
    pos = np.searchsorted(sorted_keys, codepoints).clip(max=len(sorted_keys) - 1)
    known = sorted_keys[pos] == codepoints
    if not known.all():
        ch = chr(int(codepoints[np.argmin(known)]))
        word = next(w for w in words if ch in w)
        vocab.encode(word)  # raises UnknownCharError naming the character and the word
        raise UnknownCharError(f"character {ch!r} is not in the vocabulary", ch)  # pragma: no cover
    return order[pos].astype(np.int64)


def _check_block_size(block_size: object) -> int:
    if isinstance(block_size, bool) or not isinstance(block_size, numbers.Integral) or int(block_size) < 1:
        raise DataError(
            f"block_size must be an integer >= 1 (the number of previous characters the model sees), "
            f"got {block_size!r}"
        )
    return int(block_size)


def index_dtype(vocab_size: int) -> np.dtype:
    """The smallest signed integer dtype that holds indices ``0 .. vocab_size - 1`` and the ignore mark -1:
    int8 for up to 128 symbols (a-z names), int16, else int32. Training rows are held in it (8x less
    memory than int64) and widened per batch."""
    for dtype in (np.int8, np.int16, np.int32):
        if vocab_size - 1 <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    return np.dtype(np.int64)


_CHUNK_WORDS = 2**16


def build_dataset(words: Iterable[str], vocab: Vocab, block_size: int,
                  dtype: np.dtype | type = np.int64) -> tuple[np.ndarray, np.ndarray]:
    """Context windows for next-character prediction, as in makemore (Andrej Karpathy), "Building makemore"
    part 2, after Bengio et al. 2003, "A Neural Probabilistic Language Model".

    For each word the context starts as ``[0] * block_size``; for each character ``ix`` of ``word + '.'``
    one row ``X = context`` with target ``Y = ix`` is emitted, then ``context = context[1:] + [ix]``.
    Equivalent to the course's loop, but vectorised (makemore's 32,033 names: 228,146 rows in milliseconds),
    and built 65,536 words at a time into arrays of ``dtype``, so that a large file needs only the result
    (``index_dtype`` gives the compact one) plus one chunk's temporaries.

    Args:
        words: the words (none may contain '.', a newline or a carriage return).
        vocab: the vocabulary that encodes them.
        block_size: context length, an integer >= 1.
        dtype: the integer dtype of the result (default int64, as the course's ``torch.tensor``).

    Returns:
        ``(X, Y)``: ``X`` host array ``(N, block_size)``, ``Y`` host array ``(N,)``, both of ``dtype``, with
        ``N = sum(len(w) + 1 for w in words)``; rows in word order.

    Raises:
        DataError: ``block_size`` is not an integer >= 1, or a word contains '.', a newline or a carriage
            return; ``UnknownCharError`` (a DataError and KeyError) for a character not in ``vocab``.
    """
    block_size = _check_block_size(block_size)
    words = list(words)
    n = sum(len(w) + 1 for w in words)
    X = np.zeros((n, block_size), dtype)
    Y = np.zeros(n, dtype)
    row = 0
    for lo in range(0, len(words), _CHUNK_WORDS):
        x, y = _windows(words[lo:lo + _CHUNK_WORDS], vocab, block_size, lo)
        X[row:row + len(y)], Y[row:row + len(y)] = x, y
        row += len(y)
    return X, Y


def _windows(words: list[str], vocab: Vocab, block_size: int, first: int) -> tuple[np.ndarray, np.ndarray]:
    """``build_dataset`` of one chunk of words (int64); ``first`` numbers its words in error messages."""
    ys = _encode_all(words, vocab, first)
    n = ys.shape[0]
    lengths = np.fromiter((len(w) + 1 for w in words), dtype=np.int64, count=len(words))
    word_of = np.repeat(np.arange(len(words), dtype=np.int64), lengths)
    # Every word gets block_size zeros in front of it: row t is the block_size symbols before its target.
    padded = np.zeros(n + block_size * len(words), dtype=np.int64)
    padded[np.arange(n) + block_size * (word_of + 1)] = ys
    starts = np.arange(n) + block_size * word_of
    X = sliding_window_view(padded, block_size)[starts] if n else np.zeros((0, block_size), np.int64)
    return X, ys


def bigram_pairs(words: Iterable[str], vocab: Vocab) -> tuple[np.ndarray, np.ndarray]:
    """Bigram (previous character, next character) index pairs, as in "Building makemore" part 1 (Andrej
    Karpathy): for each word, the pairs of ``'.' + word + '.'``.

    The same as ``build_dataset(words, vocab, 1)`` with ``X`` flattened.

    Returns:
        ``(xs, ys)``: host arrays ``(N,)`` int64 each, ``N = sum(len(w) + 1 for w in words)``.

    Raises:
        DataError: as ``build_dataset``.
    """
    X, Y = build_dataset(words, vocab, 1)
    return X[:, 0].copy(), Y
