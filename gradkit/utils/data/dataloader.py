"""``DataLoader`` and its collation, as ``torch.utils.data.dataloader``.

Batches are loaded in the calling process whatever ``num_workers`` says (gradkit has no worker processes yet):
the batches and their order are those of torch's loader for the same sampler order; only the loading is not
parallel. ``pin_memory`` is accepted and changes nothing (gradkit's host -> device copies are CuPy's own).
"""

from __future__ import annotations

import collections.abc
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from gradkit.backends import Generator

from ... import dtypes
from ...creation import tensor
from ...shapes import stack
from ...tensor import Tensor
from .dataset import Dataset, IterableDataset
from .sampler import BatchSampler, RandomSampler, SequentialSampler

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]


def get_worker_info() -> None:
    """None: batches are always loaded in the calling process (``torch.utils.data.get_worker_info`` in the main
    process)."""
    return None


def default_convert(data: Any) -> Any:
    """numpy arrays (of numbers) as Tensors, inside lists, tuples and dicts; everything else unchanged (what
    ``DataLoader(batch_size=None)`` applies to each example, as torch's)."""
    if isinstance(data, np.ndarray) and data.dtype.kind in "biuf":
        return tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, (list, tuple)):
        return type(data)(default_convert(d) for d in data)
    return data


def default_collate(batch: list[Any]) -> Any:
    """A list of examples as one batch, as ``torch.utils.data.default_collate``: Tensors are stacked on a new
    axis 0 (``(B, *shape)``); numpy arrays and numpy numbers become Tensors, stacked; Python floats a float64
    Tensor ``(B,)``, ints an int64 one, bools a bool one; strings stay a list; dicts, named tuples and
    sequences are collated field by field (a tuple or list gives a list, as torch's).

    Raises:
        RuntimeError: sequences of different lengths in one batch (as torch); TypeError: elements of a type it
            cannot collate (naming it).
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(list(batch), 0)
    if isinstance(elem, (np.ndarray, np.generic)) and not isinstance(elem, np.str_):
        if elem.dtype.kind not in "biuf":
            raise TypeError(f"default_collate: numpy arrays of {elem.dtype} cannot become a Tensor")
        return stack([tensor(np.asarray(b)) for b in batch], 0)
    if isinstance(elem, bool):
        return tensor(batch, dtype=dtypes.bool)
    if isinstance(elem, float):
        return tensor(batch, dtype=dtypes.float64)
    if isinstance(elem, int):
        return tensor(batch, dtype=dtypes.int64)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        return {key: default_collate([d[key] for d in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(list(samples)) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(e) != len(elem) for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return [default_collate(list(samples)) for samples in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found "
                    f"{type(elem).__name__}")


class DataLoader:
    """Batches of ``dataset``, as ``torch.utils.data.DataLoader``.

    Args:
        dataset: a ``Dataset`` (map-style: ``__getitem__`` and ``__len__``) or an ``IterableDataset``.
        batch_size: examples per batch (default 1); None yields single examples (``default_convert``ed).
        shuffle: a new random order each pass (a ``RandomSampler``); default in order.
        sampler: the indices to visit (exclusive with ``shuffle``); batch_sampler: lists of indices (exclusive
            with ``batch_size``, ``shuffle``, ``sampler`` and ``drop_last``).
        num_workers: accepted (>= 0); loading is always in the calling process, with the same batches.
        collate_fn: a list of examples -> a batch (default ``default_collate``).
        pin_memory: accepted; changes nothing. drop_last: drop a last, shorter batch.
        generator: the ``gradkit.Generator`` for ``shuffle``'s orders.

    Raises:
        ValueError: conflicting options (as torch, with its messages), a negative ``num_workers``.
    """

    def __init__(self, dataset: Dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Iterable[Any] | None = None, batch_sampler: Iterable[list[Any]] | None = None,
                 num_workers: int = 0, collate_fn: Callable[[list[Any]], Any] | None = None,
                 pin_memory: bool = False, drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable[[int], None] | None = None, multiprocessing_context: Any = None,
                 generator: Generator | None = None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False, pin_memory_device: str = "", in_order: bool = True) -> None:
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                             "multiprocessing.")
        self.dataset, self.num_workers, self.pin_memory, self.drop_last = dataset, num_workers, pin_memory, drop_last
        self.batch_size, self.generator = batch_size, generator
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle not in (None, False):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, but got "
                                 f"shuffle={shuffle}")
            if sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler and batch_sampler "
                                 "options")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and "
                                 "drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with "
                             "drop_last")
        if sampler is None and not self._iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)  # type: ignore[arg-type]
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)  # type: ignore[arg-type]
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.collate_fn = collate_fn or (default_collate if batch_size is not None or batch_sampler is not None
                                         else default_convert)

    def __iter__(self) -> Iterator[Any]:
        if self._iterable:
            return self._iter_stream()
        if self.batch_sampler is not None:
            return (self.collate_fn([self.dataset[i] for i in batch]) for batch in self.batch_sampler)
        return (self.collate_fn(self.dataset[i]) for i in self.sampler)  # type: ignore[union-attr]

    def _iter_stream(self) -> Iterator[Any]:
        if self.batch_size is None:
            yield from (self.collate_fn(x) for x in self.dataset)  # type: ignore[attr-defined]
            return
        batch: list[Any] = []
        for x in self.dataset:  # type: ignore[attr-defined]
            batch.append(x)
            if len(batch) == self.batch_size:
                yield self.collate_fn(batch)
                batch = []
        if batch and not self.drop_last:
            yield self.collate_fn(batch)

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)  # type: ignore[arg-type]
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)  # type: ignore[arg-type]
