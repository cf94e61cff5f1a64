"""The one door through which a Tensor's contents change (``Tensor._assign``), and the storage rules behind it.

PyTorch's semantics, on every backend:

- **Storage.** A tensor that owns its array (a *root*) and every view or alias of it (basic slices, ``view``,
  ``transpose``, ``expand``, ``detach``, ``.data``) share one ``Storage``: a version counter and a registry of
  the live aliases. A write through any of them is seen by all, and bumps the one counter.
- **In place where that is safe.** A write with no graph to record, into a writeable array whose root was not
  computed by a recorded op, is made in the array itself (numpy and CuPy views see it at once).
- **Rebinding otherwise.** Where the array refuses writes (an immutable backend, a broadcast view, numpy's 0-d
  reduction results) or where recorded ops may still read the old values, the root gets a NEW array, computed
  functionally, and every registered alias is recomputed from it by its view function. The old array stays
  intact for the backward functions that captured it (torch clones ``original_self`` for the same reason).
- **Recorded.** In grad mode, a write that involves a tensor requiring grad is recorded: the written tensor's
  history is rebased onto a node whose backward routes the gradient to the old contents (outside the written
  region) and to the written value (inside it), as torch's CopySlices; the root's views get fresh view nodes.
  A tensor that did not require grad starts to when it receives values that do (``dC[ix] += demb[k, j]``).

Regions are described by flat indices into the root (``arange`` of the root, viewed and indexed the same way as
the target), so one mechanism serves every key and every view, and it needs only ``take``/``put`` of the backend.
"""

from __future__ import annotations

import math
import operator
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import autograd
from .autograd import Node

if TYPE_CHECKING:
    from .tensor import Tensor

_LEAF = "a leaf Variable that requires grad is being used in an in-place operation."
_LEAF_VIEW = "a view of a leaf Variable that requires grad is being used in an in-place operation."
_OVERLAP = ("unsupported operation: more than one element of the written-to tensor refers to a single memory "
            "location. Please clone() the tensor before performing the operation.")
_OVERLAPPING_OPS = frozenset({"expand", "expand_as", "broadcast_to"})


class Storage:
    """What a root tensor shares with its views and aliases: ``version`` (torch's ``_version``) and ``views``
    (weak references to the live aliases, pruned as they die)."""

    __slots__ = ("version", "views", "_cap")

    def __init__(self) -> None:
        self.version = 0
        self.views: list[weakref.ref] = []
        self._cap = 16

    def register(self, t: Tensor) -> None:
        views = self.views
        views.append(weakref.ref(t))
        if len(views) > self._cap:
            views[:] = [r for r in views if r() is not None]
            self._cap = max(16, 2 * len(views))

    def live(self) -> list[Tensor]:
        return [t for t in (r() for r in self.views) if t is not None]


class View:
    """How an alias derives from its root: ``fn(root array) -> this array``; ``diff``: a view whose gradient
    flows to the root (not ``detach``/``.data``); ``overlaps``: elements share memory (``expand``);
    ``tracked``: its writes move the version counter (all but ``.data``, as in torch)."""

    __slots__ = ("root", "fn", "diff", "overlaps", "tracked")

    def __init__(self, root: Tensor, fn: Callable[[Any], Any], diff: bool, overlaps: bool,
                 tracked: bool = True) -> None:
        self.root, self.fn, self.diff, self.overlaps, self.tracked = root, fn, diff, overlaps, tracked


def storage(t: Tensor) -> Storage:
    """``t``'s storage, made on first use (a root's; aliases get their root's when they are made)."""
    st = t._st
    if st is None:
        st = t._st = Storage()
    return st


def saved(tensors: tuple[Any, ...], output: Tensor) -> tuple[tuple[Storage, int, str], ...]:
    """The version stamps a node keeps for the tensors its backward reads (``OUTPUT``: ``output``)."""
    out = []
    for t in tensors:
        if not isinstance(t, _TENSOR[0]):
            t = output
        st = t._st or storage(t)
        out.append((st, st.version, _describe(t)))
    return tuple(out)


def _describe(t: Tensor) -> str:
    return f"a tensor of shape {tuple(t._data.shape)}"


