"""The ``gradkit`` command line, run in-process through ``gradkit.cli.main``: what each command writes and
prints, resuming, and every bad input (exit status 2, one line on stderr, no file touched)."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from gradkit import backends
from gradkit.cli import main
from gradkit.data import load_words, split_words

LOSS_LINE = re.compile(r"^train loss (\d+\.\d{4}) dev loss (\d+\.\d{4}) test loss (\d+\.\d{4})$")
HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


def gk(capsys, *args):
    """Run ``gradkit ARGS``; returns ``(exit status, stdout, stderr)``."""
    try:
        status = main([str(a) for a in args])
    except SystemExit as exc:  # argparse's own errors
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (None for a directory)."""
    return {str(p.relative_to(root)): (None if p.is_dir() else p.read_bytes()) for p in sorted(root.rglob("*"))}


def small_words(path: Path) -> Path:
    """300 short words over 'abcde' (a 6-symbol vocabulary: quick to train and to plot)."""
    rng = np.random.default_rng(0)
    words = ["".join(rng.choice(list("abcde"), size=rng.integers(2, 5))) for _ in range(300)]
    path.write_text("\n".join(words) + "\n")
    return path


@pytest.fixture(scope="module")
def mlp_dir(tmp_path_factory):
    """A work directory with a (one step) mlp model on the embedded names."""
    d = tmp_path_factory.mktemp("cli") / "mlp"
    assert main(["train", "--backend", "numpy", "--max-steps", "1", "--n-hidden", "8", "--quiet", "-n", "1",
                 "-o", str(d)]) == 0
    return d


