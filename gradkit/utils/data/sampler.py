"""Samplers, as ``torch.utils.data.sampler``: the orders in which a ``DataLoader`` visits a dataset's indices.

Random orders are drawn on the host from a ``gradkit.Generator``: the one given, else a fresh one seeded by one
draw from the default generator at each ``iter()`` (torch's scheme, so ``gradkit.manual_seed`` fixes every
epoch's order).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence, Sized
from typing import Any

from gradkit import backends
from gradkit.backends import Generator
from gradkit.backends.random import default_generator

__all__ = ["BatchSampler", "RandomSampler", "Sampler", "SequentialSampler", "SubsetRandomSampler"]


class Sampler:
    """The base of samplers: ``__iter__`` yields dataset indices (``__len__`` their count, where known)."""

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError


def _host_generator(generator: Generator | None) -> Generator:
    """``generator`` drawing on the host, or a fresh one seeded by one draw from the default generator."""
    numpy = backends.get_backend("numpy")
    if generator is None:
        seed = int(default_generator.integers(0, 2**63 - 1, (), "int64", numpy))
        return Generator(numpy, seed)
    return generator


def _draw(generator: Generator, kind: str, n: int, size: int = 0) -> list[int]:
    numpy = backends.get_backend("numpy")
    if kind == "perm":
        return generator.permutation(n, "int64", numpy).tolist()
    return generator.integers(0, n, (size,), "int64", numpy).tolist()


class SequentialSampler(Sampler):
    """``0, 1, ..., len(data_source) - 1``, as ``torch.utils.data.SequentialSampler``."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """Random indices of ``data_source``, as ``torch.utils.data.RandomSampler``: a permutation per pass
    (``replacement=False``; ``num_samples`` beyond ``len`` takes further permutations), or ``num_samples``
    independent uniform draws (``replacement=True``; drawn 32 at a time, lazily, so ``num_samples=int(1e10)``
    is an endless stream, as makemore uses it).

    Raises:
        TypeError: ``replacement`` is not a bool. ValueError: ``num_samples`` is not a positive int.
    """

    def __init__(self, data_source: Sized, replacement: bool = False, num_samples: int | None = None,
                 generator: Generator | None = None) -> None:
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got replacement={replacement}")
        if num_samples is not None and (not isinstance(num_samples, int) or isinstance(num_samples, bool)
                                        or num_samples <= 0):
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={num_samples}")
        self.data_source, self.replacement, self._num_samples, self.generator = (data_source, replacement,
                                                                                  num_samples, generator)

    @property
    def num_samples(self) -> int:
        """How many indices one pass yields (``len(data_source)`` unless given)."""
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        n, count = len(self.data_source), self.num_samples
        gen = _host_generator(self.generator)
        if self.replacement:
            for _ in range(count // 32):
                yield from _draw(gen, "int", n, 32)
            yield from _draw(gen, "int", n, count % 32)
            return
        for _ in range(count // n):
            yield from _draw(gen, "perm", n)
        yield from _draw(gen, "perm", n)[:count % n]

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a random order, as ``torch.utils.data.SubsetRandomSampler``."""

    def __init__(self, indices: Sequence[int], generator: Generator | None = None) -> None:
        self.indices, self.generator = indices, generator

    def __iter__(self) -> Iterator[int]:
        for i in _draw(_host_generator(self.generator), "perm", len(self.indices)):
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


class BatchSampler(Sampler):
    """Lists of ``batch_size`` indices from ``sampler`` (the last one shorter unless ``drop_last``), as
    ``torch.utils.data.BatchSampler``.

    Raises:
        ValueError: ``batch_size`` is not a positive int, or ``drop_last`` is not a bool."""

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self) -> Iterator[list[int]]:
        batch: list[int] = []
        for i in self.sampler:
            batch.append(i)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
