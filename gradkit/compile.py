"""``gradkit.compile``: a training step traced once and replayed as a flat program of backend calls.

>>> @gradkit.compile
... def step(ix):
...     loss = F.cross_entropy(model(Xtr[ix]), Ytr[ix])
...     optimizer.zero_grad()
...     loss.backward()
...     optimizer.step()
...     return loss

While a call is traced, every array the engine touches is a recording proxy (``gradkit._trace``): a Tensor the
step reads but did not create is an input, wherever it was found, and one written through the door
(``Tensor._assign``) or whose ``.grad`` is set is an output. The tape becomes one Python function
(``gradkit._program``) that later calls run on the inputs' current arrays, behind guards on the Python state the
step can reach (``World``); what it cannot replay runs eagerly with a ``GradkitCompileWarning``. docs/compile.md
has the rules: signatures, guards, ``_unguarded``, what runs eagerly, what compile cannot see, CUDA graphs.
"""

from __future__ import annotations

import builtins
import copy
import dis
import functools
import itertools
import re
import types
import warnings
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from gradkit.backends import Backend, get_backend

from . import _inplace, autograd
from ._cudagraph import GraphRunner
from ._program import MISS, Consts, Program
from ._trace import Namespace, Tape, Traced, tree_map
from .tensor import Tensor

__all__ = ["Compiled", "GradkitCompileWarning", "compile"]

_IMMUTABLE = (type(None), bool, int, float, str, np.generic, Backend)
_HOOKS = ("zeros", "full", "arange", "astype", "scatter_add", "scratch")
_OPAQUE = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType, type,
           functools.partial, np.ndarray, Tensor, weakref.ref)
_MAX_DEPTH, _MAX_CELLS = 8, 20000


class GradkitCompileWarning(UserWarning):
    """A compiled function runs eagerly for some inputs; the message says why and how to avoid it."""


def compile(fn: Callable[..., Any] | None = None, *, state: Any = (), max_traces: int = 16,
            cuda_graphs: Any = True) -> Any:  # noqa: A001 (the name PyTorch users know: torch.compile)
    """``fn`` traced on its second call per signature and replayed afterwards (see the module docstring).

    Usable as ``compile(fn)``, ``@compile`` or ``@compile(max_traces=4)``.

    Args:
        fn: the step. Its state is found while tracing: arguments, closures, globals and what they hold. A
            ``Module`` gets torch's wrapper instead (``gradkit.nn.compiled.OptimizedModule``: eager forward,
            ``_orig_mod.`` names), so scripts that write ``model = torch.compile(model)`` run.
        state: accepted for older code; objects whose Python values are guarded besides those the step names.
        max_traces: after this many traces (arguments whose values change every call, say) the function runs
            eagerly, with a warning.
        cuda_graphs: on CuPy, launch each replay as one captured CUDA graph (a capture function, as
            ``Backend.graph_capture()`` returns, uses graphs on any backend: for tests).

    Returns:
        A ``Compiled`` callable with ``fn``'s name and docstring.
    """
    if fn is None:
        return functools.partial(compile, state=state, max_traces=max_traces, cuda_graphs=cuda_graphs)
    as_module = getattr(fn, "_gradkit_compile", None)  # a Module: torch's wrapper (nn.compiled)
    if as_module is not None:
        return as_module()
    return Compiled(fn, state=state, max_traces=max_traces, cuda_graphs=cuda_graphs)


class Compiled:
    """A compiled function (see ``compile``). ``stats`` counts warm-up calls, traces, replays and eager calls;
    ``programs()`` lists the generated programs (their ``source`` shows the code)."""

    def __init__(self, fn: Callable[..., Any], *, state: Any = (), max_traces: int = 16,
                 cuda_graphs: Any = True) -> None:
        functools.update_wrapper(self, fn)
        self.fn, self.state = fn, list(state)
        self.max_traces, self.cuda_graphs = max_traces, cuda_graphs
        self.entries: list[Any] = []
        self.stats = {"warmups": 0, "traces": 0, "replays": 0, "eager": 0}
        self._warm: set[Any] = set()
        self._warned: set[str] = set()
        self._given_up = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        for i, entry in enumerate(self.entries):  # the last one that ran first
            out = entry.run(args, kwargs)
            if out is not MISS:
                if i:
                    self.entries.insert(0, self.entries.pop(i))
                return out
        return self._slow(args, kwargs)

    def programs(self) -> list[Program]:
        return [e.program for e in self.entries if isinstance(e, Replay)]

    def _warn(self, text: str) -> None:
        if text not in self._warned:
            self._warned.add(text)
            warnings.warn(f"gradkit.compile({self.fn.__name__}) runs eagerly: {text}", GradkitCompileWarning,
                          stacklevel=4)

    def _slow(self, args: tuple, kwargs: dict) -> Any:
        if self._given_up:
            self.stats["eager"] += 1
            return self.fn(*args, **kwargs)
        key = _signature((args, kwargs))
        if key not in self._warm:  # the first call of a signature: eager, so lazily made state exists
            self._warm.add(key)
            self.stats["warmups"] += 1
            return self.fn(*args, **kwargs)
        if self.stats["traces"] >= self.max_traces:
            self._given_up = True
            self._warn(f"it was traced {self.max_traces} times (argument values, shapes or state that change "
                       "from call to call, such as a number or a list of numbers the step can reach: a log kept in "
                       "an object it reads); pass changing numbers as 0-d tensors, keep shapes fixed, and keep logs "
                       "out of the step's objects (or name them in their class's _unguarded)")
            return self._slow(args, kwargs)
        self.stats["traces"] += 1
        tracer = Tracer(self, args, kwargs)
        result = tracer.run()
        self.entries.insert(0, tracer.entry)
        if tracer.tape.reasons:
            self._warn("; also, ".join(tracer.tape.reasons))
        if tracer.world.truncated:
            warnings.warn(f"gradkit.compile({self.fn.__name__}): the step reaches more than {_MAX_CELLS} Python "
                          f"objects, or objects nested deeper than {_MAX_DEPTH}: a change to those past the limit is "
                          "not seen; keep large Python data out of the objects the step reads", GradkitCompileWarning,
                          stacklevel=3)
        return result


