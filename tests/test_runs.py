"""The run's guards on their own: the work directory lock (gradkit.runlock), stop signals
(gradkit.stopping) and the clean-up of temporary files of killed runs (files.remove_stale_temporaries)."""

from __future__ import annotations

import errno
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from gradkit import files
from gradkit.runlock import LOCK_FILE, RunLockedError, run_lock
from gradkit.stopping import Interrupted, StopSignals

posix = pytest.mark.skipif(os.name != "posix", reason="POSIX signals and fcntl")

HOLDER = """
import sys, time
from pathlib import Path
from gradkit.runlock import run_lock
with run_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(60)
"""


@posix
def test_second_holder_fails_at_once_naming_the_first(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                              env=os.environ.copy())
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        with pytest.raises(RunLockedError, match=rf"in use by another gradkit run \(pid {holder.pid} on host "):
            with run_lock(tmp_path):
                pass
        holder.kill()  # SIGKILL: no clean-up runs, yet the OS drops the lock with the process
        holder.wait()
        with run_lock(tmp_path) as note:
            assert note is None and (tmp_path / LOCK_FILE).is_file()
        assert not (tmp_path / LOCK_FILE).exists()  # removed on release
    finally:
        holder.kill()
        holder.communicate()


@posix
def test_stop_signals_set_a_flag_then_interrupt(tmp_path: Path) -> None:
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        before = signal.getsignal(signum)
        with StopSignals() as stop:
            os.kill(os.getpid(), signum)
            assert stop.requested and stop.signum == signum
            with pytest.raises(Interrupted) as info:
                os.kill(os.getpid(), signal.SIGTERM)  # a second signal: stop now
            assert info.value.signum == signal.SIGTERM
        assert signal.getsignal(signum) == before


@posix
def test_a_second_signal_waits_for_the_critical_block() -> None:
    done = []
    with StopSignals() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        with pytest.raises(Interrupted):
            with stop.critical():
                os.kill(os.getpid(), signal.SIGINT)  # Python runs the handler at once: it only records it
                done.append("the save finished")
        assert done == ["the save finished"]


def test_stale_temporaries_are_removed(tmp_path: Path) -> None:
    stale = tmp_path / ".model.safetensors.999999.0123abcd.tmp"
    own = tmp_path / f".log.csv.{os.getpid()}.0123abcd.tmp"
    keep = [tmp_path / "model.safetensors", tmp_path / ".model.safetensors.tmp", tmp_path / "notes.123.0123abcd.tmp"]
    for p in (stale, own, *keep):
        p.write_bytes(b"x")
    assert files.remove_stale_temporaries(tmp_path) == [stale]
    assert sorted(tmp_path.iterdir()) == sorted([own, *keep])


# --- the train command under faults (subprocesses, as a user's shell or scheduler would run it) ------------

SMALL = ["--backend", "numpy", "--type", "mlp", "--n-hidden", "16", "--n-embd", "4", "--max-steps", "200",
         "--eval-every", "50", "--log-every", "10", "--quiet", "-n", "1"]


def words_file(path: Path) -> Path:
    rng = np.random.default_rng(0)
    path.write_text("\n".join("".join(rng.choice(list("abcdefgh"), size=rng.integers(2, 7))) for _ in range(400)))
    return path


