"""Checkpoints are untrusted input: crafted files (a FIFO, /dev/zero, a claimed huge shape or header, offsets
beyond the file, a sparse giant; for the converter of old .npz checkpoints a deflate bomb, many small bombs, a
pickle payload, a lying zip directory) are refused with one CheckpointError, before anything big is allocated,
without reading outside their own bytes. Each load runs in a fresh subprocess that reports its peak traced
memory (tracemalloc sees numpy's allocations) and whether it finished (a hang is caught by the timeout)."""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from gradkit import checkpoint as ck
from gradkit import legacy, serialization

OLD_META = np.frombuffer(json.dumps({"format": legacy.OLD_FORMAT, "meta": {"step": 1}}).encode(), dtype=np.uint8)
PEAK_LIMIT = 4 * 2**20  # bytes traced while refusing a crafted file ("a few MB")

PROBE = """
import json, sys, tracemalloc
from gradkit import checkpoint, legacy
from gradkit.files import CheckpointError
tracemalloc.start()
try:
    if sys.argv[2] == "load":
        checkpoint.load(sys.argv[1])
    else:
        legacy.convert(sys.argv[1], sys.argv[1] + ".safetensors")
    error = None
except CheckpointError as exc:
    error = str(exc)
print(json.dumps({"error": error, "peak": tracemalloc.get_traced_memory()[1]}))
"""


def load_in_subprocess(path: Path, how: str = "load") -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, str(path), how], capture_output=True, text=True, timeout=60,
                          env=os.environ.copy())
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# --- safetensors checkpoints --------------------------------------------------------------------------------


def raw(path: Path, header: dict | bytes, data: bytes = b"\0" * 16, length: int | None = None) -> Path:
    """A file of a safetensors header (``length`` declared, default its own) and ``data``."""
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text) if length is None else length) + text + data)
    return path


def claiming(shape: list[int], dtype: str = "F64", offsets: tuple[int, int] = (0, 16)) -> dict:
    meta = {"format": ck.FORMAT, "meta": "{}", "structure": json.dumps({"tensor": "w"})}
    return {"__metadata__": meta, "w": {"dtype": dtype, "shape": shape, "data_offsets": list(offsets)}}