def _signature(obj: Any) -> Any:
    """What decides a warm-up: the shapes and dtypes of tensors, the types and values of the rest."""
    if isinstance(obj, Tensor):
        return ("T", obj.shape, str(obj._data.dtype))
    if isinstance(obj, (tuple, list)):
        return (type(obj).__name__, *(_signature(x) for x in obj))
    if isinstance(obj, dict):
        return ("dict", *((k, _signature(v)) for k, v in obj.items()))
    return obj if isinstance(obj, _IMMUTABLE) and not isinstance(obj, Backend) else id(obj)


# ------------------------------------------------------------------------------------------------ the world
class Code:
    """Guard and write-back code of one entry, assembled as text: ``lines`` read the inputs (returning MISS when a
    guard fails), ``writes`` put the program's outputs ``o`` back."""

    def __init__(self) -> None:
        self.lines: list[Any] = []  # text, or (input slot, text) for the lines that read that input
        self.writes: list[str] = []
        self.held: list[tuple[int, str, str]] = []  # (slot, flag check, array checks) of a captured input
        self.consts = Consts("c")
        self._vars = itertools.count()

    def const(self, value: Any, named: bool = False) -> str:
        """The name (``c3``) of ``value`` in the generated code, or its literal (numbers, strings, None) unless
        ``named``."""
        return self.consts.name(value) if named else self.consts.ref(value)

    def guard(self, condition: str) -> None:
        self.lines.append(f"if {condition}: return MISS")

    def guard_value(self, expr: str, value: Any) -> None:
        """A guard that ``expr`` (read twice at most) is an immutable ``value`` of its type: the same object, as
        it is while nothing changed (one read, one ``is``), else equal and of the same type."""
        same = self.const(value, named=True)
        self.guard(f"{expr} is not {same} and (type({expr}) is not {self.const(type(value))} or {expr} != {same})")

    def function(self, name: str, tail: list[str], skip: set[int] | frozenset[int] = frozenset(),
                 **consts: Any) -> Callable[..., Any]:
        namespace = {"MISS": MISS, "_same": _same, "_set_root": _inplace._set_root, "_wrap": Tensor._wrap,
                     "_Node": autograd.Node, "_freed": autograd._freed, **self.consts, **consts}
        lines = [x if type(x) is str else x[1] for x in self.lines if type(x) is str or x[0] not in skip]
        source = f"def {name}(args, kwargs):\n" + "".join(f"    {x}\n" for x in (*lines, *tail))
        exec(builtins.compile(source, f"<gradkit.compile {name}>", "exec"), namespace)  # noqa: S102
        fn = namespace[name]
        fn.source = source
        return fn


def _walkable(value: Any) -> bool:
    """Containers and objects whose Python values a replay depends on (lists, dicts, user and gradkit objects)."""
    if isinstance(value, (list, tuple, dict)):
        return True
    if isinstance(value, _OPAQUE) or isinstance(value, _IMMUTABLE):
        return False
    if not hasattr(value, "__dict__"):
        return bool(_slots(type(value))) and _user_code(type(value))
    module = type(value).__module__
    return not module.startswith(("builtins", "numpy", "backends", "cupy", "array_api", "gradkit._", "threading"))


def _slots(cls: type) -> list[str]:
    """The ``__slots__`` attributes of ``cls`` and its bases."""
    slots = [getattr(c, "__slots__", ()) for c in cls.__mro__]
    return [n for s in slots for n in ([s] if isinstance(s, str) else s) if n not in ("__weakref__", "__dict__")]


_LIBRARIES = ("builtins", "numpy", "backends", "cupy", "array_api", "gradkit", "threading", "functools", "typing",
              "collections", "abc", "torch")


