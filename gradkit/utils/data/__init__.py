"""``gradkit.utils.data``: PyTorch's datasets, samplers and ``DataLoader`` (``torch.utils.data``).

A ``Dataset`` gives examples by index; a sampler gives the indices (in order, shuffled, or drawn with
replacement); a ``DataLoader`` groups them into batches and collates each batch into Tensors. Random orders
come from ``gradkit``'s default generator (or ``generator=``), so they are reproducible under
``gradkit.manual_seed`` (not torch's orders for the same seed: see ``backends.random``).
"""

from .dataloader import DataLoader, default_collate, default_convert, get_worker_info
from .dataset import ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, random_split
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler

__all__ = ["BatchSampler", "ConcatDataset", "DataLoader", "Dataset", "IterableDataset", "RandomSampler", "Sampler",
           "SequentialSampler", "Subset", "SubsetRandomSampler", "TensorDataset", "default_collate",
           "default_convert", "get_worker_info", "random_split"]
