"""micrograd's demo on gradkit's scalar engine: a 2-16-16-1 ReLU MLP learns two moons.

Trains with :func:`gradkit.nn_scalar.train_moons` (100 points, noise 0.1, max-margin loss plus L2,
SGD with learning rate ``1 - 0.9 k / 100``) and prints the loss and training accuracy.

Run (with gradkit installed, e.g. ``pip install -e .``, or ``PYTHONPATH=.``):
``python examples/moons_value.py [--steps 100] [--data-seed 1337] [--init-seed 1337]``.

Source: micrograd's ``demo.ipynb`` by Andrej Karpathy ("The spelled-out intro to neural networks and
backpropagation" lecture).
"""

from __future__ import annotations

import argparse
import time

from gradkit.nn_scalar import MOONS_DATA_SEED, MOONS_INIT_SEED, train_moons


def main(argv: list[str] | None = None) -> float:
    """Train on two moons, print progress and the final training accuracy; return that accuracy."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--data-seed", type=int, default=MOONS_DATA_SEED)
    parser.add_argument("--init-seed", type=int, default=MOONS_INIT_SEED)
    args = parser.parse_args(argv)

    def report(k: int, loss: float, acc: float) -> None:
        if k % 10 == 0 or k == args.steps - 1:
            print(f"step {k:3d} loss {loss:.6f}, accuracy {acc * 100:.0f}%")

    t0 = time.perf_counter()
    result = train_moons(steps=args.steps, data_seed=args.data_seed, init_seed=args.init_seed, callback=report)
    dt = time.perf_counter() - t0
    print(f"final training accuracy {result.final_accuracy * 100:.0f}% ({dt / args.steps * 1e3:.1f} ms per step)")
    return result.final_accuracy


if __name__ == "__main__":
    main()
