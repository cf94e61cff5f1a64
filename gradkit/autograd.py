"""The reverse-mode engine behind ``Tensor.backward``: grad mode, topological order, accumulation.

Each non-leaf tensor holds ``_node``, a ``Node``: its parents' edges, its backward function and the versions
of the tensors that backward reads. The backward functions capture arrays, never tensors, so nodes and their
backward functions form no reference cycles and the garbage collector has nothing to chase.
"""

from __future__ import annotations

import functools
import inspect
import operator
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


_GradMode = _GradState()  # read by Tensor._grad_fn on every op


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


class Node:
    """One recorded op (torch's ``grad_fn``): what a non-leaf tensor's values were computed from.

    ``parents`` holds one edge per input: a ``Node`` (an input computed by another op), a ``Tensor`` (a leaf
    that requires grad: its gradient accumulates into ``.grad``) or None (an input without a gradient).
    ``backward(g)`` maps the output's gradient array to one gradient array (or None) per parent. ``saved`` holds
    ``(storage, version, tensor description)`` for each tensor whose data the backward reads: a change made in
    place since then is an error at ``backward()``, as in torch. ``retain`` is a weak reference to the tensor
    whose ``.grad`` keeps this node's gradient (``retain_grad()``), or None.

    Tensors point at nodes, nodes never at the tensors they made: an in-place op gives a tensor a new node (its
    history rebased, as torch's CopySlices) while the nodes recorded earlier keep their inputs.
    """

    __slots__ = ("parents", "backward", "saved", "op", "retain")

    def __init__(self, parents: tuple, backward: Callable[[Any], Any], saved: tuple, op: str) -> None:
        self.parents, self.backward, self.saved, self.op = parents, backward, saved, op
        self.retain: Any = None

    def __repr__(self) -> str:
        return f"<{self.op} node>"

    def name(self) -> str:
        """torch's name for ``grad_fn``'s class, e.g. ``MulBackward0``."""
        return "".join(part.capitalize() for part in self.op.split("_")) + "Backward0"


def topological_order(root: Node) -> list[Node]:
    """Every node that ``root`` depends on, parents before children, root last (leaf tensors are not nodes).

    Iterative depth-first search, so graphs of any depth work with the default recursion limit.
    """
    order: list[Node] = []
    visited: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    push, pop, append, add = stack.append, stack.pop, order.append, visited.add
    while stack:
        node, expanded = pop()
        if expanded:
            append(node)
        elif id(node) not in visited:
            add(id(node))
            push((node, True))
            for parent in node.parents:
                if type(parent) is Node and id(parent) not in visited:
                    push((parent, False))
    return order


def run_backward(root: Tensor, seed: Any, retain_graph: bool) -> None:
    """Propagate ``seed`` (an array of ``root``'s shape) from ``root`` to every leaf that requires grad.

    Leaf gradients go into ``leaf.grad``: a first gradient as a new tensor (a copy where the array is shared),
    later ones added in place, as torch's AccumulateGrad (every reference to ``.grad`` sees the sum); interior gradients
    live only during the call. Unless ``retain_graph``, each node's backward function and saved arrays are freed
    as soon as it has run.

    Raises:
        RuntimeError: a tensor saved for backward was changed in place after it was used (its version counter
            moved), or the graph was already freed by an earlier backward.

    Floating-point specials (inf, nan) are IEEE results, as in torch: numpy's warnings about them are off here.
    """
    with np.errstate(all="ignore"):
        if root._grad_fn is None:
            _accumulate(root, seed, set())
        else:
            _propagate(root._grad_fn, seed, retain_graph)


def _propagate(root: Node, seed: Any, retain_graph: bool) -> None:
    grads: dict[int, Any] = {id(root): seed}
    leaves: dict[int, tuple[Tensor, Any]] = {}
    pop, get = grads.pop, grads.get
    for node in reversed(topological_order(root)):
        g = pop(id(node), None)
        if g is None:
            continue
        for st, version, what in node.saved:
            if st.version != version:
                raise RuntimeError(
                    f"one of the variables needed for gradient computation has been modified by an inplace "
                    f"operation: {what}, saved by {node.name()}, is at version {st.version}; expected version "
                    f"{version} instead. Use an out-of-place op (x = x + y instead of x += y), or clone() the "
                    "tensor before changing it")
        if node.retain is not None:
            _retain(node.retain, g)
        for parent, pg in zip(node.parents, node.backward(g)):
            if pg is None or parent is None:
                continue
            if type(parent) is Node:
                prev = get(id(parent))
                grads[id(parent)] = pg if prev is None else prev + pg
            elif parent.requires_grad:
                prev_leaf = leaves.get(id(parent))
                leaves[id(parent)] = (parent, pg if prev_leaf is None else prev_leaf[1] + pg)
        if not retain_graph:
            node.parents, node.saved, node.backward = (), (), _freed
    handed: set[int] = set()
    for leaf, g in leaves.values():
        _accumulate(leaf, g, handed)


def _retain(ref: Any, g: Any) -> None:
    t = ref()
    if t is not None:
        kept = t.backend.xp.asarray(g, copy=True)
        t.grad = _TENSOR[0]._wrap(kept if t.grad is None else t.grad._data + kept, t.backend)


def _accumulate(leaf: Tensor, g: Any, handed: set[int]) -> None:
    wrap = _TENSOR[0]._wrap  # plain Tensors, also for Parameter leaves
    if g.shape != leaf._data.shape or g.dtype != leaf._data.dtype:
        raise RuntimeError(f"internal error: gradient {g.shape} {g.dtype} for a leaf {leaf.shape} {leaf.dtype}")
    if leaf.grad is not None:  # in place, as torch's AccumulateGrad: a reference to .grad sees the sum
        with no_grad():
            leaf.grad._assign(g, op=operator.iadd)
        return
    if id(g) in handed or getattr(g, "base", g) is not None:  # a view or a shared buffer: copy it
        g = leaf.backend.xp.asarray(g, copy=True)
    handed.add(id(g))
    leaf.grad = wrap(g, leaf.backend)
