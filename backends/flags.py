"""PyTorch's backend switches, as ``torch.backends.cuda``, ``torch.backends.cudnn`` and ``torch.backends.mps``.

Scripts written for torch set them at start-up (nanoGPT: ``torch.backends.cuda.matmul.allow_tf32 = True``), so
they exist here with torch's names and defaults. They are recorded, and read by nothing yet: gradkit's CuPy
matmul follows CuPy's own setting (the ``CUPY_TF32`` environment variable), and gradkit has no cuDNN kernels
(no convolutions) and no Apple-GPU backend. ``gradkit.backends`` is this package, so
``gradkit.backends.cuda.matmul.allow_tf32`` is torch's spelling.
"""

from __future__ import annotations

__all__ = ["cuda", "cudnn", "mps"]


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