def gradkit(*args: object, delay: float = 0.0, **kw: object) -> subprocess.Popen:
    env = {**os.environ, "GRADKIT_TEST_SAVE_DELAY": str(delay)}
    return subprocess.Popen([sys.executable, "-m", "gradkit.cli", *map(str, args)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)  # type: ignore[call-overload]


def finish(proc: subprocess.Popen, timeout: float = 120) -> tuple[int, str]:
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


def state(directory: Path) -> dict[str, bytes]:
    return {k: v.tobytes() for k, v in load_file(directory / "model.safetensors").items()}


def started(proc: subprocess.Popen) -> str:
    """Wait for the run's first line on stderr, its header, which it prints once its signal handlers are
    installed and its directory locked (the handshake: no sleeping on a guess of how long Python takes)."""
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert line.startswith("training "), line + (proc.stderr.read() if not line else "")
    return line


LOUD = [flag for flag in SMALL if flag != "--quiet"]  # progress and dev-loss lines on stderr


@posix
@pytest.mark.parametrize("signum", [pytest.param(signal.SIGINT, marks=pytest.mark.slow), signal.SIGTERM,
                                    pytest.param(signal.SIGHUP, marks=pytest.mark.slow)])
def test_killed_at_random_moments_resumes_bit_identical(tmp_path: Path, signum: int) -> None:
    """Signals sent after a random number of the run's own progress lines (so at a random point of its work,
    however loaded the machine): each save sleeps 0.15 s after its dev-loss line, so a signal sent on a
    dev-loss line lands inside a checkpoint write; half the time a second signal follows at once."""
    words = words_file(tmp_path / "words.txt")
    assert finish(gradkit("train", *SMALL, "-i", words, "-o", tmp_path / "straight"))[0] == 0
    out, rng = tmp_path / "stopped", np.random.default_rng(signum)
    stops = 0
    for _ in range(30):
        resume = ["--resume"] if (out / "model.safetensors").exists() else []
        proc = gradkit("train", *LOUD, *resume, "-i", words, "-o", out, delay=0.15)
        started(proc)
        for _ in range(rng.integers(0, 8)):
            proc.stderr.readline()  # type: ignore[union-attr]
        proc.send_signal(signum)
        if rng.random() < 0.5:  # a second signal: usually during the save the first one started
            proc.send_signal(signum)
        status, err = finish(proc)
        if status == 0:
            break
        if status == 128 + signum:
            stops += 1
            assert "interrupted" in err and "Traceback" not in err, err
        else:  # after the command's last line (interpreter shutdown, handlers gone): the run had finished
            assert status == -signum and "Traceback" not in err, (status, err)
    else:
        pytest.fail("the run never completed")
    assert stops >= 1
    assert state(out) == state(tmp_path / "straight")
    assert (out / "log.csv").read_text() == (tmp_path / "straight" / "log.csv").read_text()
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in (tmp_path / "straight").iterdir())


@posix
@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGINT])
def test_an_ignored_signal_stays_ignored(tmp_path: Path, signum: int) -> None:
    """``nohup gradkit train ... &`` ignores SIGHUP (and a shell's background job SIGINT): the run keeps going."""
    words = words_file(tmp_path / "words.txt")
    proc = gradkit("train", *LOUD, "-i", words, "-o", tmp_path / "run",
                   preexec_fn=lambda: signal.signal(signum, signal.SIG_IGN))
    started(proc)
    proc.send_signal(signum)
    status, err = finish(proc)
    assert status == 0 and "interrupted" not in err, err
    assert err.splitlines()[-1].startswith("wrote model.safetensors")


@posix
def test_stop_signals_leave_an_ignored_signal_ignored() -> None:
    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with StopSignals() as stop:
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGHUP)
            assert not stop.requested
            assert signal.getsignal(signal.SIGTERM) == stop._handle
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, before)


DIVERGED = (r"gradkit train: error: the run diverged at step \d+: {}; lower --learning-rate \(it was {} at that "
            r"step\) and continue from the last good checkpoint \(step (?P<kept>\d+), kept in .*model\.safetensors\): "
            r"gradkit train --resume --learning-rate (?P<lower>\S+) -i \S+ -o \S+; or start over: gradkit train "
            r"--overwrite with the run's flags and a lower --learning-rate \(.*log\.csv has the losses up to it\)")


@posix
@pytest.mark.parametrize(("lr", "found"), [
    ("1e40", r".*(nan|inf|NaN).*"),  # float32: the loss overflows
    ("1e6", r"the (training|dev) loss is [\d.e+]+( for 3 logged steps in a row)?, far above 2\.20, the loss of "
            r"uniform guessing \(ln 9\)"),  # float64: finite, but a wreck
])
def test_a_diverging_run_stops_nonzero_and_keeps_the_good_checkpoint(tmp_path: Path, lr: str, found: str) -> None:
    words = words_file(tmp_path / "words.txt")
    out = tmp_path / "run"
    flags = ["--backend", "numpy", "--type", "bigram", "--eval-every", "5", "--log-every", "1", "--quiet", "-n", "1",
             "--dtype", "float32" if lr == "1e40" else "float64", "-i", words, "-o", out]
    assert finish(gradkit("train", *flags, "--max-steps", "10"))[0] == 0
    good = state(out)
    status, err = finish(gradkit("train", *flags, "--max-steps", "100", "--resume", "--learning-rate", lr))
    assert status == 3, err
    assert "Warning" not in err  # numpy's overflow warnings are the divergence the last line names
    line = err.strip().splitlines()[-1]
    match = re.fullmatch(DIVERGED.format(found, re.escape(f"{float(lr):g}")), line)
    assert match, err
    assert state(out) == good  # never replaced by the wreck (the step-5 checkpoints of the resumed run included)
    assert match["kept"] == "10"  # the kept checkpoint's step
    rows = (out / "log.csv").read_text().splitlines()  # the losses up to the divergence, to inspect it
    diverged_at = int(re.search(r"diverged at step (\d+)", line)[1])  # type: ignore[index]
    assert max(int(r.split(",")[0]) for r in rows[1:]) >= diverged_at - 1 >= 10
    command = line[line.index("gradkit train --resume"):line.index("; or start over")].split()[1:]
    assert match["lower"] == "50"  # the bigram's recipe rate, below the run's
    status, err = finish(gradkit(*command, *flags[:-4], "--max-steps", "20"))  # the advice works as given
    assert status == 0, err


