"""Data for gradkit: words, the character vocabulary, context windows, splits, and two-moons points.

Follows makemore by Andrej Karpathy ("Building makemore" lectures, part 1 and 2) and, for context windows,
Bengio et al. 2003. Everything here returns host (numpy) arrays; the backend moves them to its device.
"""

from gradkit.data.errors import DataError, UnknownCharError
from gradkit.data.moons import make_moons
from gradkit.data.padded import IGNORE, padded_words
from gradkit.data.splits import split_words
from gradkit.data.vocab import Vocab
from gradkit.data.windows import bigram_pairs, build_dataset, index_dtype
from gradkit.data.words import load_words

__all__ = [
    "IGNORE",
    "DataError",
    "UnknownCharError",
    "Vocab",
    "bigram_pairs",
    "build_dataset",
    "index_dtype",
    "load_words",
    "make_moons",
    "padded_words",
    "split_words",
]
