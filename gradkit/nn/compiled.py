"""``OptimizedModule``: what ``gradkit.compile(module)`` returns, as ``torch.compile(module)`` does.

Source: PyTorch's ``torch._dynamo.eval_frame.OptimizedModule`` (the wrapper's name, its ``_orig_mod`` child and
the ``_orig_mod.`` prefix of its state dict's names, which nanoGPT's ``sample.py`` strips).
"""

from __future__ import annotations

from typing import Any

from .modules import Module

__all__ = ["OptimizedModule"]


class OptimizedModule(Module):
    """``module`` as ``torch.compile`` wraps it: calls, attributes and methods reach the wrapped module, which is
    the child ``_orig_mod``, so the state dict's names start with ``_orig_mod.`` as torch's do.

    The forward runs eagerly, with the wrapped module's numbers: gradkit compiles whole training steps
    (``gradkit.compile`` of a function that calls ``backward()`` and the optimizer), and a forward alone leaves a
    graph for a later ``backward()``, which a replayed program does not keep.

    Args:
        module: the ``Module`` to wrap.
    """

    def __init__(self, module: Module) -> None:
        self._orig_mod = module

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The wrapped module's forward."""
        return self._orig_mod(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        inner = vars(self).get("_orig_mod")
        if inner is None:
            raise AttributeError(f"'OptimizedModule' object has no attribute {name!r}")
        return getattr(inner, name)
