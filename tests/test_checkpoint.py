"""Tests of gradkit.checkpoint: round trips, atomic writes (a failed write leaves the old file as it was),
and one clear CheckpointError / OutputError for every broken file or unwritable place."""

from __future__ import annotations

import errno
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest

import backends
from gradkit import checkpoint as ck
from gradkit.checkpoint import CheckpointError, OutputError

ARRAYS = {
    "w32": np.arange(12, dtype=np.float32).reshape(3, 4) / 7,
    "w64": np.linspace(-1, 1, 5, dtype=np.float64),
    "ix": np.array([[1, -2], [3, 2**40]], dtype=np.int64),
    "scalar": np.array(3.5, dtype=np.float64),
    "empty": np.zeros((0, 3), dtype=np.float32),
    "mask": np.array([True, False]),
    "layer.0/weight": np.ones(2, dtype=np.float32),
    "file": np.zeros(1),  # names numpy.savez's own arguments would clash with
    "allow_pickle": np.zeros(1),
}
META = {"step": 1200, "loss": 2.125, "nan": None, "vocab": {"format": "gradkit.vocab/1", "itos": [".", "a"]},
        "config": {"layers": [{"n": 200, "act": "tanh"}], "lr": [0.1, 0.01]}, "unicode": "Zoë ☃"}


def listing(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


# --- round trips --------------------------------------------------------------------------------------------


def test_round_trip_keeps_dtypes_shapes_values_and_meta(tmp_path: Path) -> None:
    path = ck.save(tmp_path / "model.npz", ARRAYS, META)
    assert path == tmp_path / "model.npz"
    arrays, meta = ck.load(path)
    assert arrays.keys() == ARRAYS.keys()
    for name, expected in ARRAYS.items():
        assert arrays[name].dtype == expected.dtype and arrays[name].shape == expected.shape, name
        np.testing.assert_array_equal(arrays[name], expected)
    assert meta == META
    assert listing(tmp_path) == ["model.npz"]


def test_meta_conversions(tmp_path: Path) -> None:
    ck.save(tmp_path / "m.npz", {}, {"loss": np.float32(1.5), "steps": np.int64(7), "pair": (1, 2)})
    arrays, meta = ck.load(tmp_path / "m.npz")
    assert arrays == {}
    assert meta == {"loss": 1.5, "steps": 7, "pair": [1, 2]}
    assert type(meta["loss"]) is float and type(meta["steps"]) is int
    ck.save(tmp_path / "none.npz", {"a": np.zeros(1)})
    assert ck.load(tmp_path / "none.npz")[1] == {}


def test_numpy_reads_a_checkpoint(tmp_path: Path) -> None:
    ck.save(tmp_path / "model.npz", ARRAYS, META, compress=True)
    with np.load(tmp_path / "model.npz", allow_pickle=False) as z:
        assert set(z.files) == {*ARRAYS, ck.META_KEY}
        np.testing.assert_array_equal(z["w32"], ARRAYS["w32"])
        envelope = json.loads(z[ck.META_KEY].tobytes().decode("utf-8"))
    assert envelope == {"format": "gradkit.checkpoint/2", "meta": META}


def test_overwrite_replaces_and_uses_normal_permissions(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    ck.save(path, {"a": np.zeros(2)}, {"v": 1})
    ck.save(path, {"b": np.ones(3)}, {"v": 2})
    arrays, meta = ck.load(path)
    assert list(arrays) == ["b"] and meta == {"v": 2}
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not the 0o600 of a mkstemp file
    assert listing(tmp_path) == ["model.npz"]


def test_save_syncs_before_renaming(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(ck.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(ck.os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    ck.save(tmp_path / "model.npz", {"a": np.zeros(2)})
    assert events[:2] == ["fsync", "replace"]  # the data is on disk before the name points at it


# --- save's argument errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(("arrays", "meta", "error", "message"), [
    ({"__meta__": np.zeros(1)}, {}, ValueError, "reserved"),
    ({"": np.zeros(1)}, {}, ValueError, "non-empty strings"),
    ({"o": np.array([{}], dtype=object)}, {}, TypeError, "object dtype"),
    ({"a": np.zeros(1)}, {"bad": object()}, TypeError, "not JSON-able"),
    ({"a": np.zeros(1)}, {"arr": np.zeros(2)}, TypeError, "not JSON-able"),
    ({"a": np.zeros(1)}, [("k", 1)], TypeError, "meta must be a dict"),
])
def test_save_rejects_bad_input_and_writes_nothing(tmp_path: Path, arrays, meta, error, message: str) -> None:
    with pytest.raises(error, match=message):
        ck.save(tmp_path / "model.npz", arrays, meta)
    assert listing(tmp_path) == []


def test_save_rejects_device_arrays(tmp_path: Path) -> None:
    if not backends.probe()["strict"].usable:
        pytest.skip("needs the strict backend")
    device_array = backends.get_backend("strict").zeros((2,))
    with pytest.raises(TypeError, match=r"to the host first with backend\.to_numpy"):
        ck.save(tmp_path / "model.npz", {"w": device_array}, {})


# --- atomicity ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("failure", "raised"), [
    (OSError(errno.ENOSPC, "No space left on device"), OutputError),
    (RuntimeError("a bug in the writer"), RuntimeError),
    (KeyboardInterrupt(), KeyboardInterrupt),
])
def test_failed_write_leaves_previous_checkpoint_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           failure: BaseException, raised: type) -> None:
    path = tmp_path / "model.npz"
    ck.save(path, {"w": np.arange(1000.0)}, {"step": 1})
    before = path.read_bytes()
    real = ck._write_member
    calls = []

    def failing(zf, name, array):  # the first member is written whole, the second half-way, then it fails
        calls.append(name)
        if len(calls) == 1:
            return real(zf, name, array)
        with zf.open(name + ".npy", "w") as out:
            out.write(b"\x93NUMPY partial" * 100)
        raise failure

    monkeypatch.setattr(ck, "_write_member", failing)
    with pytest.raises(raised) as info:
        ck.save(path, {"w": np.arange(2000.0), "b": np.ones(2000)}, {"step": 2})
    assert len(calls) == 2  # the failure really happened mid-way
    assert path.read_bytes() == before
    assert listing(tmp_path) == ["model.npz"]  # no temporary file left behind
    if raised is OutputError:
        assert str(path) in str(info.value) and "disk holding" in str(info.value)
    monkeypatch.undo()
    assert ck.load(path)[1] == {"step": 1}


