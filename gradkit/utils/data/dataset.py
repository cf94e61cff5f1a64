"""Datasets, as ``torch.utils.data.dataset``: ``Dataset``, ``IterableDataset``, ``TensorDataset``, ``Subset``,
``ConcatDataset`` and ``random_split``."""

from __future__ import annotations

import bisect
import math
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

from gradkit.backends import Generator
from gradkit.backends.random import default_generator

from ...creation import randperm
from ...tensor import Tensor

__all__ = ["ConcatDataset", "Dataset", "IterableDataset", "Subset", "TensorDataset", "random_split"]


class Dataset:
    """A map-style dataset: subclasses define ``__getitem__(index)`` (one example) and usually ``__len__``, as
    ``torch.utils.data.Dataset``. ``a + b`` concatenates two datasets."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__ (a Dataset gives examples by "
                                  "index)")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A dataset that is a stream: subclasses define ``__iter__``, as ``torch.utils.data.IterableDataset``.
    A ``DataLoader`` batches it in order (no sampler, no shuffle)."""

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class TensorDataset(Dataset):
    """Example ``i`` is ``tuple(t[i] for t in tensors)``, as ``torch.utils.data.TensorDataset``. Shapes: every
    tensor ``(N, ...)`` with the same ``N``.

    Raises:
        ValueError: tensors whose first axes differ ("Size mismatch between tensors", as torch's assertion)."""

    def __init__(self, *tensors: Tensor) -> None:
        if any(t.shape[:1] != tensors[0].shape[:1] for t in tensors):
            raise ValueError(f"Size mismatch between tensors: first axes {[t.shape[:1] for t in tensors]}; every "
                             "tensor of a TensorDataset has one row per example")
        self.tensors = tensors

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


class Subset(Dataset):
    """The examples of ``dataset`` at ``indices``, in that order, as ``torch.utils.data.Subset``."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset, self.indices = dataset, indices

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, list):
            return [self.dataset[self.indices[i]] for i in idx]
        return self.dataset[self.indices[idx]]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset):
    """The datasets one after another, as ``torch.utils.data.ConcatDataset``.

    Raises:
        ValueError: no datasets; TypeError: an ``IterableDataset`` among them (as torch)."""

    def __init__(self, datasets: Sequence[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("datasets should not be an empty iterable")
        if any(isinstance(d, IterableDataset) for d in self.datasets):
            raise TypeError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = []
        total = 0
        for d in self.datasets:
            total += len(d)  # type: ignore[arg-type]
            self.cumulative_sizes.append(total)

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int) -> Any:
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx += len(self)
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        return self.datasets[which][idx - (self.cumulative_sizes[which - 1] if which else 0)]


def random_split(dataset: Dataset, lengths: Sequence[int | float],
                 generator: Generator | None = default_generator) -> list[Subset]:
    """``dataset`` split at random into non-overlapping ``Subset``s of the given lengths, as
    ``torch.utils.data.random_split``. ``lengths`` are counts summing to ``len(dataset)``, or fractions summing
    to 1 (each gets ``floor(n * fraction)``, and the remainder is dealt one by one from the first subset on, as
    torch's). The order is a ``randperm`` from ``generator`` (default: the default generator).

    Raises:
        ValueError: lengths that do not sum to ``len(dataset)`` (or fractions that do not sum to 1).
    """
    n = len(dataset)  # type: ignore[arg-type]
    sizes: list[Any] = list(lengths)
    if math.isclose(sum(sizes), 1) and sum(sizes) <= 1:
        counts = []
        for i, frac in enumerate(sizes):
            if not 0 <= frac <= 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1")
            counts.append(int(math.floor(n * frac)))
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        for i, length in enumerate(counts):
            if length == 0:
                warnings.warn(f"Length of split at index {i} is 0. This might result in an empty dataset.",
                              UserWarning, stacklevel=2)
        sizes = counts
    if sum(sizes) != n:
        raise ValueError(f"Sum of input lengths ({sum(sizes)}) does not equal the length of the input dataset "
                         f"({n})!")
    order = randperm(n, generator=generator, backend="numpy").tolist()
    out, start = [], 0
    for size in sizes:
        out.append(Subset(dataset, order[start:start + int(size)]))
        start += int(size)
    return out
