"""The same seeded training on every backend this machine has: do the loss curves agree? (``nox -s crosscheck``)

    python bench/crosscheck.py [--steps 1000] [--smoke]

For float64 and float32, trains ``TrainConfig.of("mlp", max_steps=STEPS, log_every=1, seed=42)`` on each
usable backend of ``backends.probe()`` (numpy, strict, cupy where a GPU answers) through ``gradkit.train`` and
compares the loss curves of every pair of backends elementwise with the dtype's tolerance from
``gradkit.testing.TOLERANCES`` (|a - b| <= atol + rtol * |b|, b the first backend's curve). Prints the largest
difference per dtype and pair; exits 1 when any pair disagrees (or fewer than two backends are usable).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time

import common  # noqa: F401 (thread settings before numpy)
import numpy as np

from gradkit import backends
from gradkit.data import load_words
from gradkit.testing import compare, tolerance
from gradkit.train import TrainConfig, fit, new_run, prepare


def curve(backend_name: str, dtype: str, steps: int, words: list[str]) -> tuple[np.ndarray, float]:
    """The loss at every step of a fresh seeded run on ``backend_name``, and the seconds it took."""
    backend = backends.get_backend(backend_name)
    config = TrainConfig.of("mlp", max_steps=steps, log_every=1, seed=42, dtype=dtype).resolved()
    splits = prepare(words, config, backend)
    t0 = time.perf_counter()
    run = fit(new_run(config, splits.vocab, backend), splits)
    seconds = time.perf_counter() - t0
    steps_logged = [s for s, _, _ in run.history]
    assert steps_logged == list(range(steps)), "log_every=1 logs every step"
    return np.array([loss for _, loss, _ in run.history]), seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, in seconds (the test suite runs it)")
    args = common.smoke(parser.parse_args(), steps=5)

    report = backends.probe()
    print(backends.format_probe(report))
    usable = [name for name, r in report.items() if r.usable]
    for name, r in report.items():
        if not r.usable:
            print(f"skipping backend {name}: {r.reason}")
    if len(usable) < 2:
        print(f"FAIL: only {usable} usable; a cross-check needs two backends (from the checkout: pip install "
              '".[strict]")')
        return 1
    words = load_words()
    failed = []
    for dtype in ("float64", "float32"):
        tol = tolerance(dtype)
        curves = {}
        for name in usable:
            curves[name], seconds = curve(name, dtype, args.steps, words)
            c = curves[name]
            print(f"{dtype} {name:6s}: {args.steps} steps in {seconds:.1f} s; loss {c[0]:.6f} -> {c[-1]:.6f}, "
                  f"finite: {bool(np.isfinite(c).all())}")
        print(f"{dtype}: tolerance rtol={tol['rtol']:g}, atol={tol['atol']:g} (gradkit.testing.TOLERANCES)")
        for a, b in itertools.combinations(usable, 2):
            diff = np.abs(curves[a] - curves[b])
            step = int(np.argmax(diff))
            result = compare(curves[a], curves[b], what=f"{dtype} loss curve {a} vs {b}", **tol)
            verdict = "ok" if result.ok else "DISAGREE"
            print(f"{dtype} {a} vs {b}: largest |difference| {diff[step]:.3g} at step {step} "
                  f"({curves[a][step]:.9g} vs {curves[b][step]:.9g}); worst error/allowed {result.ratio:.3g}: "
                  f"{verdict}")
            if not result.ok:
                failed.append(str(result))
    if failed:
        print("FAIL: the loss curves disagree beyond the tolerance:")
        for line in failed:
            print(f"  {line}")
        return 1
    print("OK: every backend pair agrees within the tolerance, in float64 and float32")
    return 0


if __name__ == "__main__":
    sys.exit(main())
