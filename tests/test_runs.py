"""The run's guards on their own: the work directory lock (gradkit.runlock), stop signals
(gradkit.stopping) and the clean-up of temporary files of killed runs (checkpoint.remove_stale_temporaries)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gradkit import checkpoint
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
        holder.wait()


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
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.01)
                done.append("the save finished")
        assert done == ["the save finished"]


def test_stale_temporaries_are_removed(tmp_path: Path) -> None:
    stale = tmp_path / ".model.npz.999999.0123abcd.tmp"
    own = tmp_path / f".log.csv.{os.getpid()}.0123abcd.tmp"
    keep = [tmp_path / "model.npz", tmp_path / ".model.npz.tmp", tmp_path / "notes.123.0123abcd.tmp"]
    for p in (stale, own, *keep):
        p.write_bytes(b"x")
    assert checkpoint.remove_stale_temporaries(tmp_path) == [stale]
    assert sorted(tmp_path.iterdir()) == sorted([own, *keep])
