"""One engine's peak memory over MLP training steps, in a fresh process (run by bench/run.py, one per engine).

    python bench/memory_child.py ENGINE [--batch 8192] [--steps 1000] [--dtype float32] [--smoke]

ENGINE: ``gradkit`` (``gradkit.train.fit``, the step compiled), ``gradkit-eager`` (``fit(compiled=False)``),
``numpy`` (the hand-written step) or ``torch``. Prints one JSON
object: the peak resident set (``ru_maxrss``) after the imports (the baseline), after the data and model are
set up, and after the steps, in bytes, plus the wall time and the minor page faults of the steps (this engine
alone in its process: the speed a user's script sees).

Linux counts the parent's RSS at the fork into the child's ``ru_maxrss``: bench/run.py starts these children
before it loads torch or any data, while it is smaller than a child after its imports, and each child also
reports ``VmHWM`` (its own address space's peak) as a check.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

import common  # noqa: F401 (thread settings before numpy)


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)


def vm_hwm() -> int:
    """The peak RSS of this process's own address space (``VmHWM``), 0 where /proc has none. Unlike
    ``ru_maxrss`` it never includes the parent's RSS at the fork, so it checks that the parent was small."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("engine", choices=["gradkit", "gradkit-eager", "numpy", "torch"])
    parser.add_argument("--batch", type=int, default=8192)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, in seconds (the test suite runs it)")
    args = common.smoke(parser.parse_args(), batch=64, steps=2)

    import mlp_step
    import numpy as np  # noqa: F401

    from gradkit import backends

    torch = None
    if args.engine == "torch":
        torch, why = common.load_torch()
        if torch is None:
            print(json.dumps({"skipped": why}))
            return
    after_imports = peak_rss()

    backend = backends.get_backend("numpy")
    # gradkit's init: the same weights for everyone
    gk = mlp_step.GradkitMLP(backend, args.batch, args.dtype, compiled=args.engine == "gradkit")
    if args.engine.startswith("gradkit"):
        step = gk
    else:
        X, Y = mlp_step.train_arrays(backend)
        init = gk.weights()
        del gk
        if args.engine == "numpy":
            step = mlp_step.HandNumpyMLP(X, Y, init, args.batch)
        else:
            step = mlp_step.TorchMLP(torch, X, Y, init, args.batch)
    after_setup = peak_rss()
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t0 = time.perf_counter()
    step(args.steps)
    seconds = time.perf_counter() - t0
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
    print(json.dumps({"engine": args.engine, "batch": args.batch, "steps": args.steps, "dtype": args.dtype,
                      "peak_after_imports": after_imports, "peak_after_setup": after_setup,
                      "peak_after_steps": peak_rss(), "vm_hwm_after_steps": vm_hwm(), "seconds": seconds,
                      "minor_faults_per_step": faults / args.steps}))


if __name__ == "__main__":
    main()
