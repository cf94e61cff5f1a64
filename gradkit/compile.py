"""``gradkit.compile``: a training step traced once and replayed as a flat program of backend calls.

>>> @gradkit.compile
... def step(model, optimizer, X, Y, lr):
...     optimizer.lr = lr
...     loss = model.loss(X, Y)
...     optimizer.zero_grad()
...     loss.backward()
...     optimizer.step()
...     return loss

The first call with a given *signature* (the shapes and dtypes of the input arrays, the values of the
arguments that are not float numbers, the state's structure) runs the step eagerly with every array wrapped
in a recording proxy (``gradkit._trace``): forward, backward and the optimizer's update become one tape of
``xp`` calls, array operators and backend hooks, compiled to one Python function (``gradkit._program``).
Later calls with that signature run that function on the new arrays and write the results back where eager
would have put them: no Tensor objects, no graph, no topological sort. On CuPy the program is captured
once as a CUDA graph and launched as one (``gradkit._cudagraph``).

State. The step reads and writes the parameters, their ``grad``, the optimizers' state and the modules'
buffers. ``compile`` finds them in the ``Module`` and ``Optimizer`` arguments (and in ``state=[...]`` for
ones the function reaches otherwise); every call reads their current arrays, so rebinding ``p.data``,
``load_state_dict`` or a checkpoint restore between calls is seen. Float arguments, ``optimizer.lr`` and the
optimizers' step counts are traced numbers (a schedule changes them without a new trace); every other
argument value, module attribute and optimizer hyper-parameter is part of the signature.

Never a silent wrong answer. What the tape cannot replay (a host read such as ``.item()``, ``float()``,
``bool()`` of an array, which Python control flow on array values needs; an array that is not an input;
host data or random draws moved to the device inside the step; a Python attribute the step changes) is
detected while tracing: that signature then runs eagerly, with one ``GradkitCompileWarning`` saying why.
Python side effects of the function itself (appending to a list, printing) happen only when it is traced,
as in JAX's ``jit`` and tinygrad's ``TinyJit``.
"""

from __future__ import annotations

import copy
import functools
import itertools
import types
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from backends import Backend

from . import autograd
from ._cudagraph import GraphRunner
from ._program import MISS, Program
from ._trace import Namespace, Num, Tape, Traced
from .nn import Module
from .optim import Optimizer
from .tensor import Tensor

__all__ = ["Compiled", "GradkitCompileWarning", "compile"]

_IMMUTABLE = (type(None), bool, int, float, str, np.generic)
_HOOKS = ("zeros", "full", "arange", "astype", "scatter_add")
_ABSENT = object()
_OWN = ("lr", "state", "params", "_state_backend", "names")  # optimizer attributes the tracer handles itself


class GradkitCompileWarning(UserWarning):
    """A compiled function runs eagerly for some inputs; the message says why and how to avoid it."""


def compile(fn: Callable[..., Any] | None = None, *, state: Any = (), max_traces: int = 16,
            cuda_graphs: Any = True) -> Any:  # noqa: A001 (the name PyTorch users know: torch.compile)
    """``fn`` traced on its first call per signature and replayed afterwards (see the module docstring).

    Usable as ``compile(fn)``, ``@compile`` or ``@compile(state=[model, optimizer])``.

    Args:
        fn: the step. Arguments may be Tensors, backend arrays, Modules, Optimizers, numbers, strings, None,
            functions, and tuples or lists of these. It returns Tensors (without a live graph: call
            ``backward()`` inside), numbers, None, or tuples, lists and dicts of these.
        state: Modules and Optimizers the step uses that are not among its arguments.
        max_traces: after this many traces (arguments whose values change every call, say) the function
            runs eagerly, with a warning.
        cuda_graphs: on CuPy, launch each replay as one captured CUDA graph (a capture function, as
            ``Backend.graph_capture()`` returns, uses graphs on any backend: for tests).

    Returns:
        A ``Compiled`` callable with ``fn``'s name and docstring.
    """
    if fn is None:
        return functools.partial(compile, state=state, max_traces=max_traces, cuda_graphs=cuda_graphs)
    return Compiled(fn, state=state, max_traces=max_traces, cuda_graphs=cuda_graphs)


