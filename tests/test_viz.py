"""``gradkit.viz``: draw_dot's graph, the missing-extra message, and render_dot without ``dot``."""

from __future__ import annotations

import shutil
import sys

import pytest

from gradkit.value import Value
from gradkit.viz import draw_dot, render_dot, trace


def small_graph() -> tuple[Value, Value, Value]:
    a = Value(2.0, label="a")
    b = Value(-3.0, label="b")
    c = a * b
    c.label = "c"
    out = (c + a).tanh()
    out.label = "out"
    out.backward()
    return a, b, out


def test_trace_nodes_and_edges() -> None:
    a, b, out = small_graph()
    nodes, edges = trace(out)
    assert len(nodes) == 5 and nodes[-1] is out
    assert len(edges) == 5  # a->*, b->*, *->+, a->+, +->tanh
    assert all(child in nodes and parent in nodes for parent, child in edges)
    x = Value(1.0)
    _, twice = trace(x + x)
    assert len(twice) == 1  # one edge for a parent used twice
    with pytest.raises(TypeError):
        trace(1.0)


def test_missing_graphviz_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "graphviz", None)
    _, _, out = small_graph()
    with pytest.raises(ImportError, match=r'pip install "\.\[viz\]" in the gradkit checkout'):
        draw_dot(out)
    with pytest.raises(ImportError, match=r'pip install "\.\[viz\]" in the gradkit checkout'):
        render_dot(out, "never.svg")


def test_draw_dot_records_label_data_grad_and_op() -> None:
    graphviz = pytest.importorskip("graphviz")
    a, b, out = small_graph()
    dot = draw_dot(out)
    assert isinstance(dot, graphviz.Digraph)
    assert dot.format == "svg"
    src = dot.source
    assert "rankdir=LR" in src
    assert f"{{ a | data 2.0000 | grad {a.grad:.4f} }}" in src
    assert f"{{ b | data -3.0000 | grad {b.grad:.4f} }}" in src
    assert f"{{ out | data {out.data:.4f} | grad 1.0000 }}" in src
    for op in ("*", "+", "tanh"):
        assert f"label={op}" in src or f'label="{op}"' in src
    assert src.count("->") == 5 + 3  # 5 data edges, 3 op -> result edges
    assert "rankdir=TB" in draw_dot(out, format="png", rankdir="TB").source
    assert draw_dot(out, format="png").format == "png"


def test_draw_dot_escapes_record_syntax_and_checks_arguments() -> None:
    pytest.importorskip("graphviz")
    v = Value(1.0, label="w{0}|<x>")
    src = draw_dot(v * 2.0).source
    assert r"w\{0\}\|\<x\>" in src
    with pytest.raises(ValueError, match="rankdir"):
        draw_dot(v, rankdir="XY")
    with pytest.raises(ValueError):
        draw_dot(v, format="not-a-format")


def test_render_dot_without_dot_program_says_how_to_install(monkeypatch, tmp_path) -> None:
    pytest.importorskip("graphviz")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no `dot` anywhere
    _, _, out = small_graph()
    with pytest.raises(RuntimeError) as info:
        render_dot(out, tmp_path / "g.svg")
    msg = str(info.value)
    assert "Graphviz `dot` program is missing" in msg
    for fix in ("apt-get install graphviz", "brew install graphviz", "conda install graphviz"):
        assert fix in msg
    assert type(info.value.__cause__).__name__ == "ExecutableNotFound"


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's `dot` program is not installed")
def test_render_dot_writes_an_image(tmp_path) -> None:
    pytest.importorskip("graphviz")
    _, _, out = small_graph()
    path = render_dot(out, tmp_path / "graph.svg")
    text = (tmp_path / "graph.svg").read_text()
    assert path.endswith("graph.svg") and "<svg" in text and "tanh" in text
    png = render_dot(out, tmp_path / "graph", format="png")
    assert png.endswith("graph.png")
    assert (tmp_path / "graph.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph.png", "graph.svg"]  # no .gv left
