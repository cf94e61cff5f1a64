"""``gradkit.cuda``: PyTorch's ``torch.cuda`` for gradkit's CUDA backend (CuPy on device 0).

Only what scripts written for torch ask before they choose a device: ``is_available()``, ``device_count()``,
``manual_seed``/``manual_seed_all``, ``synchronize()``, ``is_bf16_supported()`` and a few more. Tensors reach
the GPU with ``.to("cuda")``, ``.cuda()`` or ``device="cuda"``.
"""

from __future__ import annotations

from typing import Any

from gradkit import backends
from gradkit.backends.random import default_generator

from . import amp

__all__ = ["amp", "current_device", "device_count", "empty_cache", "get_device_name", "is_available",
           "is_bf16_supported", "manual_seed", "manual_seed_all", "set_device", "synchronize"]


def is_available() -> bool:
    """True when the CUDA backend is usable here: CuPy imports and a CUDA device answers (``gradkit info`` says
    why not). Never raises."""
    return backends.probe()["cupy"].usable


def device_count() -> int:
    """How many CUDA devices answer (0 without a driver); gradkit itself computes on device 0."""
    return backends.probe()["cupy"].device_count


def current_device() -> int:
    """0: gradkit's CUDA backend is device 0 (choose the GPU with ``CUDA_VISIBLE_DEVICES``)."""
    return 0


def set_device(device: Any) -> None:
    """Accepts device 0 (``0``, ``"cuda"``, ``"cuda:0"``), as ``torch.cuda.set_device``.

    Raises:
        UnknownBackendError: another device (gradkit computes on device 0; use ``CUDA_VISIBLE_DEVICES``)."""
    backends.resolve_name(f"cuda:{device}" if isinstance(device, int) else str(device))


def get_device_name(device: Any = None) -> str:
    """The CUDA device's name (``"NVIDIA H100 80GB HBM3"``). Raises BackendUnavailableError without CUDA."""
    backends.get_backend("cuda")
    return backends.probe()["cupy"].device


def manual_seed(seed: int) -> None:
    """Seed the random numbers drawn for the CUDA device, as ``torch.cuda.manual_seed``: silently ignored where
    CUDA is not available (as torch). gradkit draws every random number from ONE default generator on the host
    (see ``backends.random``), so where CUDA is available this reseeds it, as ``gradkit.manual_seed`` does."""
    if is_available():
        default_generator.manual_seed(seed)


manual_seed_all = manual_seed


def synchronize(device: Any = None) -> None:
    """Wait for all queued work on the CUDA device, as ``torch.cuda.synchronize``.

    Raises:
        BackendUnavailableError: CUDA is not available here (torch raises too)."""
    backends.get_backend("cuda").synchronize()


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """False: gradkit computes in float32/float64 (numpy and the array API have no bfloat16)."""
    return False


def empty_cache() -> None:
    """Free the blocks CuPy's memory pool holds but does not use (``torch.cuda.empty_cache``); a no-op without
    CUDA."""
    if is_available():
        from gradkit.backends.cupy_backend import empty_cache as free_pool

        free_pool()