class Compiled:
    """A compiled function (see ``compile``). ``stats`` counts traces, replays and eager calls;
    ``programs()`` lists the generated programs (their ``source`` shows the code)."""

    def __init__(self, fn: Callable[..., Any], *, state: Any = (), max_traces: int = 16,
                 cuda_graphs: Any = True) -> None:
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.state = list(state)
        for obj in self.state:
            if not isinstance(obj, (Module, Optimizer)):
                raise TypeError(f"compile(state=...) takes Modules and Optimizers, got a {type(obj).__name__}")
        self.max_traces, self.cuda_graphs = max_traces, cuda_graphs
        self.entries: list[Any] = []
        self.stats = {"traces": 0, "replays": 0, "eager": 0}
        self._warned: set[str] = set()
        self._given_up = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        entries = self.entries
        for i, entry in enumerate(entries):
            out = entry.run(args, kwargs)
            if out is not MISS:
                if i:
                    entries.insert(0, entries.pop(i))
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
        if self.stats["traces"] >= self.max_traces:
            self._given_up = True
            self._warn(f"it was traced {self.max_traces} times (argument values, shapes or state that change "
                       "from call to call); pass changing numbers as floats, and keep shapes fixed")
            return self._slow(args, kwargs)
        self.stats["traces"] += 1
        tracer = Tracer(self, args, kwargs)
        result = tracer.run()
        if tracer.entry is not None:
            self.entries.insert(0, tracer.entry)
        if tracer.tape is not None and tracer.tape.reasons:
            self._warn("; also, ".join(tracer.tape.reasons))
        return result


