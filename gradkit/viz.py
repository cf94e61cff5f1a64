"""Draw the computation graph of a scalar :class:`~gradkit.value.Value` with Graphviz.

As micrograd's ``trace_graph.ipynb`` (Andrej Karpathy, "The spelled-out intro to neural networks and
backpropagation" lecture): one record per value showing its label, data and grad, and one small
node per operation.  The ``graphviz`` Python package is the optional ``viz`` extra
(``pip install ".[viz]"`` in the gradkit checkout); rendering to an image also needs Graphviz's ``dot`` program.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from gradkit.value import Value

if TYPE_CHECKING:  # pragma: no cover
    import graphviz

__all__ = ["trace", "draw_dot", "render_dot"]

_RANKDIRS = ("LR", "TB", "RL", "BT")
_MISSING_DOT = (
    "the Graphviz `dot` program is missing, so the graph cannot be rendered to {fmt}. "
    "It is not a Python package: install Graphviz with `apt-get install graphviz` (Debian/Ubuntu), "
    "`brew install graphviz` (macOS) or `conda install graphviz`, and make sure `dot` is on PATH. "
    "(draw_dot(...).source gives the DOT text without it.)"
)


def _import_graphviz():
    try:
        import graphviz
    except ImportError as err:
        raise ImportError(
            'gradkit.viz needs the optional graphviz package: pip install ".[viz]" in the gradkit checkout (or pip '
            'install graphviz)'
        ) from err
    return graphviz


def trace(root: Value) -> tuple[list[Value], list[tuple[Value, Value]]]:
    """The nodes and edges of the graph that ``root`` depends on.

    Args:
        root: the output value.

    Returns:
        ``(nodes, edges)``: the nodes in topological order (``root`` last) and the distinct
        ``(parent, child)`` pairs, in a deterministic order.  A parent used twice by one child
        (``a + a``) gives one edge.

    Raises:
        TypeError: ``root`` is not a ``Value``.
    """
    if not isinstance(root, Value):
        raise TypeError(f"trace needs a Value, got {type(root).__name__}")
    nodes = root.topo()
    edges: list[tuple[Value, Value]] = []
    for child in nodes:
        seen: set[int] = set()
        for parent in child._prev:
            if id(parent) not in seen:
                seen.add(id(parent))
                edges.append((parent, child))
    return nodes, edges


def _record_text(text: str) -> str:
    """Escape the characters that are syntax inside a Graphviz record label."""
    for ch in '\\{}|<>"':
        text = text.replace(ch, "\\" + ch)
    return text


def draw_dot(root: Value, format: str = "svg", rankdir: str = "LR") -> graphviz.Digraph:
    """A ``graphviz.Digraph`` of the computation graph of ``root``, as micrograd's ``draw_dot``.

    Every value is a record ``{ label | data 1.2345 | grad 0.5000 }``; every operation (``+``,
    ``*``, ``dot``, ``relu``, ``**2`` ...) is a small oval node between its operands and its result.
    Building the graph needs only the ``graphviz`` Python package; display it in Jupyter, read its
    ``.source``, or write an image with :func:`render_dot` (which needs the ``dot`` program).

    Args:
        root: the output value (call ``root.backward()`` first to see gradients).
        format: the output format used when rendering (``"svg"``, ``"png"``, ``"pdf"`` ...).
        rankdir: graph direction, ``"LR"`` (left to right, the default), ``"TB"``, ``"RL"`` or ``"BT"``.

    Returns:
        A ``graphviz.Digraph``.

    Raises:
        ImportError: the ``graphviz`` package is missing; the message says ``pip install ".[viz]"``.
        ValueError: ``rankdir`` is not one of the four directions, or graphviz rejects ``format``.
        TypeError: ``root`` is not a ``Value``.

    Source: micrograd's ``trace_graph.ipynb`` by Andrej Karpathy.
    """
    if rankdir not in _RANKDIRS:
        raise ValueError(f"rankdir must be one of {_RANKDIRS}, got {rankdir!r}")
    graphviz = _import_graphviz()
    nodes, edges = trace(root)
    dot = graphviz.Digraph(format=format, graph_attr={"rankdir": rankdir})
    for n in nodes:
        uid = str(id(n))
        label = f"{{ {_record_text(n.label)} | data {n.data:.4f} | grad {n.grad:.4f} }}"
        dot.node(name=uid, label=label, shape="record")
        if n._op:
            dot.node(name=uid + n._op, label=n._op)
            dot.edge(uid + n._op, uid)
    for parent, child in edges:
        dot.edge(str(id(parent)), str(id(child)) + child._op)
    return dot


def render_dot(root: Value, path: str | os.PathLike[str], format: str = "svg", rankdir: str = "LR") -> str:
    """Draw the graph of ``root`` (:func:`draw_dot`) and write it as an image file.

    Args:
        root: the output value.
        path: the image file to write, e.g. ``"graph.svg"`` (without a suffix, ``.{format}`` is
            added); the DOT source is not kept.
        format: the image format (``"svg"``, ``"png"``, ``"pdf"`` ...).
        rankdir: as :func:`draw_dot`.

    Returns:
        The path of the written image, as graphviz reports it.

    Raises:
        RuntimeError: Graphviz's ``dot`` program is not installed (``graphviz.ExecutableNotFound``);
            the message names the packages that provide it (``apt-get install graphviz``,
            ``brew install graphviz``, ``conda install graphviz``).
        ImportError, ValueError, TypeError: as :func:`draw_dot`.
    """
    graphviz = _import_graphviz()
    dot = draw_dot(root, format=format, rankdir=rankdir)
    if not os.path.splitext(os.fspath(path))[1]:
        path = f"{os.fspath(path)}.{format}"
    try:
        return dot.render(outfile=path, format=format, cleanup=True)
    except graphviz.ExecutableNotFound as err:
        raise RuntimeError(_MISSING_DOT.format(fmt=format)) from err
