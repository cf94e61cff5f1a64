"""The character vocabulary of makemore: '.' = 0 marks both the start and the end of a word."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gradkit.data.errors import DataError, UnknownCharError

BOUNDARY = "."
"""The start/end symbol, always index 0."""

_FORBIDDEN = {BOUNDARY: "'.' (it is the start/end symbol)", "\n": "a newline", "\r": "a carriage return"}


def _check_word(word: object, number: int) -> str:
    if not isinstance(word, str):
        raise DataError(f"word number {number} is {type(word).__name__} {word!r}, not a str")
    for ch, what in _FORBIDDEN.items():
        if ch in word:
            raise DataError(
                f"word number {number} ({word!r}, counting non-blank lines) contains {what}; "
                "remove that character from the words file"
            )
    return word


def check_words(words: list[str], first: int = 0) -> str:
    """All of ``words`` joined, once none holds '.', a newline or a carriage return and each is a str (checked
    on the joined text, then word by word only to name the culprit); ``first`` numbers them in messages."""
    try:
        text = "".join(words)
    except TypeError:
        text = ""
    else:
        if not any(ch in text for ch in _FORBIDDEN):
            return text
    for number, word in enumerate(words, start=first + 1):
        _check_word(word, number)
    return text


class Vocab:
    """A character vocabulary: ``'.'`` is index 0 (start and end of every word), the other characters follow
    in sorted order. For makemore's names (and the embedded list) that is 27 symbols, ``a`` = 1 ...
    ``z`` = 26, as in Andrej Karpathy's "Building makemore" lectures (part 1 and 2).

    Build it with ``Vocab(words)``; restore a saved one with ``Vocab.from_dict(d)``.

    Attributes:
        stoi: ``dict[str, int]``, character to index.
        itos: ``dict[int, str]``, index to character.
        vocab_size: number of symbols, ``'.'`` included.

    Raises:
        DataError: a word contains ``'.'``, a newline or a carriage return (the message names the word and its
            number, counting from 1 over non-blank lines), a word is not a str, or there are no words.
    """

    __slots__ = ("stoi", "itos")

    def __init__(self, words: Iterable[str]) -> None:
        chars: set[str] = set()
        words = list(words)
        count = len(words)
        for lo in range(0, count, 2**16):
            chars.update(check_words(words[lo:lo + 2**16], lo))
        if count == 0:
            raise DataError("cannot build a vocabulary from no words; give at least one word")
        self._set_symbols([BOUNDARY, *sorted(chars)])

    def _set_symbols(self, symbols: list[str]) -> None:
        self.itos: dict[int, str] = dict(enumerate(symbols))
        self.stoi: dict[str, int] = {s: i for i, s in self.itos.items()}

    @property
    def vocab_size(self) -> int:
        """Number of symbols, ``'.'`` included (27 for a-z names)."""
        return len(self.itos)

    @property
    def symbols(self) -> list[str]:
        """The symbols in index order, ``symbols[0] == '.'``."""
        return [self.itos[i] for i in range(len(self.itos))]

    def __len__(self) -> int:
        return len(self.itos)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocab):
            return NotImplemented
        return self.itos == other.itos

    def __hash__(self) -> int:
        return hash(tuple(self.symbols))

    def __repr__(self) -> str:
        return f"Vocab(vocab_size={self.vocab_size}, symbols={''.join(self.symbols)!r})"

    def encode(self, word: str) -> list[int]:
        """Indices of the characters of ``word`` (no start/end symbols are added).

        Raises:
            UnknownCharError: (a DataError and a KeyError) a character is not in the vocabulary; the message
                names the character and the word.
        """
        try:
            return [self.stoi[ch] for ch in word]
        except KeyError as exc:
            ch = exc.args[0]
            raise UnknownCharError(
                f"character {ch!r} (U+{ord(ch):04X}) in {word!r} is not in the vocabulary "
                f"({''.join(self.symbols)!r}); build the vocabulary from words that contain it",
                ch,
            ) from None

    def decode(self, ids: Iterable[int]) -> str:
        """The string of the indices ``ids`` (ints or a 1-d integer array); index 0 decodes to ``'.'``.

        Raises:
            DataError: an index is outside ``0 .. vocab_size - 1``.
        """
        out = []
        for i in ids:
            ch = self.itos.get(int(i))
            if ch is None:
                raise DataError(f"index {int(i)} is outside the vocabulary (0 .. {self.vocab_size - 1})")
            out.append(ch)
        return "".join(out)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form for checkpoints: ``{"format": "gradkit.vocab/1", "itos": [".", "a", ...]}``."""
        return {"format": "gradkit.vocab/1", "itos": self.symbols}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Vocab:
        """The vocabulary that ``to_dict`` saved.

        Raises:
            DataError: ``data`` is not such a dict: no ``itos`` list, symbols not single distinct characters,
                or ``itos[0]`` is not ``'.'``.
        """
        itos = data.get("itos") if isinstance(data, Mapping) else None
        if not isinstance(itos, list) or not itos:
            raise DataError("vocabulary data has no 'itos' list; was it written by Vocab.to_dict()?")
        if not all(isinstance(s, str) and len(s) == 1 for s in itos):
            raise DataError(f"vocabulary symbols must be single characters, got {itos!r}")
        if itos[0] != BOUNDARY or len(set(itos)) != len(itos) or "\n" in itos or "\r" in itos:
            raise DataError(
                f"vocabulary must start with '.' and have no repeated symbols or line breaks, got {itos!r}"
            )
        vocab = cls.__new__(cls)
        vocab._set_symbols(list(itos))
        return vocab