# ------------------------------------------------------------------------------------------------ tracing
class Tracer:
    """One traced call of a ``Compiled``: finds the state, installs the proxies, runs the function, reads
    back what it changed, and builds the entry (a ``Replay`` or, with reasons, an ``Eager``)."""

    def __init__(self, owner: Compiled, args: tuple, kwargs: dict) -> None:
        self.owner, self.args, self.kwargs = owner, args, kwargs
        self.tape: Tape | None = None
        self.entry: Any = None
        self.modules: list[Module] = []
        self.optimizers: list[Optimizer] = []
        self.tensors: list[Tensor] = []
        self.arg_inputs: dict[str, int] = {}
        self.lr_slots: dict[int, int] = {}
        self.data_args: list[tuple[Tensor, Traced, int]] = []
        self.code = Code()

    # discovery
    def _collect(self) -> Backend | None:
        seen: set[int] = set()

        def add(obj: Any) -> None:
            if id(obj) in seen:
                return
            seen.add(id(obj))
            if isinstance(obj, Module):
                for m in obj.modules():
                    if m is obj or id(m) not in seen:
                        seen.add(id(m))
                        self.modules.append(m)
            elif isinstance(obj, Optimizer):
                self.optimizers.append(obj)
            elif isinstance(obj, Tensor) and obj.requires_grad:
                self.tensors.append(obj)
            elif isinstance(obj, (list, tuple)):
                for x in obj:
                    add(x)

        for obj in (*self.owner.state, *self.args, *self.kwargs.values()):
            add(obj)
        tensors = {id(t): t for t in self.tensors}
        for m in self.modules:
            for _, t in m.named_tensors():
                tensors.setdefault(id(t), t)
        for o in self.optimizers:
            for p in o.params:
                tensors.setdefault(id(p), p)
        self.tensors = list(tensors.values())
        data = [x for x in (*self.args, *self.kwargs.values()) if isinstance(x, Tensor)]
        return (self.tensors or data)[0].backend if self.tensors or data else None

    def run(self) -> Any:
        backend = self._collect()
        if backend is None:
            self.owner._warn("it has no Tensor, Module or Optimizer argument (nothing to trace)")
            self.entry = Eager(self.owner, self._arg_guard_code(backend=None))
            return self.owner.fn(*self.args, **self.kwargs)
        tape = self.tape = Tape(copy.copy(backend).owns)
        captured = self._captured()
        if captured:
            tape.reason(f"the step uses a {captured} that is not among its inputs (captured from an enclosing "
                        "scope or a global): pass it as an argument or in compile(..., state=[...])")
            self.entry = Eager(self.owner, self._arg_guard_code(backend))
            return self.owner.fn(*self.args, **self.kwargs)
        saved = _Saved(self, backend)
        before = self._snapshot()
        targs, tkwargs = self._install(tape)
        before["optimizers"] = [(dict(vars(o)), list(o._state_backend), [dict(st) for st in o.state])
                                for o in self.optimizers]
        restore = _patch(backend, tape)
        try:
            result = self.owner.fn(*targs, **tkwargs)
        except BaseException as exc:
            restore()
            self._concretize_state(before)
            if not (tape.reasons or (isinstance(exc, TypeError) and "Traced" in str(exc))):
                raise  # the step's own error, raised as eagerly (the trace is the eager call)
            saved.restore()  # the step mixed traced arrays with untraced ones: undo, and run it eagerly
            tape.reason(tape.reasons[0] if tape.reasons else
                        "the step combines its arrays with arrays that are not among its inputs (a tensor or "
                        "model captured from an enclosing scope): pass it as an argument or in "
                        "compile(..., state=[...])")
            self.entry = Eager(self.owner, self._arg_guard_code(backend))
            return self.owner.fn(*self.args, **self.kwargs)
        restore()
        out = self._finish(backend, before, result)
        return out

    def _captured(self) -> str:
        """The kind of the first Module, Optimizer or Tensor that ``fn`` reaches through its closure or its
        globals but that is not declared state, or ""."""
        fn = self.owner.fn
        declared = {id(x) for x in (*self.modules, *self.optimizers, *self.tensors)}
        values = []
        for cell in getattr(fn, "__closure__", None) or ():
            try:
                values.append(cell.cell_contents)
            except ValueError:
                continue
        globs = getattr(fn, "__globals__", {})
        values += [globs[n] for n in getattr(getattr(fn, "__code__", None), "co_names", ()) if n in globs]
        for v in values:
            for x in (v if type(v) in (list, tuple) else (v,)):
                if isinstance(x, (Module, Optimizer, Tensor)) and id(x) not in declared:
                    return type(x).__name__
        return ""

    def _snapshot(self) -> dict[str, Any]:
        return {
            "tensors": [(t._data, t.grad, None if t.grad is None else t.grad._data, t._version,
                         None if t.grad is None else t.grad._version, t.requires_grad) for t in self.tensors],
            "modules": [dict(vars(m)) for m in self.modules],
            "lr": [o.lr for o in self.optimizers],
        }

    def _install(self, tape: Tape) -> tuple[tuple, dict]:
        for t in self.tensors:
            t._data = tape.input_array(t._data)
            if t.grad is not None:
                t.grad._data = tape.input_array(t.grad._data)
        for o in self.optimizers:
            lr = tape.input_number(float(o.lr))
            o.lr, self.lr_slots[id(o)] = lr, lr._s  # type: ignore[assignment]
            for st in o.state:
                st["step"] = tape.input_number(st["step"])
                for key in o.state_keys:
                    if key in st:
                        st[key] = tape.input_array(st[key])

        def arg(expr: str, x: Any) -> Any:
            if type(x) is float:
                proxy: Any = tape.input_number(x)
            elif type(x) in (list, tuple):
                return type(x)(arg(f"{expr}[{i}]", v) for i, v in enumerate(x))
            elif _is_array(tape, x):
                proxy = tape.input_array(x)
            elif isinstance(x, Tensor) and all(x is not t for t in self.tensors):
                x._data = proxy = tape.input_array(x._data)
                self.data_args.append((x, proxy, x._version))
                self.arg_inputs[expr] = proxy._s
                return x
            else:
                return x
            self.arg_inputs[expr] = proxy._s
            return proxy

        return (tuple(arg(f"args[{i}]", a) for i, a in enumerate(self.args)),
                {k: arg(f"kwargs[{k!r}]", v) for k, v in self.kwargs.items()})

    def _concretize_state(self, before: dict[str, Any]) -> None:
        """Every location the proxies were installed in holds a real array or number again."""
        for x, _, _ in self.data_args:
            x._data = _real(x._data)
        for t in self.tensors:
            t._data = _real(t._data)
            if t.grad is not None:
                t.grad._data = _real(t.grad._data)
        for o, lr in zip(self.optimizers, before["lr"], strict=True):
            o.lr = lr if type(o.lr) is Num and o.lr._s == self.lr_slots[id(o)] else _real(o.lr)
            for st in o.state:
                for key, value in st.items():
                    st[key] = _real(value)

    # after the call
    def _finish(self, backend: Backend, before: dict[str, Any], result: Any) -> Any:
        tape = self.tape
        assert tape is not None
        code = self.code
        outputs: list[int] = []

        def out(value: Any) -> str:
            """The expression of a traced value in the write-back code."""
            if type(value) in (Traced, Num):
                outputs.append(value._s)
                return f"o[{len(outputs) - 1}]"
            tape.reason(f"the step leaves a {type(value).__name__} computed outside the tape in its state")
            return "None"

        self._arg_guards(backend)
        self._module_guards(before)
        self._tensor_state(before, out)
        self._module_state(before, out)
        self._optimizer_state(before, out)
        ret = self._result(result, out)
        self._concretize_state(before)
        concrete = _concrete_result(result)
        if autograd._GradMode.enabled:
            code.guard("_GM.enabled is not True", _GM=autograd._GradMode)
        else:
            code.guard("_GM.enabled is not False", _GM=autograd._GradMode)
        if tape.reasons:
            self.entry = Eager(self.owner, code)
            return concrete
        program = Program(tape, outputs)
        data = {s for s in self.arg_inputs.values() if not tape.values[s].num}
        if not (program.branch_pure and program.branch_inputs <= data):
            tape.host_read("bool() of an array computed from the model (Python control flow on its values)")
            self.entry = Eager(self.owner, code)
            return concrete
        tape.forget_inputs()
        self.entry = Replay(self.owner, code, program, ret, self._graph_runner(backend, outputs) or program.core)
        return concrete

    def _graph_runner(self, backend: Backend, outputs: list[int]) -> GraphRunner | None:
        """On CuPy (or with a capture function given as ``cuda_graphs``, for tests), the program as a graph."""
        wanted = self.owner.cuda_graphs
        capture = wanted if callable(wanted) else backend.graph_capture() if wanted else None
        if capture is None:
            return None
        tape = self.tape
        assert tape is not None
        fresh = set(self.arg_inputs.values())
        staged = {i for i, s in enumerate(tape.inputs) if s in fresh and not tape.values[s].num}
        xp = backend.xp
        return GraphRunner(Program(tape, outputs, keep_all=True), staged, capture,
                           copy=lambda a: xp.asarray(a, copy=True))

    def _arg_guards(self, backend: Backend) -> None:
        self._arg_guard_code(backend, self.code)

    def _arg_guard_code(self, backend: Backend | None, code: Code | None = None) -> Code:
        code = code if code is not None else Code()
        code.guard(f"len(args) != {len(self.args)} or kwargs.keys() != {code.const(set(self.kwargs))}")
        items = [(f"args[{i}]", a) for i, a in enumerate(self.args)] + \
                [(f"kwargs[{k!r}]", v) for k, v in self.kwargs.items()]
        tensor_ids = {id(t) for t in self.tensors}
        for expr, value in items:
            self._arg_guard(code, expr, value, tensor_ids)
        fn = self.owner.fn
        for cell in getattr(fn, "__closure__", None) or ():
            try:
                content = cell.cell_contents
            except ValueError:
                continue
            if isinstance(content, _IMMUTABLE):
                code.guard(f"type({code.const(cell)}.cell_contents) is not {code.const(type(content))} or "
                           f"{code.const(cell)}.cell_contents != {code.const(content)}")
        globs = getattr(fn, "__globals__", {})
        for name in getattr(getattr(fn, "__code__", None), "co_names", ()):
            if name in globs and isinstance(globs[name], _IMMUTABLE) and not isinstance(globs[name], types.ModuleType):
                code.guard(f"{code.const(globs)}.get({name!r}) != {code.const(globs[name])}")
        return code

    def _arg_guard(self, code: Code, expr: str, value: Any, tensor_ids: set[int]) -> None:
        var = code.var(expr)
        if type(value) is float and expr in self.arg_inputs:
            code.guard(f"type({var}) is not float")
            code.line(f"v{self.arg_inputs[expr]} = {var}")
        elif isinstance(value, _IMMUTABLE):
            code.guard(f"type({var}) is not {code.const(type(value))} or {var} != {code.const(value)}")
        elif isinstance(value, Tensor) and id(value) in tensor_ids:
            code.guard(f"{var} is not {code.const(value)}")
        elif type(value) in (list, tuple):
            code.guard(f"type({var}) is not {type(value).__name__} or len({var}) != {len(value)}")
            for i, v in enumerate(value):
                self._arg_guard(code, f"{var}[{i}]", v, tensor_ids)
        elif isinstance(value, (Module, Optimizer, types.FunctionType, types.BuiltinFunctionType, functools.partial)):
            code.guard(f"{var} is not {code.const(value)}")
        elif isinstance(value, Tensor) and expr in self.arg_inputs:
            code.guard(f"not isinstance({var}, {code.const(Tensor)}) or {var}.requires_grad or "
                       f"{var}.backend is not {code.const(value.backend)}")
            self._read_array(f"{var}._data", self.arg_inputs[expr], value._data if type(value._data) is not Traced
                             else value._data._v)
            for x, proxy, version in self.data_args:
                if x is value and (x._data is not proxy or x._version != version or x.grad is not None):
                    assert self.tape is not None
                    self.tape.reason("the step changes a tensor argument that does not require grad (its data, "
                                     "version or grad)")
        elif expr in self.arg_inputs:
            self._read_array(var, self.arg_inputs[expr], value)
        else:
            code.guard(f"{var} is not {code.const(value)}")
            if self.tape is not None:
                self.tape.reason(f"an argument is a {type(value).__name__}; compile replays Tensors, arrays, "
                                 "Modules, Optimizers, numbers and strings")

    def _module_guards(self, before: dict[str, Any]) -> None:
        code = self.code
        for m, attrs in zip(self.modules, before["modules"], strict=True):
            mv = code.const(m)
            code.guard(f"{mv}.training is not {m.training!r}")
            for name, value in attrs.items():
                if isinstance(value, (Tensor, Module)):
                    code.guard(f"{mv}.{name} is not {code.const(value)}" if name.isidentifier() else
                               f"{mv}.__dict__.get({name!r}) is not {code.const(value)}")
                elif isinstance(value, list) and value and all(isinstance(v, Module) for v in value):
                    code.guard(f"{mv}.{name} is not {code.const(value)} or len({mv}.{name}) != {len(value)}")
                    for i, v in enumerate(value):
                        code.guard(f"{mv}.{name}[{i}] is not {code.const(v)}")
                elif isinstance(value, _IMMUTABLE) or (type(value) is tuple and all(isinstance(v, _IMMUTABLE)
                                                                                    for v in value)):
                    code.guard(f"{mv}.{name} != {code.const(value)}")

    def _tensor_state(self, before: dict[str, Any], out: Callable[[Any], str]) -> None:
        code, tape = self.code, self.tape
        assert tape is not None
        for t, (d0, g0, gd0, v0, gv0, rg0) in zip(self.tensors, before["tensors"], strict=True):
            tv = code.const(t)
            slot = tape.input_array(d0)._s
            code.guard(f"{tv}.backend is not {code.const(t.backend)} or {tv}.requires_grad is not {rg0!r}")
            self._read_array(f"{tv}._data", slot, d0)
            if g0 is None:
                code.guard(f"{tv}.grad is not None")
            else:
                gv = code.var(f"{tv}.grad")
                code.guard(f"{gv} is None")
                self._read_array(f"{gv}._data", tape.input_array(gd0)._s, gd0)
            if t.requires_grad is not rg0:
                tape.reason("the step changes a tensor's requires_grad")
            if type(t._data) is not Traced or t._data._s != slot:
                code.write(f"{tv}._data = {out(t._data)}")
            if t._version != v0:
                code.write(f"{tv}._version += {t._version - v0}")
            g1 = t.grad
            if g1 is None:
                if g0 is not None:
                    code.write(f"{tv}.grad = None")
            elif g1 is g0:
                if type(g1._data) is not Traced or g1._data._s != tape.input_array(gd0)._s:
                    code.write(f"{gv}._data = {out(g1._data)}")
                if g1._version != gv0:
                    code.write(f"{gv}._version += {g1._version - gv0}")
            else:
                code.write(f"{tv}.grad = {self._new_tensor(g1, out)}")

    def _new_tensor(self, t: Tensor, out: Callable[[Any], str]) -> str:
        code, tape = self.code, self.tape
        assert tape is not None
        if t._parents or (t._backward is not None and t._backward is not autograd._freed):
            tape.reason("the step returns or stores a tensor whose graph is still alive (call backward() inside "
                        "the compiled function, or return a detached tensor)")
        if t.grad is not None:
            tape.reason("the step returns or stores a new tensor that has a .grad")
        value = out(t._data)
        made = f"{code.const(type(t))}._wrap({value}, {code.const(t.backend)}, {t.requires_grad!r})"
        if t._backward is autograd._freed:
            return f"_freed({made}, {code.const(autograd._freed)})"
        return made

    def _read_array(self, expr: str, slot: int, value: Any) -> None:
        code = self.code  # each line tagged with the slot: dropped when the program does not read that input
        if slot in code.bound:
            code.lines.append((slot, f"if {expr} is not v{slot}: return MISS"))
            return
        code.bound.add(slot)
        code.arrays.append(slot)
        code.lines.append((slot, f"v{slot} = {expr}"))
        code.lines.append((slot, f"if v{slot}.shape != {tuple(value.shape)!r} or v{slot}.dtype != "
                                 f"{code.const(value.dtype)}: return MISS"))

    def _module_state(self, before: dict[str, Any], out: Callable[[Any], str]) -> None:
        code, tape = self.code, self.tape
        assert tape is not None
        for m, attrs in zip(self.modules, before["modules"], strict=True):
            now = vars(m)
            for name in set(attrs) | set(now):
                b, a = attrs.get(name, _ABSENT), now.get(name, _ABSENT)
                if a is b:
                    continue
                if isinstance(a, Tensor) and type(a._data) is Traced:
                    code.write(f"{code.const(m)}.{name} = {self._new_tensor(a, out)}")
                    a._data = a._data._v
                else:
                    tape.reason(f"the step changes the attribute {name!r} of a {type(m).__name__} (a Python "
                                "value the tape cannot replay)")

    def _optimizer_state(self, before: dict[str, Any], out: Callable[[Any], str]) -> None:
        code, tape = self.code, self.tape
        assert tape is not None
        for o, (attrs, backends_before, states) in zip(self.optimizers, before["optimizers"], strict=True):
            ov = code.const(o)
            code.guard(f"{ov}.state is not {code.const(o.state)} or len({ov}.state) != {len(states)}")
            code.guard(f"{ov}.params is not {code.const(o.params)}")
            for i, p in enumerate(o.params):
                code.guard(f"{ov}.params[{i}] is not {code.const(p)}")
            for name, value in attrs.items():
                if name not in _OWN and (
                        isinstance(value, _IMMUTABLE) or (type(value) is tuple and all(isinstance(v, _IMMUTABLE)
                                                                                     for v in value))):
                    code.guard(f"{ov}.{name} != {code.const(value)}")
                elif name not in _OWN and vars(o).get(name) is not value:
                    tape.reason(f"the step changes the optimizer's attribute {name!r}")
            lr_slot = self.lr_slots[id(o)]
            code.line(f"v{lr_slot} = float({ov}.lr)")
            if not (type(o.lr) is Num and o.lr._s == lr_slot):
                if type(o.lr) is Num:
                    code.write(f"{ov}.lr = {out(o.lr)}")
                else:
                    tape.reason("the step sets optimizer.lr to a number computed outside the trace (a schedule "
                                "stepped inside the step?); pass the lr as a float argument, or step the schedule "
                                "outside the compiled function")
            for i, (st, st0) in enumerate(zip(o.state, states, strict=True)):
                sv = code.const(st)
                code.guard(f"{ov}.state[{i}] is not {sv} or {sv}.keys() != {code.const(set(st0))}")
                step_slot = st0["step"]._s if type(st0["step"]) is Num else None
                assert step_slot is not None
                code.line(f"v{step_slot} = {sv}['step']")
                code.guard(f"type(v{step_slot}) is not int")
                for key, value in st0.items():
                    if key != "step":
                        self._read_array(f"{sv}[{key!r}]", value._s, value._v)
                for key in set(st0) | set(st):
                    b, a = st0.get(key, _ABSENT), st.get(key, _ABSENT)
                    if a is b:
                        continue
                    if a is _ABSENT:
                        tape.reason(f"the step deletes the optimizer state entry {key!r}")
                    else:
                        code.write(f"{sv}[{key!r}] = {out(a)}")
            for i, (b, a) in enumerate(zip(backends_before, o._state_backend, strict=True)):
                if a is not b:
                    code.write(f"{ov}._state_backend[{i}] = {code.const(a)}")

    def _result(self, result: Any, out: Callable[[Any], str]) -> str:
        code, tape = self.code, self.tape
        assert tape is not None
        known = {id(x) for x in (*self.tensors, *self.modules, *self.optimizers, *self.args, *self.kwargs.values())}
        t = type(result)
        if t is Traced or t is Num:
            return out(result)
        if isinstance(result, _IMMUTABLE):
            return code.const(result)
        if id(result) in known:
            return code.const(result)
        if isinstance(result, Tensor):
            if type(result._data) is not Traced:
                tape.reason("the step returns a tensor that holds no traced array")
                return "None"
            return self._new_tensor(result, out)
        if t in (tuple, list):
            inner = "".join(f"{self._result(x, out)}, " for x in result)
            return f"({inner})" if t is tuple else f"[{inner}]"
        if t is dict:
            return "{" + ", ".join(f"{k!r}: {self._result(v, out)}" for k, v in result.items()) + "}"
        tape.reason(f"the step returns a {t.__name__}, which compile cannot rebuild")
        return "None"