def _identity(x: Any) -> Any:
    return x


def overlaps(t: Tensor) -> bool:
    """True when ``t`` is a view whose elements share memory (``expand``): it reads as a broadcast and is not
    contiguous, whatever layout the backend's array has (numpy's small broadcasts are filled copies)."""
    return t._view is not None and t._view.overlaps


def _register(t: Tensor, out: Tensor, fn: Callable[[Any], Any], diff: bool, overlaps: bool) -> Tensor:
    """``out`` (whose array is ``fn(t._data)``) made an alias of ``t``'s root."""
    view = t._view
    if view is None:
        root = t
    else:
        root, inner = view.root, view.fn
        if inner is not _identity:
            fn = inner if fn is _identity else _compose(inner, fn)
        diff, overlaps = diff and view.diff, overlaps or view.overlaps
    st = root._st or storage(root)
    out._st = st
    out._view = View(root, fn, diff, overlaps)
    st.register(out)
    return out


def _compose(f: Callable[[Any], Any], g: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``g`` after ``f``: a view of a view, from its root."""
    return lambda x: g(f(x))


def alias(t: Tensor, tracked: bool = True) -> Tensor:
    """A tensor on ``t``'s storage outside the graph: ``detach()``, or with ``tracked=False`` ``.data`` (whose
    writes torch keeps out of the version counter on purpose)."""
    out = _register(t, _TENSOR[0]._wrap(t._data, t.backend), _identity, False, False)
    out._view.tracked = tracked
    return out


def view(a: Tensor, fn: Callable[[Any], Any], backward: Callable[[Any], Any], op: str) -> Tensor:
    """The tensor of a view op (see ``ops.view_op``)."""
    out = _TENSOR[0]._node(fn(a._data), (a,), backward, op)
    return _register(a, out, fn, True, op in _OVERLAPPING_OPS)


# ---------------------------------------------------------------------------------------------------- the door
_OUT_OF_PLACE = {operator.iadd: operator.add, operator.isub: operator.sub, operator.imul: operator.mul,
                 operator.itruediv: operator.truediv}


def _views(key: Any) -> bool:
    """A key of basic indexing alone (ints, slices, None, ...): ``x[key]`` is a view of ``x``."""
    keys = key if isinstance(key, tuple) else (key,)
    return key is not None and all(k is None or k is Ellipsis or isinstance(k, (int, slice)) for k in keys)


def assign(t: Tensor, value: Any, key: Any, op: Callable[[Any, Any], Any] | None, result: bool = False) -> Tensor:
    """``Tensor._assign``: see its docstring and this module's."""
    Tensor = _TENSOR[0]
    view = t._view
    if view is not None and view.overlaps:
        raise RuntimeError(_OVERLAP)
    recorded = autograd._GradMode.enabled and (t.requires_grad or (isinstance(value, Tensor) and value.requires_grad))
    if recorded:
        if t._grad_fn is None and t.requires_grad and (view is None or not view.diff):
            raise RuntimeError(_LEAF_VIEW if _views(key) else _LEAF)  # (torch's x[0] = ... writes a view of x)
        if view is not None and view.diff and view.root._grad_fn is None and view.root.requires_grad:
            raise RuntimeError(_LEAF_VIEW)
    root = t if view is None else view.root
    if not recorded and root._grad_fn is None and t.backend.writeable(t._data):
        if _in_place(t, value, key, op):
            if view is None or view.tracked:
                (t._st or storage(t)).version += 1
            return t
    fresh = op is not None
    if op is not None:  # the out-of-place op, recorded like any other (torch's in-place ops are differentiable)
        value = _combine(t, value, op)
    reader = _reader(t, value) if (fresh or result) and recorded else None
    fresh = fresh or reader is not None
    src = _as_source(t, value)
    if key is None and view is None:
        _replace_root(t, src, recorded, fresh and src is value)
    else:
        _write_region(t, root, src, key, recorded)
    st = t._st or storage(t)
    if view is None or view.tracked:
        st.version += 1
    if reader is not None:
        _restamp(reader, st)
    return t


