"""The recording half of ``gradkit.compile``: array proxies and the tape.

While a step is traced, every array the engine touches is a ``Traced`` proxy around the real array. Each
operation computes its real result at once (the traced call is the eager call, number for number) and appends
one entry to the ``Tape`` (an ``xp`` function, an operator, an index or index assignment, a backend hook), which
``gradkit._program`` turns into code. What cannot be replayed (a host read such as ``float()``, a raw array no
Tensor holds, host data moved to the device) is noted as a *reason*: the call goes on eagerly.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from .tensor import Tensor

#: Functions and methods whose result may share memory with their first array argument.
ALIASING = frozenset({"getitem", "T", "mT", "reshape", "permute_dims", "matrix_transpose", "broadcast_to",
                      "asarray", "astype", "squeeze", "expand_dims", "moveaxis", "transpose", "view", "swapaxes",
                      "ravel", "diagonal", "real", "imag", "flatten_view"})
#: Array methods the tape records (the engine calls only ``.T``/``.mT`` itself; these cover user code).
METHODS = frozenset({"reshape", "astype", "copy", "take", "sum", "max", "min", "mean", "transpose", "ravel",
                     "flatten", "squeeze", "swapaxes", "clip", "argmax", "argmin", "any", "all", "dot", "prod",
                     "std", "var", "round", "cumsum", "conj"})
_BINOPS = {"add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//", "mod": "%", "pow": "**",
           "matmul": "@", "and_": "&", "or_": "|", "xor": "^", "lshift": "<<", "rshift": ">>"}
_CMPOPS = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}


def tree_map(obj: Any, leaf: Callable[[Any], Any]) -> Any:
    """``obj``, whose tuples, lists, dicts and slices (an index key, a call's arguments) are rebuilt, with ``leaf``
    applied to everything else."""
    t = type(obj)
    if t is tuple:
        return tuple([tree_map(x, leaf) for x in obj])
    if t is list:
        return [tree_map(x, leaf) for x in obj]
    if t is dict:
        return {k: tree_map(v, leaf) for k, v in obj.items()}
    if t is slice:
        return slice(tree_map(obj.start, leaf), tree_map(obj.stop, leaf), tree_map(obj.step, leaf))
    return leaf(obj)


class Ref:
    """A traced value as the tape keeps it: its slot, its dtype's kind, and (for a value made from constants
    alone, which the program may fold) the value. The tape never keeps the arrays themselves, so a trace frees
    its temporaries as early as the eager call does."""

    __slots__ = ("_s", "kind", "value", "shape", "dtype", "ufunc_ok", "mutable")

    def __init__(self, slot: int, value: Any) -> None:
        dtype = getattr(value, "dtype", None)
        self._s, self.kind, self.value = slot, getattr(dtype, "kind", ""), None
        self.shape, self.dtype = getattr(value, "shape", None), dtype
        self.ufunc_ok = type(value) is np.ndarray  # numpy's out= works on it
        flags = getattr(getattr(value, "_array", value), "flags", None)  # (strict wraps a numpy array)
        self.mutable = flags is None or bool(getattr(flags, "writeable", True))  # the program may reuse it


class Tape:
    """One traced call: its entries, inputs, and the reasons it cannot be replayed."""

    def __init__(self, real_owns: Callable[[Any], bool]) -> None:
        self.entries: list[tuple] = []
        self.values: list[Ref] = []        # slot -> what the program needs to know of its value
        self.inputs: list[int] = []
        self.reasons: list[str] = []
        self.real_owns = real_owns
        self.input_ids: dict[int, Traced] = {}

    # slots and inputs
    def _new(self, value: Any) -> Traced:
        proxy = Traced(self, value, len(self.values))
        self.values.append(Ref(proxy._s, value))
        return proxy

    def freeze(self, obj: Any) -> Any:
        """``obj`` with every proxy replaced by its ``Ref`` (what an entry keeps)."""
        return tree_map(obj, lambda x: self.values[x._s] if type(x) is Traced else x)

    def input_array(self, value: Any) -> Traced:
        """The proxy of an input array (one proxy per array object, so aliases stay aliases)."""
        found = self.input_ids.get(id(value))
        if found is None:
            found = self.input_ids[id(value)] = self._new(value)
            self.inputs.append(found._s)
        return found

    def reason(self, text: str) -> None:
        if text not in self.reasons:
            self.reasons.append(text)

    def host_read(self, what: str) -> None:
        self.reason(f"{what} inside the step reads an array's value on the host (a logged number, or Python "
                    "control flow on array values); keep host reads outside the compiled function")

    # unwrapping arguments
    def unwrap(self, obj: Any, found: list) -> Any:
        """``obj`` with every proxy replaced by its real array (the proxies appended to ``found``)."""
        return tree_map(obj, lambda x: self._unwrap(x, found))

    def _unwrap(self, obj: Any, found: list) -> Any:
        if type(obj) is Traced:
            found.append(obj)
            return obj._v
        if isinstance(obj, Tensor):
            self.reason("an array operation received a Tensor where the engine passes arrays")
        elif isinstance(obj, np.ndarray) or (not isinstance(obj, np.generic) and self.real_owns(obj)):
            self.reason("the step computes with a raw array that no Tensor holds (host data, or an array kept "
                        "outside a Tensor): wrap it in a Tensor")
        return obj

    # recording
    def _result(self, value: Any, found: list, entry: tuple) -> Any:
        for proxy in found:  # an op that returned one of its operands (asarray, astype to the same dtype)
            if value is proxy._v:
                return proxy
        if isinstance(value, np.generic) or self.real_owns(value):
            proxy = self._new(value)
        else:
            if found:
                self.reason(f"an operation gave a {type(value).__name__}, which the tape does not record")
            return value
        if (all(self.values[p._s].value is not None for p in found)  # of constants alone (or of nothing)
                or (entry[0] == "call" and getattr(entry[1], "__name__", "") in ("zeros_like", "ones_like"))):
            self.values[proxy._s].value = value  # a constant the program may fold
        self.entries.append((entry[0], proxy._s, *self.freeze(entry[1:])))
        return proxy

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        found: list = []
        cargs, ckwargs = self.unwrap(args, found), self.unwrap(kwargs, found)
        value = fn(*cargs, **ckwargs)
        if not found and not (isinstance(value, np.generic) or self.real_owns(value)):
            return value  # metadata (isdtype, a dtype): nothing to record
        if "out" in ckwargs:
            self.reason("the step writes into an array with out=, which the tape does not record")
        elif not any(value is x for x in cargs) or any(value is p._v for p in found):
            return self._result(value, found, ("call", fn, args, kwargs))  # (an operand traced: its proxy)
        return value  # an operand that is not traced (the tape already has the reason), or written into

    def call_into(self, fn: Callable[..., Any], target: Any, *args: Any) -> Any:
        """A hook that writes into ``target`` where it can and returns it (``Backend.put``): recorded as a write
        (an entry with no result, as an index assignment) when it did, else as a call."""
        found: list = []
        value = fn(*self.unwrap((target, *args), found))
        if type(target) is Traced and value is target._v:
            self.entries.append(("icall", None, fn, self.freeze((target, *args))))
            return target
        return self._result(value, found, ("call", fn, (target, *args), {}))

    def binop(self, sym: str, fn: Callable[[Any, Any], Any], a: Any, b: Any) -> Any:
        found: list = []
        value = fn(self.unwrap(a, found), self.unwrap(b, found))
        return self._result(value, found, ("op", sym, a, b))

    def unary(self, sym: str, fn: Callable[[Any], Any], a: Any) -> Any:
        found: list = []
        return self._result(fn(self.unwrap(a, found)), found, ("unary", sym, a))

    def iop(self, sym: str, fn: Callable[[Any, Any], Any], a: Traced, b: Any) -> Any:
        found: list = []
        target = a._v
        value = fn(target, self.unwrap(b, found))
        if value is target:  # updated in place
            self.entries.append(("iop", a._s, sym, *self.freeze((a, b))))
            return a
        return self._result(value, [a, *found], ("call", fn, (a, b), {}))

    def getitem(self, a: Traced, key: Any) -> Any:
        found: list = []
        return self._result(a._v[self.unwrap(key, found)], [a, *found], ("getitem", a, key))

    def check(self, flag: Traced, error: Callable[[], Exception]) -> None:
        self.entries.append(("check", None, self.freeze(flag), error))

    def setitem(self, a: Traced, key: Any, value: Any) -> None:
        found: list = []
        a._v[self.unwrap(key, found)] = self.unwrap(value, found)
        self.entries.append(("setitem", None, *self.freeze((a, key, value))))

    def attr(self, a: Traced, name: str) -> Any:
        return self._result(getattr(a._v, name), [a], ("attr", a, name))

    def method(self, a: Traced, name: str, *args: Any, **kwargs: Any) -> Any:
        found: list = [a]
        value = getattr(a._v, name)(*self.unwrap(args, found), **self.unwrap(kwargs, found))
        return self._result(value, found, ("method", a, name, args, kwargs))


def raise_if(flag: Any, error: Callable[[], Exception]) -> None:
    """Raise ``error()`` when the 0-d boolean array ``flag`` is true (a check of the inputs, such as a target
    outside ``[0, C)``: one deliberate host read). Inside a ``gradkit.compile`` trace the check is recorded,
    and every replay makes it (on a CUDA graph: right after the launch)."""
    if type(flag) is Traced:
        flag._t.check(flag, error)
        flag = flag._v
    if bool(flag):
        raise error()


class Traced:
    """An array during a trace: shape, dtype and the other metadata are the real array's; every operation is
    computed on the real array and recorded."""

    __slots__ = ("_t", "_v", "_s")
    __array_priority__ = 2000

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """A numpy ufunc that met a proxy (a host array or a number on the left): computed and recorded."""
        return self._t.call(getattr(ufunc, method), *inputs, **kwargs)

    def __init__(self, tape: Tape, value: Any, slot: int) -> None:
        self._t, self._v, self._s = tape, value, slot

    shape, dtype, ndim, size, device = (property(operator.attrgetter(f"_v.{n}")) for n in
                                        ("shape", "dtype", "ndim", "size", "device"))
    # The layout (``Backend.contiguous``: does a reshape view or copy?) depends on the ops and shapes that made the
    # array, which a replay repeats, never on its values: read through, as the shape is.
    flags = property(lambda self: getattr(self._v, "_array", self._v).flags)  # (strict wraps a numpy array)
    T = property(lambda self: self._t.attr(self, "T"))
    mT = property(lambda self: self._t.attr(self, "mT"))  # noqa: N815 (numpy's name)

    @property
    def base(self) -> Any:
        """None for an array that owns its memory, as numpy's ``base`` (and self where the array has none)."""
        base = getattr(self._v, "base", self)
        return None if base is None else self

    def __getattr__(self, name: str) -> Any:
        if name in METHODS:
            return functools.partial(self._t.method, self, name)
        if name in ("item", "tolist", "__array__", "__dlpack__", "to_device", "get"):
            self._t.host_read(f".{name}()")
        else:
            self._t.reason(f"the step uses the array attribute .{name}, which the tape does not record")
        return getattr(self._v, name)

    def __repr__(self) -> str:
        return f"Traced(slot {self._s}, shape {tuple(self._v.shape)}, {self._v.dtype})"

    def __len__(self) -> int:
        return len(self._v)

    def __iter__(self) -> Any:
        self._t.reason("iterating over an array inside the step is not recorded")
        return iter(self._v)

    def __bool__(self) -> bool:
        value = bool(self._v)  # a branch: replayable as a guard when it depends on the minibatch alone
        self._t.entries.append(("branch", None, self._t.values[self._s], value))
        return value

    def __getitem__(self, key: Any) -> Any:
        return self._t.getitem(self, key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._t.setitem(self, key, value)

    def __abs__(self) -> Any:
        return self._t.call(abs, self)

    __hash__ = None  # type: ignore[assignment]


def _operators() -> None:
    for name, convert in {"float": float, "int": int, "index": operator.index}.items():  # host reads
        what = "an array used as a Python integer" if name == "index" else f"{name}() of an array"
        setattr(Traced, f"__{name}__", lambda self, _c=convert, _w=what: (self._t.host_read(_w), _c(self._v))[1])
    for name, sym in {"neg": "-", "pos": "+", "invert": "~"}.items():
        unary = getattr(operator, name)
        setattr(Traced, f"__{name}__", lambda self, _f=unary, _s=sym: self._t.unary(_s, _f, self))
    for name, sym in {**_BINOPS, **_CMPOPS}.items():
        fn = getattr(operator, name)
        dunder = name.rstrip("_")
        ifn = getattr(operator, f"i{dunder}", None)

        def fwd(self: Any, other: Any, _f: Any = fn, _s: str = sym) -> Any:
            if isinstance(other, Tensor):
                return NotImplemented
            return self._t.binop(_s, _f, self, other)

        setattr(Traced, f"__{dunder}__", fwd)
        if name in _CMPOPS:
            continue

        def rev(self: Any, other: Any, _f: Any = fn, _s: str = sym) -> Any:
            if isinstance(other, Tensor):
                return NotImplemented
            return self._t.binop(_s, _f, other, self)

        def inplace(self: Any, other: Any, _f: Any = ifn, _s: str = sym) -> Any:
            if isinstance(other, Tensor):
                return NotImplemented
            return self._t.iop(_s, _f, self, other)

        setattr(Traced, f"__r{dunder}__", rev)
        setattr(Traced, f"__i{dunder}__", inplace)


_operators()


class Namespace:
    """An ``xp`` namespace whose functions record: ``getattr(real_xp, name)`` wrapped by ``Tape.call``;
    dtypes and constants pass through."""

    def __init__(self, tape: Tape, xp: Any) -> None:
        self._tape, self._xp = tape, xp

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._xp, name)
        if callable(real) and not isinstance(real, type):
            real = functools.partial(self._tape.call, real)
        setattr(self, name, real)
        return real