@posix
def test_a_second_run_on_the_directory_fails_at_once_naming_the_first(tmp_path: Path) -> None:
    words = words_file(tmp_path / "words.txt")
    out = tmp_path / "run"
    first = gradkit("train", *LOUD, "-i", words, "-o", out, delay=30)  # sits in its first save
    try:
        started(first)  # it holds the lock
        second = subprocess.run([sys.executable, "-m", "gradkit.cli", "train", *SMALL, "--overwrite", "-i", words,
                                 "-o", out], capture_output=True, text=True, timeout=60, env=os.environ.copy())
        assert second.returncode == 2
        assert re.fullmatch(rf"gradkit train: error: {re.escape(str(out))} is in use by another gradkit run \(pid "
                            rf"{first.pid} on host .+, started .+\); wait for it to end, or choose another -o DIR\n",
                            second.stderr), second.stderr
    finally:
        first.kill()
        first.communicate()


def test_a_new_run_refuses_a_trained_model_unless_asked(tmp_path: Path) -> None:
    words = words_file(tmp_path / "words.txt")
    out = tmp_path / "run"
    flags = [*SMALL[:8], "--max-steps", "3", *SMALL[10:], "-i", words, "-o", out]
    assert finish(gradkit("train", *flags))[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    status, err = finish(gradkit("train", *flags))
    assert status == 2 and err.startswith(f"gradkit train: error: {out} holds a trained model")
    assert "--resume" in err and "--overwrite" in err and len(err.splitlines()) == 1
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    status, _ = finish(gradkit("train", *flags, "--overwrite", "--seed", "7"))
    assert status == 0 and state(out) != {k: v for k, v in before.items()}


def test_a_full_disk_fails_before_the_first_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import gradkit.runner as runner
    from gradkit.cli import main

    steps: list[int] = []
    monkeypatch.setattr(runner, "fit", lambda run, *a, **k: steps.append(run.step))

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full)
    status = main(["train", *SMALL, "-o", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert status == 2 and "the disk holding" in err and "is full" in err
    assert steps == []  # no training happened
    assert not (tmp_path / "run").exists()  # nothing written: the directory this run made is gone again


def test_a_failure_at_step_0_removes_the_directory_it_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys) -> None:
    """The step-0 model is written, then the disk fills (the best checkpoint after the first evaluation): the
    directory this run made goes, so the next plain run needs no --overwrite."""
    from gradkit.cli import main

    real, calls = os.fsync, []

    def full_after_one(fd: int) -> None:
        calls.append(fd)
        if len(calls) > 2:  # model.safetensors and its directory are synced, then best.safetensors fails
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd)

    monkeypatch.setattr(files.os, "fsync", full_after_one)
    status = main(["train", *SMALL, "-o", str(tmp_path / "run")])
    assert status == 2 and "is full" in capsys.readouterr().err
    assert len(calls) > 2 and not (tmp_path / "run").exists()
    monkeypatch.undo()
    assert main(["train", *SMALL, "--max-steps", "2", "-o", str(tmp_path / "run")]) == 0


# --- memory: bounded by the model and the batch, not by the input or -n -------------------------------------