def _reader(t: Tensor, value: Any) -> Node | None:
    """The node of ``value``, an op's result just computed from ``t`` (``_combine``'s, or an in-place method's
    out-of-place twin), that read ``t``: ``value``'s own node, or the one under its cast to ``t``'s dtype. None
    when ``value`` is not such a result (``t`` itself, a view, a tensor computed from something else)."""
    if not isinstance(value, _TENSOR[0]) or value is t or value._view is not None or value._grad_fn is None:
        return None
    edge = _edge(t)
    node = value._grad_fn
    for _ in range(2):  # the op's node, or the op's node under an ``astype``
        if any(p is edge for p in node.parents):
            return node
        if node.op != "astype" or not isinstance(node.parents[0], Node):
            return None
        node = node.parents[0]
    return None


def _restamp(node: Node, st: Storage) -> None:
    """The in-place op's own reading of its first operand (``self``) needs no check: a recorded write rebinds, so
    the array that op saved is never changed again (torch saves ``original_self`` for the same reason). A second
    reading of the same storage (``x *= x``: ``other`` is ``self``) stays checked, and raises as in torch."""
    saved = list(node.saved)
    for i, (s, _, _) in enumerate(saved):
        if s is st:
            del saved[i]
            break
    node.saved = tuple(saved)


def rebind(t: Tensor, array: Any, backend: Any = None, *, untracked: bool = False) -> None:
    """``t``'s contents become ``array``, of ``backend`` (default: ``t``'s). ``Module.to`` and the optimizers'
    moves: with the same shape, dtype and backend, every alias follows and the version moves; otherwise ``t``
    leaves its storage, whose other aliases keep the old contents. ``untracked`` (``t.data = array``, as
    PyTorch's ``set_data``): ``t`` always leaves its storage, and no version moves."""
    if untracked or (backend is not None and backend != t.backend):
        t._data, t.backend, t._view, t._st = array, backend or t.backend, None, None
        return
    if tuple(array.shape) == t.shape and array.dtype == t._data.dtype:
        if t._view is None:
            _set_root(t, array)
        else:
            _write_region(t, t._view.root, _TENSOR[0]._wrap(array, t.backend), None, False)
        (t._st or storage(t)).version += 1
        return
    t._data, t._view, t._st = array, None, None


def _in_place(t: Tensor, value: Any, key: Any, op: Callable[[Any, Any], Any] | None) -> bool:
    """The write made in ``t``'s own array (the caller checked it may be); False where it must be rebound."""
    target = t._data
    if key is None and op is not None:  # the optimizers' updates: checks that cannot fail are skipped
        kind = type(value)
        if (kind is float or kind is int) and _floats(t, target.dtype):
            op(target, float(value))
            return True
        if (kind is type(target) or t.backend.owns(value)) and value.dtype == target.dtype and (
                value.shape == target.shape or not value.shape):
            op(target, value)
            return True
    from . import indexing

    v = _operand(t, value)
    if key is not None:
        indexing.write(t, key, v)
        return True
    if op is None:
        target[...] = v if not hasattr(v, "shape") or v.dtype == target.dtype else t.backend.xp.astype(v, target.dtype)
        return True
    check_result(t, v)
    if hasattr(v, "shape") and v.dtype != target.dtype:
        v = t.backend.xp.astype(v, target.dtype)
    op(target, v)
    return True


def _floats(t: Tensor, dtype: Any) -> bool:
    """True for a real floating dtype of ``t``'s backend (one dict lookup after the first)."""
    from .ops import _category

    return _category(t.backend, dtype) == 2


def _operand(t: Tensor, value: Any) -> Any:
    """``value`` as a number or an array of ``t``'s backend (a Python bool or int becomes ``t``'s kind of number)."""
    from .tensor import _operand_data

    v = _operand_data(t, value)
    if isinstance(v, bool) and t._data.dtype != t.backend.xp.bool:
        v = int(v)
    if isinstance(v, int) and t.backend.xp.isdtype(t._data.dtype, "real floating"):
        v = float(v)
    return v