# What the commands write and print.
def test_train_counts_writes_its_files_and_marks_training_words(tmp_path, capsys):
    words_file = small_words(tmp_path / "words.txt")
    out = tmp_path / "run"
    status, stdout, stderr = gk(capsys, "train", "--type", "counts", "--backend", "numpy", "-i", words_file,
                                "-o", out, "--quiet")
    assert status == 0
    expected = {"model.safetensors", "best.safetensors", "log.csv", "samples.txt"}
    expected |= {"bigram.png"} if HAS_MATPLOTLIB else set()
    assert {p.name for p in out.iterdir()} == expected
    if HAS_MATPLOTLIB:
        assert (out / "bigram.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert stderr == ""  # --quiet prints errors only
    log = (out / "log.csv").read_text().splitlines()  # closed form: no steps, one dev loss
    assert log[0] == "step,loss,lr,dev_loss" and re.fullmatch(r"1,,,\d\.\d{6}", log[1]) and len(log) == 2
    lines = stdout.splitlines()
    assert LOSS_LINE.match(lines[0]) and len(lines) == 21
    train_words = set(split_words(load_words(words_file), seed=42)[0])
    samples = (out / "samples.txt").read_text().splitlines()
    assert len(samples) == 20
    marked = [line.removesuffix(" (in train)") for line in lines[1:]]
    assert marked == samples
    for line, word in zip(lines[1:], samples):
        assert line.endswith(" (in train)") == (word in train_words), line
    assert any(w in train_words for w in samples) and any(w not in train_words for w in samples)


def test_train_prints_losses_and_samples_and_the_model_moves_between_backends(tmp_path, capsys):
    out = tmp_path / "run"
    status, stdout, stderr = gk(capsys, "train", "--backend", "numpy", "--max-steps", "300", "--n-hidden", "20",
                                "--log-every", "50", "--eval-every", "1000", "-o", out)
    assert status == 0
    assert "training mlp on 29910 words (the embedded names list), backend numpy" in stderr
    lines = stdout.splitlines()
    match = LOSS_LINE.match(lines[0])
    assert match and all(2.0 < float(x) < 3.3 for x in match.groups())
    assert len(lines) == 21
    train_words = set(split_words(load_words(), seed=42)[0])
    for line in lines[1:]:
        word = line.removesuffix(" (in train)")
        assert re.fullmatch("[a-z]*", word)
        assert line.endswith(" (in train)") == (word in train_words), line
    log = (out / "log.csv").read_text().splitlines()
    trained = [row.split(",")[0] for row in log[1:] if row.split(",")[1]]
    assert log[0] == "step,loss,lr,dev_loss" and trained == ["0", "50", "100", "150", "200", "250", "299"]
    assert [row.split(",")[0] for row in log[1:] if row.split(",")[3]] == ["0", "300"]  # dev loss: first, last
    assert (out / "loss.png").is_file() == HAS_MATPLOTLIB

    # eval reprints the same losses.
    status, ev, _ = gk(capsys, "eval", "--backend", "numpy", "-o", out)
    assert status == 0 and ev.splitlines() == [lines[0]]
    status, ev_strict, _ = gk(capsys, "eval", "--backend", "strict", "-o", out)
    assert status == 0 and ev_strict.splitlines() == [lines[0]]

    # model.safetensors loads on strict and samples the same words as on numpy.
    status, on_numpy, _ = gk(capsys, "sample", "--backend", "numpy", "-o", out, "-n", "15", "--seed", "3")
    assert status == 0
    status, on_strict, _ = gk(capsys, "sample", "--backend", "strict", "-o", out, "-n", "15", "--seed", "3")
    assert status == 0 and on_strict == on_numpy and len(on_numpy.splitlines()) == 15
    status, other_seed, _ = gk(capsys, "sample", "--backend", "numpy", "-o", out, "-n", "15", "--seed", "4")
    assert other_seed != on_numpy
    status, greedy, _ = gk(capsys, "sample", "--backend", "numpy", "-o", out, "-n", "4", "--top-k", "1")
    assert status == 0 and len(set(greedy.splitlines())) == 1


def test_resume_is_bitwise_identical_to_one_run(tmp_path, capsys):
    common = ["--backend", "numpy", "--n-hidden", "50", "--quiet", "-n", "1"]
    a, b = tmp_path / "A", tmp_path / "B"
    assert gk(capsys, "train", "--max-steps", "300", "--lr-decay-step", "150", *common, "-o", a)[0] == 0
    assert gk(capsys, "train", "--max-steps", "150", "--lr-decay-step", "150", *common, "-o", b)[0] == 0
    status, _, stderr = gk(capsys, "train", "--resume", "--max-steps", "300", *common[:-3], "-n", "1", "-o", b)
    assert status == 0 and "steps 150 -> 300" in stderr  # without --quiet: the header names the steps
    za, zb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    names = sorted(n for n in za if n.startswith("model."))
    assert names == ["model.C.weight", "model.hidden.bias", "model.hidden.weight", "model.out.bias", "model.out.weight"]
    assert sorted(zb) == sorted(za)
    for name in names:
        assert za[name].dtype == zb[name].dtype == np.float32
        assert za[name].tobytes() == zb[name].tobytes(), name
    # The training rows are the single run's, and the first command's last step (149, a run's last step is
    # logged); the dev rows are each command's own evaluations (docs/runs.md says how log.csv is split).
    rows_a, rows_b = (training_rows(d) for d in (a, b))
    assert [r for r in rows_b if not r.startswith("149,")] == rows_a and len(rows_b) == len(rows_a) + 1


def test_info_prints_the_backend_table(capsys):
    status, out, _ = gk(capsys, "info")
    assert status == 0
    lines = out.splitlines()
    assert re.match(r"backend\s+usable\s+version\s+device\s+note", lines[0])
    rows = {line.split()[0]: line.split()[1] for line in lines[1:4]}
    assert rows == {"numpy": "yes", "cupy": "yes" if backends.probe()["cupy"].usable else "no", "strict": "yes"}
    assert lines[-1].startswith("default backend: ")


def test_moons_tensor_engine(capsys):
    status, out, _ = gk(capsys, "moons", "--engine", "tensor", "--backend", "numpy")
    assert status == 0
    assert re.match(r"engine tensor: training accuracy 100\.0% after 100 steps", out)


def test_moons_value_engine(capsys):
    """The Value engine is slow by design: 20 steps show the command works (tests/test_nn_scalar.py trains it to
    100% accuracy)."""
    status, out, _ = gk(capsys, "moons", "--engine", "value", "--steps", "20")
    assert status == 0
    assert re.match(r"engine value: training accuracy \d+\.\d% after 20 steps", out)


# Bad input: exit status 2, one line on stderr naming the problem, no file touched.
def _truncate(d: Path, names: tuple[str, ...] = ("model.safetensors", "best.safetensors")) -> None:
    for name in names:
        data = (d / name).read_bytes()
        (d / name).write_bytes(data[: len(data) // 2])


def _foreign(d: Path) -> None:
    rng = np.random.default_rng(0)
    for name in ("model.safetensors", "best.safetensors"):
        save_file({"a": rng.random(3), "b": rng.random((2, 2))}, d / name)


BAD = {
    # name: (args (IN = an input file, OUT = the -o directory), input bytes, prepare the model dir, key words)
    "missing input": (["train", "-i", "IN", "-o", "NEW"], None, None, ["words file", "does not exist"]),
    "empty input": (["train", "-i", "IN", "-o", "NEW"], b"", None, ["words file", "is empty"]),
    "binary input": (["train", "-i", "IN", "-o", "NEW"], b"ab\x00cd\n", None, ["looks binary", "NUL byte"]),
    "non-utf8 input": (["train", "-i", "IN", "-o", "NEW"], b"caf\xe9\n", None, ["not valid UTF-8", "0xe9"]),
    "block size 0": (["train", "--block-size", "0", "-o", "NEW"], None, None, ["--block-size", ">= 1", "got 0"]),
    "batch larger than data": (["train", "-i", "IN", "--batch-size", "1000", "-o", "NEW"],
                               b"ab\ncd\nef\ngh\nij\nkl\nmn\nop\nqr\nst\n", None,
                               ["--batch-size 1000", "larger than the training split"]),
    "unknown backend": (["train", "--backend", "tpu", "-o", "NEW"], None, None, ["unknown backend 'tpu'"]),
    "negative seed": (["train", "--seed", "-1", "-o", "NEW"], None, None, ["--seed", ">= 0"]),
    "no samples": (["train", "-n", "0", "--max-steps", "1", "-o", "NEW"], None, None, ["--num-samples", ">= 1"]),
    "output inside a file": (["train", "--max-steps", "1", "-o", "FILE/sub"], None, None,
                             ["error: file is a file, not a directory; choose another -o DIR"]),
    "output is a file": (["train", "--max-steps", "1", "-o", "FILE"], None, None,
                         ["error: file is a file, not a directory; choose another -o DIR"]),
    "moons output is a file": (["moons", "--steps", "1", "-o", "FILE"], None, None,
                               ["error: file is a file, not a directory; choose another -o DIR"]),
    "truncated model (sample)": (["sample", "-o", "OUT"], None, _truncate,
                                 ["best.safetensors", "damaged or truncated"]),
    "truncated model (resume)": (["train", "--resume", "-o", "OUT"], None, _truncate, ["damaged or truncated"]),
    "truncated model (eval)": (["eval", "-o", "OUT"], None, _truncate, ["damaged or truncated"]),
    "foreign file (sample)": (["sample", "-o", "OUT"], None, _foreign, ["not a gradkit checkpoint"]),
    "foreign file (resume)": (["train", "--resume", "-o", "OUT"], None, _foreign, ["not a gradkit checkpoint"]),
    "other model type": (["train", "--resume", "--type", "bigram", "-o", "OUT"], None, lambda d: None,
                         ["holds a model of type mlp, not bigram"]),
    "sample without a model": (["sample", "-o", "NEW"], None, None, ["no model in", "train one first"]),
    "sample from a file": (["sample", "-o", "FILE"], None, None, ["file is a file, not a work directory"]),
    "eval of a file": (["eval", "-o", "FILE"], None, None, ["file is a file, not a work directory"]),
    "resume without a model": (["train", "--resume", "-o", "NEW"], None, None, ["no model in"]),
    "temperature 0": (["sample", "--temperature", "0", "-o", "OUT"], None, lambda d: None,
                      ["--temperature must be a finite number > 0"]),
    "top-k 0": (["sample", "--top-k", "0", "-o", "OUT"], None, lambda d: None, ["--top-k", "between 1 and 27"]),
    "sample negative seed": (["sample", "--seed", "-2", "-o", "OUT"], None, lambda d: None, ["--seed", ">= 0"]),
    "eval of a damaged input": (["eval", "-i", "IN", "-o", "OUT"], b"caf\xe9\n", lambda d: None,
                                ["not valid UTF-8"]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_exit_2_one_line_nothing_touched(case, tmp_path, capsys, mlp_dir, monkeypatch):
    args, data, prepare_dir, words = BAD[case]
    monkeypatch.chdir(tmp_path)
    if data is not None:
        (tmp_path / "input.txt").write_bytes(data)
    (tmp_path / "file").write_text("a regular file\n")
    if prepare_dir is not None:
        shutil.copytree(mlp_dir, tmp_path / "model")
        prepare_dir(tmp_path / "model")
    names = {"IN": "input.txt", "OUT": "model", "NEW": "new", "FILE/sub": "file/sub", "FILE": "file"}
    before = snapshot(tmp_path)
    status, out, err = gk(capsys, *[names.get(a, a) for a in args])
    assert status == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"gradkit {args[0]}: error: ")
    for w in words:
        assert w in lines[0]
    assert snapshot(tmp_path) == before  # the -o directory not created, an existing one byte-identical


def test_a_damaged_best_checkpoint_falls_back_to_the_last(tmp_path, capsys, mlp_dir):
    run = tmp_path / "run"
    shutil.copytree(mlp_dir, run)
    _truncate(run, names=("best.safetensors",))
    status, out, err = gk(capsys, "eval", "--backend", "numpy", "-o", run)
    assert status == 0 and LOSS_LINE.match(out), err
    note, used = err.splitlines()
    assert note.startswith(f"note: checkpoint {run / 'best.safetensors'} is damaged or truncated")
    assert note.endswith(f"; using the last step's {run / 'model.safetensors'} instead (--checkpoint last)")
    assert used.startswith(f"used {run / 'model.safetensors'} (last step: step 1")
    status, _, err = gk(capsys, "sample", "--backend", "numpy", "--checkpoint", "best", "-o", run)
    assert status == 2 and len(err.splitlines()) == 1
    assert "is damaged or truncated" in err and err.endswith("; or use the last step's model with --checkpoint last\n")


@pytest.mark.parametrize(("args", "message"), [
    (["train", "--type", "lstm"], "gradkit train: error: argument --type: invalid choice: 'lstm' (choose from "),
    (["train", "--dtype", "float16"], "gradkit train: error: argument --dtype: invalid choice: 'float16' "),
    (["sample", "--top-k", "x"], "gradkit sample: error: argument --top-k: invalid int value: 'x'"),
    (["bogus"], "gradkit: error: argument command: invalid choice: 'bogus'"),
    ([], "gradkit: error: the following arguments are required: command"),
])
def test_argparse_errors_are_one_line_exit_2(tmp_path, capsys, monkeypatch, args, message):
    """One line naming the problem and where the help is, as for any bad input (argparse's usage block not)."""
    monkeypatch.chdir(tmp_path)
    status, out, err = gk(capsys, *args, *(["-o", "new"] if args[:1] in (["train"], ["sample"]) else []))
    assert status == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith(message), err
    prog = " ".join(["gradkit", *args[:1]]) if args[:1] in (["train"], ["sample"]) else "gradkit"
    assert err.endswith(f" (see {prog} --help)\n"), err
    assert list(tmp_path.iterdir()) == []


def test_help_is_argparse_help(capsys):
    status, out, err = gk(capsys, "train", "--help")
    assert status == 0 and err == "" and out.startswith("usage: gradkit train [-h]") and "--learning-rate" in out


@pytest.mark.skipif(backends.probe()["cupy"].usable, reason="cupy works here")
def test_cupy_without_gpu(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, out, err = gk(capsys, "train", "--backend", "cupy", "-o", "new")
    assert status == 2 and out == "" and len(err.splitlines()) == 1
    assert "gradkit train: error: backend 'cupy' is not usable here" in err
    assert list(tmp_path.iterdir()) == []


def test_eval_on_a_file_smaller_than_the_training_batch(tmp_path, capsys, mlp_dir):
    """Scoring needs no minibatch: the model's --batch-size (32) may exceed this file's training split."""
    words = tmp_path / "few.txt"
    words.write_text("ab\ncd\nef\ngh\nij\nkl\nmn\nop\nqr\nst\n")
    status, out, err = gk(capsys, "eval", "--backend", "numpy", "-i", words, "-o", mlp_dir)
    assert status == 0 and err == f"used {mlp_dir / 'best.safetensors'} (best dev loss: step 1, dev loss " \
        f"{err.split('dev loss ')[-1].split(';')[0]}; --checkpoint best|last chooses)\n"
    match = LOSS_LINE.match(out.strip())
    assert match and all(3.0 < float(x) < 3.6 for x in match.groups())  # one step: about ln 27


# Interrupting and resuming.
def test_ctrl_c_saves_a_checkpoint_that_resumes_exactly(tmp_path, capsys, monkeypatch):
    import gradkit.runner as runner
    from gradkit.train import fit as real_fit

    def interrupted_fit(run, splits, max_steps=None, on_log=None, stop=None, **kwargs):  # kwargs: compiled
        real_fit(run, splits, max_steps=30, on_log=on_log, stop=stop, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C between two steps: the run stops at the next boundary
        return real_fit(run, splits, max_steps=max_steps, on_log=on_log, stop=stop, **kwargs)

    flags = ["--backend", "numpy", "--max-steps", "60", "--n-hidden", "16", "--log-every", "10", "--quiet", "-n", "1"]
    monkeypatch.setattr(runner, "fit", interrupted_fit)
    status, _, err = gk(capsys, "train", *flags, "-o", tmp_path / "b")
    assert status == 130
    assert "interrupted at step 30 by SIGINT" in err and "--resume" in err
    monkeypatch.setattr(runner, "fit", real_fit)
    assert gk(capsys, "train", "--resume", *flags, "-o", tmp_path / "b")[0] == 0
    assert gk(capsys, "train", *flags, "-o", tmp_path / "a")[0] == 0
    a, b = load_file(tmp_path / "a" / "model.safetensors"), load_file(tmp_path / "b" / "model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_overwrite_removes_the_old_runs_files_and_only_those(tmp_path, capsys):
    run = tmp_path / "run"
    flags = ["train", "--backend", "numpy", "--quiet", "-n", "1", "-o", run]
    assert gk(capsys, *flags, "--max-steps", "1", "--n-hidden", "8")[0] == 0
    for name in ("stats.png", "ud.png", "bigram.png", "loss.png"):  # an earlier bnmlp --plot-stats run's pictures
        (run / name).write_bytes(b"old picture")
    (run / "notes.txt").write_text("the user's own\n")
    (run / "ud.png.keep").write_text("not a name gradkit writes\n")
    status, _, err = gk(capsys, *flags, "--type", "counts", "--overwrite")
    assert status == 0, err
    left = {p.name for p in run.iterdir()}
    assert {"stats.png", "ud.png"}.isdisjoint(left)
    assert all((run / name).read_bytes() != b"old picture" for name in ("bigram.png", "loss.png") if name in left)
    assert {"model.safetensors", "best.safetensors", "log.csv", "samples.txt", "notes.txt", "ud.png.keep"} <= left
    assert (run / "notes.txt").read_text() == "the user's own\n"


def test_resume_refuses_settings_the_checkpoint_fixes(mlp_dir, capsys):
    before = snapshot(mlp_dir)
    status, _, err = gk(capsys, "train", "--resume", "--n-hidden", "9", "--seed", "3", "--max-steps", "5",
                        "-o", mlp_dir)
    assert status == 2
    assert "--n-hidden, --seed cannot change when resuming" in err
    status, _, err = gk(capsys, "train", "--resume", "--max-steps", "0", "-o", mlp_dir)
    assert status == 2 and "is behind the checkpoint, which is at step 1" in err
    assert snapshot(mlp_dir) == before


def test_resume_may_move_the_schedule(tmp_path, capsys):
    flags = ["--backend", "numpy", "--n-hidden", "8", "--quiet", "-n", "1", "--log-every", "1"]
    assert gk(capsys, "train", *flags, "--max-steps", "4", "-o", tmp_path)[0] == 0  # decay at step 2
    assert gk(capsys, "train", "--resume", *flags, "--max-steps", "8", "--lr-decay-step", "6",
              "--learning-rate", "0.2", "-o", tmp_path)[0] == 0
    rows = [r.split(",") for r in (tmp_path / "log.csv").read_text().splitlines()[1:]]
    lrs = {int(r[0]): float(r[2]) for r in rows if r[2]}
    assert [lrs[s] for s in range(8)] == [0.1, 0.1, 0.01, 0.01, 0.2, 0.2, 0.02, 0.02]


def test_resume_keeps_the_first_commands_decay_step(tmp_path, capsys):
    """README and docs/runs.md: the default --lr-decay-step is a fraction of the first command's --max-steps,
    kept on --resume unless given again."""
    flags = ["--backend", "numpy", "--n-hidden", "8", "--quiet", "-n", "1", "--log-every", "1", "-o", tmp_path]
    assert gk(capsys, "train", *flags, "--max-steps", "4")[0] == 0  # the mlp decays at 4 // 2 = 2
    assert gk(capsys, "train", "--resume", *flags, "--max-steps", "8")[0] == 0  # still at 2, not 8 // 2 = 4
    rows = [r.split(",") for r in (tmp_path / "log.csv").read_text().splitlines()[1:]]
    lrs = {int(r[0]): float(r[2]) for r in rows if r[2]}
    assert [lrs[s] for s in range(8)] == [0.1, 0.1] + [0.01] * 6


def test_train_prints_the_last_state_and_checkpoint_last_reproduces_it(tmp_path, capsys):
    """README: the end of train is model.safetensors; eval and sample --checkpoint last give the same."""
    flags = ["--backend", "numpy", "-o", tmp_path]
    status, out, _ = gk(capsys, "train", *flags, "--max-steps", "30", "--n-hidden", "8", "--quiet", "-n", "3")
    assert status == 0
    losses_line, names = out.splitlines()[0], out.splitlines()[1:]
    assert gk(capsys, "eval", *flags, "--checkpoint", "last")[1] == losses_line + "\n"
    assert gk(capsys, "sample", *flags, "--checkpoint", "last", "-n", "3")[1].splitlines() == names
    assert (tmp_path / "samples.txt").read_text().splitlines() == [n.removesuffix(" (in train)") for n in names]


def training_rows(directory: Path) -> list[str]:
    return [r for r in (directory / "log.csv").read_text().splitlines()[1:] if r.split(",")[1]]


def dev_steps(directory: Path) -> list[int]:
    return [int(r.split(",")[0]) for r in (directory / "log.csv").read_text().splitlines()[1:] if r.split(",")[3]]


def test_progress_lines_count_steps_as_log_csv_and_dev_points_spread_over_a_short_run(tmp_path, capsys):
    """"step s" means the model after s updates in the progress lines, the dev-loss lines and log.csv alike;
    a 50-step run without --eval-every still gets at least 10 dev points, evenly spread."""
    status, _, err = gk(capsys, "train", "--backend", "numpy", "--max-steps", "50", "--log-every", "5",
                        "--n-hidden", "8", "-n", "1", "-o", tmp_path)
    assert status == 0
    lines = re.findall(r"^step (\d+)/50 loss (\d+\.\d{4}) lr (0\.\d+)$", err, re.M)
    assert lines and lines[-1][0] == "49" and len(lines) <= 11
    logged = {int(s): (float(loss), float(lr)) for s, loss, lr, _ in (r.split(",") for r in training_rows(tmp_path))}
    for step, loss, lr in lines:
        assert abs(logged[int(step)][0] - float(loss)) < 1e-4 and logged[int(step)][1] == float(lr)
    dev_lines = [int(s) for s in re.findall(r"^step (\d+)/50 dev loss", err, re.M)]
    assert dev_lines == dev_steps(tmp_path) and dev_lines[0] == 0 and dev_lines[-1] == 50
    assert len(dev_lines) >= 11 and len({b - a for a, b in zip(dev_lines, dev_lines[1:])}) == 1


def test_log_csv_is_the_same_however_the_run_is_split(tmp_path, capsys, monkeypatch):
    """The training rows do not depend on --eval-every or on a stop and resume; the dev rows are the
    evaluations that ran."""
    import gradkit.runner as runner
    from gradkit.train import fit as real_fit

    def stopped_at_23(run, splits, max_steps=None, on_log=None, stop=None, **kwargs):
        real_fit(run, splits, max_steps=min(23, max_steps or 23), on_log=on_log, stop=stop, **kwargs)
        if run.step == 23:
            os.kill(os.getpid(), signal.SIGTERM)
        return real_fit(run, splits, max_steps=max_steps, on_log=on_log, stop=stop, **kwargs)

    flags = ["--backend", "numpy", "--max-steps", "60", "--n-hidden", "8", "--log-every", "4", "--quiet", "-n", "1"]
    assert gk(capsys, "train", *flags, "--eval-every", "60", "-o", tmp_path / "a")[0] == 0
    monkeypatch.setattr(runner, "fit", stopped_at_23)
    assert gk(capsys, "train", *flags, "--eval-every", "7", "-o", tmp_path / "b")[0] == 128 + signal.SIGTERM
    monkeypatch.setattr(runner, "fit", real_fit)
    assert gk(capsys, "train", "--resume", *flags, "--eval-every", "10", "-o", tmp_path / "b")[0] == 0
    assert training_rows(tmp_path / "b") == training_rows(tmp_path / "a")
    assert [r.split(",")[0] for r in training_rows(tmp_path / "a")] == [str(s) for s in [*range(0, 60, 4), 59]]
    assert dev_steps(tmp_path / "a") == [0, 60] and dev_steps(tmp_path / "b") == [0, 7, 14, 21, 30, 40, 50, 60]


def test_resume_checks_the_embedded_names_too(mlp_dir, tmp_path, capsys):
    """A model trained on the embedded names resumes on them only (their SHA-256 is recorded)."""
    other = small_words(tmp_path / "words.txt")
    before = snapshot(mlp_dir)
    status, _, err = gk(capsys, "train", "--resume", "--max-steps", "2", "-i", other, "-o", mlp_dir)
    assert status == 2 and len(err.splitlines()) == 1
    assert f"-i {other} is not the embedded names list {mlp_dir / 'model.safetensors'} was trained on" in err
    assert "pass no -i" in err and snapshot(mlp_dir) == before


def test_sample_defaults_to_the_training_seed_and_marks_training_words(mlp_dir, capsys):
    status, out, _ = gk(capsys, "sample", "--backend", "numpy", "-o", mlp_dir, "-n", "1")
    assert status == 0
    assert out.splitlines()[0].removesuffix(" (in train)") == (mlp_dir / "samples.txt").read_text().splitlines()[0]
    train_words = set(split_words(load_words(), seed=42)[0])
    for line in gk(capsys, "sample", "--backend", "numpy", "-o", mlp_dir, "-n", "30", "--seed", "5")[1].splitlines():
        word = line.removesuffix(" (in train)")
        assert line.endswith(" (in train)") == (word in train_words)


def test_a_model_too_big_for_memory_leaves_no_directory(tmp_path, capsys, monkeypatch):
    import gradkit.commands as commands

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(commands, "new_run", no_memory)
    status, _, err = gk(capsys, "train", "--backend", "numpy", "-o", tmp_path / "big")
    assert status == 2 and "out of memory" in err
    assert not (tmp_path / "big").exists()


def test_moons_flags_that_cannot_apply(tmp_path, capsys, monkeypatch):
    status, _, err = gk(capsys, "moons", "--engine", "value", "--backend", "numpy")
    assert status == 2 and "--backend applies to --engine tensor" in err
    import gradkit.plots

    monkeypatch.setattr(gradkit.plots, "_pyplot", lambda: None)
    status, _, err = gk(capsys, "moons", "--steps", "1", "-o", tmp_path / "m")
    assert status == 2 and 'pip install ".[plot]" in the gradkit checkout' in err
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_smoothing_must_be_finite(tmp_path, capsys, value):
    status, _, err = gk(capsys, "train", "--type", "counts", "--smoothing", value, "-o", tmp_path / "x")
    assert status == 2 and "--smoothing must be a finite number" in err
    assert not (tmp_path / "x").exists()


def test_plot_stats_without_matplotlib_is_an_error_before_any_work(tmp_path, capsys, monkeypatch):
    from gradkit import plots

    monkeypatch.setattr(plots, "_pyplot", lambda: None)
    out = tmp_path / "run"
    status, _, stderr = gk(capsys, "train", "--type", "bnmlp", "--plot-stats", "--max-steps", "2", "-o", out)
    assert status == 2 and 'pip install ".[plot]" in the gradkit checkout' in stderr and not out.exists()


def test_python_dash_m_gradkit_is_the_command_line():
    out = subprocess.run([sys.executable, "-m", "gradkit", "info"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.startswith("backend") and "numpy" in out.stdout
