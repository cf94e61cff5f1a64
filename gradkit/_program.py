"""A tape (``gradkit._trace.Tape``) as one Python function: ``core(*inputs) -> outputs``.

Each entry becomes one statement (``v7 = xp_sum(v3, axis=1)``, ``v3 -= v9``, ``v4[k0] = v8``): no Tensor objects,
no graph, no topological sort, just the backend calls in the order the eager step made them. On the way:

- dead entries go (results nobody reads that are neither outputs nor updates in place);
- the branches on the minibatch (``bool()`` of an array computed from the inputs) and what they read run first:
  a branch that goes the other way returns ``MISS`` before any array is changed;
- entries with only constant operands (``arange(27)``) are computed once, unless the array (or a view of it) is
  later updated in place or leaves the program;
- each value is deleted after its last use, so temporaries are freed as early as in the eager engine.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

from ._trace import ALIASING, Ref, Tape, tree_map

MISS = object()  # what a program returns when a guard fails (the step must be traced again)


_SHAPE_ONLY = frozenset({"zeros_like", "ones_like"})
_FORMS = {"op": "v{o} = {a3} {r2} {a4}", "unary": "v{o} = {r2}{a3}", "iop": "{a3} {r2}= {a4}",
          "getitem": "v{o} = {a2}[{a3}]", "setitem": "{a2}[{a3}] = {a4}", "attr": "v{o} = {a2}.{r3}",
          "reuse": "v{o} = {a3}; v{o} {r2}= {a4}"}


def _lowered() -> dict[Any, Callable[..., str | None]]:
    """numpy_fast's wrappers written as the array methods and ufunc reductions they call (the same
    operations, without a Python function call each): ``fn -> code(args, kwargs, arg, dtype_kind)``."""
    from gradkit.backends import numpy_fast as nf

    def reduce(name: str) -> Callable[..., str | None]:
        def code(a: list[str], kw: dict[str, str], kind: str) -> str | None:
            if len(a) != 1 or set(kw) - {"axis", "keepdims"} or (name == "_add_reduce" and kind != "f"):
                return None
            return f"{name}({a[0]}" + "".join(f", {k}={v}" for k, v in kw.items()) + ")"

        return code

    def form(arity: int, text: str) -> Callable[..., str | None]:  # positional arguments only
        return lambda a, kw, kind: text.format(*a) if len(a) == arity and not kw else None

    return {nf.reshape: form(2, "{0}.reshape({1})"), nf.matrix_transpose: form(1, "{0}.mT"),
            nf.astype: form(2, "{0}.astype({1})"), nf.any: form(1, "(_TRUE if _count_nonzero({0}) else _FALSE)"),
            nf.sum: reduce("_add_reduce")}  # (nf.max is called: its short-row path)


_LOWERED: dict[Any, Callable[..., str | None]] = {}


def _name(fn: Any) -> str:
    fn = getattr(fn, "func", fn)
    return getattr(fn, "__name__", "")


def _reads(entry: tuple) -> list[int]:
    """The slots an entry reads (its operands, wherever they sit in its arguments)."""
    found: list[int] = []
    tree_map(entry[2:], lambda x: found.append(x._s) if type(x) is Ref else None)
    return found


_PURE = frozenset({"call", "op", "unary", "getitem", "attr", "method"})
_WRITES = frozenset({"iop", "setitem", "icall"})


def _target(entry: tuple) -> int:
    """The slot a write entry (``_WRITES``) writes into."""
    kind = entry[0]
    return (entry[3] if kind == "iop" else entry[2] if kind == "setitem" else entry[3][0])._s


def _cse(tape: Tape, entries: list[tuple]) -> tuple[list[tuple], dict[int, int]]:
    """Common subexpressions removed: an entry that repeats an earlier one (the same operation on the same values,
    with no write in between) reads the earlier result instead (the engine checks an index tensor's bounds
    once per use: the step's second use reuses the first check). Returns the entries and the slot map."""
    alias: dict[int, int] = {}
    seen: dict[Any, int] = {}
    out: list[tuple] = []
    root = _roots(entries)
    # A result that is written later (or whose root is) is never merged: a copy written is not the other copy.
    written = {root.get(s, s) for s in (_target(e) for e in entries if e[0] in _WRITES)}
    for e in entries:
        if e[1] is not None and root.get(e[1], e[1]) in written:
            out.append(_remap(tape, e, alias) if alias else e)
            continue
        e = _remap(tape, e, alias) if alias else e
        if e[0] in _WRITES:
            seen.clear()  # conservative: any write may change what an earlier result read
        elif e[0] in _PURE and e[1] is not None and tape.values[e[1]].value is None:
            key = _key((e[0], *e[2:]))  # the operation and its operands, not the output slot
            if key in seen:
                alias[e[1]] = seen[key]
                continue
            seen[key] = e[1]
        out.append(e)
    return out, alias


def _key(obj: Any) -> str:
    """A hashable description of an entry's operation and operands: Refs by slot, numbers and strings by type and
    value, every other object (an array constant, a function) by identity."""
    def leaf(x: Any) -> tuple[str, Any]:
        t = type(x)
        if t is Ref:
            return ("ref", x._s)
        return (t.__name__, x) if x is None or x is Ellipsis or t in (bool, int, float, str) else ("id", id(x))

    return repr(tree_map(obj, leaf))


def _remap(tape: Tape, obj: Any, alias: dict[int, int]) -> Any:
    return tree_map(obj, lambda x: tape.values[alias[x._s]] if type(x) is Ref and x._s in alias else x)


def _aliases(entry: tuple) -> bool:
    kind = entry[0]
    if kind == "getitem":
        return True
    if kind in ("attr", "method"):
        return entry[3] in ALIASING
    return kind == "call" and _name(entry[2]) in ALIASING


def _roots(entries: list[tuple]) -> dict[int, int]:
    """Each result's root: the array it may share memory with (itself, unless it views or aliases an operand)."""
    root: dict[int, int] = {}
    for e in entries:
        if e[1] is not None and e[0] != "iop":
            reads = _reads(e)
            root[e[1]] = root.get(reads[0], reads[0]) if reads and _aliases(e) else e[1]
    return root


def _last_reads(entries: list[tuple]) -> dict[int, int]:
    """Each slot's last reader (its entry's index)."""
    return {s: i for i, e in enumerate(entries) for s in _reads(e)}


class Consts(dict[str, Any]):
    """The objects generated code reads by name (``k0``, ``k1``, ... for the prefix ``k``), as its namespace:
    ``name(obj)`` gives the same object the same name; ``ref(obj)`` is the literal of None, a bool, an int, a
    string, a finite float or Ellipsis, else its name."""

    def __init__(self, prefix: str, **fixed: Any) -> None:
        super().__init__(fixed)
        self._prefix, self._ids = prefix, dict[int, str]()

    def name(self, value: Any) -> str:
        found = self._ids.get(id(value))
        if found is None:
            found = self._ids[id(value)] = f"{self._prefix}{len(self._ids)}"
            self[found] = value
        return found

    def ref(self, value: Any) -> str:
        t = type(value)
        if value is None or t is bool or t is int or t is str or (t is float and math.isfinite(value)):
            return repr(value)
        return "..." if value is Ellipsis else self.name(value)


class Program:
    """The code of one tape. ``core(*values of tape.inputs)`` returns the values of ``outputs`` (a tuple) or
    ``MISS``. ``source`` is the generated text (for debugging: ``print(program.source)``)."""

    def __init__(self, tape: Tape, outputs: list[int], keep_all: bool = False) -> None:
        self.tape, self.outputs, self.keep_all = tape, outputs, keep_all
        self.checks: list[tuple[str, Any]] = []  # (flag expression, error) of the checks (keep_all)
        from gradkit.backends import numpy_fast

        self.consts = Consts("k", MISS=MISS, _add_reduce=numpy_fast._add_reduce,
                             _count_nonzero=numpy_fast._count_nonzero, _TRUE=np.True_, _FALSE=np.False_)
        self.folded: dict[int, str] = {}
        entries, alias = _cse(tape, tape.entries)
        outputs = self.outputs = [alias.get(s, s) for s in outputs]
        needed = set(outputs)
        entries = self._live(self._fold(self._live(entries, needed), set(outputs)), needed)
        if not keep_all:
            entries = self._reuse(entries, set(outputs) | set(tape.inputs))
        arrays = self._hoist(entries)
        lines = [self._statement(e) for e in arrays]
        if not keep_all:
            lines = self._with_deletes(arrays, lines, set(outputs) | set(self.folded))
        outs = "".join(f"{self._ref(s)}, " for s in outputs)
        if keep_all:  # every intermediate stays referenced (CUDA graph capture: no address is reused)
            kept = ", ".join(f"v{e[1]}" for e in arrays if e[1] is not None and e[1] not in self.folded)
            outs += f"({kept}{',' if kept else ''}), "
            outs += "(" + "".join(f"{flag}, " for flag, _ in self.checks) + "), "
        self.body, self.outs = lines, outs  # (a replay inlines them: ``Replay``)
        params = ", ".join(f"v{s}" for s in tape.inputs)
        self.source = f"def core({params}):\n" + "".join(f"    {line}\n" for line in lines) + f"    return ({outs})\n"
        # The branches on the minibatch with what they read, alone (a CUDA graph cannot read the device: its
        # runner takes them on the host before the launch).
        head = [self._statement(e, host=True) for e in arrays[:self.n_cone]]
        self.branches_source = (f"def branches({params}):\n" + "".join(f"    {line}\n" for line in head)
                                + "    return True\n")
        namespace = dict(self.consts)
        exec(compile(self.source, f"<gradkit.compile program {id(self):x}>", "exec"), namespace)  # noqa: S102
        exec(compile(self.branches_source, f"<gradkit.compile branches {id(self):x}>", "exec"), namespace)  # noqa: S102
        self.core: Callable[..., Any] = namespace["core"]
        self.branches: Callable[..., Any] = namespace["branches"]
        self.read_slots = {s for e in entries for s in _reads(e)} | set(outputs)

    # analysis
    @staticmethod
    def _live(entries: list[tuple], needed: set[int]) -> list[tuple]:
        live = set(needed)
        kept = []
        for e in reversed(entries):
            if e[0] in _WRITES or e[0] in ("check", "branch") or e[1] in live:
                kept.append(e)
                live.update(_reads(e))
        kept.reverse()
        return kept

    def _fold(self, entries: list[tuple], outputs: set[int]) -> list[tuple]:
        root = _roots(entries)
        targets = [_target(e) for e in entries if e[0] in _WRITES]
        frozen = {root.get(s, s) for s in targets}
        frozen |= {root.get(s, s) for s in outputs}
        kept = []
        for e in entries:
            shape_only = e[0] == "call" and _name(e[2]) in _SHAPE_ONLY  # zeros_like(x) reads x's shape alone
            value = None if e[1] is None else self.tape.values[e[1]].value
            if (e[0] != "iop" and value is not None and (shape_only or all(s in self.folded for s in _reads(e)))
                    and root.get(e[1]) not in frozen):
                self.folded[e[1]] = self.consts.name(value)
            else:
                kept.append(e)
        return kept

    def _hoist(self, entries: list[tuple]) -> list[tuple]:
        """The branches (``bool()`` of an array in the step: ``if any(targets < 0)``) and what they depend on
        first, so that a branch that goes the other way returns MISS before anything is changed. Records in
        ``self.branch_inputs`` the inputs the branches read."""
        producer = {e[1]: i for i, e in enumerate(entries) if e[1] is not None}
        cone: set[int] = set()
        self.branch_inputs: set[int] = set()
        for i, e in enumerate(entries):
            if e[0] != "branch":
                continue
            cone.add(i)
            stack = _reads(e)
            while stack:
                s = stack.pop()
                j = producer.get(s)
                if j is None:
                    if s not in self.folded:
                        self.branch_inputs.add(s)
                elif j not in cone:
                    cone.add(j)
                    stack.extend(_reads(entries[j]))
        # A branch moved ahead of a write must not read what the write changes (nor contain one itself).
        root = _roots(entries)
        read = {root.get(s, s) for i in cone for s in _reads(entries[i])}
        end = max(cone, default=-1)
        self.branch_pure = not any(entries[i][0] in _WRITES | {"reuse", "ufunc_out"} for i in cone)
        self.branch_pure &= not any(e[0] in _WRITES and root.get(_target(e), _target(e)) in read
                                    for i, e in enumerate(entries[:end]) if i not in cone)
        self.n_cone = len(cone)
        return [e for i, e in enumerate(entries) if i in cone] + [e for i, e in enumerate(entries) if i not in cone]

    def _reuse(self, entries: list[tuple], keep: set[int]) -> list[tuple]:
        """An elementwise op whose first operand is a temporary used for the last time, that nothing else
        views, of the result's shape and dtype, writes into it (``a - b`` -> ``a -= b``; a numpy ufunc
        ``f(a)`` -> ``f(a, out=a)``): the same values, one allocation (and its page faults) fewer."""
        values = self.tape.values
        last, root = _last_reads(entries), _roots(entries)
        fresh = {s for s, r in root.items() if r == s}
        viewed = {r for s, r in root.items() if r != s}
        out: list[tuple] = []
        for i, e in enumerate(entries):
            a: Any = e[3] if e[0] == "op" else e[3][0] if e[0] == "call" and len(e[3]) == 1 and not e[4] else None
            ok = (type(a) is Ref and a.mutable and a._s in fresh and a._s not in keep and a._s not in viewed
                  and last.get(a._s) == i
                  and a._s not in self.folded and a.shape and e[1] is not None
                  and values[e[1]].shape == a.shape and values[e[1]].dtype == a.dtype)
            if ok and e[0] == "op" and e[2] in ("+", "-", "*", "/"):
                out.append(("reuse", e[1], e[2], a, e[4]))
            elif ok and e[0] == "call" and isinstance(e[2], np.ufunc) and e[2].nout == 1 and a.ufunc_ok:
                out.append(("ufunc_out", e[1], e[2], a))
            else:
                out.append(e)
        return out

    @staticmethod
    def _with_deletes(entries: list[tuple], lines: list[str], keep: set[int]) -> list[str]:
        last = _last_reads(entries)
        for i, e in enumerate(entries):
            if e[1] is not None:
                last.setdefault(e[1], i)  # a result nobody reads: its own line
        out = []
        for i, (e, line) in enumerate(zip(entries, lines, strict=True)):
            out.append(line)
            dead = sorted({s for s in (*_reads(e), e[1]) if s is not None and last.get(s) == i and s not in keep})
            if dead:
                out.append("del " + ", ".join(f"v{s}" for s in dead))
        return out

    # code
    def _ref(self, slot: int) -> str:
        return self.folded.get(slot, f"v{slot}")

    def _arg(self, obj: Any) -> str:
        t = type(obj)
        if t is Ref:
            return self._ref(obj._s)
        if t is tuple and any(_reads(("", None, obj))):
            return "(" + "".join(f"{self._arg(x)}, " for x in obj) + ")"
        if t is list and any(_reads(("", None, obj))):
            return "[" + ", ".join(self._arg(x) for x in obj) + "]"
        if t is slice and any(_reads(("", None, obj))):
            return f"slice({self._arg(obj.start)}, {self._arg(obj.stop)}, {self._arg(obj.step)})"
        return self.consts.ref(obj)

    def _call_args(self, args: tuple, kwargs: dict) -> str:
        parts = [self._arg(a) for a in args] + [f"{k}={self._arg(v)}" for k, v in kwargs.items()]
        return ", ".join(parts)

    def _statement(self, e: tuple, host: bool = False) -> str:
        kind, out = e[0], e[1]
        if kind == "call":
            if not _LOWERED:
                _LOWERED.update(_lowered())
            lower = _LOWERED.get(e[2]) if isinstance(e[2], Hashable) else None
            if lower is not None:
                first = e[3][0] if e[3] else None
                kind_ = first.kind if type(first) is Ref else ""
                code = lower([self._arg(a) for a in e[3]], {k: self._arg(v) for k, v in e[4].items()}, kind_)
                if code is not None:
                    return f"v{out} = {code}"
            return f"v{out} = {self.consts.name(e[2])}({self._call_args(e[3], e[4])})"
        if kind == "icall":  # a hook that writes into its first argument (Backend.put)
            return f"{self.consts.name(e[2])}({self._call_args(e[3], {})})"
        if kind == "ufunc_out":
            return f"v{out} = {self.consts.name(e[2])}({self._arg(e[3])}, out={self._arg(e[3])})"
        if kind == "branch":
            if self.keep_all and not host:  # a CUDA graph: ``branches`` takes it before the launch
                return "pass"
            return f"if {'not ' if e[3] else ''}{self._arg(e[2])}: return MISS"
        if kind == "check":
            if self.keep_all and not host:  # no host read inside a CUDA graph: the runner reads the flag after it
                self.checks.append((self._arg(e[2]), e[3]))
                return "pass"
            return f"if {self._arg(e[2])}: raise {self.consts.name(e[3])}()"
        if kind == "method":
            return f"v{out} = {self._arg(e[2])}.{e[3]}({self._call_args(e[4], e[5])})"
        if kind in _FORMS:  # {o}: the output slot, {rN}: entry part N as it is, {aN}: part N as an operand
            parts = {f"a{i}": self._arg(e[i]) for i in range(2, len(e))}
            return _FORMS[kind].format(o=out, r2=e[2], r3=e[3] if len(e) > 3 else "", **parts)
        raise AssertionError(f"unknown tape entry {kind!r}")