class _Saved:
    """Copies of every state array and value a trace may change, to undo a trace that failed half-way."""

    def __init__(self, tracer: Tracer, backend: Backend) -> None:
        xp = backend.xp

        def keep(a: Any) -> tuple[Any, Any]:
            return a, xp.asarray(a, copy=True)

        self.tensors = [(t, keep(t._data), t.grad, None if t.grad is None else keep(t.grad._data), t._version)
                        for t in tracer.tensors]
        self.data_args = [(t, t._data) for t in (*tracer.args, *tracer.kwargs.values()) if isinstance(t, Tensor)]
        self.modules = [(m, dict(vars(m))) for m in tracer.modules]
        self.optimizers = [(o, dict(vars(o)), list(o._state_backend), o.state,
                            [(st, {k: keep(v) if k != "step" else v for k, v in st.items()}) for st in o.state])
                           for o in tracer.optimizers]

    def restore(self) -> None:
        def put(kept: tuple[Any, Any]) -> Any:
            array, copy = kept
            array[...] = copy
            return array

        for t, data, grad, grad_data, version in self.tensors:
            t._data, t.grad, t._version = put(data), grad, version
            if grad is not None and grad_data is not None:
                grad._data = put(grad_data)
        for t, data in self.data_args:
            t._data = _real(data)
        for m, attrs in self.modules:
            vars(m).clear()
            vars(m).update(attrs)
        for o, attrs, backends, state, dicts in self.optimizers:
            vars(o).update(attrs)
            o._state_backend[:] = backends
            o.state = state
            for st, entries in dicts:
                st.clear()
                st.update({k: put(v) if k != "step" else v for k, v in entries.items()})


