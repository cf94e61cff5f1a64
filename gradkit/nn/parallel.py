"""``gradkit.nn.parallel``: ``DistributedDataParallel``, importable so that scripts that wrap their model only
under ``torchrun`` (nanoGPT) run in one process; making one raises RuntimeError (see ``gradkit.distributed``)."""

from __future__ import annotations

from typing import Any

from ..distributed import MESSAGE
from .modules import Module

__all__ = ["DataParallel", "DistributedDataParallel"]


class DistributedDataParallel(Module):
    """torch's multi-process data parallelism. Raises RuntimeError when made: multi-process training is not
    supported yet."""

    def __init__(self, module: Module, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError(f"DistributedDataParallel: {MESSAGE}")


class DataParallel(Module):
    """torch's single-process multi-GPU wrapper. Raises RuntimeError when made: gradkit computes on one device."""

    def __init__(self, module: Module, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("DataParallel: gradkit computes on one device; use the module itself")
