"""gradkit's ``fit`` against the hand-written numpy step, side by side in a fresh process without PyTorch.

    python bench/alone_child.py [--batch 8192] [--dtype float32] [--rounds 11] [--steps 4] [--smoke]

Run by bench/run.py. glibc's malloc gives blocks above its mmap threshold fresh pages from the kernel and
returns the heap's free top above its trim threshold; both grow when a larger mmapped block is freed (up to
32 MiB). In the main benchmark process PyTorch's tensors of tens of MiB raise them so far that numpy's large
temporaries are recycled (no page faults); a script that uses only gradkit stays at lower thresholds and pays
fresh pages for its large temporaries every step. This process measures that case. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics

import common  # noqa: F401 (thread settings before numpy)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=8192)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, in seconds (the test suite runs it)")
    args = common.smoke(parser.parse_args(), batch=64, rounds=1, steps=1)

    import mlp_step

    from gradkit import backends

    backend = backends.get_backend("numpy")
    g = mlp_step.GradkitMLP(backend, args.batch, args.dtype)
    X, Y = mlp_step.train_arrays(backend)
    h = mlp_step.HandNumpyMLP(X, Y, g.weights(), args.batch, "bincount per column")
    meter = common.CpuMeter()
    faults: dict[str, list[float]] = {}
    samples = common.interleave({"gradkit": g, "numpy": h}, rounds=args.rounds, steps=args.steps,
                                warmup=max(1, args.steps // 4), faults=faults)
    print(json.dumps({
        "batch": args.batch, "dtype": args.dtype, "rounds": args.rounds, "steps_per_round": args.steps,
        "ms_per_step": {n: statistics.median(s) * 1e3 for n, s in samples.items()},
        "minor_faults_per_step": {n: statistics.median(f) for n, f in faults.items()},
        "ratio_gradkit_over_numpy": common.paired_ratio(samples["gradkit"], samples["numpy"]),
        "foreign_cores": meter.foreign_cores(),
    }))


if __name__ == "__main__":
    main()
