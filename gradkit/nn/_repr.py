"""How modules print, as PyTorch's ``nn.Module.__repr__``: the class name, ``extra_repr()`` and each child,
indented (``Sequential(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n  (1): Tanh()\n)``); a
``ModuleList`` folds runs of equal children (``(0-3): 4 x Block(...)``), as PyTorch 2's does.

Source: PyTorch's ``torch/nn/modules/module.py`` and ``container.py`` (the layout, not the code).
"""

from __future__ import annotations

from typing import Any


def _indent(text: str) -> str:
    """Every line but the first indented by two spaces."""
    first, *rest = text.split("\n")
    return "\n".join([first, *("  " + line for line in rest)])


def _wrap(name: str, extra: str, lines: list[str]) -> str:
    extra_lines = extra.split("\n") if extra else []
    body = extra_lines + lines
    if len(extra_lines) == 1 and not lines:
        return f"{name}({extra_lines[0]})"
    return f"{name}(" + ("\n  " + "\n  ".join(body) + "\n" if body else "") + ")"


def module_repr(module: Any) -> str:
    """``module`` as PyTorch prints it (see the module docstring)."""
    lines = [_indent(f"({name}): {child!r}") for name, child in module.named_children()]
    return _wrap(type(module).__name__, module.extra_repr(), lines)


def list_repr(module: Any) -> str:
    """A ``ModuleList``: runs of children that print alike folded into ``(i-j): n x child``."""
    reprs = [repr(m) for m in module]
    if not reprs:
        return f"{type(module).__name__}()"
    runs: list[list[Any]] = []
    for i, text in enumerate(reprs):
        if runs and runs[-1][2] == text:
            runs[-1][1] = i
        else:
            runs.append([i, i, text])
    lines = [_indent(f"({a}): {text}" if a == b else f"({a}-{b}): {b - a + 1} x {text}") for a, b, text in runs]
    return _wrap(type(module).__name__, "", lines)