def _is_array(tape: Tape, x: Any) -> bool:
    return not isinstance(x, (Tensor, Module, Optimizer, np.generic)) and hasattr(x, "shape") and tape.real_owns(x)


def _freed(t: Tensor, freed: Any) -> Tensor:
    t._backward = freed
    return t


def _real(x: Any) -> Any:
    return x._v if type(x) in (Traced, Num) else x


def _concrete_result(result: Any) -> Any:
    t = type(result)
    if t is Traced or t is Num:
        return result._v
    if isinstance(result, Tensor):
        result._data = _real(result._data)
        return result
    if t in (tuple, list):
        return t(_concrete_result(x) for x in result)
    if t is dict:
        return {k: _concrete_result(v) for k, v in result.items()}
    return result


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
        if isinstance(obj, np.ndarray):
            tape.reason("the step moves host data to the device (a numpy array: random draws, data prepared on "
                        "the host); pass it as an argument")
            return real_asarray(obj, dtype)
        return tape.call(real_asarray, obj, dtype)

    def to_numpy(array: Any) -> Any:
        tape.host_read(".numpy() / to_numpy")
        return real_to_numpy(_real(array))

    backend.owns, backend.asarray, backend.to_numpy = owns, asarray, to_numpy  # type: ignore[method-assign]
    backend.xp = Namespace(tape, real_xp)

    def restore() -> None:
        backend.xp = real_xp
        for name in (*_HOOKS, "owns", "asarray", "to_numpy"):
            vars(backend).pop(name, None)

    return restore


