"""PyTorch's backend switches, as ``torch.backends.cuda``, ``torch.backends.cudnn`` and ``torch.backends.mps``.

Scripts written for torch set them at start-up (nanoGPT: ``torch.backends.cuda.matmul.allow_tf32 = True``), so
they exist here with torch's names and defaults. They are recorded, and read by nothing yet: gradkit's CuPy
matmul follows CuPy's own setting (the ``CUPY_TF32`` environment variable), and gradkit has no cuDNN kernels
(no convolutions) and no Apple-GPU backend. ``gradkit.backends`` is this package, so
``gradkit.backends.cuda.matmul.allow_tf32`` is torch's spelling.
"""

from __future__ import annotations

__all__ = ["cuda", "cudnn", "get_float32_matmul_precision", "mps", "set_float32_matmul_precision"]


class _Matmul:
    """``torch.backends.cuda.matmul``: whether float32 matmuls may use TF32 tensor cores (torch's default
    False) and reduced-precision reductions for float16/bfloat16 (torch's default True)."""

    allow_tf32 = False
    allow_fp16_reduced_precision_reduction = True
    allow_bf16_reduced_precision_reduction = True


class _Cuda:
    """``torch.backends.cuda``: ``matmul`` holds the matmul switches; ``is_built()`` says whether the CUDA
    backend (CuPy) is installed, as torch's says whether torch was built with CUDA."""

    matmul = _Matmul()

    @staticmethod
    def is_built() -> bool:
        """True when CuPy is installed (whether or not a device answers; see ``gradkit.cuda.is_available``)."""
        import importlib.util

        return importlib.util.find_spec("cupy") is not None


class _Cudnn:
    """``torch.backends.cudnn``: torch's switches and defaults (``enabled``, ``benchmark``, ``deterministic``,
    ``allow_tf32``); gradkit has no cuDNN kernels, so ``is_available()`` is False."""

    enabled = True
    benchmark = False
    deterministic = False
    allow_tf32 = True

    @staticmethod
    def is_available() -> bool:
        """False: gradkit calls no cuDNN kernels."""
        return False


class _Mps:
    """``torch.backends.mps``: Apple's GPU, which gradkit has no backend for (``is_available()`` is False)."""

    @staticmethod
    def is_available() -> bool:
        """False: gradkit has no Metal backend."""
        return False

    @staticmethod
    def is_built() -> bool:
        """False: gradkit has no Metal backend."""
        return False


cuda = _Cuda()
cudnn = _Cudnn()
mps = _Mps()


_PRECISIONS = ("highest", "high", "medium")
_precision = ["highest"]


def set_float32_matmul_precision(precision: str) -> None:
    """Record torch's float32 matmul precision (``"highest"``, ``"high"`` or ``"medium"``), as
    ``torch.set_float32_matmul_precision``; like torch, anything but ``"highest"`` also sets
    ``cuda.matmul.allow_tf32``. It changes no computation: gradkit's matmuls are the backend's own.

    Raises:
        ValueError: another string (torch ignores it; gradkit says so rather than let a typo pass)."""
    if precision not in _PRECISIONS:
        raise ValueError(f"set_float32_matmul_precision: precision must be one of {_PRECISIONS}, got {precision!r}")
    _precision[0] = precision
    cuda.matmul.allow_tf32 = precision != "highest"


def get_float32_matmul_precision() -> str:
    """The precision last set by ``set_float32_matmul_precision`` (``"highest"`` at start-up), as torch's."""
    return _precision[0]