class World:
    """The Python state a step can reach, with shallow copies of every container: guards for a replay, and what
    the step changed, after a trace. It starts from the objects among the arguments, ``state=``, and the step's
    own free names (closure cells and the globals it loads), and follows the free names of the user functions
    and methods it finds (a helper that reads a global learning rate)."""

    def __init__(self, objects: list[Any], fn: Callable[..., Any]) -> None:
        self.containers: list[tuple[Any, Any, Any]] = []  # (object, its items dict/list, a shallow copy)
        self.tensors: list[Tensor] = []  # the tensors found outside the arguments
        self.cells: list[tuple[Any, Any, Any]] = []        # (closure cell, None, value) or (globals, name, value)
        self._seen: set[int] = set()
        self.truncated = False  # more objects, or deeper ones, than a walk follows
        self._function(fn)
        for value in objects:
            self._walk(value, 0)

    def _function(self, fn: Any, depth: int = 0) -> None:
        if isinstance(fn, types.MethodType):  # a bound method: its object, and its function's free names
            self._walk(fn.__self__, depth)
            fn = fn.__func__
        if id(fn) in self._seen or not isinstance(fn, types.FunctionType):
            return
        self._seen.add(id(fn))
        for cell in fn.__closure__ or ():
            try:
                self._cell(cell, None, cell.cell_contents, depth)
            except ValueError:  # a free name not bound yet
                continue
        globs = fn.__globals__
        for name in sorted(_global_reads(fn.__code__)):
            value = globs.get(name, _ABSENT)
            if isinstance(value, types.ModuleType) and not value.__name__.startswith(_LIBRARIES):
                attrs = vars(value)
                for attr in set(fn.__code__.co_names) & set(attrs):  # a user module's ``hparams.lr``
                    if isinstance(attrs[attr], _IMMUTABLE) or _is_data(attrs[attr]):
                        self._cell(attrs, attr, attrs[attr], depth)
            elif value is not _ABSENT and not isinstance(value, types.ModuleType):
                self._cell(globs, name, value, depth)
        for name, value in [("__defaults__", fn.__defaults__), ("__kwdefaults__", fn.__kwdefaults__),
                            *vars(fn).items()]:  # its default arguments and attributes (``f.lr``)
            self._cell(fn, name, value, depth)

    def _cell(self, holder: Any, key: Any, value: Any, depth: int) -> None:
        """``holder``'s ``key`` holds ``value``: a closure cell (key None), a dict's entry, or an attribute."""
        self.cells.append((holder, key, value))
        self._walk(value, depth + 1)

    def _class(self, cls: type, depth: int) -> None:
        """The user's classes among ``cls`` and its bases: their attributes (``Cfg.lr``, a default an instance may
        shadow) as cells, their methods' free names."""
        for c in cls.__mro__:
            if id(c) in self._seen or not _user_code(c):
                continue
            self._seen.add(id(c))
            for name, attr in vars(c).items():
                fn = getattr(attr, "fget", getattr(attr, "__func__", attr))  # (a property's, a classmethod's)
                if isinstance(fn, types.FunctionType):
                    self._function(fn, depth + 1)
                elif not name.startswith("__"):
                    self._cell(vars(c), name, attr, depth)

    def _walk(self, obj: Any, depth: int) -> None:
        if isinstance(obj, Tensor):
            self.tensors.append(obj)
        if isinstance(obj, (types.FunctionType, types.MethodType)) and _user_code(obj):
            self._function(obj, depth)
        if isinstance(obj, type):
            self._class(obj, depth)
        if isinstance(obj, functools.partial):  # its function and the arguments it binds
            for part in (obj.func, obj.args, obj.keywords):
                self._walk(part, depth + 1)
        if id(obj) in self._seen or _is_data(obj) or not _walkable(obj):
            return
        if depth > _MAX_DEPTH or len(self._seen) > _MAX_CELLS:
            self.truncated = True  # (said in a warning: a change beyond this point is not seen)
            return
        self._seen.add(id(obj))
        if not isinstance(obj, (list, tuple, dict)) and not hasattr(obj, "__dict__"):  # __slots__: as cells
            for name in _slots(type(obj)):
                self._cell(obj, name, getattr(obj, name, _ABSENT), depth)
            return self._class(type(obj), depth + 1)
        items = obj if isinstance(obj, (list, tuple, dict)) else vars(obj)
        self.containers.append((obj, items, copy.copy(items)))
        if items is not obj:  # an object: its class's defaults and methods
            self._class(type(obj), depth + 1)
        skip = getattr(obj, "_unguarded", ())
        for key, value in _cells(items):
            if key not in skip:
                self._walk(value, depth + 1)

    def guards(self, code: Code, read: set[int]) -> None:
        """Guard lines: every free name and container the program depends on holds what it held (numbers by
        value, the rest by identity; the length of a container or an object's attributes). Tensors the step did
        not read (``read``: their ids) and lists and dicts of nothing else are left out: a model attribute
        holding the last minibatch, say, is not part of the step."""
        by_id = {id(obj): items for obj, items, _ in self.containers}
        memo: dict[int, bool] = {}

        def relevant(value: Any) -> bool:
            if isinstance(value, Tensor):
                return id(value) in read
            items = by_id.get(id(value))
            if items is not None and id(value) not in memo:  # an object, an empty container, or one holding
                memo[id(value)] = False  # something relevant (a cycle counts as not relevant through itself)
                memo[id(value)] = items is not value or not items or any(relevant(v) for _, v in _cells(items))
            return items is None or memo[id(value)]

        for holder, key, value in self.cells:
            if relevant(value):
                _guard_cell(code, _place(code, holder, key), value)
        for obj, items, _ in self.containers:
            skip = getattr(obj, "_unguarded", ())  # what the object says a step reads through tensors, or never
            name = code.const(items)
            if not isinstance(items, tuple):  # (len(hist) of unread tensors; an attribute added later may shadow
                code.guard(f"len({name}) != {len(items)}")  # a class default: eval())
            if not relevant(obj):
                continue
            for key, value in _cells(items):
                if key not in skip and relevant(value):
                    _guard_cell(code, _place(code, items, key), value)

    def changes(self) -> Iterator[tuple[Any, Any, Any, Any]]:
        """``(obj, items, key, new value)`` for every cell the step changed (deleted: ``_ABSENT``; a list whose
        length changed, or a closure cell: key None)."""
        for holder, key, value in self.cells:
            new = _read(holder, key)
            if _changed(value, new):
                yield holder, holder, key, new
        for obj, items, before in self.containers:
            if isinstance(items, tuple):
                continue
            if isinstance(items, list) and len(items) != len(before):
                yield obj, items, None, None
                continue
            now, then = dict(_cells(items)), dict(_cells(before))
            for key in now.keys() | then.keys():
                old, new = then.get(key, _ABSENT), now.get(key, _ABSENT)
                if _changed(old, new):
                    yield obj, items, key, new


