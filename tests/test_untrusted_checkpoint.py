"""Checkpoints are untrusted input: crafted files (a FIFO, /dev/zero, a claimed huge shape, a deflate bomb, a
pickle payload, a lying zip directory) are refused with one CheckpointError, before anything big is allocated,
without reading outside their own bytes. Each load runs in a fresh subprocess that reports its peak traced
memory (tracemalloc sees numpy's allocations) and whether it finished (a hang is caught by the timeout)."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from gradkit import checkpoint as ck

META = np.frombuffer(json.dumps({"format": ck.FORMAT, "meta": {"step": 1}}).encode(), dtype=np.uint8)
PEAK_LIMIT = 4 * 2**20  # bytes traced while refusing a crafted file ("a few MB")

PROBE = """
import json, sys, time, tracemalloc
from gradkit import checkpoint
tracemalloc.start()
t0 = time.perf_counter()
try:
    checkpoint.load(sys.argv[1])
    error = None
except checkpoint.CheckpointError as exc:
    error = str(exc)
print(json.dumps({"error": error, "peak": tracemalloc.get_traced_memory()[1], "seconds": time.perf_counter() - t0}))
"""


def load_in_subprocess(path: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, timeout=60,
                          env=os.environ.copy())
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=True)
    return buf.getvalue()


def npz(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        zf.writestr(ck.META_KEY + ".npy", npy(META))
        for name, data in members.items():
            zf.writestr(name + ".npy", data)
    return path


def header_claiming(shape: tuple[int, ...], dtype: str = "<f8") -> bytes:
    """A .npy header describing ``shape`` followed by only 16 bytes of data."""
    text = repr({"descr": dtype, "fortran_order": False, "shape": shape}).encode()
    text += b" " * (63 - (10 + len(text)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + b"\x00" * 16


def lying_directory(path: Path, claimed: int) -> Path:
    """A stored member whose central directory entry claims ``claimed`` bytes (the file holds 800)."""
    npz(path, {"w": npy(np.zeros(100))})
    data = bytearray(path.read_bytes())
    entry = data.rfind(b"PK\x01\x02")  # the last central directory entry: w.npy
    struct.pack_into("<II", data, entry + 20, claimed, claimed)  # compressed and uncompressed sizes
    path.write_bytes(bytes(data))
    return path


def deflate_bomb(path: Path) -> Path:
    """64 MiB of zeros deflated into about 64 KiB, as an honest-looking float64 array."""
    return npz(path, {"w": npy(np.zeros(2**23))}, compression=zipfile.ZIP_DEFLATED)


def fifo(path: Path) -> Path:
    os.mkfifo(path.with_suffix(".fifo"))
    path.symlink_to(path.with_suffix(".fifo"))
    return path


CRAFTED = {
    "huge shape": (lambda p: npz(p, {"w": header_claiming((10**9, 10**9))}), "does not match its"),
    "huge 1-D shape": (lambda p: npz(p, {"w": header_claiming((2**40,), "<u1")}), "does not match its"),
    "directory claims more than the file": (lambda p: lying_directory(p, 2**32 - 2), "beyond the file"),
    "deflate bomb": (deflate_bomb, "deflate bomb"),
    "huge header length": (lambda p: npz(p, {"w": b"\x93NUMPY\x02\x00" + struct.pack("<I", 2**31) + b"{"}),
                           "header of 2147483648 bytes"),
    "fifo": (fifo, "FIFO"),
    "/dev/zero": (lambda p: p.symlink_to("/dev/zero"), "character device"),
    "structured dtype": (lambda p: npz(p, {"w": npy(np.zeros(3, dtype=[("a", "<f8")]))}), "plain numbers"),
    "too many members": (lambda p: npz(p, {f"a{i}": npy(np.zeros(0)) for i in range(ck.MAX_MEMBERS + 1)}),
                         "more than the 4096"),
}


@pytest.mark.skipif(not hasattr(os, "mkfifo") or not os.path.exists("/dev/zero"), reason="needs POSIX")
@pytest.mark.parametrize("case", list(CRAFTED))
def test_crafted_checkpoint_is_refused_early_and_small(tmp_path: Path, case: str) -> None:
    craft, message = CRAFTED[case]
    path = tmp_path / "model.npz"
    craft(path)
    result = load_in_subprocess(path)
    assert result["error"] is not None and message in result["error"], result
    assert str(path) in result["error"]
    assert result["peak"] < PEAK_LIMIT, result


def test_deflate_bomb_would_really_inflate(tmp_path: Path) -> None:
    """The bomb above is real: numpy itself inflates it to 64 MiB."""
    path = deflate_bomb(tmp_path / "bomb.npz")
    assert path.stat().st_size < 2**20
    with np.load(path) as z:
        assert z["w"].nbytes == 2**26


def test_limits_are_not_hit_by_real_checkpoints(tmp_path: Path) -> None:
    """A stored checkpoint of 100 MB loads; a small deflated one too; max_bytes is a real limit."""
    big = {"w": np.ones(12_500_000)}
    ck.save(tmp_path / "big.npz", big, {"step": 1})
    assert ck.load(tmp_path / "big.npz")[0]["w"].shape == (12_500_000,)
    with pytest.raises(ck.CheckpointError, match="more than the limit of 1000000"):
        ck.load(tmp_path / "big.npz", max_bytes=10**6)
    ck.save(tmp_path / "small.npz", {"w": np.zeros(1000), "f": np.asfortranarray(np.eye(3)[:, :2])}, compress=True)
    arrays = ck.load(tmp_path / "small.npz")[0]
    np.testing.assert_array_equal(arrays["f"], np.eye(3)[:, :2])


class Payload:
    """Unpickling this creates the file ``marker`` (a stand-in for any code a pickle may run)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_payload_is_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = npz(tmp_path / "model.npz", {"w": npy(np.array([Payload(str(marker))], dtype=object))})
    with np.load(path, allow_pickle=True) as z:  # the payload is real: unpickling it writes the marker
        z["w"][0].close()
    assert marker.exists()
    marker.unlink()
    result = load_in_subprocess(path)
    assert "dtype object" in result["error"] and "pickle" in result["error"]
    assert not marker.exists()


