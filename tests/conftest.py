"""The ``backend`` fixture: every test that takes it runs once per backend this machine has.

cupy cases carry the ``gpu`` marker and skip with the probe's reason where no CUDA device answers;
``GRADKIT_REQUIRE_GPU=1`` turns that skip into a failure.

Hypothesis profiles: ``ci`` (derandomized: the same examples on every run and machine, no example database,
no deadline) where ``$CI`` is set or ``HYPOTHESIS_PROFILE=ci`` (the nox sessions set it), ``dev`` (random
examples, the database kept) elsewhere. A test's own ``@settings`` (its ``max_examples``) overrides the profile.
"""

from __future__ import annotations

import os
import signal

import pytest
from hypothesis import settings

from gradkit import backends

REQUIRE_GPU = os.environ.get("GRADKIT_REQUIRE_GPU") == "1"

settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True, max_examples=30)
settings.register_profile("dev", deadline=None, max_examples=30)
_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if _CI else "dev"))


def _params() -> list:
    return [pytest.param(name, id=name, marks=[pytest.mark.gpu] if name == "cupy" else [])
            for name in backends.BACKENDS]


def pytest_configure(config: pytest.Config) -> None:
    os.environ.pop(backends.ENV_VAR, None)  # the suite chooses backends itself


@pytest.fixture(params=_params())
def backend(request: pytest.FixtureRequest) -> backends.Backend:
    """The ``Backend`` under test (numpy, strict, cupy)."""
    report = backends.probe()[request.param]
    if not report.usable:
        if REQUIRE_GPU and request.param == "cupy":
            pytest.fail(f"GRADKIT_REQUIRE_GPU=1 but the cupy backend is not usable: {report.reason}")
        pytest.skip(f"{request.param} backend not usable: {report.reason}")
    return backends.get_backend(request.param)


@pytest.fixture(autouse=True)
def _signal_handlers():
    """Each test starts with the handlers the session had: a stopped in-process ``gradkit train`` leaves its
    signals ignored (a process that is saving and leaving must not die of a late signal), and gradkit leaves
    an ignored signal ignored."""
    names = ("SIGINT", "SIGTERM", "SIGHUP")
    saved = {s: signal.getsignal(s) for s in (getattr(signal, n) for n in names if hasattr(signal, n))}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)