def _place(code: Code, holder: Any, key: Any) -> str:
    """The expression of a cell (``World.cells``: closure cell, dict entry, attribute) or a container's item."""
    name = code.const(holder)
    if key is None:
        return f"{name}.cell_contents"
    if isinstance(holder, (dict, types.MappingProxyType)):
        return f"{name}.get({code.const(key)})"
    if isinstance(holder, (list, tuple)):
        return f"{name}[{code.const(key)}]"
    return f"getattr({name}, {code.const(key)}, {code.const(_ABSENT, named=True)})"


def _read(holder: Any, key: Any) -> Any:
    """The value of a cell (``World.cells``) now; ``_ABSENT`` where there is none."""
    if key is None:
        try:
            return holder.cell_contents
        except ValueError:  # an empty closure cell
            return _ABSENT
    if isinstance(holder, (dict, types.MappingProxyType)):
        return holder.get(key, _ABSENT)
    return getattr(holder, key, _ABSENT)


def _changed(old: Any, new: Any) -> bool:
    return old is not new and not (isinstance(old, _IMMUTABLE) and type(old) is type(new) and old == new)


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and (bool(np.array_equal(a, b)) if type(a) is np.ndarray else a == b)


def _guard_cell(code: Code, cell: str, value: Any) -> None:
    """A guard that ``cell`` still holds ``value``: an equal immutable of its type, or the same object."""
    if isinstance(value, _IMMUTABLE) and not isinstance(value, Backend):
        code.guard_value(cell, value)
    elif _is_data(value) or type(value) is set or (type(value) is np.ndarray and value.size <= 64):
        # a list of numbers, a set, a small numpy array (a learning rate kept in one): by value
        code.guard(f"not _same({cell}, {code.const(copy.deepcopy(value), named=True)})")
    else:
        code.guard(f"{cell} is not {code.const(value)}")


def _user_code(obj: Any) -> bool:
    """A function or class of the user's (not Python's, numpy's, a backend's or gradkit's)."""
    module = getattr(obj, "__module__", None) or ""
    return not module.startswith(_LIBRARIES)


_ABSENT = object()


def _is_data(value: Any) -> bool:
    """A list or tuple of numbers, or of lists or tuples of numbers: guarded by value, in one comparison (not
    walked)."""
    return type(value) in (list, tuple) and all(_is_data(v) or isinstance(v, (int, float, np.generic)) for v in value)


def _cells(items: Any) -> Iterator[tuple[Any, Any]]:
    return iter(items.items()) if isinstance(items, dict) else enumerate(items)


