"""The reverse-mode engine behind ``Tensor.backward``: grad mode, topological order, accumulation.

Each non-leaf tensor holds ``_parents`` (a tuple of tensors), ``_backward`` (a function from the output's
gradient array to one gradient array, or None, per parent) and ``_saved`` ((tensor, version) pairs for the
tensors whose data the backward reads). The backward functions capture arrays, never tensors, so nodes
and their backward functions form no reference cycles and the garbage collector has nothing to chase.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

if TYPE_CHECKING:
    from .tensor import Tensor

F = TypeVar("F", bound=Callable[..., Any])


_TENSOR: list[type[Tensor]] = []  # set by tensor.py (which imports this module)


class _GradState(threading.local):
    """Whether ops record a graph, per thread (as torch's grad mode): ``enabled``, True by default."""

    enabled = True


_GradMode = _GradState()  # read by Tensor._node on every op


def is_grad_enabled() -> bool:
    """True unless this thread is inside ``no_grad()`` (or ``set_grad_enabled(False)``)."""
    return _GradMode.enabled


class _GradModeContext:
    """A context manager and decorator that sets this thread's grad mode to ``mode`` and restores it on exit.

    As a decorator of a generator function it holds at every resumption of the generator (and is restored
    between them), as torch's ``_DecoratorContextManager`` does.
    """

    mode = True

    def __enter__(self) -> None:
        self._prev = _GradMode.enabled
        _GradMode.enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        _GradMode.enabled = self._prev

    def clone(self) -> _GradModeContext:
        return type(self)()

    def __call__(self, fn: F) -> F:
        if inspect.isgeneratorfunction(fn):
            return _wrap_generator(self.clone, fn)  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.clone():
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def _wrap_generator(context: Callable[[], _GradModeContext], fn: Callable[..., Generator]) -> Callable[..., Generator]:
    """``fn`` (a generator function) with ``context()`` entered around each step of the generator it returns."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Generator:
        gen = fn(*args, **kwargs)
        try:
            with context():
                response = gen.send(None)
            while True:
                try:
                    request = yield response
                except GeneratorExit:
                    with context():
                        gen.close()
                    raise
                except BaseException as exc:
                    with context():
                        response = gen.throw(exc)
                else:
                    with context():
                        response = gen.send(request)
        except StopIteration as stop:
            return stop.value

    return wrapper


class no_grad(_GradModeContext):  # noqa: N801 (the name PyTorch users know)
    """Context manager and decorator: ops inside record no graph (for evaluation and optimizer updates).

    Per thread, as torch's: another thread keeps its own mode. ``@no_grad`` and ``@no_grad()`` both decorate;
    a decorated generator function runs each of its steps without grad.

    >>> with no_grad():
    ...     y = model(x)          # y.requires_grad is False
    """

    mode = False

    def __new__(cls, fn: Any = None) -> Any:
        if fn is None:
            return super().__new__(cls)
        return super().__new__(cls)(fn)  # ``@no_grad`` without parentheses


class enable_grad(_GradModeContext):  # noqa: N801 (torch's name)
    """Context manager and decorator: ops inside record a graph, also inside ``no_grad`` (per thread)."""

    mode = True

    def __new__(cls, fn: Any = None) -> Any:
        if fn is None:
            return super().__new__(cls)
        return super().__new__(cls)(fn)


class set_grad_enabled(_GradModeContext):  # noqa: N801 (torch's name)
    """``set_grad_enabled(mode)``: sets this thread's grad mode at once (as a plain call), or for a ``with``
    block (restored on exit), or for a decorated function, as ``torch.set_grad_enabled``."""

    def __init__(self, mode: bool) -> None:
        self._prev = _GradMode.enabled
        self.mode = bool(mode)
        _GradMode.enabled = self.mode

    def __enter__(self) -> None:
        _GradMode.enabled = self.mode

    def clone(self) -> _GradModeContext:
        return set_grad_enabled(self.mode)

    def __call__(self, fn: F) -> F:
        _GradMode.enabled = self._prev  # as a decorator, the call above must not change the mode
        return super().__call__(fn)


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

    Floating-point specials (inf, nan) are IEEE results, as in torch: numpy's warnings about them are off here.
    """
    with np.errstate(all="ignore"):
        _propagate(root, seed, retain_graph)


def _propagate(root: Tensor, seed: Any, retain_graph: bool) -> None:
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
        if node._vc[0] != node._born and node._born >= 0:
            raise RuntimeError(
                f"the output of {node._op} (shape {node.shape}) was modified in place after it was computed "
                f"(version {node._born} -> {node._version}), so its recorded backward no longer matches it; use an "
                "out-of-place op, or clone() it before changing it"
            )
        for saved, version in node._saved:
            if saved._vc[0] != version:
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