def sparse_giant(path: Path) -> Path:
    """A file that claims 3 GiB on disk (sparse) behind a valid header."""
    raw(path, claiming([2**28 * 3 // 2], "F64", (0, 3 * 2**30)), b"")
    os.truncate(path, 3 * 2**30 + 512)
    return path


def fifo(path: Path) -> Path:
    os.mkfifo(path.with_suffix(".fifo"))
    path.symlink_to(path.with_suffix(".fifo"))
    return path


CRAFTED = {
    "huge shape": (lambda p: raw(p, claiming([10**9, 10**9])), "damaged or truncated"),
    "huge 1-D shape": (lambda p: raw(p, claiming([2**40], "U8")), "damaged or truncated"),
    "offsets beyond the file": (lambda p: raw(p, claiming([2], "F64", (0, 2**32))), "damaged or truncated"),
    "huge header length": (lambda p: raw(p, b"{", length=2**31), "declares a header of 2147483648 bytes"),
    "header longer than the file": (lambda p: raw(p, b"{}", length=2**25), "shorter"),
    "sparse giant": (sparse_giant, "more than the limit of"),
    "fifo": (fifo, "FIFO"),
    "/dev/zero": (lambda p: p.symlink_to("/dev/zero"), "character device"),
    "unknown dtype": (lambda p: raw(p, claiming([8], "F8_E4M3", (0, 8)), b"\0" * 8), "dtype F8_E4M3"),
}


@pytest.mark.skipif(not hasattr(os, "mkfifo") or not os.path.exists("/dev/zero"), reason="needs POSIX")
@pytest.mark.parametrize("case", list(CRAFTED))
def test_crafted_checkpoint_is_refused_early_and_small(tmp_path: Path, case: str) -> None:
    craft, message = CRAFTED[case]
    path = tmp_path / "model.safetensors"
    craft(path)
    result = load_in_subprocess(path)
    assert result["error"] is not None and message in result["error"], result
    assert str(path) in result["error"]
    assert result["peak"] < PEAK_LIMIT, result


def test_limits_are_not_hit_by_real_checkpoints(tmp_path: Path) -> None:
    """A checkpoint of 100 MB loads; max_bytes is a real limit."""
    ck.save(tmp_path / "big.safetensors", {"w": np.ones(12_500_000)}, {"step": 1})
    assert ck.load(tmp_path / "big.safetensors")[0]["w"].shape == (12_500_000,)
    with pytest.raises(ck.CheckpointError, match="more than the limit of"):
        ck.load(tmp_path / "big.safetensors", max_bytes=10**6)


# --- old .npz checkpoints, through the converter --------------------------------------------------------------


def npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=True)
    return buf.getvalue()


def npz(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        zf.writestr("__meta__.npy", npy(OLD_META))
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
    npz(path, {"model/w": npy(np.zeros(100))})
    data = bytearray(path.read_bytes())
    entry = data.rfind(b"PK\x01\x02")  # the last central directory entry: model/w.npy
    struct.pack_into("<II", data, entry + 20, claimed, claimed)  # compressed and uncompressed sizes
    path.write_bytes(bytes(data))
    return path


def deflate_bomb(path: Path) -> Path:
    """16 MiB of zeros deflated into about 16 KiB, as an honest-looking float64 array."""
    return npz(path, {"model/w": npy(np.zeros(2**21))}, compression=zipfile.ZIP_DEFLATED)


def many_small_bombs(path: Path) -> Path:
    """200 members of 1 MiB each, deflated to about 1 KiB each: every member alone looks harmless."""
    one = npy(np.zeros(2**17))
    return npz(path, {f"model/w{i}": one for i in range(200)}, compression=zipfile.ZIP_DEFLATED)


OLD = {
    "huge shape": (lambda p: npz(p, {"model/w": header_claiming((10**9, 10**9))}), "does not match its"),
    "huge 1-D shape": (lambda p: npz(p, {"model/w": header_claiming((2**40,), "<u1")}), "does not match its"),
    "directory claims more than the file": (lambda p: lying_directory(p, 2**32 - 2), "beyond the file"),
    "deflate bomb": (deflate_bomb, "a deflate bomb"),
    "many small bombs": (many_small_bombs, "a deflate bomb"),
    "unknown member": (lambda p: npz(p, {"payload": npy(np.zeros(3))}), "'payload.npy' is not a uniquely named"),
    "huge header length": (lambda p: npz(p, {"model/w": b"\x93NUMPY\x02\x00" + struct.pack("<I", 2**31) + b"{"}),
                           "damaged or truncated"),
    "structured dtype": (lambda p: npz(p, {"model/w": npy(np.zeros(3, dtype=[("a", "<f8")]))}), "plain numbers"),
    "too many members": (lambda p: npz(p, {f"model/a{i}": npy(np.zeros(0)) for i in range(legacy.MAX_MEMBERS)}),
                         "more than the 4096"),
}


@pytest.mark.parametrize("case", list(OLD))
def test_crafted_old_checkpoint_is_refused_before_inflating(tmp_path: Path, case: str) -> None:
    craft, message = OLD[case]
    path = tmp_path / "model.npz"
    craft(path)
    result = load_in_subprocess(path, "convert")
    assert result["error"] is not None and message in result["error"], result
    assert str(path) in result["error"]
    assert result["peak"] < PEAK_LIMIT, result
    assert not path.with_suffix(".npz.safetensors").exists()


def test_the_bombs_would_really_inflate(tmp_path: Path) -> None:
    """The bombs above are real: each file is under 1 MiB, its members claim far more, and numpy inflates one
    to what it claims."""
    for craft, size, one in ((deflate_bomb, 2**24, 2**24), (many_small_bombs, 200 * 2**20, 2**20)):
        path = craft(tmp_path / f"{craft.__name__}.npz")
        assert path.stat().st_size < 2**20
        with zipfile.ZipFile(path) as zf:
            assert sum(info.file_size for info in zf.infolist()) > size
        with np.load(path) as z:
            assert z["model/w" if "model/w" in z.files else "model/w0"].nbytes == one


class Payload:
    """Unpickling this creates the file ``marker`` (a stand-in for any code a pickle may run)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_payload_is_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = npz(tmp_path / "model.npz", {"model/w": npy(np.array([Payload(str(marker))], dtype=object))})
    with np.load(path, allow_pickle=True) as z:  # the payload is real: unpickling it writes the marker
        z["model/w"][0].close()
    assert marker.exists()
    marker.unlink()
    result = load_in_subprocess(path, "convert")
    assert "dtype object" in result["error"] and "pickle" in result["error"]
    assert not marker.exists()


# --- a crafted model.safetensors through the command line: fields checked, no stored path opened ----------------------

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
    """A copy of the trained run whose checkpoints' metadata and state ``change(meta, state)`` edited."""
    target.mkdir()
    state, meta = ck.load(trained / "model.safetensors")
    change(meta, state)
    tensors, structure = serialization.encode(state)
    for name in ("model.safetensors", "best.safetensors"):  # as an attacker would: NaN in the JSON allowed
        serialization.write(target / name, tensors, {"format": ck.FORMAT, "structure": structure,
                                                     "meta": json.dumps(meta)})
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
    "model state": (lambda m, s: s.update(model={"C.weight": "not an array"}), "'model' field"),
    "no model state": (lambda m, s: s.pop("model"), "'model' field"),
    "optimizer state": (lambda m, s: s.pop("optimizer"), "does not hold a model gradkit can rebuild"),
}


@pytest.mark.parametrize("case", list(BAD_FIELDS))
def test_each_bad_field_is_one_line_and_exit_2(trained: Path, tmp_path: Path, case: str) -> None:
    change, message = BAD_FIELDS[case]
    run = crafted(trained, tmp_path / "run", change)
    done = run_cli("eval", "--backend", "numpy", "-i", trained.parent / "words.txt", "-o", run)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    assert message in done.stderr and str(run / "best.safetensors") in done.stderr, done.stderr
    assert f"retrain with `gradkit train --overwrite -o {run}`" in done.stderr  # the directory, filled in


def test_converting_a_safetensors_checkpoint_says_it_needs_none(trained: Path, tmp_path: Path) -> None:
    done = run_cli("convert-checkpoint", trained / "model.safetensors", tmp_path / "x.safetensors")
    assert done.returncode == 2 and done.stderr == (
        f"gradkit convert-checkpoint: error: {trained / 'model.safetensors'} is already a safetensors checkpoint "
        "and needs no conversion: use it as it is (convert-checkpoint reads only an older gradkit's .npz)\n")
    assert not (tmp_path / "x.safetensors").exists()


def test_an_old_checkpoint_is_refused_with_its_conversion_and_converts(trained: Path, tmp_path: Path) -> None:
    """A gradkit.checkpoint/2 .npz (as that gradkit wrote it) is refused naming the command, which converts it
    to a checkpoint that evaluates and resumes as the original."""
    old = tmp_path / "old"
    old.mkdir()
    state, meta = ck.load(trained / "model.safetensors")
    members = {f"model/{k}": v.numpy() for k, v in state["model"].items()}
    group = state["optimizer"]["param_groups"][0]  # the run's SGD, in the flat layout that gradkit wrote then
    flat: dict = {"type": "SGD", "num_params": len(group["params"]), "lr": group["lr"],
                  "momentum": group["momentum"], "weight_decay": group["weight_decay"], "nesterov": group["nesterov"]}
    flat |= {f"state.{name}.step": 2 for name in group["param_names"]}
    meta["optimizer"] = flat
    envelope = json.dumps({"format": legacy.OLD_FORMAT, "meta": meta}).encode()
    with open(old / "model.npz", "wb") as f:
        np.savez(f, __meta__=np.frombuffer(envelope, np.uint8), **members)
    shutil.copy(old / "model.npz", old / "model.safetensors")  # what a user who renamed the file has
    done = run_cli("eval", "--backend", "numpy", "-i", trained.parent / "words.txt", "-o", old)
    assert done.returncode == 2 and f"convert it with `gradkit convert-checkpoint {old / 'model.safetensors'} " \
        in done.stderr, done.stderr
    (old / "model.safetensors").unlink()
    done = run_cli("convert-checkpoint", old / "model.npz", old / "model.safetensors")
    assert done.returncode == 0 and done.stderr == f"wrote {old / 'model.safetensors'}\n", done.stderr
    converted, converted_meta = ck.load(old / "model.safetensors")
    assert converted_meta == {k: v for k, v in meta.items() if k != "optimizer"}
    assert converted["model"].keys() == state["model"].keys()
    for k, v in state["model"].items():
        assert np.array_equal(converted["model"][k], v.numpy()), k
    assert converted["optimizer"] == {"state": {}, "param_groups": [group]}  # plain SGD keeps no state
    for command in (["eval"], ["train", "--resume", "--max-steps", "3"]):
        done = run_cli(*command, "--backend", "numpy", "--checkpoint", "last", "-i", trained.parent / "words.txt",
                       "-o", old) if command == ["eval"] else run_cli(*command, "--backend", "numpy", "--quiet", "-n",
                                                                     "1", "-i", trained.parent / "words.txt", "-o", old)
        assert done.returncode == 0, done.stderr
