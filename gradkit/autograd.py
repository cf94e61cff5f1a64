"""The reverse-mode engine behind ``Tensor.backward``: grad mode, topological order, accumulation.

Each non-leaf tensor holds ``_parents`` (a tuple of tensors), ``_backward`` (a function from the output's
gradient array to one gradient array, or None, per parent) and ``_saved`` ((tensor, version) pairs for the
tensors whose data the backward reads). The backward functions capture arrays, never tensors, so nodes
and their backward functions form no reference cycles and the garbage collector has nothing to chase.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .tensor import Tensor

F = TypeVar("F", bound=Callable[..., Any])


_TENSOR: list[type[Tensor]] = []  # set by tensor.py (which imports this module)


class _GradMode:
    enabled = True


def is_grad_enabled() -> bool:
    """True unless inside ``no_grad()``."""
    return _GradMode.enabled


class no_grad:  # noqa: N801 (the name PyTorch users know)
    """Context manager and decorator: ops inside record no graph (for evaluation and optimizer updates).

    >>> with no_grad():
    ...     y = model(x)          # y.requires_grad is False
    """

    def __enter__(self) -> None:
        self._prev, _GradMode.enabled = _GradMode.enabled, False

    def __exit__(self, *exc: object) -> None:
        _GradMode.enabled = self._prev

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with no_grad():
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def _freed(_: Any) -> tuple:
    raise RuntimeError(
        "trying to backward through the graph a second time: its saved arrays were freed after the first "
        "backward(); call backward(retain_graph=True) the first time if you need to call it again"
    )


def topological_order(root: Tensor) -> list[Tensor]:
    """Every tensor that ``root`` depends on through recorded ops, parents before children, root last.

    Iterative depth-first search, so graphs of any depth work with the default recursion limit.
    """
    order: list[Tensor] = []
    visited: set[Tensor] = set()  # tensors hash by identity
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    push, pop, append, add = stack.append, stack.pop, order.append, visited.add
    while stack:
        node, expanded = pop()
        if expanded:
            append(node)
        elif node not in visited:
            add(node)
            push((node, True))
            for parent in node._parents:
                if parent not in visited:
                    push((parent, False))
    return order


def run_backward(root: Tensor, seed: Any, retain_graph: bool) -> None:
    """Propagate ``seed`` (an array of ``root``'s shape) from ``root`` to every leaf that requires grad.

    Leaf gradients accumulate into ``leaf.grad`` (out of place, so no buffer is shared); interior
    gradients live only during the call. Unless ``retain_graph``, each interior node's backward function
    and saved arrays are freed as soon as it has run.

    Raises:
        RuntimeError: a tensor saved for backward was changed in place after it was used (its version
            counter moved), or the graph was already freed by an earlier backward.
    """
    grads: dict[Tensor, Any] = {root: seed}
    pop, get = grads.pop, grads.get
    handed: set[int] = set()
    for node in reversed(topological_order(root)):
        g = pop(node, None)
        if g is None:
            continue
        backward = node._backward
        if backward is None:  # a leaf
            if node.requires_grad:
                _accumulate(node, g, handed)
            continue
        if node._version:
            raise RuntimeError(
                f"the output of {node._op} (shape {node.shape}) was modified in place after it was computed "
                f"(version 0 -> {node._version}), so its recorded backward no longer matches it; use an "
                "out-of-place op, or clone() it before changing it"
            )
        for saved, version in node._saved:
            if saved._version != version:
                raise RuntimeError(
                    f"a tensor of shape {saved.shape} needed by the backward of {node._op} was modified in place "
                    f"after it was used (version {version} -> {saved._version}); use an out-of-place op "
                    "(x = x + y instead of x += y), or clone() it before changing it"
                )
        for parent, pg in zip(node._parents, backward(g)):
            if pg is not None and parent.requires_grad:
                prev = get(parent)
                grads[parent] = pg if prev is None else prev + pg
        if not retain_graph:
            node._parents, node._saved, node._backward = (), (), _freed


def _accumulate(leaf: Tensor, g: Any, handed: set[int]) -> None:
    wrap = _TENSOR[0]._wrap  # plain Tensors, also for Parameter leaves
    if g.shape != leaf._data.shape or g.dtype != leaf._data.dtype:
        raise RuntimeError(f"internal error: gradient {g.shape} {g.dtype} for a leaf {leaf.shape} {leaf.dtype}")
    if leaf.grad is not None:
        leaf.grad = wrap(leaf.grad._data + g, leaf.backend)
        return
    if id(g) in handed or getattr(g, "base", g) is not None:  # a view or a shared buffer: copy it
        g = leaf.backend.xp.asarray(g, copy=True)
    handed.add(id(g))
    leaf.grad = wrap(g, leaf.backend)