# ------------------------------------------------------------------------------------------------ entries
class Code:
    """The guard-and-gather code of one entry, assembled as text: ``lines`` read the inputs (and return MISS
    when a guard fails), ``writes`` put the program's outputs ``o`` back into the state."""

    def __init__(self) -> None:
        self.lines: list[Any] = []  # text, or (input slot, text) for the lines that read that input
        self.writes: list[str] = []
        self.consts: dict[str, Any] = {}
        self._ids: dict[int, str] = {}
        self.bound: set[int] = set()
        self.arrays: list[int] = []
        self._vars = itertools.count()

    def const(self, value: Any) -> str:
        if type(value) in (bool, int, str, type(None)) or (type(value) is float and np.isfinite(value)):
            return repr(value)
        if id(value) not in self._ids:
            name = f"c{len(self._ids)}"
            self._ids[id(value)] = name
            self.consts[name] = value
        return self._ids[id(value)]

    def var(self, expr: str) -> str:
        name = f"a{next(self._vars)}"
        self.lines.append(f"{name} = {expr}")
        return name

    def line(self, text: str) -> None:
        self.lines.append(text)

    def guard(self, condition: str, **consts: Any) -> None:
        self.consts.update(consts)
        self.lines.append(f"if {condition}: return MISS")

    def write(self, text: str) -> None:
        self.writes.append(text)

    def function(self, name: str, body_tail: list[str], skip: set[int] | frozenset[int] = frozenset(),
                 **consts: Any) -> Callable[..., Any]:
        namespace = {"MISS": MISS, "_freed": _freed, **self.consts, **consts}
        lines = [x if type(x) is str else x[1] for x in self.lines if type(x) is str or x[0] not in skip]
        source = f"def {name}(args, kwargs):\n" + "".join(f"    {x}\n" for x in (*lines, *body_tail))
        exec(builtins_compile(source, f"<gradkit.compile {name}>", "exec"), namespace)  # noqa: S102
        fn = namespace[name]
        fn.source = source
        return fn


