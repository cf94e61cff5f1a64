"""The backend layer: conformance, round trips, scatter_add, seeded random, names and errors."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from gradkit.backends import registry
from gradkit.backends.base import Backend
from gradkit.backends.cupy_backend import CupyBackend
from gradkit.backends.numpy_backend import NumpyBackend
from gradkit.backends.strict_backend import StrictBackend

import gradkit
from gradkit import backends

IMPLEMENTATIONS = [NumpyBackend, StrictBackend, CupyBackend]
PUBLIC = sorted(n for n in dir(Backend) if not n.startswith("_"))


@pytest.mark.parametrize("cls", IMPLEMENTATIONS, ids=lambda c: c.name)
def test_every_backend_has_the_same_members_and_signatures(cls):
    assert sorted(n for n in dir(cls) if not n.startswith("_")) == PUBLIC
    for member in PUBLIC:
        base, impl = getattr(Backend, member), getattr(cls, member)
        if callable(base):
            assert inspect.signature(impl) == inspect.signature(base), member


def test_backend_is_small_and_has_the_agreed_members():
    agreed = {"name", "device", "xp", "asarray", "to_numpy", "scatter_add", "synchronize", "random",
              "memory_info", "owns"}
    live = set(dir(backends.get_backend("numpy")))
    assert agreed <= live
    assert len(PUBLIC) + 2 <= 22  # name is a class attribute; device and xp are set per instance


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "bool"])
def test_asarray_to_numpy_round_trip_keeps_dtype_and_values(backend, dtype):
    host = (np.arange(12).reshape(3, 4) % 5).astype(dtype)
    array = backend.asarray(host)
    assert backend.owns(array)
    back = backend.to_numpy(array)
    assert isinstance(back, np.ndarray) and back.dtype == host.dtype
    np.testing.assert_array_equal(back, host)
    back[0, 0] = 1  # an explicit copy: the backend's array is not changed through it
    np.testing.assert_array_equal(backend.to_numpy(array), host)


def test_asarray_with_dtype_and_python_data(backend):
    array = backend.asarray([[1, 2], [3, 4]], dtype="float64")
    assert array.dtype == backend.xp.float64
    assert backend.to_numpy(array).tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert backend.asarray(array) is array


def test_creation_functions_land_on_the_device(backend):
    for array, expected in [(backend.zeros((2, 3)), np.zeros((2, 3), np.float32)),
                            (backend.full((2,), 7.0, "float64"), np.full((2,), 7.0)),
                            (backend.arange(4), np.arange(4))]:
        assert backend.owns(array)
        out = backend.to_numpy(array)
        assert out.dtype == expected.dtype
        np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_scatter_add_sums_repeated_indices(backend, dtype):
    target = np.arange(8, dtype=dtype).reshape(4, 2)
    indices = np.array([[0, 3], [0, 0]])
    updates = np.arange(8, dtype=dtype).reshape(2, 2, 2) + 1
    expected = target.copy()
    np.add.at(expected, indices, updates)
    t = backend.asarray(target)
    out = backend.scatter_add(t, backend.asarray(indices), backend.asarray(updates))
    assert out.dtype == t.dtype
    np.testing.assert_array_equal(backend.to_numpy(out), expected)
    np.testing.assert_array_equal(backend.to_numpy(t), target)  # target unchanged
    assert backend.to_numpy(out)[0].tolist() == [0 + 1 + 5 + 7, 1 + 2 + 6 + 8]


def test_scatter_add_of_a_vector_table(backend):
    out = backend.scatter_add(backend.zeros((3,), "float64"), backend.asarray([2, 2, 1]),
                              backend.asarray([1.0, 2.0, 4.0]))
    assert backend.to_numpy(out).tolist() == [0.0, 4.0, 3.0]


def test_random_is_bitwise_identical_on_every_backend(backend):
    reference = backends.get_backend("numpy").random(1234)
    gen = backend.random(1234)
    for draw in [lambda g: g.normal(0.0, 1.0, (5, 3)), lambda g: g.uniform(-1.0, 1.0, (7,), "float64"),
                 lambda g: g.integers(0, 27, (4, 3))]:
        a, b = draw(reference), draw(gen)
        assert backend.owns(b)
        np.testing.assert_array_equal(backend.to_numpy(b), a)
        assert backend.to_numpy(b).dtype == a.dtype
    assert backend.to_numpy(backend.random(1).normal(size=(2,))).dtype == np.float32


def test_random_leaves_global_state_untouched_and_restores_its_own(backend):
    before = np.random.get_state()[1].copy()  # noqa: NPY002 (the legacy global state is the point)
    gen = backend.random(7)
    saved = gen.state
    first = backend.to_numpy(gen.normal(size=(3,)))
    gen.state = saved
    np.testing.assert_array_equal(backend.to_numpy(gen.normal(size=(3,))), first)
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # noqa: NPY002
    assert not np.array_equal(backend.to_numpy(backend.random(8).normal(size=(3,))), first)


def test_memory_info_and_synchronize(backend):
    backend.synchronize()
    info = backend.memory_info()
    assert info["rss"] > 1_000_000 and info["peak_rss"] >= info["rss"] // 2


def test_owns_refuses_other_backends_arrays():
    numpy_b, strict_b = backends.get_backend("numpy"), backends.get_backend("strict")
    a, s = numpy_b.asarray([1.0]), strict_b.asarray([1.0])
    assert numpy_b.owns(a) and not numpy_b.owns(s)
    assert strict_b.owns(s) and not strict_b.owns(a)
    assert not strict_b.owns(strict_b.xp.asarray([1.0]))  # strict's CPU device is another device


def test_mixing_devices_raises_device_mismatch_naming_both():
    numpy_b, strict_b = backends.get_backend("numpy"), backends.get_backend("strict")
    s = strict_b.asarray([1.0])
    with pytest.raises(backends.DeviceMismatchError, match=r"(?s)numpy.*device1.*to_numpy"):
        numpy_b.asarray(s)
    with pytest.raises(backends.DeviceMismatchError, match=r"(?s)to_numpy: expected an array of .*strict.*numpy"):
        strict_b.to_numpy(np.zeros(2))
    assert issubclass(backends.DeviceMismatchError, ValueError)


# Names, aliases, environment variable and precedence.
@pytest.mark.parametrize(("name", "expected"), [
    ("numpy", "numpy"), ("cpu", "numpy"), ("CPU", "numpy"), (" strict ", "strict"),
    ("cuda", "cupy"), ("gpu", "cupy"), ("cupy", "cupy"),
])
def test_names_and_aliases(name, expected):
    assert backends.resolve_name(name) == expected


def test_none_reads_the_environment_then_auto(monkeypatch):
    monkeypatch.setenv("GRADKIT_BACKEND", "strict")
    assert backends.get_backend().name == "strict"
    assert backends.get_backend("numpy").name == "numpy"  # an explicit name beats the variable
    monkeypatch.delenv("GRADKIT_BACKEND")
    expected = "cupy" if backends.probe()["cupy"].usable else "numpy"
    assert backends.get_backend().name == expected == backends.get_backend("auto").name
    monkeypatch.setenv("GRADKIT_BACKEND", "")
    assert backends.resolve_name() == expected


def test_unknown_name_lists_the_accepted_names(monkeypatch):
    with pytest.raises(backends.UnknownBackendError, match="'tpu'.*auto, numpy, cupy, strict, cpu, cuda, gpu"):
        backends.get_backend("tpu")
    monkeypatch.setenv("GRADKIT_BACKEND", "jax")
    with pytest.raises(ValueError, match=r"'jax' \(from \$GRADKIT_BACKEND\)"):
        backends.get_backend()


def test_get_backend_returns_one_cached_instance():
    assert backends.get_backend("cpu") is backends.get_backend("numpy")


def test_probe_reports_every_backend_and_formats_a_table():
    report = backends.probe()
    assert list(report) == ["numpy", "cupy", "strict"]
    assert report["numpy"].usable and report["numpy"].version == np.__version__
    table = backends.format_probe()
    assert table.splitlines()[0].split()[:3] == ["backend", "usable", "version"]
    assert "default backend:" in table
    if not report["cupy"].usable:
        assert 'pip install ".[cuda12]" (or ".[cuda13]") in the gradkit checkout' in report["cupy"].reason \
            or "no usable CUDA device" in report["cupy"].reason


# CuPy's three states, with fake CuPy modules so that they run on any machine.
@pytest.fixture
def fresh_probe():
    registry.probe.cache_clear()
    registry._instance.cache_clear()
    yield
    registry.probe.cache_clear()
    registry._instance.cache_clear()


@pytest.mark.parametrize(("driver", "message"), [
    ((1, 12040, ""), r"CuPy is not installed \(1 CUDA device\(s\) answer\).*pip install \"\.\[cuda12\]\""),
    ((0, 0, "no CUDA driver library (libcuda) on this machine"),
     r"no CUDA device here \(no CUDA driver library.*--backend numpy"),
], ids=["gpu-without-cupy", "no-gpu"])
def test_cupy_not_installed_says_why_and_the_fix(monkeypatch, fresh_probe, driver, message):
    monkeypatch.setattr(registry.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(registry, "driver_report", lambda: driver)
    with pytest.raises(backends.BackendUnavailableError, match=message):
        backends.get_backend("cupy")
    assert issubclass(backends.BackendUnavailableError, RuntimeError)


def test_info_says_when_the_default_is_not_usable(monkeypatch, fresh_probe):
    monkeypatch.setenv("GRADKIT_BACKEND", "cupy")
    if backends.probe()["cupy"].usable:
        pytest.skip("cupy is usable here")
    assert "default backend: cupy, which is not usable here" in backends.format_probe()
    monkeypatch.setenv("GRADKIT_BACKEND", "tpu")
    assert "default backend: none: unknown backend 'tpu'" in backends.format_probe()


def test_cupy_without_a_device_gives_the_driver_text_and_auto_falls_back(tmp_path, monkeypatch, fresh_probe):
    fake = tmp_path / "cupy"
    fake.mkdir()
    (fake / "__init__.py").write_text(textwrap.dedent("""
        __version__ = "99.0"
        class _Runtime:
            @staticmethod
            def getDeviceCount():
                raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")
        class cuda:
            runtime = _Runtime
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "cupy", raising=False)
    with pytest.raises(backends.BackendUnavailableError,
                       match=r"CuPy 99.0 is installed but no usable CUDA device.*no CUDA-capable device"):
        backends.get_backend("cupy")
    assert backends.get_backend("auto").name == "numpy"
    sys.modules.pop("cupy", None)