def check_result(t: Tensor, v: Any) -> None:
    """torch's errors for an in-place op whose result cannot live in ``t``: a dtype of a higher category, a
    broadcast shape larger than ``t``'s."""
    from . import ops

    be = t.backend
    arrays = [v] if hasattr(v, "shape") else []
    result = ops.result_dtype(be, [t._data, *arrays], [] if arrays else [v])
    if ops._category(be, result) > ops._category(be, t._data.dtype):
        raise RuntimeError(f"result type {_torch_name(result)} can't be cast to the desired output type "
                           f"{_torch_name(t._data.dtype)}")
    if arrays and tuple(v.shape) != t.shape:
        shape = _broadcast(t.shape, tuple(v.shape))
        if shape != t.shape:
            raise RuntimeError(f"output with shape {list(t.shape)} doesn't match the broadcast shape {list(shape)}")


def _torch_name(dtype: Any) -> str:
    from . import dtypes

    name = dtypes.of(dtype).name
    return {"float32": "Float", "float64": "Double", "int64": "Long", "int32": "Int", "bool": "Bool",
            "float16": "Half", "int16": "Short", "int8": "Char", "uint8": "Byte"}.get(name, name)


def _broadcast(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    try:
        import numpy as np

        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        raise RuntimeError(f"the shape {list(b)} of the value does not broadcast to the shape {list(a)} of the "
                           "tensor written in place") from None


def _combine(t: Tensor, value: Any, op: Callable[[Any, Any], Any]) -> Tensor:
    """``op``'s out-of-place twin applied to ``t`` (recorded), checked to fit ``t``'s dtype and shape."""
    from . import ops

    if isinstance(value, _TENSOR[0]):
        ops._as_tensor(t, value)  # another backend: DeviceMismatchError with the fix
        check_result(t, value._data)
    else:
        check_result(t, _operand(t, value))
    return _OUT_OF_PLACE[op](t, value)


def _as_source(t: Tensor, value: Any) -> Tensor:
    """``value`` as a Tensor of ``t``'s dtype (a recorded cast when it is another float dtype)."""
    Tensor = _TENSOR[0]
    if isinstance(value, Tensor):
        from . import ops

        ops._as_tensor(t, value)
        src = value
    else:
        v = _operand(t, value)
        src = Tensor._wrap(v if hasattr(v, "shape") else t.backend.full((), v, t._data.dtype), t.backend)
    if src._data.dtype != t._data.dtype:
        src = src.astype(t._data.dtype) if t.backend.xp.isdtype(t._data.dtype, "real floating") else \
            Tensor._wrap(t.backend.xp.astype(src._data, t._data.dtype), t.backend)
    return src


def _fit(src: Tensor, shape: tuple[int, ...]) -> Tensor:
    """``src`` without the leading size-1 axes it has beyond ``shape``'s (torch drops them: ``logits[i] =
    model(x[[i]])`` writes a ``(1, V)`` row into a ``(V,)`` region), checked to broadcast to ``shape``."""
    extra = src.ndim - len(shape)
    if extra > 0:
        if any(n != 1 for n in src.shape[:extra]):
            raise RuntimeError(f"the shape {list(src.shape)} of the value does not broadcast to the shape "
                               f"{list(shape)} of the tensor written in place")
        src = src.reshape(src.shape[extra:])
    _broadcast(shape, src.shape)
    return src


def _edge(t: Tensor) -> Any:
    return (t._grad_fn or t) if t.requires_grad else None


def _replace_root(t: Tensor, src: Tensor, recorded: bool, fresh: bool) -> None:
    """All of the root ``t`` replaced by ``src`` (broadcast), rebinding its array; ``fresh``: ``src`` was made
    for this write (its array and node may be taken over)."""
    xp = t.backend.xp
    shape = t.shape
    same = tuple(src._data.shape) == shape
    if not same:
        src = _fit(src, shape)
    new = src._data if same and fresh else xp.asarray(xp.broadcast_to(src._data, shape), copy=True)
    if recorded:
        old = t._grad_fn
        if same and fresh and src._grad_fn is not None:
            node = src._grad_fn
        else:  # torch's copy_/fill_/zero_: zeros to the old contents (so a node that saved them checks them)
            from .ops import _unbroadcast

            keep = src.requires_grad
            node = Node((_edge(t), _edge(src) if keep else None),
                        lambda g: (xp.zeros_like(g), _unbroadcast(g, src) if keep else None), (), "copy")
        if old is not None and old.retain is not None:
            node.retain = old.retain  # retain_grad() follows the tensor, as torch's hook does
        t._grad_fn, t.requires_grad = node, True
    _set_root(t, new, recorded)


def _region(t: Tensor, root: Tensor, key: Any) -> Any:
    """The flat indices into ``root`` of ``t[key]`` (``key=None``: all of ``t``), an integer array of the
    region's shape."""
    be = t.backend
    ids = be.xp.reshape(be.arange(math.prod(root.shape)), root.shape)
    if t._view is not None:
        ids = t._view.fn(ids)
    if key is None:
        return ids
    with autograd.no_grad():
        return _TENSOR[0]._wrap(ids, be)[key]._data


def _write_region(t: Tensor, root: Tensor, src: Tensor, key: Any, recorded: bool) -> None:
    """``t[key] = src`` through ``root``'s array, rebinding it (the functional path)."""
    be, xp = t.backend, t.backend.xp
    data_ids = _region(t, root, key)
    shape = tuple(data_ids.shape)
    src = _fit(src, shape)
    flat_ids = xp.reshape(data_ids, (-1,))
    values = xp.reshape(xp.broadcast_to(src._data, shape), (-1,))
    new = xp.reshape(be.put(xp.asarray(xp.reshape(root._data, (-1,)), copy=True), flat_ids, values), root.shape)
    diff = t._view is None or t._view.diff
    if recorded:
        base = root if diff else t
        ids = flat_ids if diff else xp.reshape(_region_of_self(t, key), (-1,))
        base._grad_fn = _copy_slices(base, ids, shape, src)
        base.requires_grad = True
    _set_root(root, new, recorded and diff)


def _region_of_self(t: Tensor, key: Any) -> Any:
    """The flat indices into ``t`` itself of ``t[key]`` (for an alias outside the graph of its root)."""
    be = t.backend
    ids = be.xp.reshape(be.arange(math.prod(t.shape)), t.shape)
    if key is None:
        return ids
    with autograd.no_grad():
        return _TENSOR[0]._wrap(ids, be)[key]._data


def _copy_slices(base: Tensor, ids: Any, shape: tuple[int, ...], src: Tensor) -> Node:
    """The node of ``base`` after ``src`` was written at the flat indices ``ids`` (torch's CopySlices): the
    gradient of the old contents is zero inside the region, the value's is the region's gradient."""
    from .ops import _unbroadcast

    be, xp = base.backend, base.backend.xp
    base_shape = base.shape

    def backward(g: Any) -> tuple[Any, Any]:
        flat = xp.reshape(g, (-1,))
        old = xp.reshape(be.put(xp.asarray(flat, copy=True), ids, be.zeros(ids.shape, g.dtype)), base_shape)
        return old, _unbroadcast(xp.reshape(xp.take(flat, ids, axis=0), shape), src)

    return Node((_edge(base), _edge(src)), backward, (), "copy_slices")


def _set_root(root: Tensor, new: Any, recorded: bool = False) -> None:
    """``root``'s array becomes ``new``; every live alias is recomputed from it (and, after a recorded write,
    every differentiable view gets a node on the root's new history)."""
    root._data = new
    st = root._st
    if st is None:
        return
    for alias in st.live():
        view = alias._view
        if view is None or view.root is not root:
            continue
        alias._data = view.fn(new)
        if recorded and view.diff:
            alias._grad_fn = _view_node(root, view.fn, alias.shape)
            alias.requires_grad = True


def _view_node(root: Tensor, fn: Callable[[Any], Any], shape: tuple[int, ...]) -> Node:
    """A view's node on its root's current history: the view's gradient scattered back through ``fn``."""
    be, xp = root.backend, root.backend.xp
    n, root_shape = math.prod(root.shape), root.shape
    ids = xp.reshape(fn(xp.reshape(be.arange(n), root_shape)), (-1,))

    def backward(g: Any) -> tuple[Any]:
        summed = be.scatter_add(be.zeros((n,), g.dtype), ids, xp.reshape(g, (-1,)))
        return (xp.reshape(summed, root_shape),)

    return Node((_edge(root),), backward, (), "as_strided")


_TENSOR: list[Any] = autograd._TENSOR
