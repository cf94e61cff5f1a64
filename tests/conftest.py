"""The ``backend`` fixture: every test that takes it runs once per backend this machine has.

cupy cases carry the ``gpu`` marker and skip with the probe's reason where no CUDA device answers;
``GRADKIT_REQUIRE_GPU=1`` turns that skip into a failure.
"""

from __future__ import annotations

import os

import pytest

import backends

REQUIRE_GPU = os.environ.get("GRADKIT_REQUIRE_GPU") == "1"


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
