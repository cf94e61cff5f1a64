"""What every benchmark script shares: thread settings, the machine's description, interleaved timing.

Import this module before numpy or torch: it fixes the thread counts (``THREADS``) of OpenBLAS, OpenMP and MKL
for a run started without ``nox -s bench`` (which sets them itself), and the libraries read them when they load.
"""

from __future__ import annotations

import os

THREADS = 2
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, str(THREADS))
# Recorded before anything can change them: what the BLAS saw when it loaded.
ENV_AT_START = {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                                "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "NOX_CURRENT_SESSION")}

import gc  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS_DIR = BENCH / "results"


def smoke(args: Any, **tiny: Any) -> Any:
    """With ``--smoke`` (every script in bench/ has it: tiny sizes, seconds, for the test suite), the settings
    ``tiny`` replace the parsed ones. Returns ``args``."""
    if getattr(args, "smoke", False):
        for name, value in tiny.items():
            setattr(args, name, value)
    return args


def load_torch() -> tuple[Any, str]:
    """``(torch, "")`` with ``THREADS`` intra-op threads, or ``(None, why)`` when it does not import."""
    try:
        import torch
    except Exception as exc:  # not installed, or a broken install: the reason goes into the report
        return None, f"PyTorch is not available ({type(exc).__name__}: {exc}); its columns are skipped"
    torch.set_num_threads(THREADS)
    return torch, ""


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def blas_info() -> dict[str, Any]:
    """numpy's BLAS from ``numpy.show_config`` and, when threadpoolctl is installed, the kernel that runs."""
    info: dict[str, Any] = {}
    try:
        deps = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info["numpy_blas"] = f"{deps.get('name')} {deps.get('version')}"
        info["numpy_blas_config"] = deps.get("openblas configuration", "")
    except Exception as exc:  # show_config's layout is not a stable API
        info["numpy_blas"] = f"unknown ({exc})"
    try:
        import threadpoolctl
    except ImportError:
        info["threadpools"] = "threadpoolctl not installed: the running BLAS kernel is not known"
        return info
    info["threadpools"] = [
        {k: pool.get(k) for k in ("internal_api", "prefix", "version", "architecture", "num_threads",
                                  "threading_layer") if pool.get(k) is not None}
        for pool in threadpoolctl.threadpool_info()
    ]
    return info


def git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    dirty = git("status", "--porcelain", "--", "gradkit", "backends").splitlines()
    return {"commit": git("rev-parse", "--short", "HEAD"), "engine_files_changed": [d[3:] for d in dirty]}


def machine(torch: Any) -> dict[str, Any]:
    """The machine and software the figures belong to."""
    out: dict[str, Any] = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "env": ENV_AT_START,
        **blas_info(),
        "git": git_state(),
    }
    if torch is not None:
        out["torch"] = torch.__version__
        out["torch_threads"] = torch.get_num_threads()
        out["torch_blas"] = "MKL" if torch.backends.mkl.is_available() else "no MKL"
        out["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    return out


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


class CpuMeter:
    """How much CPU other processes took while a section ran: the machine's busy time (``/proc/stat``) minus
    this process's and its children's CPU time, per second of wall time (in cores; 0 on an otherwise idle
    machine). Other people's processes in other containers do not show in ``ps`` but do show here."""

    def __init__(self) -> None:
        self.start = self._read()

    @staticmethod
    def _read() -> tuple[float, float, float]:
        wall = time.perf_counter()
        try:
            fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
            ticks = [int(x) for x in fields]
            busy = (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait
        except (OSError, ValueError, IndexError):
            busy = float("nan")
        t = os.times()
        ours = t.user + t.system + t.children_user + t.children_system
        return wall, busy, ours

    def foreign_cores(self) -> float:
        """Average number of cores busy with other processes since this meter started."""
        w0, b0, o0 = self.start
        w1, b1, o1 = self._read()
        return round(max(0.0, (b1 - b0) - (o1 - o0)) / max(w1 - w0, 1e-9), 2)


def wait_quiet(threshold: float = 0.3, max_wait: float = 20.0, window: float = 1.0) -> dict[str, float]:
    """Sleep in ``window``-second steps until other processes take less than ``threshold`` cores, at most
    ``max_wait`` seconds. Two threads on two cores slow down many times over when another process holds a core
    (a thread waits at each barrier for its descheduled partner), so each measurement starts in a quiet moment
    when there is one. Returns the seconds waited and the last window's foreign load."""
    t0 = time.perf_counter()
    while True:
        meter = CpuMeter()
        time.sleep(window)
        load = meter.foreign_cores()
        waited = time.perf_counter() - t0
        if load < threshold or waited >= max_wait:
            return {"waited_s": round(waited, 1), "foreign_cores": load}


def interleave(contenders: dict[str, Callable[[int], Any]], *, rounds: int, steps: int | dict[str, int],
               warmup: int = 1, faults: dict[str, list[float]] | None = None) -> dict[str, list[float]]:
    """Seconds per step of each contender, one sample per round.

    Each contender is ``fn(k)``: run ``k`` steps and return once they are finished (a GPU contender
    synchronizes before returning). Every round runs every contender for ``steps`` steps, in an order that
    rotates from round to round, so that load from other processes hits them all alike. The garbage
    collector stays as it is (on, unless the caller turned it off). ``steps`` may differ per contender (a
    dict), so that a slow and a fast one each get a comparable time per round. ``faults``, when given, gets
    each contender's minor page faults per step, one sample per round (fresh memory from the kernel: a cost
    that grows with the bytes an engine allocates anew per step).
    """
    names = list(contenders)
    per = steps if isinstance(steps, dict) else dict.fromkeys(names, steps)
    for name in names:
        contenders[name](warmup)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            t0 = time.perf_counter()
            contenders[name](per[name])
            samples[name].append((time.perf_counter() - t0) / per[name])
            if faults is not None:
                faults.setdefault(name, []).append(
                    (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / per[name])
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    """Median, and the min and max of the samples, in the samples' unit."""
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples), "n": len(samples)}


def paired_ratio(a: list[float], b: list[float]) -> dict[str, float]:
    """The per-round ratios a/b (same round, so the same load): their median, min and max."""
    ratios = [x / y for x, y in zip(a, b, strict=True)]
    return {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios)}


def write_pyperf(name: str, samples: dict[str, list[float]], steps: dict[str, int]) -> Path | None:
    """The per-round samples (seconds per step) as a pyperf suite, one benchmark per contender and row, so that
    ``python -m pyperf stats`` / ``compare_to`` / ``hist`` read them. ``steps[name]``: steps per sample."""
    try:
        import pyperf
    except ImportError:
        return None
    benchmarks = [pyperf.Benchmark([pyperf.Run(values, metadata={"name": key, "unit": "second",
                                                                 "loops": steps.get(key, 1)},
                                               collect_metadata=False)])
                  for key, values in samples.items() if values and min(values) > 0]
    if not benchmarks:
        return None
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / name
    pyperf.BenchmarkSuite(benchmarks).dump(str(path), replace=True)
    return path


def write_json(name: str, data: Any) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / name
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


def gc_is_on() -> bool:
    return gc.isenabled()


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
