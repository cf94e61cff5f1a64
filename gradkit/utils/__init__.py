"""``gradkit.utils``: PyTorch's ``torch.utils`` layout: ``gradkit.utils.data`` (datasets and loaders) and
``gradkit.utils.tensorboard`` (``SummaryWriter``, imported on demand: it needs the ``tensorboard`` package)."""

from . import data

__all__ = ["data"]