builtins_compile = __builtins__["compile"] if isinstance(__builtins__, dict) else __builtins__.compile


class Eager:
    """A signature that runs eagerly (the trace found something it cannot replay)."""

    def __init__(self, owner: Compiled, code: Code) -> None:
        self.owner = owner
        self._match = code.function("match", ["return True"])

    def run(self, args: tuple, kwargs: dict) -> Any:
        if self._match(args, kwargs) is MISS:
            return MISS
        self.owner.stats["eager"] += 1
        return self.owner.fn(*args, **kwargs)


class Replay:
    """A signature with a program: guard, gather the inputs, run the program, write the outputs back."""

    def __init__(self, owner: Compiled, code: Code, program: Program, ret: str, core: Callable[..., Any]) -> None:
        self.owner, self.program, self.core = owner, program, core
        unread = {s for s in code.arrays if s not in program.read_slots}  # a gradient that zero_grad drops
        inputs = ", ".join("None" if s in unread else f"v{s}" for s in program.tape.inputs)
        arrays = [s for s in code.arrays if s not in unread]
        if len(arrays) > 1:  # the arrays that were distinct objects when traced must still be
            code.guard("len({" + ", ".join(f"id(v{s})" for s in arrays) + f"}}) != {len(arrays)}")
        tail = [f"o = core({inputs})", "if o is MISS: return MISS", "_stats['replays'] += 1",
                *code.writes, f"return {ret}"]
        self.run = code.function("replay", tail, unread, core=core, _stats=owner.stats)
        self.source: str = getattr(self.run, "source", "")
