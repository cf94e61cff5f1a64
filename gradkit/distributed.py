"""``gradkit.distributed``: the names of ``torch.distributed`` that single-process scripts import.

nanoGPT's train.py imports ``init_process_group`` and ``destroy_process_group`` and calls them only when
launched by ``torchrun`` (``RANK`` set). gradkit runs one process: the names import, ``is_available()`` and
``is_initialized()`` say False, and every call that would start or use a process group raises RuntimeError
saying that multi-process training is not supported yet.
"""

from __future__ import annotations

from typing import Any, NoReturn

__all__ = ["all_reduce", "barrier", "destroy_process_group", "get_rank", "get_world_size", "init_process_group",
           "is_available", "is_initialized"]

MESSAGE = "multi-process training is not supported yet: run one process (without torchrun)"


def _refuse(name: str) -> NoReturn:
    raise RuntimeError(f"{name}(): {MESSAGE}")


def is_available() -> bool:
    """False: gradkit has no process groups."""
    return False


def is_initialized() -> bool:
    """False: no process group is ever initialised."""
    return False


def init_process_group(*args: Any, **kwargs: Any) -> NoReturn:
    """Raises RuntimeError: multi-process training is not supported yet."""
    _refuse("init_process_group")


def destroy_process_group(*args: Any, **kwargs: Any) -> NoReturn:
    """Raises RuntimeError: multi-process training is not supported yet."""
    _refuse("destroy_process_group")


def get_rank(*args: Any, **kwargs: Any) -> NoReturn:
    """Raises RuntimeError (as torch without a process group): multi-process training is not supported yet."""
    _refuse("get_rank")


def get_world_size(*args: Any, **kwargs: Any) -> NoReturn:
    """Raises RuntimeError (as torch without a process group): multi-process training is not supported yet."""
    _refuse("get_world_size")


def barrier(*args: Any, **kwargs: Any) -> NoReturn:
    """Raises RuntimeError: multi-process training is not supported yet."""
    _refuse("barrier")


def all_reduce(*args: Any, **kwargs: Any) -> NoReturn:
    """Raises RuntimeError: multi-process training is not supported yet."""
    _refuse("all_reduce")