def test_strict_not_installed_names_the_extra(monkeypatch, fresh_probe):
    real = registry.importlib.util.find_spec
    monkeypatch.setattr(registry.importlib.util, "find_spec",
                        lambda name: None if name == "array_api_strict" else real(name))
    with pytest.raises(backends.BackendUnavailableError, match=r"pip install \"\.\[strict\]\" in the gradkit checkout"):
        backends.get_backend("strict")


def test_importing_backends_and_gradkit_never_loads_cupy():
    code = ("import sys, gradkit; from gradkit import backends; backends.get_backend('numpy'); "
            "assert 'cupy' not in sys.modules, 'cupy imported'; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_only_the_backend_layer_names_cupy():
    """The engine reaches CuPy through ``Backend`` hooks only: no module of gradkit outside its backends imports it."""
    root = Path(gradkit.__file__).parent
    offenders = [str(path.relative_to(root)) for path in root.rglob("*.py")
                 if "backends" not in path.relative_to(root).parts
                 and re.search(r"^\s*(import cupy|from cupy)\b", path.read_text(encoding="utf-8"), re.MULTILINE)]
    assert offenders == []


def test_scatter_add_of_many_rows(backend):
    """Past 4,096 indices numpy's scatter_add switches to one bincount per column: the same sums."""
    rng = np.random.default_rng(3)
    indices = rng.integers(0, 27, (2500, 3))
    updates = rng.standard_normal((2500, 3, 4))
    expected = np.zeros((27, 4))
    np.add.at(expected, indices, updates)
    out = backend.scatter_add(backend.zeros((27, 4), "float64"), backend.asarray(indices), backend.asarray(updates))
    np.testing.assert_allclose(backend.to_numpy(out), expected, rtol=1e-12, atol=1e-12)


def _malloc_probe(env: dict[str, str]) -> tuple[str, int]:
    """In a fresh process: whether the numpy backend set glibc's thresholds, and the minor page faults of 20
    rounds of freeing and making again 40 blocks of 512 KiB (numpy temporaries of a step)."""
    code = textwrap.dedent("""
        import resource, numpy as np
        from gradkit import backends
        from gradkit.backends import _malloc
        backends.get_backend("numpy")
        def step():
            blocks = [np.ones(131072, np.float32) for _ in range(40)]
            del blocks
        step()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(20):
            step()
        print(_malloc.tune(), resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, **env}).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's allocator: Linux only")
def test_numpy_backend_keeps_freed_temporaries_for_the_next_step():
    tuned, faults = _malloc_probe({})
    if tuned == "False":
        pytest.skip("not glibc")
    assert faults < 100  # reused: no fresh pages from the kernel
    untuned, default_faults = _malloc_probe({"GRADKIT_MALLOC": "default"})
    assert untuned == "False"
    assert default_faults > 10 * 128  # glibc's default gives every 512 KiB block fresh pages (128 faults each)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_numpy_fast_mean_is_numpys_to_the_bit(dtype):
    """numpy_fast.mean skips numpy's wrappers and must give numpy's values, dtypes and types (scalar or array)."""
    from gradkit.backends import numpy_fast

    x = (np.random.default_rng(5).standard_normal((5, 7, 300)) * 100).astype(dtype)
    for axis in (None, 0, -1, (0, 2), (1,)):
        for keepdims in (False, True):
            got, want = numpy_fast.mean(x, axis=axis, keepdims=keepdims), np.mean(x, axis=axis, keepdims=keepdims)
            assert type(got) is type(want) and got.dtype == want.dtype
            assert np.array_equal(got, want), (axis, keepdims)


def test_numpy_fast_isdtype_is_numpys():
    from gradkit.backends import numpy_fast

    for dtype in (np.dtype("float32"), np.dtype("int64"), np.dtype("bool"), np.float64):
        for kind in ("real floating", "integral", "bool", ("integral", "bool"), np.dtype("int64")):
            assert numpy_fast.isdtype(dtype, kind) == np.isdtype(dtype, kind)
            assert numpy_fast.isdtype(dtype, kind) == np.isdtype(dtype, kind)  # the remembered answer


@pytest.mark.parametrize("shape", [(40, 5), (64, 33), (3, 40, 65), (100, 128), (32, 4, 16, 16), (50, 129), (10, 7)])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_numpy_fast_max_of_short_rows_is_numpys(shape, dtype):
    """The short-row path (halving, then a transposed reduction) gives numpy's maxima, nan included."""
    from gradkit.backends import numpy_fast

    rng = np.random.default_rng(7)
    x = (rng.standard_normal(shape) * 100).astype(dtype)
    if dtype != "int64":
        x.flat[rng.integers(0, x.size, 3)] = np.nan
    for keepdims in (False, True):
        got, want = numpy_fast.max(x, axis=-1, keepdims=keepdims), np.max(x, axis=-1, keepdims=keepdims)
        assert got.shape == want.shape and got.dtype == want.dtype
        assert np.array_equal(got, want, equal_nan=dtype != "int64")


@pytest.mark.parametrize("rows", [300, 5000])
def test_scatter_add_with_compact_int8_indices(backend, rows):
    """int8 indices (gradkit's compact training rows) into a table wider than 127 / 64 = 1 column: an index
    times the width must not wrap around in int8 (it reached bincount as a negative index)."""
    rng = np.random.default_rng(4)
    indices = rng.integers(0, 27, (rows,)).astype(np.int8)
    updates = rng.standard_normal((rows, 64))
    expected = np.zeros((27, 64))
    np.add.at(expected, indices.astype(np.int64), updates)
    out = backend.scatter_add(backend.zeros((27, 64), "float64"), backend.asarray(indices), backend.asarray(updates))
    np.testing.assert_allclose(backend.to_numpy(out), expected, rtol=1e-12, atol=1e-12)