def _global_reads(code: types.CodeType) -> set[str]:
    """The global names ``code`` (and the functions and comprehensions nested in it) loads: its LOAD_GLOBAL and
    LOAD_NAME instructions, not every name of ``co_names``, which also holds attribute names (``opt.step()``
    must not make a global ``step``, the compiled function itself, part of the step's state)."""
    names = {i.argval for i in dis.get_instructions(code) if i.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_reads(const)
    return names


# ------------------------------------------------------------------------------------------------ tracing
class Input:
    """A tensor the step read but did not create: where a replay finds it, its proxy, its state before."""

    __slots__ = ("tensor", "where", "proxy", "real", "saved", "grad", "grad_fn", "requires_grad", "version")

    def __init__(self, t: Tensor, where: str | None, proxy: Traced, real: Any, saved: Any) -> None:
        self.tensor, self.where, self.proxy, self.real, self.saved = t, where, proxy, real, saved
        self.grad, self.grad_fn, self.requires_grad, self.version = t.grad, t._grad_fn, t.requires_grad, t._version


class Tracer:
    """One traced call of a ``Compiled``: installs the recording hooks, runs the function, reads back what it
    changed, and builds the entry (a ``Replay`` or, with reasons, an ``Eager``)."""

    def __init__(self, owner: Compiled, args: tuple, kwargs: dict) -> None:
        self.owner, self.args, self.kwargs = owner, args, kwargs
        self.code = Code()
        self.inputs: dict[int, Input] = {}
        self.created: set[int] = set()  # ids of the tensors the step made (no live tensor made before shares one)
        self.made: list[weakref.ref] = []
        self.grads: dict[int, Tensor] = {}  # tensors whose .grad the step set
        self.bound: dict[int, str] = {}     # id(tensor argument) -> its expression
        self.arg_tensors: list[Tensor] = []
        objects: list[Any] = []  # the other objects among the arguments (Modules, optimizers, user objects)
        self.code.guard(f"len(args) != {len(args)} or kwargs.keys() != {self.code.const(set(kwargs))}")
        for expr, value in [(f"args[{i}]", a) for i, a in enumerate(args)] + \
                           [(f"kwargs[{k!r}]", v) for k, v in kwargs.items()]:
            self._bind(expr, value, objects)
        self.world = World(objects + list(owner.state), owner.fn)
        self.backend = self._backend()
        self.real_xp = self.backend.xp
        self.tape = Tape(copy.copy(self.backend).owns)
        self.entry: Any = None

    def _bind(self, expr: str, value: Any, objects: list[Any]) -> None:
        """Guard lines for an argument (a tensor's backend and requires_grad, a number's value, a container's type
        and length, any other object's identity); tensors in it are bound by position, the other objects it
        holds go to ``objects``, whose Python values the world guards."""
        code = self.code
        var = f"a{next(code._vars)}"
        code.lines.append(f"{var} = {expr}")
        if isinstance(value, Tensor):
            self.bound.setdefault(id(value), var)
            self.arg_tensors.append(value)
            be = code.const(value.backend)
            code.guard(f"not isinstance({var}, {code.const(Tensor)}) or ({var}.backend is not {be} and {var}.backend "
                       f"!= {be}) or {var}.requires_grad is not {value.requires_grad!r}")
        elif type(value) in (list, tuple):
            code.guard(f"type({var}) is not {type(value).__name__} or len({var}) != {len(value)}")
            for i, v in enumerate(value):
                self._bind(f"{var}[{i}]", v, objects)
        elif type(value) is dict:
            code.guard(f"type({var}) is not dict or {var}.keys() != {code.const(set(value))}")
            for k, v in value.items():
                self._bind(f"{var}[{k!r}]", v, objects)
        else:  # a number by value, any other object by identity (and its Python values through the world)
            _guard_cell(code, var, value)
            objects += [value] if _walkable(value) else []

    def _backend(self) -> Backend:
        found = self.arg_tensors + self.world.tensors
        return found[0].backend if found else get_backend()

    def run(self) -> Any:
        owner, tape = self.owner, self.tape
        restore_backend = _patch(self.backend, tape)
        unhook = _hook(self)
        try:
            result = owner.fn(*self.args, **self.kwargs)
        except BaseException as exc:
            unhook()
            restore_backend()
            self._undo(failed=True)
            if not (tape.reasons or (isinstance(exc, TypeError) and "Traced" in str(exc))):
                raise  # the step's own error, raised as eagerly (the trace is the eager call)
            tape.reason(tape.reasons[0] if tape.reasons else "the step uses an array operation the tape cannot "
                        "record")
            self.entry = Eager(owner, self.code)  # (its lines: the arguments' guards)
            owner.stats["eager"] += 1
            return owner.fn(*self.args, **self.kwargs)
        unhook()
        restore_backend()
        return self._finish(result)

    # discovery (called by the hooks)
    def discover(self, t: Tensor, real: Any) -> Traced:
        proxy = self.tape.input_array(real)
        where = self.bound.get(id(t))
        saved = None if where is not None else self.real_xp.asarray(real, copy=True)  # to undo a failed trace
        self.inputs[id(t)] = Input(t, where, proxy, real, saved)
        return proxy

    def _undo(self, failed: bool = False) -> None:
        """Every tensor holds a real array again: the values the trace computed, or (``failed``) the state before
        the call, so that the eager call that follows starts where this one did."""
        made = [t for t in (ref() for ref in self.made) if t is not None]
        for t in [*made, *(inp.tensor for inp in self.inputs.values())]:
            try:
                _SLOT.__set__(t, _real(_SLOT.__get__(t, Tensor)))
            except AttributeError:  # made by Tensor.__new__ alone (an error interrupted it)
                continue
        for inp in self.inputs.values() if failed else ():
            t = inp.tensor
            _SLOT.__set__(t, inp.real)
            if inp.saved is not None:
                if t.backend.writeable(inp.real):
                    inp.real[...] = inp.saved
                else:
                    _SLOT.__set__(t, inp.saved)
            _GRAD.__set__(t, inp.grad)
            if t._st is not None:
                t._st.version = inp.version

    # after the call
    def _finish(self, result: Any) -> Any:
        tape, code = self.tape, self.code
        outputs: list[int] = []

        def out(value: Any) -> str:
            if type(value) is Traced:
                outputs.append(value._s)
                return f"o[{len(outputs) - 1}]"
            tape.reason(f"the step leaves a {type(value).__name__} computed outside the tape in its state")
            return "None"

        self.world.guards(code, set(self.inputs))
        self._read_inputs()
        self._write_tensors(out)
        self._write_world(out)
        ret = self._result(result, out)
        code.guard(f"{code.const(autograd._GradMode, named=True)}.enabled is not {autograd._GradMode.enabled!r}")
        self._undo()
        concrete = tree_map(result, _real)  # the values the trace computed
        program = None if tape.reasons else Program(tape, outputs)
        arg_slots = {inp.proxy._s for inp in self.inputs.values() if inp.where is not None}
        # A branch may read the arguments and the data the step only reads (tensors without grad that it leaves
        # unchanged, such as captured training windows): a replay evaluates it as a guard. A branch on the model's
        # values (``if loss > 3``) is a host read.
        data = {inp.proxy._s for inp in self.inputs.values()
                if not inp.requires_grad and inp.tensor._version == inp.version}
        if program is not None and not (program.branch_pure and program.branch_inputs <= arg_slots | data):
            tape.host_read("bool() of an array computed from the model (Python control flow on its values)")
        if program is None or tape.reasons:
            self.entry = Eager(self.owner, code)
            return concrete
        tape.input_ids.clear()  # (the program keeps no reference to the input arrays)
        self.entry = Replay(self.owner, code, program, ret, self._graph_runner(outputs, arg_slots) or program.core)
        return concrete

    def _read_inputs(self) -> None:
        """The lines that gather each input's current array (guarded by shape and dtype)."""
        code = self.code
        for inp in self.inputs.values():
            t, slot = inp.tensor, inp.proxy._s
            where = inp.where if inp.where is not None else code.const(t)
            checks = f"v{slot}.shape != {tuple(inp.real.shape)!r} or v{slot}.dtype != {code.const(inp.real.dtype)}"
            code.lines.append((slot, f"v{slot} = {where}._data"))
            if inp.where is None:  # a captured tensor: its array's checks run when the array is another (Replay)
                be = code.const(t.backend)  # the same object in all but odd cases: `is` first (a Python __eq__)
                code.held.append((slot, f"{where}.requires_grad is not {inp.requires_grad!r}",
                                  f"({where}.backend is not {be} and {where}.backend != {be}) or {checks}"))
            else:
                code.lines.append((slot, f"if {checks}: return MISS"))

    def _write_tensors(self, out: Callable[[Any], str]) -> None:
        code, tape = self.code, self.tape
        for inp in self.inputs.values():
            t = inp.tensor
            if t.requires_grad is not inp.requires_grad or t._grad_fn is not inp.grad_fn:
                tape.reason("the step leaves a graph alive in a tensor it did not create (it changed requires_grad, "
                            "or recorded an in-place op on it without calling backward)")
            now = _SLOT.__get__(t, Tensor)
            if now is not inp.proxy and t._view is None:  # rebound (a view follows its root)
                code.writes.append(f"_set_root({code.const(t)}, {out(now)})")
            if t._version != inp.version:
                code.writes.append(f"{code.const(t._st)}.version += {t._version - inp.version}")
        for key, t in self.grads.items():
            if key in self.inputs and t.grad is self.inputs[key].grad:
                continue
            code.writes.append(f"{code.const(t)}.grad = {self._value(t.grad, out)}")

    def _write_world(self, out: Callable[[Any], str]) -> None:
        code = self.code
        for obj, items, key, new in self.world.changes():
            if (key is None or new is _ABSENT or not isinstance(new, Tensor) or id(new) not in self.created
                    or not isinstance(items, (dict, list))):
                what = type(obj).__name__
                self.tape.reason(f"the step changes a Python value the tape cannot replay ({what}"
                                 f"{'' if key is None else f' entry {key!r}'}); change it outside the step")
                continue
            code.writes.append(f"{code.const(items)}[{code.const(key)}] = {self._value(new, out)}")

    def _value(self, t: Any, out: Callable[[Any], str]) -> str:
        """The write-back expression of a tensor the step stores or returns."""
        code = self.code
        if t is None:
            return "None"
        if id(t) not in self.created:
            return code.const(t)
        node = t._grad_fn
        if node is not None and node.backward is not autograd._freed:
            self.tape.reason("the step returns or stores a tensor whose graph is still alive (call backward() "
                             "inside the compiled function, or return a detached tensor)")
        if t.grad is not None:
            self.tape.reason("the step returns or stores a new tensor that has a .grad")
        made = f"_wrap({out(_SLOT.__get__(t, Tensor))}, {code.const(t.backend)}, {t.requires_grad!r})"
        return made if node is None else f"_freed_node({made}, {code.const(node.op)})"

    def _result(self, result: Any, out: Callable[[Any], str]) -> str:
        """The expression of what the step returns: its tuples, lists, dicts and slices rebuilt around the
        expressions of the tensors, arrays and other values in them."""
        def leaf(x: Any) -> _Expression:
            return _Expression(self._value(x, out) if isinstance(x, Tensor) else out(x) if type(x) is Traced
                               else self.code.const(x))

        return repr(tree_map(result, leaf))

    def _graph_runner(self, outputs: list[int], fresh: set[int]) -> GraphRunner | None:
        """On CuPy (or with a capture function given as ``cuda_graphs``, for tests), the program as a graph."""
        wanted = self.owner.cuda_graphs
        capture = wanted if callable(wanted) else self.backend.graph_capture() if wanted else None
        if capture is None:
            return None
        staged = {i for i, s in enumerate(self.tape.inputs) if s in fresh}
        xp = self.backend.xp
        return GraphRunner(Program(self.tape, outputs, keep_all=True), staged, capture,
                           copy=lambda a: xp.asarray(a, copy=True))


class _Expression(str):
    """Code text whose ``repr`` is itself (inside a container's ``repr``)."""

    def __repr__(self) -> str:
        return str(self)


def _real(x: Any) -> Any:
    return x._v if type(x) is Traced else x


_SLOT: Any = Tensor.__dict__["_data"]  # the slot's own descriptor (the hooks stand in front of it while tracing)
_GRAD: Any = Tensor.__dict__["grad"]
_INIT = Tensor._init


def _hook(tracer: Tracer) -> Callable[[], None]:
    """While tracing: a tensor's first read of ``_data`` discovers it (an input), a tensor made by the step is
    noted, a ``.grad`` set is noted. Returns the function that removes the hooks."""
    inputs, created, made, grads = tracer.inputs, tracer.created, tracer.made, tracer.grads
    owns = tracer.tape.real_owns

    def get(t: Tensor) -> Any:
        v = _SLOT.__get__(t, Tensor)
        if type(v) is Traced or id(t) in inputs or id(t) in created or not owns(v):
            return v
        proxy = tracer.discover(t, v)
        _SLOT.__set__(t, proxy)
        return proxy

    def set_(t: Tensor, v: Any) -> None:
        if id(t) not in inputs and id(t) not in created:
            get(t)
        _SLOT.__set__(t, v)

    def set_grad(t: Tensor, g: Any) -> None:
        if id(t) not in created:
            grads[id(t)] = t
        _GRAD.__set__(t, g)

    def init(t: Tensor, *a: Any, **k: Any) -> None:
        created.add(id(t))  # first: _init's own write of _data must not discover it
        made.append(weakref.ref(t))
        _INIT(t, *a, **k)

    hooks = {"_data": property(get, set_), "grad": property(_GRAD.__get__, set_grad), "_init": init}
    for name, hook in hooks.items():  # class attributes in front of the slots, while tracing only
        setattr(Tensor, name, hook)

    def unhook() -> None:
        for name, original in (("_data", _SLOT), ("grad", _GRAD), ("_init", _INIT)):
            setattr(Tensor, name, original)

    return unhook


def _patch(backend: Backend, tape: Tape) -> Callable[[], None]:
    """Make ``backend`` record into ``tape`` (its ``xp`` and hooks); returns the function that undoes it."""
    real = copy.copy(backend)  # unpatched: the hooks run (and are replayed) with the real namespace
    real_xp, real_owns = real.xp, real.owns
    real_asarray, real_to_numpy = real.asarray, real.to_numpy
    for name in _HOOKS:
        setattr(backend, name, functools.partial(tape.call, getattr(real, name)))

    def owns(array: Any) -> bool:
        return type(array) is Traced or real_owns(array)

    def asarray(obj: Any, dtype: Any = None) -> Any:
        if isinstance(obj, (np.ndarray, list)) or (not isinstance(obj, Traced) and not real_owns(obj)
                                                    and not isinstance(obj, (int, float, bool, np.generic))):
            tape.reason("the step moves host data to the device (random draws, data prepared on the host); "
                        "pass it in as a tensor argument")
            return real_asarray(obj, dtype)
        return tape.call(real_asarray, obj, dtype)

    def to_numpy(array: Any) -> Any:
        tape.host_read(".numpy() / to_numpy")
        return real_to_numpy(_real(array))

    def setitem(array: Any, key: Any, value: Any) -> Any:
        if real.writeable(_real(array)):  # in place: recorded as an index assignment
            array[key] = value
            return array
        return tape.call(real.setitem, array, key, value)

    patched = {"owns": owns, "asarray": asarray, "to_numpy": to_numpy, "setitem": setitem,
               "put": functools.partial(tape.call_into, real.put),  # in place where it can: a write
               "writeable": lambda a: real.writeable(_real(a)), "contiguous": lambda a: real.contiguous(_real(a))}
    for name, fn in patched.items():
        setattr(backend, name, fn)
    backend.xp = Namespace(tape, real_xp)

    def restore() -> None:
        backend.xp = real_xp
        for name in (*_HOOKS, *patched):
            vars(backend).pop(name, None)

    return restore


# ------------------------------------------------------------------------------------------------ entries
def _freed_node(t: Tensor, op: str) -> Tensor:
    """A returned tensor marked as eager leaves it: its graph ran and was freed (backward() again raises)."""
    t._grad_fn = autograd.Node((), autograd._freed, (), op)
    return t


class Eager:
    """A signature that runs eagerly (the trace found something it cannot replay)."""

    def __init__(self, owner: Compiled, code: Code) -> None:  # its guards, then the function itself
        self.run = code.function("eager", ["_stats['eager'] += 1", "return _fn(*args, **kwargs)"], _fn=owner.fn,
                                 _stats=owner.stats)


class Replay:
    """A signature with a program: guard, gather the inputs, run the program, write the outputs back."""

    def __init__(self, owner: Compiled, code: Code, program: Program, ret: str, core: Callable[..., Any]) -> None:
        self.owner, self.program, self.core = owner, program, core
        slots = program.tape.inputs
        unread = {s for s in slots if s not in program.read_slots}  # a gradient that zero_grad drops
        inputs = ", ".join("None" if s in unread else f"v{s}" for s in slots)
        arrays = [s for s in slots if s not in unread]
        held = [(s, check) for s, flag, check in code.held if s not in unread]
        if held:  # (one line: each tensor's requires_grad as traced)
            code.guard(" or ".join(flag for s, flag, _ in code.held if s not in unread))
        self._guard_arrays(code, arrays, held)
        writes = [*code.writes, f"return {ret}"]
        if core is program.core:  # the program's statements inline (its inputs are the v-names read above), and
            # the writes name its outputs (``o[i]`` is the i-th of ``program.outs``)
            outs = [x.strip() for x in program.outs.split(",") if x.strip()]
            writes = [re.sub(r"\bo\[(\d+)\]", lambda m: outs[int(m.group(1))], w) for w in writes]
            run = program.body
        else:  # a CUDA graph's runner
            run = [f"o = core({inputs})", "if o is MISS: return MISS"]
        tail = [*run, "_stats['replays'] += 1", *writes]
        self.run = code.function("replay", tail, unread, core=core, _stats=owner.stats, _freed_node=_freed_node,
                                 _held=[None] * len(held), _held_ids=set(), **program.consts)
        self.source: str = getattr(self.run, "source", "")

    @staticmethod
    def _guard_arrays(code: Code, arrays: list[int], held: list[tuple[int, str]]) -> None:
        """The arrays that were distinct objects when traced must still be. A captured tensor's array (a parameter
        updated in place, the training data) is usually the very array of the last replay: then its shape, dtype
        and backend, and its distinctness from the others, are known; they are checked again, and the arrays
        remembered (``_held``), only when one of them is another object."""
        distinct = "len({" + ", ".join(f"id(v{s})" for s in arrays) + f"}}) != {len(arrays)}"
        if not held:
            if len(arrays) > 1:
                code.guard(distinct)
            return
        names = "".join(f"v{s}, " for s, _ in held)
        code.lines.append("if " + " or ".join(f"v{s} is not _held[{i}]" for i, (s, _) in enumerate(held)) + ":")
        code.lines += [f"    if {check}: return MISS" for _, check in held]
        if len(arrays) > 1:
            code.lines.append(f"    if {distinct}: return MISS")
        code.lines += [f"    _held[:] = ({names})", "    _held_ids.clear()", "    _held_ids.update(map(id, _held))"]
        others = [s for s in arrays if s not in {h for h, _ in held}]  # the arguments' arrays: new each call
        if others:
            clash = " or ".join(f"id(v{s}) in _held_ids" for s in others)
            if len(others) > 1:
                clash += " or len({" + ", ".join(f"id(v{s})" for s in others) + f"}}) != {len(others)}"
            code.lines.append(f"elif {clash}: return MISS")
