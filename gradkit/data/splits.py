"""Seeded train/dev/test splits of a word list."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from gradkit.data.errors import DataError


def _cuts(n: int, fractions: tuple[float, float, float]) -> tuple[int, int]:
    f_train, f_dev, _ = fractions
    return int(f_train * n), int((f_train + f_dev) * n)


def _min_words(fractions: tuple[float, float, float]) -> int:
    """The smallest word count for which no split is empty (searched; at most ``max(ceil(1 / f)) + 1``)."""
    upper = max(math.ceil(1 / f) for f in fractions) + 1  # every f * n >= 1 there: no split is empty
    start = max(3, math.ceil(1 / fractions[0]))  # int(f_train * n) >= 1 needs f_train * n >= 1
    for n in range(start, min(upper, start + 1_000_000)):
        n1, n2 = _cuts(n, fractions)
        if 0 < n1 < n2 < n:
            return n
    return upper


def split_words(
    words: Sequence[str], seed: int = 42, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
) -> tuple[list[str], list[str], list[str]]:
    """Shuffle the words with a seeded generator and cut them into train, dev and test lists.

    As in makemore (Andrej Karpathy), "Building makemore" part 2: ``n1 = int(0.8 * n)``,
    ``n2 = int(0.9 * n)``, train ``[:n1]``, dev ``[n1:n2]``, test ``[n2:]`` (in general
    ``n1 = int(f_train * n)``, ``n2 = int((f_train + f_dev) * n)``). The order comes from
    ``numpy.random.default_rng(seed).permutation(n)``, a private generator: the same seed gives the same
    split, and neither numpy's global random state nor Python's ``random`` module is touched.

    Args:
        words: the words (duplicates are kept; each occurrence lands in exactly one split).
        seed: seed of the generator.
        fractions: ``(train, dev, test)``, each > 0, summing to 1.

    Returns:
        ``(train, dev, test)``: three ``list[str]``, disjoint (by position) and together all the words.

    Raises:
        DataError: the fractions are not three positive numbers summing to 1, or there are too few words for
            every split to get at least one (the message says how many are needed: 6 for 80/10/10).
    """
    try:
        fr = tuple(float(f) for f in fractions)
    except (TypeError, ValueError):
        raise DataError(f"fractions must be three numbers (train, dev, test), got {fractions!r}") from None
    if len(fr) != 3 or not all(math.isfinite(f) and f > 0 for f in fr) or not math.isclose(sum(fr), 1.0):
        raise DataError(f"fractions must be three positive numbers summing to 1, got {fractions!r}")
    fr3: tuple[float, float, float] = (fr[0], fr[1], fr[2])
    words = list(words)
    n = len(words)
    n1, n2 = _cuts(n, fr3)
    if not 0 < n1 < n2 < n:
        need = _min_words(fr3)
        raise DataError(
            f"cannot split {n} words into train/dev/test with fractions {fractions}: a split would be empty; "
            f"at least {need} words are needed"
        )
    perm = np.random.default_rng(seed).permutation(n)
    shuffled = [words[i] for i in perm]
    return shuffled[:n1], shuffled[n1:n2], shuffled[n2:]