def test_failed_rename_leaves_previous_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "log.csv"
    ck.atomic_write_text(path, "step,loss\n")

    def refuse(src, dst):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(ck.os, "replace", refuse)
    with pytest.raises(OutputError, match="not writable"):
        ck.atomic_write_text(path, "step,loss\n1,2.0\n")
    assert path.read_text() == "step,loss\n"
    assert listing(tmp_path) == ["log.csv"]


def test_atomic_write_helpers(tmp_path: Path) -> None:
    text = tmp_path / "samples.txt"
    assert ck.atomic_write_text(text, "emma\r\nzoë\n") == text
    assert text.read_bytes() == "emma\r\nzoë\n".encode()  # newlines as given
    ck.atomic_write_text(text, "ava\n")
    assert text.read_text() == "ava\n"
    png = tmp_path / "loss.png"
    ck.atomic_write_bytes(png, b"\x89PNG\r\n\x1a\n")
    assert png.read_bytes() == b"\x89PNG\r\n\x1a\n"
    ck.atomic_write(tmp_path / "chunks.bin", lambda f: [f.write(bytes([i]) * 10) for i in range(3)])
    assert (tmp_path / "chunks.bin").read_bytes() == b"\x00" * 10 + b"\x01" * 10 + b"\x02" * 10
    assert listing(tmp_path) == ["chunks.bin", "loss.png", "samples.txt"]


# --- unwritable places -----------------------------------------------------------------------------------


