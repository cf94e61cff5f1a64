"""The pictures of a run (gradkit.plots): what loss.png and bigram.png show, read from the matplotlib Figure
objects (titles, labels, the curves' data, text colours), not from pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gradkit import plots

pytest.importorskip("matplotlib")


def test_smoothed_averages_blocks_of_1000_steps() -> None:
    steps = list(range(0, 40_000, 100))  # logged every 100 steps: 10 points per block of 1,000
    values = [float(s // 1000) + (s % 1000) / 10_000 for s in steps]
    at, means = plots.smoothed(steps, values)
    np.testing.assert_allclose(at, np.arange(40) * 1000 + 450)
    np.testing.assert_allclose(means, np.arange(40) + 0.045)


def test_smoothed_uses_smaller_blocks_for_a_short_run() -> None:
    at, means = plots.smoothed(list(range(200)), [float(i) for i in range(200)])
    assert len(at) == 20  # blocks of 10 steps, not one block of 1,000
    np.testing.assert_allclose(means[:2], [4.5, 14.5])
    assert plots.smoothed([], [])[0].size == 0


def test_loss_figure_has_raw_smoothed_dev_and_the_lr_drop(tmp_path: Path) -> None:
    history = [(s, 3.0 - s / 4000 + (0.3 if s % 200 else -0.3), 0.1 if s < 2000 else 0.01)
               for s in range(0, 4000, 100)]
    dev = [(0, 3.1), (2000, 2.6), (3999, 2.1)]
    fig = plots.loss_figure(history, "gradkit mlp", dev)
    ax = fig.axes[0]
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("gradkit mlp", "step", "loss (nats per character)")
    lines = {line.get_label(): line for line in ax.get_lines()}
    raw, mean, dev_line = lines["train (minibatch)"], lines["train (block mean)"], lines["dev"]
    assert raw.get_alpha() < 0.5 < mean.get_linewidth() / raw.get_linewidth()  # faint raw, bold mean
    assert list(raw.get_xdata()) == [s for s, _, _ in history]
    np.testing.assert_allclose(mean.get_ydata(), plots.smoothed(*zip(*[(s, v) for s, v, _ in history]))[1])
    assert np.ptp(mean.get_ydata()) < np.ptp(raw.get_ydata())  # the noise is averaged out
    assert list(dev_line.get_xdata()) == [0, 2000, 3999] and list(dev_line.get_ydata()) == [3.1, 2.6, 2.1]
    drop = lines["lr 0.1 -> 0.01 at step 2000"]
    assert list(drop.get_xdata()) == [2000, 2000] and drop.get_linestyle() == "--"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(lines)
    path = plots.loss_curve(history, tmp_path / "loss.png", "gradkit mlp", dev)
    assert path is not None and path.read_bytes()[:4] == b"\x89PNG"


def test_bigram_figure_is_titled_labelled_and_readable() -> None:
    itos = dict(enumerate(".abc"))
    counts = np.array([[0, 50, 10, 0], [9, 0, 40, 1], [3, 2, 0, 45], [5, 1, 1, 0]], dtype=np.float64)
    fig = plots.bigram_figure(counts, itos)
    ax = fig.axes[0]
    assert "bigram counts" in ax.get_title() and "167 bigrams" in ax.get_title()
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("next character", "previous character")
    assert [t.get_text() for t in ax.get_xticklabels()] == list(".abc") * 2  # below and above the table
    assert [t.get_text() for t in ax.get_yticklabels()] == list(".abc")
    texts = {(t.get_position(), t.get_text()): t.get_color() for t in ax.texts}
    assert texts[((1, 0), ".a")] == texts[((1, 0), "50")] == "white"  # the darkest cell: white text
    assert texts[((0, 0), "..")] == texts[((0, 0), "0")] == "black"  # an empty (white) cell: dark text
    assert texts[((3, 2), "bc")] == "white" and texts[((2, 1), "40")] == "white"
    assert len(ax.texts) == 2 * counts.size
