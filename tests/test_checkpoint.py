"""Tests of gradkit.checkpoint and gradkit.files: round trips, atomic writes (a failed write leaves the old file
as it was), and one clear CheckpointError / OutputError for every broken file or unwritable place."""

from __future__ import annotations

import errno
import json
import os
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

from gradkit import backends, files, serialization
from gradkit import checkpoint as ck
from gradkit.files import CheckpointError, OutputError

ARRAYS = {
    "w32": np.arange(12, dtype=np.float32).reshape(3, 4) / 7,
    "w64": np.linspace(-1, 1, 5, dtype=np.float64),
    "ix": np.array([[1, -2], [3, 2**40]], dtype=np.int64),
    "i8": np.array([-128, 127], dtype=np.int8),
    "scalar": np.array(3.5, dtype=np.float64),
    "empty": np.zeros((0, 3), dtype=np.float32),
    "mask": np.array([True, False]),
    "layer.0/weight": np.ones(2, dtype=np.float32),
    "fortran": np.asfortranarray(np.eye(3)[:, :2]),
    "big_endian": np.arange(4, dtype=">f8"),
}
STATE = {"model": ARRAYS, "optimizer": {"state": {0: {"step": 3, "exp_avg": np.ones(2)}}, "param_groups": [
    {"lr": 0.1, "betas": (0.9, 0.99), "params": [0]}]}}
META = {"step": 1200, "loss": 2.125, "nan": None, "vocab": {"format": "gradkit.vocab/1", "itos": [".", "a"]},
        "config": {"layers": [{"n": 200, "act": "tanh"}], "lr": [0.1, 0.01]}, "unicode": "Zoë ☃"}


