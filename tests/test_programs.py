"""Programs in the style of Karpathy's (tests/programs/: our own code, written for PyTorch) run unchanged under
``gradkit run`` and give torch's losses: step by step from the same initial weights and batches, and within seed
noise from each framework's own random init and order."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gradkit

PROGRAMS = Path(__file__).parent / "programs"
NAMES = Path(gradkit.__file__).parent / "data" / "names.txt"
@pytest.fixture(scope="module")
def words(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "words.txt"
    path.write_text("\n".join(NAMES.read_text().splitlines()[:2000]) + "\n")
    return path


def _run(engine, program, *args, backend=None, check=True):
    """``program`` under ``gradkit run`` (engine "gradkit") or python with torch (engine "torch")."""
    script = str(PROGRAMS / program)
    if engine == "gradkit":
        cmd = [sys.executable, "-m", "gradkit.cli", "run", *(["--backend", backend] if backend else []), script]
    else:
        cmd = [sys.executable, script]
    out = subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, timeout=600)
    if check:
        assert out.returncode == 0, out.stderr[-3000:]
    return out


def _numbers(stdout, pattern):
    return np.array([[float(x) for x in m] for m in re.findall(pattern, stdout)])


def _value(stdout, label):
    """The number printed after ``label`` (its first occurrence), e.g. "dev loss 2.123456"."""
    return float(re.search(label + r" ([\d.]+)", stdout).group(1))


STEP = r"step \d+ loss ([\d.]+)"


@pytest.mark.parametrize("backend", ["numpy", "strict"])
def test_char_loop_trains_under_gradkit_run(words, backend):
    out = _run("gradkit", "char_loop.py", "-i", words, "--steps", 60, backend=backend).stdout
    losses = np.array([float(x) for x in re.findall(STEP, out)])
    assert len(losses) == 60 and losses[:10].mean() > losses[-10:].mean() + 0.3
    assert _value(out, "dev loss") < 2.9


@pytest.mark.torch
def test_char_loop_matches_torch_step_by_step(words, tmp_path):
    pytest.importorskip("torch")
    init = tmp_path / "init.npz"
    _run("torch", "char_loop.py", "-i", words, "--dump-init", init)
    args = ("-i", words, "--steps", 40, "--in-order", "--init", init)
    ours, theirs = _run("gradkit", "char_loop.py", *args).stdout, _run("torch", "char_loop.py", *args).stdout
    a, b = (np.array([float(x) for x in re.findall(STEP, o)]) for o in (ours, theirs))
    assert len(a) == len(b) == 40
    np.testing.assert_allclose(a, b, rtol=2e-5)
    dev = [_value(o, "dev loss") for o in (ours, theirs)]
    assert dev[0] == pytest.approx(dev[1], rel=2e-5)


@pytest.mark.torch
@pytest.mark.slow
def test_char_loop_loss_level_matches_torch(words):
    """Each framework's own init and shuffled order: the dev loss after 400 steps agrees within seed noise."""
    pytest.importorskip("torch")
    dev = {e: np.mean([_value(_run(e, "char_loop.py", "-i", words, "--steps", 400, "--seed", s).stdout, "dev loss")
                       for s in (1, 2)]) for e in ("gradkit", "torch")}
    assert abs(dev["gradkit"] - dev["torch"]) < 0.08, dev


def test_char_loop_saves_reloads_and_samples(words, tmp_path):
    trained = _run("gradkit", "char_loop.py", "-i", words, "--steps", 30, "--work-dir", tmp_path).stdout
    assert (tmp_path / "model.pt").exists()
    again = _run("gradkit", "char_loop.py", "-i", words, "--work-dir", tmp_path, "--sample-only").stdout
    dev = [_value(o, "dev loss") for o in (trained, again)]
    assert dev[0] == dev[1]  # the reloaded model is the trained one
    assert len(re.search(r"samples: (.*)", again).group(1).split()) >= 5


GPT_LINE = r"step \d+ loss ([\d.]+) norm ([\d.]+)"


@pytest.mark.torch
@pytest.mark.parametrize("sdpa", [False, True])
def test_small_gpt_matches_torch_step_by_step(words, tmp_path, sdpa):
    """Same initial weights, same batches, no dropout: the losses and gradient norms follow torch's."""
    pytest.importorskip("torch")
    init = tmp_path / "init.npz"
    _run("torch", "small_gpt.py", "-i", words, "--dump-init", init)
    args = ("-i", words, "--steps", 20, "--init", init, *(["--sdpa"] if sdpa else []))
    a, b = (_numbers(_run(e, "small_gpt.py", *args).stdout, GPT_LINE) for e in ("gradkit", "torch"))
    assert a.shape == b.shape == (20, 2)
    np.testing.assert_allclose(a[:, 0], b[:, 0], rtol=1e-3)
    np.testing.assert_allclose(a[:, 1], b[:, 1], rtol=3e-2)


@pytest.mark.torch
@pytest.mark.slow
def test_small_gpt_with_dropout_loss_level_matches_torch(words):
    """Each framework's own init, dropout 0.1 and the same batches: the final losses agree within seed noise."""
    pytest.importorskip("torch")
    args = ("-i", words, "--steps", 150, "--dropout", 0.1, "--sdpa")
    final = {e: _value(_run(e, "small_gpt.py", *args).stdout, "val loss") for e in ("gradkit", "torch")}
    assert abs(final["gradkit"] - final["torch"]) < 0.15, final


def test_small_gpt_trains_on_strict(words):
    out = _run("gradkit", "small_gpt.py", "-i", words, "--steps", 30, "--dropout", 0.1, backend="strict").stdout
    losses = _numbers(out, GPT_LINE)[:, 0]
    assert losses[:5].mean() > losses[-5:].mean() + 0.3