# --- a crafted model.npz through the command line: fields checked, no stored path opened ----------------------

WORDS = "\n".join(["ab", "cd", "ef", "gh", "ij", "kl", "mn", "op", "qr", "st"] * 5) + "\n"


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("crafted")
    (root / "words.txt").write_text(WORDS)
    done = subprocess.run([sys.executable, "-m", "gradkit.cli", "train", "--backend", "numpy", "--max-steps", "2",
                           "--n-hidden", "8", "--batch-size", "4", "--quiet", "-n", "1", "-i", str(root / "words.txt"),
                           "-o", str(root / "run")], capture_output=True, text=True, timeout=120, env=os.environ.copy())
    assert done.returncode == 0, done.stderr
    return root / "run"


def crafted(trained: Path, target: Path, change) -> Path:
    """A copy of the trained run whose model.npz (and best.npz) metadata ``change(meta, arrays)`` edited."""
    target.mkdir()
    arrays, meta = ck.load(trained / "model.npz")
    change(meta, arrays)
    for name in ("model.npz", "best.npz"):
        ck.save(target / name, arrays, meta)
    return target


def run_cli(*args: object, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gradkit.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=os.environ.copy())


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX")
def test_a_path_named_in_a_checkpoint_is_never_opened(trained: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:the secret line\n")
    os.mkfifo(tmp_path / "fifo")  # opening it for reading would hang: the timeout would fail the test
    for i, named in enumerate((secret, tmp_path / "fifo", Path("/dev/zero"))):
        run = crafted(trained, tmp_path / f"run{i}", lambda m, a, named=named: m.update(input=str(named)))
        for command in (["eval"], ["sample"], ["train", "--resume", "--max-steps", "3"]):
            done = run_cli(*command, "--backend", "numpy", "-o", run, timeout=30)
            assert "the secret line" not in done.stdout + done.stderr
            if command != ["sample"]:
                assert done.returncode == 2 and "pass it again with -i FILE" in done.stderr, done.stderr
                assert len(done.stderr.splitlines()) == 1
            else:
                assert done.returncode == 0 and "pass the training words with -i FILE" in done.stderr


def test_resume_checks_the_words_file_against_the_recorded_hash(trained: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.txt"
    other.write_text(WORDS.replace("ab", "ba"))
    run = crafted(trained, tmp_path / "run", lambda m, a: None)
    done = run_cli("train", "--resume", "--max-steps", "3", "--backend", "numpy", "-i", other, "-o", run)
    assert done.returncode == 2 and "is not the words file" in done.stderr and "SHA-256" in done.stderr


def _rng(m: dict, a: dict) -> None:
    m["rng_state"] = {"bit_generator": "MT19937", "state": {}}


BAD_FIELDS = {
    "step": (lambda m, a: m.update(step=-1), "'step' field: expected an integer >= 0, got -1"),
    "step type": (lambda m, a: m.update(step="10"), "'step' field: expected an integer >= 0"),
    "dtype": (lambda m, a: m.update(dtype="float16"), "'dtype' field"),
    "history": (lambda m, a: m.update(history=[[0, float("nan"), 0.1]]), "'history' field"),
    "dev": (lambda m, a: m.update(dev=[["x", 1.0]]), "'dev' field"),
    "rng state": (_rng, "'rng_state' field: expected numpy's PCG64 state"),
    "input": (lambda m, a: m.update(input=["/etc/passwd"]), "'input' field"),
    "input hash": (lambda m, a: m.update(input_sha256="00"), "'input_sha256' field"),
    "config type": (lambda m, a: m["config"]["model"].update(n_hidden="8"), "--n-hidden must be an integer"),
    "huge model": (lambda m, a: m["config"]["model"].update(n_hidden=10**6, n_embd=10**5),
                   "larger than any stored array can back"),
    "model beyond its arrays": (lambda m, a: m["config"]["model"].update(n_hidden=4000, n_embd=4000),
                                "a model larger than the arrays the file holds"),
    "vocabulary": (lambda m, a: m["vocab"].update(itos=[".", *(chr(0x4E00 + i) for i in range(5000))]),
                   "'vocab' field: 5001 symbols"),
}


@pytest.mark.parametrize("case", list(BAD_FIELDS))
def test_each_bad_field_is_one_line_and_exit_2(trained: Path, tmp_path: Path, case: str) -> None:
    change, message = BAD_FIELDS[case]
    run = crafted(trained, tmp_path / "run", change)
    done = run_cli("eval", "--backend", "numpy", "-i", trained.parent / "words.txt", "-o", run)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    assert message in done.stderr and str(run / "best.npz") in done.stderr, done.stderr