MEMORY = """
import resource, sys
from gradkit import get_backend
from gradkit.data import load_words
from gradkit.train import TrainConfig, fit, new_run, prepare
kind = sys.argv[2]
words = load_words(sys.argv[1])
config = TrainConfig.of(kind, **({} if kind == "counts" else {"max_steps": 3})).resolved().fit_to(words)
splits = prepare(words, config, get_backend("numpy"))
fit(new_run(config, splits.vocab, get_backend("numpy")), splits)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
MEMORY_BOUND_KB = 1_200_000  # 50 MB of names: measured 674 MB (counts) and 848 MB (mlp); before: 10.7 GB (counts)


def names_file(path: Path, size: int) -> Path:
    """About ``size`` bytes of made-up names (a-z, 3 to 12 letters), one a line."""
    rng = np.random.default_rng(0)
    n = size // 8
    lengths = rng.integers(3, 13, n)
    letters = rng.integers(97, 123, int(lengths.sum()), dtype=np.uint8)
    ends = np.cumsum(lengths + 1) - 1
    text = np.zeros(int(lengths.sum()) + n, np.uint8)
    mask = np.ones(text.size, bool)
    mask[ends] = False
    text[mask], text[~mask] = letters, 10
    path.write_bytes(text.tobytes())
    return path


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in KB (Linux)")
@pytest.mark.parametrize("kind", ["counts", "mlp"])
def test_a_50_mb_names_file_trains_in_bounded_memory(tmp_path: Path, kind: str) -> None:
    big = names_file(tmp_path / "names.txt", 50_000_000)
    done = subprocess.run([sys.executable, "-c", MEMORY, str(big), kind], capture_output=True, text=True,
                          timeout=600, env=os.environ.copy())
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) < MEMORY_BOUND_KB


EVAL = """
import resource, sys
import numpy as np
from gradkit import get_backend
from gradkit.data import Vocab
from gradkit.train import Splits, TrainConfig, losses, new_run
from gradkit.tensor import Tensor
rows = int(sys.argv[1])
be = get_backend("numpy")
config = TrainConfig.of("transformer", block_size=16).resolved()  # makemore's defaults: 4 layers, n_embd 64
vocab = Vocab(["abcdefghijklmnopqrstuvwxyz"])
run = new_run(config, vocab, be)
rng = np.random.default_rng(0)
X = rng.integers(0, 27, (rows, 16)).astype(np.int8)
Y = np.where(rng.random((rows, 16)) < 0.5, X, -1).astype(np.int8)
data = (Tensor(X, backend=be), Tensor(Y, backend=be))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
loss = losses(run.model, Splits(vocab, {}, {"train": data, "dev": data}), names=("dev",))["dev"]
assert np.isfinite(loss)
print(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
EVAL_BOUND_KB = 150_000  # over the model and the data; the whole split in one chunk of 4096 rows took 430 MB


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in KB (Linux)")
def test_evaluating_a_transformer_takes_bounded_memory_flat_in_the_split(tmp_path: Path) -> None:
    """The evaluation at the end of train (and gradkit eval) of makemore's default transformer: in chunks, under
    no_grad, no graph kept, so its peak memory is bounded and the same for 1 and 3 chunks' worth of rows."""
    growth = []
    for rows in (1024, 3072):
        done = subprocess.run([sys.executable, "-c", EVAL, str(rows)], capture_output=True, text=True, timeout=300,
                              env=os.environ.copy())
        assert done.returncode == 0, done.stderr
        before, after = map(int, done.stdout.split())
        growth.append(after - before)
    assert growth[1] < EVAL_BOUND_KB and abs(growth[1] - growth[0]) < 20_000, growth


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in KB (Linux)")
def test_sample_streams_with_memory_flat_in_n(tmp_path: Path) -> None:
    words = words_file(tmp_path / "words.txt")
    run = tmp_path / "run"
    assert finish(gradkit("train", "--type", "counts", "--backend", "numpy", "--quiet", "-n", "1", "-i", words,
                          "-o", run))[0] == 0
    peaks = []
    for n in (2_000, 200_000):
        script = ("import resource, sys; from gradkit.cli import main; main(sys.argv[1:]); "
                  "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)")
        done = subprocess.run([sys.executable, "-c", script, "sample", "--backend", "numpy", "-n", str(n), "-i",
                               str(words), "-o", str(run)], capture_output=True, text=True, timeout=300,
                              env=os.environ.copy())
        assert done.returncode == 0 and len(done.stdout.splitlines()) == n, done.stderr
        peaks.append(int(done.stderr.splitlines()[-1]))
    assert peaks[1] - peaks[0] < 20_000  # KB: 100x the words, the same memory (the output is streamed)
