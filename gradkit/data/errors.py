"""The data package's exceptions."""

from __future__ import annotations


class DataError(ValueError):
    """Bad input data: a words file that cannot be used, a word the vocabulary cannot hold, bad sizes.

    A ``ValueError``, so that generic callers can catch it as one; the command line maps it to exit status 2
    and prints only its message, which always names the file, word or value at fault and how to fix it.
    """


class UnknownCharError(DataError, KeyError):
    """A character that is not in the vocabulary (also a ``KeyError``, as a failed ``stoi[ch]`` would be).

    Attributes:
        char: the character that is not in the vocabulary.
    """

    def __init__(self, message: str, char: str) -> None:
        super().__init__(message)
        self.char = char

    def __str__(self) -> str:  # KeyError would print repr(message), quotes included
        return str(self.args[0])
