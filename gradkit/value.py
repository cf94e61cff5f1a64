"""``Value``: a scalar reverse-mode autograd engine, the reference for gradkit's Tensor.

This is micrograd's engine (Andrej Karpathy, https://github.com/karpathy/micrograd, as built in the
lecture "The spelled-out intro to neural networks and backpropagation"), made complete and correct:

* every arithmetic operator and its reflected form (``2 - x``, ``2 / x``, ``2 ** x``, ...), ``exp``,
  ``log``, ``tanh``, ``relu``, ``sigmoid``, ``abs`` and ``**`` with a number or a ``Value`` exponent;
* IEEE semantics instead of Python exceptions: ``exp(1000)`` is ``inf``, ``log(0)`` is ``-inf``,
  ``log(-1)`` and ``(-8) ** (1/3)`` are ``nan`` (never complex), ``1 / Value(0)`` is ``inf``;
* an iterative topological sort, so a 100,000-node chain back-propagates under the default
  recursion limit;
* no closures on the nodes: each node stores its parents and the local derivatives (d out / d parent)
  as two tuples, computed in the forward pass.  Nodes form no reference cycles, so the garbage
  collector has nothing to chase, and a step of micrograd's moons demo takes tens of milliseconds
  instead of micrograd's second or so;
* fused n-ary nodes :meth:`Value.sum` and :meth:`Value.dot` (``sum_i w_i x_i + bias`` as one node),
  which keep the graph of a neuron at one node instead of ``2 n``.

The methods are named as numpy's ufuncs look for them, so ``np.exp``, ``np.log``, ``np.tanh``,
``np.abs`` and the arithmetic ufuncs work elementwise on object arrays of ``Value``.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Iterable, Sequence
from functools import reduce as _reduce
from itertools import repeat
from operator import add as _add
from operator import attrgetter
from operator import mul as _mul
from typing import Any

__all__ = ["Value", "affine"]

Number = int | float
_INF = math.inf
_NAN = math.nan
# Creation stamps: every node is created after its parents, so ordering nodes by stamp is a
# topological order (itertools.count's next() is atomic under the GIL).
_counter = itertools.count()
_by_seq = attrgetter("_seq")
_isfinite = math.isfinite
_get_prev = attrgetter("_prev")
_get_data = attrgetter("data")
_chain = itertools.chain.from_iterable


def _is_number(x: object) -> bool:
    """True for Python and numpy real scalars (``bool`` included), False for anything else."""
    t = type(x)
    return t is float or t is int or isinstance(x, numbers.Real)


def _is_odd_integer(b: float) -> bool:
    return b.is_integer() and b % 2.0 == 1.0


def _pow(a: float, b: float) -> float:
    """``a ** b`` for floats with IEEE / C99 ``pow`` results instead of Python's exceptions.

    A negative finite base with a non-integer exponent gives ``nan`` (Python would return a complex
    number); ``0 ** negative`` gives ``inf`` (``-inf`` for ``-0.0`` and an odd integer exponent);
    overflow gives a signed ``inf``.
    """
    try:
        r = a**b
    except ZeroDivisionError:
        return math.copysign(_INF, a) if _is_odd_integer(b) else _INF
    except OverflowError:
        return -_INF if (a < 0.0 and _is_odd_integer(b)) else _INF
    if type(r) is complex:
        return _NAN
    return r


def _div(a: float, b: float) -> float:
    """``a / b`` with IEEE results: ``x / 0`` is a signed ``inf``, ``0 / 0`` and ``nan / 0`` are ``nan``."""
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0.0 or a != a:
            return _NAN
        return math.copysign(_INF, a) * math.copysign(1.0, b)


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return _INF


def _datas(seq: Sequence[Any]) -> tuple[list[float], bool | None]:
    """The float data of a sequence of values and/or numbers, and whether it holds only values.

    Returns ``(data, True)`` for only ``Value`` objects, ``(data, False)`` for only numbers and
    ``(data, None)`` for a mix.

    Raises:
        TypeError: an element is neither a ``Value`` nor a real number.
    """
    types = set(map(type, seq))
    if len(types) == 1:
        (t,) = types
        if t is Value:
            return list(map(_get_data, seq)), True
        if t is float:
            return list(seq), False
    data: list[float] = []
    n_values = 0
    for v in seq:
        if isinstance(v, Value):
            data.append(v.data)
            n_values += 1
        elif _is_number(v):
            data.append(float(v))
        else:
            raise TypeError(f"{type(v).__name__} is neither a Value nor a real number")
    return data, (True if n_values == len(data) else False if n_values == 0 else None)


_object_new = object.__new__


def _new_node(data: float, prev: tuple[Value, ...], local: tuple[float, ...], op: str) -> Value:
    """A new interior node (no checks: ``data`` is a float, ``local[i]`` is d data / d prev[i])."""
    out = _object_new(Value)
    out.data = data
    out.grad = 0.0
    out.label = ""
    out._prev = prev
    out._local = local
    out._op = op
    out._seq = next(_counter)
    return out


class Value:
    """A scalar node of a computation graph, with reverse-mode automatic differentiation.

    ``Value(data, label="")`` holds ``data`` (a Python float) and ``grad`` (a Python float, d root / d
    this node after :meth:`backward`).  Operations on values build new values that remember their
    parents (``_prev``), the local derivatives d out / d parent (``_local``, computed in the forward
    pass) and the name of the operation (``_op``, shown by :func:`gradkit.viz.draw_dot`).

    Nodes hash and compare by identity: two values with equal data are distinct keys of a set or a
    dict.  (``==`` is object identity; compare ``.data`` to compare numbers.)

    Args:
        data: a real number (Python or numpy scalar); stored as a Python ``float``.
        label: a name for the node, shown by :func:`gradkit.viz.draw_dot`.

    Raises:
        TypeError: ``data`` is not a real number (a ``Value``, an array, a string, a complex ...).

    Source: micrograd's ``engine.py`` by Andrej Karpathy, "The spelled-out intro to neural networks
    and backpropagation" lecture.
    """

    __slots__ = ("data", "grad", "label", "_prev", "_local", "_op", "_seq")

    def __init__(self, data: Number, label: str = "") -> None:
        if type(data) is not float:
            if isinstance(data, Value) or not _is_number(data):
                raise TypeError(f"Value needs a real number, got {type(data).__name__}: {data!r}")
            data = float(data)
        self.data: float = data
        self.grad: float = 0.0
        self.label: str = label
        self._prev: tuple[Value, ...] = ()
        self._local: tuple[float, ...] = ()
        self._op: str = ""
        self._seq: int = next(_counter)

    def __repr__(self) -> str:
        lab = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data!r}, grad={self.grad!r}{lab})"

    # ----------------------------------------------------------------- binary operators
    # A number operand is wrapped into a constant leaf ``Value`` (as micrograd does), so the graph
    # and draw_dot show it; anything else (an array, a string) returns NotImplemented, which lets
    # numpy broadcast ``value * ndarray`` elementwise over an object array.

    def __add__(self, other: Value | Number) -> Value:
        """``self + other``; d/dself = 1, d/dother = 1."""
        if not isinstance(other, Value):
            if not _is_number(other):
                return NotImplemented
            other = Value(other)
        return _new_node(self.data + other.data, (self, other), (1.0, 1.0), "+")

    def __radd__(self, other: Number) -> Value:
        """``other + self`` for a number ``other``."""
        if not _is_number(other):
            return NotImplemented
        return Value(other).__add__(self)

    def __sub__(self, other: Value | Number) -> Value:
        """``self - other``; d/dself = 1, d/dother = -1."""
        if not isinstance(other, Value):
            if not _is_number(other):
                return NotImplemented
            other = Value(other)
        return _new_node(self.data - other.data, (self, other), (1.0, -1.0), "-")

    def __rsub__(self, other: Number) -> Value:
        """``other - self`` for a number ``other``."""
        if not _is_number(other):
            return NotImplemented
        return Value(other).__sub__(self)

    def __mul__(self, other: Value | Number) -> Value:
        """``self * other``; d/dself = other, d/dother = self."""
        if not isinstance(other, Value):
            if not _is_number(other):
                return NotImplemented
            other = Value(other)
        a, b = self.data, other.data
        return _new_node(a * b, (self, other), (b, a), "*")

    def __rmul__(self, other: Number) -> Value:
        """``other * self`` for a number ``other``."""
        if not _is_number(other):
            return NotImplemented
        return Value(other).__mul__(self)

    def __truediv__(self, other: Value | Number) -> Value:
        """``self / other``; d/dself = 1/other, d/dother = -self/other**2.  ``x / 0`` is ``inf`` (IEEE)."""
        if not isinstance(other, Value):
            if not _is_number(other):
                return NotImplemented
            other = Value(other)
        a, b = self.data, other.data
        out = _div(a, b)
        inv_b = _div(1.0, b)
        # -a / b**2 without squaring b (which could overflow or underflow first)
        return _new_node(out, (self, other), (inv_b, -(out * inv_b)), "/")

    def __rtruediv__(self, other: Number) -> Value:
        """``other / self`` for a number ``other``."""
        if not _is_number(other):
            return NotImplemented
        return Value(other).__truediv__(self)

    def __pow__(self, other: Value | Number) -> Value:
        """``self ** other`` with a number or a ``Value`` exponent.

        With a number exponent ``n`` (a constant, not a graph node): d/dself = ``n * self**(n-1)``
        (``0`` for ``n == 0``).  With a ``Value`` exponent ``b`` the node has two parents:
        d/dself = ``b * self**(b-1)`` (``0`` for ``b == 0``) and d/db = ``self**b * ln(self)``, with
        PyTorch's values at a base of zero: ``0`` for ``b >= 0``, ``self**b * -inf`` (an infinity) for
        ``b < 0``; ``nan`` for a negative base.  A negative base with a non-integer exponent gives ``nan`` (never a
        complex number); ``0 ** negative`` gives ``inf``; nothing raises.
        """
        a = self.data
        if isinstance(other, Value):
            b = other.data
            out = _pow(a, b)
            da = 0.0 if b == 0.0 else b * _pow(a, b - 1.0)
            if a > 0.0:
                db = out * math.log(a)
            elif a == 0.0:
                db = 0.0 if b >= 0.0 else out * -_INF  # torch's values at a base of zero
            else:
                db = _NAN
            return _new_node(out, (self, other), (da, db), "**")
        if not _is_number(other):
            return NotImplemented
        n = float(other)
        da = 0.0 if n == 0.0 else n * _pow(a, n - 1.0)
        return _new_node(_pow(a, n), (self,), (da,), f"**{n:g}")

    def __rpow__(self, other: Number) -> Value:
        """``other ** self`` for a number base ``other`` (see :meth:`__pow__` for the derivatives)."""
        if not _is_number(other):
            return NotImplemented
        return Value(other).__pow__(self)

    def __neg__(self) -> Value:
        """``-self``; d/dself = -1."""
        return _new_node(-self.data, (self,), (-1.0,), "neg")

    def __pos__(self) -> Value:
        """``+self``: ``self`` itself (no new node)."""
        return self

    def __abs__(self) -> Value:
        """``abs(self)``; d/dself = sign(self), taken as 0 at 0 and at ``nan`` (as PyTorch)."""
        x = self.data
        d = 1.0 if x > 0.0 else -1.0 if x < 0.0 else 0.0
        return _new_node(abs(x), (self,), (d,), "abs")

    # ---------------------------------------------------------------- unary functions

    def exp(self) -> Value:
        """``e ** self``; d/dself = ``e ** self``.  Overflows to ``inf`` (IEEE) instead of raising."""
        out = _exp(self.data)
        return _new_node(out, (self,), (out,), "exp")

    def log(self) -> Value:
        """Natural logarithm; d/dself = ``1 / self``.

        Follows IEEE / numpy instead of raising: ``log(0) = -inf`` (derivative ``inf``) and
        ``log(negative) = nan`` (derivative ``nan``: the function is undefined there).
        """
        x = self.data
        if x > 0.0:
            return _new_node(math.log(x), (self,), (1.0 / x,), "log")
        if x == 0.0:
            return _new_node(-_INF, (self,), (_INF,), "log")
        return _new_node(_NAN, (self,), (_NAN,), "log")

    def tanh(self) -> Value:
        """Hyperbolic tangent; d/dself = ``1 - tanh(self)**2``.  At +-1000 gives +-1 with derivative 0."""
        t = math.tanh(self.data)
        return _new_node(t, (self,), (1.0 - t * t,), "tanh")

    def relu(self) -> Value:
        """``max(0, self)``; d/dself = 1 for ``self > 0`` and 0 otherwise (no gradient at exactly 0).

        A ``nan`` input gives ``nan`` with derivative 1 (PyTorch's: its backward passes the gradient
        wherever the input is not ``<= 0``).
        """
        x = self.data
        if x <= 0.0:
            return _new_node(0.0, (self,), (0.0,), "relu")
        return _new_node(x, (self,), (1.0,), "relu")

    def sigmoid(self) -> Value:
        """Logistic sigmoid ``1 / (1 + e**-self)``, numerically stable for any input.

        d/dself = ``s * (1 - s)``.  Computed from ``e**-|self|`` so nothing overflows: +-1000 give
        exactly 1 and 0 with derivative 0.
        """
        x = self.data
        if x >= 0.0:
            s = 1.0 / (1.0 + math.exp(-x))
        else:
            z = math.exp(x)  # also the nan branch: exp(nan) = nan
            s = z / (1.0 + z)
        return _new_node(s, (self,), (s * (1.0 - s),), "sigmoid")

    # ---------------------------------------------------------------- fused n-ary nodes

    @staticmethod
    def sum(values: Iterable[Value | Number], start: Value | Number = 0.0) -> Value:
        """``start + sum(values)`` as one node (local derivative 1 to each ``Value`` operand).

        Numbers among ``values`` are folded into the node's data; they are not graph nodes.  A value
        that occurs several times gets every occurrence's gradient.

        Args:
            values: ``Value`` objects and/or real numbers.
            start: a number or a ``Value`` added first (micrograd's ``sum(values, start)``).

        Returns:
            A new ``Value`` (op ``"sum"``), also for an empty ``values``.

        Raises:
            TypeError: an element is neither a ``Value`` nor a real number.
        """
        prev: list[Value] = []
        acc = 0.0
        for v in (start, *values):
            if isinstance(v, Value):
                prev.append(v)
                acc += v.data
            elif _is_number(v):
                acc += float(v)
            else:
                raise TypeError(f"Value.sum: {type(v).__name__} is neither a Value nor a real number")
        return _new_node(acc, tuple(prev), (1.0,) * len(prev), "sum")

    @staticmethod
    def dot(a: Iterable[Value | Number], b: Iterable[Value | Number], bias: Value | Number = 0.0) -> Value:
        """``bias + sum_i a[i] * b[i]`` as one node: the pre-activation of a neuron.

        Local derivatives: d/da[i] = b[i], d/db[i] = a[i], d/dbias = 1.  Numbers (e.g. the input
        features of a first layer) are constants, not graph nodes.  Passing the same list twice
        (``Value.dot(p, p)``) gives ``sum p**2`` with derivative ``2 p``.  The products are added
        left to right starting from ``bias``, as micrograd's ``sum((wi*xi ...), b)`` on Python <= 3.11
        (a plain loop, so the rounding is the same on every Python version; builtin ``sum``
        compensates rounding since 3.12).

        Args:
            a, b: sequences of equal length of ``Value`` objects and/or real numbers.
            bias: a number or a ``Value`` added first.

        Returns:
            A new ``Value`` (op ``"dot"``).

        Raises:
            ValueError: ``a`` and ``b`` have different lengths.
            TypeError: an element is neither a ``Value`` nor a real number.
        """
        if type(a) is not list and type(a) is not tuple:
            a = list(a)
        if type(b) is not list and type(b) is not tuple:
            b = list(b)
        if len(a) != len(b):
            raise ValueError(f"Value.dot needs sequences of equal length, got {len(a)} and {len(b)}")
        ad, a_nodes = _datas(a)
        bd, b_nodes = _datas(b)
        return _dot_node(a, ad, a_nodes, b, bd, b_nodes, bias)

    # ---------------------------------------------------------------- backpropagation

    def topo(self) -> list[Value]:
        """All nodes that ``self`` depends on (itself included), parents before children.

        Iterative (no recursion, so graphs of any depth work under the default recursion limit):
        a breadth-first search collects the reachable nodes in a visited set (nodes hash by
        identity), then they are ordered by their creation stamp -- a node is always created after
        its parents, so that order is topological.  Each node occurs once however many paths lead
        to it.

        Returns:
            The list of nodes, ``self`` last.
        """
        seen = {self}
        frontier: set[Value] | list[Value] = [self]
        while frontier:  # breadth-first by levels; the set operations run in C
            frontier = set(_chain(map(_get_prev, frontier)))
            frontier -= seen
            seen |= frontier
        return sorted(seen, key=_by_seq)

    def backward(self, grad: float = 1.0) -> None:
        """Back-propagate: add d self / d node to ``node.grad`` for every node ``self`` depends on.

        Gradient rule (as PyTorch's ``.grad``):

        * **leaves** (values made with ``Value(...)``, e.g. parameters and inputs) *accumulate*:
          each call adds to their ``grad``, so calling ``backward()`` twice gives them exactly twice
          the gradient; set ``grad = 0.0`` (``Module.zero_grad()``) between steps;
        * **interior nodes** (results of operations, ``self`` included unless it is a leaf) restart
          from zero at each call: their ``grad`` is this call's d self / d node only.

        A node reused along several paths (``a + a``, ``x * x``, diamonds) gets the sum over all the
        paths.  The topological sort is iterative (see :meth:`topo`): a chain of 100,000 nodes works
        with the default recursion limit.

        Args:
            grad: the seed d L / d self (default 1.0: differentiate ``self`` itself).

        Returns:
            None; the gradients are in the ``grad`` attributes.
        """
        order = self.topo()
        # This call's gradient is computed from zero everywhere and then added to what the leaves
        # held, in one addition per leaf: a second call adds exactly the same number again.
        held = [(node, node.grad) for node in order if not node._prev]
        for node in order:
            node.grad = 0.0
        self.grad = float(grad)
        for node in reversed(order):
            g = node.grad
            local = node._local
            # A node with zero gradient (after a dead ReLU, a point beyond the hinge margin) adds
            # nothing to its parents -- unless a local derivative is inf or nan, where IEEE gives
            # 0 * inf = nan; the sum is finite only when every term is (an overflow just means
            # no skip), so skipping never changes a result (beyond the sign of a zero).
            if g == 0.0 and _isfinite(sum(local)):
                continue
            for parent, d in zip(node._prev, map(_mul, local, repeat(g))):
                parent.grad += d
        for leaf, before in held:
            leaf.grad = before + leaf.grad


def _dot_node(
    a: Sequence[Any],
    ad: list[float],
    a_nodes: bool | None,
    b: Sequence[Any],
    bd: list[float],
    b_nodes: bool | None,
    bias: Value | Number,
) -> Value:
    """The ``dot`` node of :meth:`Value.dot`, given both operands' data and kinds from :func:`_datas`."""
    if a_nodes is True and b_nodes is True:  # hidden layer: weights . activations
        prev: tuple[Value, ...] = (*a, *b)
        local: tuple[float, ...] = (*bd, *ad)
    elif a_nodes is True and b_nodes is False:  # first layer: weights . numbers
        prev, local = tuple(a), tuple(bd)
    elif a_nodes is False and b_nodes is True:
        prev, local = tuple(b), tuple(ad)
    elif a_nodes is False and b_nodes is False:
        prev, local = (), ()
    else:  # some sequence mixes values and numbers
        pl: list[Value] = []
        ll: list[float] = []
        for x, y, xd, yd in zip(a, b, ad, bd):
            if isinstance(x, Value):
                pl.append(x)
                ll.append(yd)
            if isinstance(y, Value):
                pl.append(y)
                ll.append(xd)
        prev, local = tuple(pl), tuple(ll)
    if isinstance(bias, Value):
        prev = (bias, *prev)
        local = (1.0, *local)
        acc = bias.data
    elif _is_number(bias):
        acc = float(bias)
    else:
        raise TypeError(f"Value.dot: bias {type(bias).__name__} is neither a Value nor a real number")
    acc = _reduce(_add, map(_mul, ad, bd), acc)  # left to right, as a Python loop would, but in C
    return _new_node(acc, prev, local, "dot")


def affine(
    weights: Sequence[Sequence[Value | Number]],
    biases: Sequence[Value | Number],
    x: Iterable[Value | Number],
) -> list[Value]:
    """``[Value.dot(w, x, b) for w, b in zip(weights, biases)]``, reading ``x`` only once.

    The pre-activations of a layer: the same nodes as calling :meth:`Value.dot` per neuron, with the
    data of the shared input extracted and type-checked once instead of once per neuron.

    Args:
        weights: one sequence of ``len(x)`` weights per output.
        biases: one bias per output.
        x: the input, ``Value`` objects and/or real numbers.

    Returns:
        A list of ``len(weights)`` new ``Value`` nodes (op ``"dot"``).

    Raises:
        ValueError: a row of ``weights`` or ``biases`` has the wrong length.
        TypeError: an element is neither a ``Value`` nor a real number.
    """
    if type(x) is not list and type(x) is not tuple:
        x = list(x)
    if len(weights) != len(biases):
        raise ValueError(f"affine: {len(weights)} weight rows but {len(biases)} biases")
    xd, x_nodes = _datas(x)
    n = len(x)
    # the layer's hot path: every weight and bias a Value (checked once for all rows) and x
    # homogeneous; it builds the same nodes as _dot_node
    fast = x_nodes is not None and set(map(type, _chain(weights))) | set(map(type, biases)) == {Value}
    out: list[Value] = []
    append = out.append
    for w, b in zip(weights, biases):
        if len(w) != n:
            raise ValueError(f"affine: a weight row has {len(w)} entries for an input of {n}")
        if fast:
            wd = list(map(_get_data, w))
            if x_nodes:
                prev = (b, *w, *x)
                local = (1.0, *xd, *wd)
            else:
                prev = (b, *w)
                local = (1.0, *xd)
            acc = _reduce(_add, map(_mul, wd, xd), b.data)  # type: ignore[union-attr]
            append(_new_node(acc, prev, local, "dot"))
        else:
            wd, w_nodes = _datas(w)
            append(_dot_node(w, wd, w_nodes, x, xd, x_nodes, b))
    return out