def listing(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


def assert_same(got: object, expected: object) -> None:
    """Equal structure, types, and arrays equal in dtype (byte order aside), shape and values."""
    assert type(got) is type(expected), (got, expected)
    if isinstance(expected, np.ndarray):
        assert got.dtype == expected.dtype.newbyteorder("=") and got.shape == expected.shape  # type: ignore[union-attr]
        np.testing.assert_array_equal(got, expected)
    elif isinstance(expected, dict):
        assert list(got) == list(expected)  # type: ignore[call-overload]
        for k in expected:
            assert_same(got[k], expected[k])  # type: ignore[index]
    elif isinstance(expected, (list, tuple)):
        assert len(got) == len(expected)  # type: ignore[arg-type]
        for a, b in zip(got, expected):  # type: ignore[call-overload]
            assert_same(a, b)
    else:
        assert got == expected


# --- round trips --------------------------------------------------------------------------------------------


def test_round_trip_keeps_structure_dtypes_shapes_values_and_meta(tmp_path: Path) -> None:
    path = ck.save(tmp_path / "model.safetensors", STATE, META)
    assert path == tmp_path / "model.safetensors"
    state, meta = ck.load(path)
    assert_same(state, STATE)
    assert state["model"]["fortran"].flags.f_contiguous  # the memory layout too (a transposed Linear weight)
    assert meta == META
    assert listing(tmp_path) == ["model.safetensors"]


def test_meta_conversions(tmp_path: Path) -> None:
    ck.save(tmp_path / "m.safetensors", {}, {"loss": np.float32(1.5), "steps": np.int64(7), "pair": (1, 2)})
    state, meta = ck.load(tmp_path / "m.safetensors")
    assert state == {}
    assert meta == {"loss": 1.5, "steps": 7, "pair": [1, 2]}
    assert type(meta["loss"]) is float and type(meta["steps"]) is int
    ck.save(tmp_path / "none.safetensors", {"a": np.zeros(1)})
    assert ck.load(tmp_path / "none.safetensors")[1] == {}


def test_safetensors_reads_a_checkpoint(tmp_path: Path) -> None:
    """Any safetensors reader gets the tensors under their paths, and the metadata as JSON strings."""
    ck.save(tmp_path / "model.safetensors", STATE, META)
    tensors = load_file(tmp_path / "model.safetensors")
    assert set(tensors) == {f"model.{k}" for k in ARRAYS} | {"optimizer.state.0.exp_avg"}
    np.testing.assert_array_equal(tensors["model.w32"], ARRAYS["w32"])
    with safe_open(tmp_path / "model.safetensors", "np") as f:
        metadata = f.metadata()
    assert metadata["format"] == "gradkit.checkpoint/3" and json.loads(metadata["meta"]) == META


def test_overwrite_replaces_and_uses_normal_permissions(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    ck.save(path, {"a": np.zeros(2)}, {"v": 1})
    ck.save(path, {"b": np.ones(3)}, {"v": 2})
    state, meta = ck.load(path)
    assert list(state) == ["b"] and meta == {"v": 2}
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not the 0o600 of a mkstemp file
    assert listing(tmp_path) == ["model.safetensors"]


def test_save_syncs_before_renaming(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(files.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(files.os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    ck.save(tmp_path / "model.safetensors", {"a": np.zeros(2)})
    assert events[:2] == ["fsync", "replace"]  # the data is on disk before the name points at it


# --- save's argument errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "meta", "error", "message"), [
    ({"o": np.array([{}], dtype=object)}, {}, TypeError, "dtype object.*pickle"),
    ({"c": np.zeros(2, np.complex64)}, {}, TypeError, "dtype complex64"),
    ({"f": lambda: 0}, {}, TypeError, r"cannot store the .*function.* at \['f'\]"),
    ({(1, 2): np.zeros(1)}, {}, TypeError, "keys must be str or int"),
    ({"a": np.zeros(1)}, {"bad": object()}, TypeError, "not JSON-able"),
    ({"a": np.zeros(1)}, {"arr": np.zeros(2)}, TypeError, "not JSON-able"),
    ({"a": np.zeros(1)}, {"nan": float("nan")}, TypeError, "not JSON-able"),
    ({"a": np.zeros(1)}, [("k", 1)], TypeError, "meta must be a dict"),
])
def test_save_rejects_bad_input_and_writes_nothing(tmp_path: Path, state, meta, error, message: str) -> None:
    with pytest.raises(error, match=message):
        ck.save(tmp_path / "model.safetensors", state, meta)
    assert listing(tmp_path) == []


def test_save_rejects_device_arrays(tmp_path: Path) -> None:
    if not backends.probe()["strict"].usable:
        pytest.skip("needs the strict backend")
    device_array = backends.get_backend("strict").zeros((2,))
    with pytest.raises(TypeError, match=r"to the host first with backend\.to_numpy"):
        ck.save(tmp_path / "model.safetensors", {"w": device_array}, {})


# --- atomicity ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("failure", "raised"), [
    (OSError(errno.ENOSPC, "No space left on device"), OutputError),
    (RuntimeError("a bug in the writer"), RuntimeError),
    (KeyboardInterrupt(), KeyboardInterrupt),
])
def test_failed_write_leaves_previous_checkpoint_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           failure: BaseException, raised: type) -> None:
    path = tmp_path / "model.safetensors"
    ck.save(path, {"w": np.arange(1000.0)}, {"step": 1})
    before = path.read_bytes()
    written = []

    def half_then_fail(target, data):  # half of the new file reaches the disk, then the write fails
        def write(f):
            written.append(f.write(data[: len(data) // 2]))
            raise failure
        return files.atomic_write(target, write)

    monkeypatch.setattr(serialization, "atomic_write_bytes", half_then_fail)
    with pytest.raises(raised) as info:
        ck.save(path, {"w": np.arange(2000.0), "b": np.ones(2000)}, {"step": 2})
    assert written and written[0] > 1000  # the failure really happened mid-way
    assert path.read_bytes() == before
    assert listing(tmp_path) == ["model.safetensors"]  # no temporary file left behind
    if raised is OutputError:
        assert str(path) in str(info.value) and "disk holding" in str(info.value)
    monkeypatch.undo()
    assert ck.load(path)[1] == {"step": 1}


def test_failed_rename_leaves_previous_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "log.csv"
    files.atomic_write_text(path, "step,loss\n")

    def refuse(src, dst):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(files.os, "replace", refuse)
    with pytest.raises(OutputError, match="not writable"):
        files.atomic_write_text(path, "step,loss\n1,2.0\n")
    assert path.read_text() == "step,loss\n"
    assert listing(tmp_path) == ["log.csv"]


def test_atomic_write_helpers(tmp_path: Path) -> None:
    text = tmp_path / "samples.txt"
    assert files.atomic_write_text(text, "emma\r\nzoë\n") == text
    assert text.read_bytes() == "emma\r\nzoë\n".encode()  # newlines as given
    files.atomic_write_text(text, "ava\n")
    assert text.read_text() == "ava\n"
    png = tmp_path / "loss.png"
    files.atomic_write_bytes(png, b"\x89PNG\r\n\x1a\n")
    assert png.read_bytes() == b"\x89PNG\r\n\x1a\n"
    files.atomic_write(tmp_path / "chunks.bin", lambda f: [f.write(bytes([i]) * 10) for i in range(3)])
    assert (tmp_path / "chunks.bin").read_bytes() == b"\x00" * 10 + b"\x01" * 10 + b"\x02" * 10
    assert listing(tmp_path) == ["chunks.bin", "loss.png", "samples.txt"]


# --- unwritable places -----------------------------------------------------------------------------------


def test_directory_that_is_a_file_raises_output_error(tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("in the way")
    path = tmp_path / "file.txt" / "model.safetensors"
    with pytest.raises(OutputError) as info:
        ck.save(path, {"a": np.zeros(1)}, {})
    message = str(info.value)
    assert str(tmp_path / "file.txt") in message and "choose another -o DIR" in message
    assert info.value.path == path and info.value.directory == tmp_path / "file.txt"
    assert info.value.__cause__ is None and info.value.__suppress_context__
    with pytest.raises(OutputError, match="not a directory"):
        files.atomic_write_text(path.with_name("log.csv"), "x")
    assert listing(tmp_path) == ["file.txt"]


def test_missing_directory_raises_output_error(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "samples.txt"
    with pytest.raises(OutputError, match=r"does not exist; create it \(mkdir -p") as info:
        files.atomic_write_text(path, "x")
    assert str(tmp_path / "missing") in str(info.value)


def test_target_that_is_a_directory_raises_output_error(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").mkdir()
    with pytest.raises(OutputError, match="is a directory"):
        ck.save(tmp_path / "model.safetensors", {"a": np.zeros(1)}, {})
    assert listing(tmp_path) == ["model.safetensors"]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes through chmod 500")
def test_read_only_directory_raises_output_error(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="not writable; choose another -o DIR or fix its permissions"):
            ck.save(out / "model.safetensors", {"a": np.zeros(1)}, {})
    finally:
        out.chmod(0o700)


# --- damaged and foreign files -----------------------------------------------------------------------------


def _good(path: Path) -> bytes:
    ck.save(path, {"w": np.arange(500.0), "i": np.arange(4)}, {"step": 3})
    return path.read_bytes()


def _flip_data_byte(path: Path) -> None:
    data = bytearray(_good(path))
    i = data.find(np.float64(250.0).tobytes())
    assert i > 0
    data[i] ^= 0x01
    path.write_bytes(bytes(data))


def _with_metadata(path: Path, **metadata: str) -> None:
    """A safetensors file with one tensor and ``metadata`` (no checksum unless given)."""
    save_file({"w": np.zeros(2)}, path, metadata=metadata)


def _structure(structure: object) -> dict[str, str]:
    return {"format": ck.FORMAT, "meta": "{}", "structure": json.dumps(structure)}


def _raw(path: Path, header: dict, data: bytes = b"\0" * 16) -> None:
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)


def _old_npz(path: Path) -> None:
    """A checkpoint as gradkit.checkpoint/2 wrote it."""
    meta = np.frombuffer(json.dumps({"format": "gradkit.checkpoint/2", "meta": {}}).encode(), np.uint8)
    with path.open("wb") as f:
        np.savez(f, **{"model/W": np.zeros(3), "__meta__": meta})


CASES = {
    "truncated_half": (lambda p: p.write_bytes(_good(p)[: len(_good(p)) // 2]), "damaged or truncated"),
    "truncated_tail": (lambda p: p.write_bytes(_good(p)[:-10]), "damaged or truncated"),
    "truncated_header": (lambda p: p.write_bytes(_good(p)[:40]), "shorter .* than the header it declares"),
    "bit_flip": (_flip_data_byte, "damaged: its tensors do not match the checksum"),
    "random_bytes": (lambda p: p.write_bytes(np.random.default_rng(0).bytes(4096)), "not a safetensors file"),
    "empty_file": (lambda p: p.write_bytes(b""), "the file is empty"),
    "text_file": (lambda p: p.write_text("step,loss\n1,2.0\n"), "not a safetensors file"),
    "npy_file": (lambda p: p.write_bytes(b"\x93NUMPY\x01\x00" + b" " * 120), "a .npy array"),
    "old_npz": (_old_npz, r"convert it with `gradkit convert-checkpoint .*model\.safetensors .*model\.safetensors`"),
    "other_zip": (lambda p: zipfile.ZipFile(p, "w").writestr("a.txt", "x"), "a .npz .zip. file"),
    "plain_safetensors": (lambda p: save_file({"w": np.zeros(3)}, p), "not a gradkit checkpoint.*gradkit.load"),
    "foreign_format": (lambda p: _with_metadata(p, format="someone.else/3"), "not a gradkit checkpoint"),
    "newer_format": (lambda p: _with_metadata(p, format="gradkit.checkpoint/4"), "install the gradkit that wrote"),
    "bad_meta_json": (lambda p: _with_metadata(p, format=ck.FORMAT, meta='{"step": '), "not valid JSON"),
    "meta_not_a_dict": (lambda p: _with_metadata(p, format=ck.FORMAT, meta="[1, 2]"), "no metadata dict"),
    "bad_structure_json": (lambda p: save_file({"w": np.zeros(2)}, p, metadata={**_structure(0), "structure": "{"}),
                           "structure is not valid JSON"),
    "missing_tensor": (lambda p: save_file({"w": np.zeros(2)}, p, metadata=_structure({"tensor": "v"})),
                       "refers to tensor 'v', which the file does not hold"),
    "tensor_twice": (lambda p: save_file({"w": np.zeros(2)}, p, metadata=_structure(
        {"list": [{"ndarray": "w"}, {"ndarray": "w"}]})), r"\['1'\] refers to tensor 'w' a second time"),
    "unknown_node": (lambda p: save_file({"w": np.zeros(2)}, p, metadata=_structure({"pickle": "x"})),
                     "node gradkit does not read"),
    "bad_dict_key": (lambda p: save_file({"w": np.zeros(2)}, p, metadata=_structure({"dict": [[1.5, 0]]})),
                     "not a .key, value. pair with a new str or int key"),
    "too_deep": (lambda p: save_file({"w": np.zeros(2)}, p, metadata=_structure(
        json.loads('{"list": [' * 70 + "1" + "]}" * 70))), "deeper than 64 levels"),
    "bf16": (lambda p: _raw(p, {"w": {"dtype": "BF16", "shape": [8], "data_offsets": [0, 16]}}), "dtype BF16"),
    "directory": (lambda p: p.mkdir(), "is a directory"),
    "missing": (lambda p: None, "does not exist"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_broken_file_raises_checkpoint_error(tmp_path: Path, case: str) -> None:
    path = tmp_path / "model.safetensors"
    damage, message = CASES[case]
    damage(path)
    with pytest.raises(CheckpointError, match=message) as info:
        ck.load(path)
    err = info.value
    assert isinstance(err, ValueError)
    assert str(path) in str(err) and err.path == path
    assert err.__cause__ is None and (err.__context__ is None or err.__suppress_context__)  # no raw traceback
    if case not in ("missing", "directory", "old_npz", "bf16", "newer_format"):
        assert f"retrain with `gradkit train --overwrite -o {tmp_path}`" in str(err)  # the directory, filled in


def test_good_file_loads_where_damaged_ones_fail(tmp_path: Path) -> None:
    """The damage helpers damage a file that was loadable before (so the cases above test the damage)."""
    path = tmp_path / "model.safetensors"
    _good(path)
    state, meta = ck.load(path)
    np.testing.assert_array_equal(state["w"], np.arange(500.0))
    assert meta == {"step": 3}
    save_file({"w": np.zeros(2)}, path, metadata=_structure({"list": [{"ndarray": "w"}, 1, None]}))
    assert_same(ck.load(path)[0], [np.zeros(2), 1, None])


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads through chmod 000")
def test_unreadable_file_raises_checkpoint_error(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    _good(path)
    path.chmod(0)
    try:
        with pytest.raises(CheckpointError, match="cannot read checkpoint"):
            ck.load(path)
    finally:
        path.chmod(0o600)