def test_directory_that_is_a_file_raises_output_error(tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("in the way")
    path = tmp_path / "file.txt" / "model.npz"
    with pytest.raises(OutputError) as info:
        ck.save(path, {"a": np.zeros(1)}, {})
    message = str(info.value)
    assert str(tmp_path / "file.txt") in message and "choose another -o DIR" in message
    assert info.value.path == path and info.value.directory == tmp_path / "file.txt"
    assert info.value.__cause__ is None and info.value.__suppress_context__
    with pytest.raises(OutputError, match="not a directory"):
        ck.atomic_write_text(path.with_name("log.csv"), "x")
    assert listing(tmp_path) == ["file.txt"]


def test_missing_directory_raises_output_error(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "samples.txt"
    with pytest.raises(OutputError, match=r"does not exist; create it \(mkdir -p") as info:
        ck.atomic_write_text(path, "x")
    assert str(tmp_path / "missing") in str(info.value)


def test_target_that_is_a_directory_raises_output_error(tmp_path: Path) -> None:
    (tmp_path / "model.npz").mkdir()
    with pytest.raises(OutputError, match="is a directory"):
        ck.save(tmp_path / "model.npz", {"a": np.zeros(1)}, {})
    assert listing(tmp_path) == ["model.npz"]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes through chmod 500")
def test_read_only_directory_raises_output_error(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="not writable; choose another -o DIR or fix its permissions"):
            ck.save(out / "model.npz", {"a": np.zeros(1)}, {})
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


def _meta_npz(path: Path, meta: object) -> None:
    raw = meta if isinstance(meta, np.ndarray) else np.frombuffer(
        meta if isinstance(meta, bytes) else json.dumps(meta).encode(), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, w=np.zeros(2), __meta__=raw)


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)  # (np.save on a path would append .npy to it)
    return buf.getvalue()


CASES = {
    "truncated_half": (lambda p: p.write_bytes(_good(p)[: len(_good(p)) // 2]), "damaged or truncated"),
    "truncated_tail": (lambda p: p.write_bytes(_good(p)[:-10]), "damaged or truncated"),
    "bit_flip": (_flip_data_byte, "damaged or truncated.*CRC"),
    "random_bytes": (lambda p: p.write_bytes(np.random.default_rng(0).bytes(4096)), "not an .npz"),
    "zip_magic_then_garbage": (lambda p: p.write_bytes(b"PK\x03\x04" + np.random.default_rng(1).bytes(4096)),
                               "damaged or truncated"),
    "empty_file": (lambda p: p.write_bytes(b""), "the file is empty"),
    "text_file": (lambda p: p.write_text("step,loss\n1,2.0\n"), "not an .npz"),
    "npy_file": (lambda p: p.write_bytes(_npy_bytes(np.zeros(3))), "a .npy array"),
    "plain_numpy_npz": (lambda p: np.savez(p, w=np.zeros(3)), "not a gradkit checkpoint.*numpy.load"),
    "foreign_format": (lambda p: _meta_npz(p, {"format": "someone.else/3"}), "not a gradkit checkpoint"),
    "meta_not_a_dict": (lambda p: _meta_npz(p, [1, 2]), "not a gradkit checkpoint"),
    "newer_format": (lambda p: _meta_npz(p, {"format": "gradkit.checkpoint/3", "meta": {}}), "upgrade gradkit"),
    "older_linear_layout": (lambda p: _meta_npz(p, {"format": "gradkit.checkpoint/1", "meta": {}}),
                            "transpose every Linear weight"),
    "bad_json": (lambda p: _meta_npz(p, b'{"format": "gradkit.checkpoint/2", '), "not valid JSON"),
    "bad_utf8": (lambda p: _meta_npz(p, b"\xff\xfe{}"), "not valid JSON"),
    "meta_wrong_dtype": (lambda p: _meta_npz(p, np.zeros(3)), "not gradkit's JSON bytes"),
    "meta_missing_inner": (lambda p: _meta_npz(p, {"format": "gradkit.checkpoint/2"}), "no metadata dict"),
    "object_array": (lambda p: np.savez(p, w=np.array([{}], dtype=object),
                                        __meta__=np.frombuffer(json.dumps({"format": ck.FORMAT, "meta": {}})
                                                               .encode(), dtype=np.uint8)),
                     "damaged or not gradkit.s.*dtype object.*pickle"),
    "directory": (lambda p: p.mkdir(), "is a directory"),
    "missing": (lambda p: None, "does not exist"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_broken_file_raises_checkpoint_error(tmp_path: Path, case: str) -> None:
    path = tmp_path / "model.npz"
    damage, message = CASES[case]
    damage(path)
    with pytest.raises(CheckpointError, match=message) as info:
        ck.load(path)
    err = info.value
    assert isinstance(err, ValueError)
    assert str(path) in str(err) and err.path == path
    assert err.__cause__ is None and (err.__context__ is None or err.__suppress_context__)  # no raw traceback
    if case not in ("missing", "directory"):
        assert "retrain with `gradkit train --overwrite -o DIR`" in str(err) or "numpy.load" in str(err) \
            or "upgrade" in str(err)


def test_good_file_loads_where_damaged_ones_fail(tmp_path: Path) -> None:
    """The damage helpers damage a file that was loadable before (so the cases above test the damage)."""
    path = tmp_path / "model.npz"
    _good(path)
    arrays, meta = ck.load(path)
    np.testing.assert_array_equal(arrays["w"], np.arange(500.0))
    assert meta == {"step": 3}


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads through chmod 000")
def test_unreadable_file_raises_checkpoint_error(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    _good(path)
    path.chmod(0)
    try:
        with pytest.raises(CheckpointError, match="cannot read checkpoint"):
            ck.load(path)
    finally:
        path.chmod(0o600)
