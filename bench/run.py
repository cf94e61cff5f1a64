"""gradkit's speed and memory, side by side with hand-written numpy and PyTorch CPU: ``nox -s bench``.

    python bench/run.py [--quick | --smoke] [--only SECTION ...] [--no-markdown]

Every figure is measured in this one run, the contenders interleaved round-robin (the order rotates every
round) so that load from other processes hits them alike; a figure is the median over the rounds, and a ratio
is the median of the per-round ratios. Writes ``bench/results/bench.json`` (and a time-stamped copy) and
``bench/RESULTS.md``, and the raw samples as a pyperf suite (``bench/results/bench-pyperf.json``: ``python -m pyperf
stats`` or ``compare_to`` read it). ``--quick`` runs a few repetitions of everything, for a smoke test (its
markdown says so). ``--smoke`` runs every section at tiny sizes in seconds and writes no file (the test suite
runs it; a section that fails makes it exit 1).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from typing import Any

import common  # first: thread settings before numpy and torch load
import numpy as np

from gradkit import backends

SECTIONS = ("verify", "mlp", "transformer", "programs", "alone", "moons", "overhead", "memory", "gpu")

# (batch, rounds, steps per round) of the MLP step, full and --quick. The rounds at batch 32 and 512 are cheap.
# Modes: full (nox -s bench), quick (a smoke test), targets (issue 12's rows only, float32: a few minutes).
MLP_PLAN = {"full": [(32, 31, 100), (512, 21, 15), (8192, 15, 3)], "quick": [(32, 3, 20), (512, 3, 4), (8192, 3, 1)],
            "targets": [(32, 15, 50), (8192, 9, 2)], "smoke": [(32, 1, 1)]}
MLP_DTYPES = {"full": ("float32", "float64"), "quick": ("float32", "float64"), "targets": ("float32",),
              "smoke": ("float32",)}
ALONE_PLAN = {"full": [(8192, "float32", 11, 4), (8192, "float64", 7, 3)], "quick": [(8192, "float32", 3, 1)],
              "targets": [(8192, "float32", 7, 1)], "smoke": [(64, "float32", 1, 1)]}
GPU_PLAN = {"full": [(8192, 7, 5), (65536, 5, 2)], "quick": [(8192, 3, 1), (65536, 3, 1)],
            "targets": [(8192, 5, 2)], "smoke": [(64, 1, 1)]}
MEMORY_STEPS = {"full": 200, "quick": 20, "targets": 20, "smoke": 2}  # the peak is reached within the first steps
MEMORY_BATCH = {"smoke": 64}  # else 8192
ATTEMPTS = {"full": 2, "quick": 1, "targets": 1, "smoke": 1}  # MLP rows measured again (best kept) under foreign load
QUIET_WAIT = {"full": 10.0, "quick": 2.0, "targets": 2.0, "smoke": 0.0}  # seconds waited for a quiet machine
# After this many seconds of the run, no more waiting for quiet moments and no second attempts: on a busy
# machine the run still ends within about 10 minutes (the memory section's 3 x 1,000 steps at batch 8192 take
# what they take).
LATE = {"full": 300.0, "quick": 60.0, "targets": 60.0, "smoke": 0.0}
T_START = time.perf_counter()


def _late(mode: str) -> bool:
    return time.perf_counter() - T_START > LATE[mode]


def _wait_quiet(mode: str) -> dict[str, float]:
    if _late(mode):
        return {"waited_s": 0.0, "foreign_cores": float("nan"), "skipped": True}
    return common.wait_quiet(max_wait=QUIET_WAIT[mode])
CONTENDED = 0.3  # cores taken by other processes above which a measurement is marked (and retried)


def _ms(samples: list[float]) -> dict[str, float]:
    return {k: (v * 1e3 if k != "n" else v) for k, v in common.summary(samples).items()}


def _us(samples: list[float]) -> dict[str, float]:
    return {k: (v * 1e6 if k != "n" else v) for k, v in common.summary(samples).items()}


# sections ---------------------------------------------------------------------------------------------------
def section_verify(torch: Any, mode: str) -> dict[str, Any]:
    import mlp_step

    return {"max_abs_loss_difference_vs_gradkit": mlp_step.verify(torch, steps=5 if mode == "full" else 2)}


def choose_emb_backward(batch: int, dtype: str, rounds: int) -> dict[str, Any]:
    """Time each numpy form of the embedding backward on a (batch, 3, 10) gradient; the fastest is used."""
    import mlp_step

    rng = np.random.default_rng(0)
    ix = rng.integers(0, 27, (batch, 3))
    demb = rng.standard_normal((batch, 3, 10)).astype(dtype)
    reference = mlp_step.emb_add_at((27, 10), ix, demb)
    contenders = {}
    for name, fn in mlp_step.EMB_BACKWARDS.items():
        got = fn((27, 10), ix, demb)
        tol = 1e-4 if dtype == "float32" else 1e-10
        assert np.allclose(got, reference, rtol=tol, atol=tol), f"embedding backward {name} is wrong"
        contenders[name] = (lambda f: lambda k: [f((27, 10), ix, demb) for _ in range(k)])(fn)
    reps = max(5, 20000 // batch)
    samples = common.interleave(contenders, rounds=rounds, steps=reps)
    us = {name: _us(s)["median"] for name, s in samples.items()}
    return {"us_per_call": us, "fastest": min(us, key=us.get)}


def section_mlp(torch: Any, mode: str) -> dict[str, Any]:
    import mlp_step

    backend = backends.get_backend("numpy")
    X, Y = mlp_step.train_arrays(backend)
    out: dict[str, Any] = {"rows": [], "contenders": {
        "gradkit": "gradkit.train.fit(run, splits, max_steps=run.step + k) on the numpy backend, the step compiled "
                   "(gradkit.compile: fit's default)",
        "eager": "the same fit(..., compiled=False): the eager engine (Tensors, graph, topological sort)",
        "closure": "the course's step as a closure (parameters in a list, data and SGD captured, a fresh index "
                   "tensor each call) under gradkit.compile",
        "numpy": "the step by hand in plain numpy, analytic backward, in-place SGD",
        "torch_optim": "PyTorch eager, torch.optim.SGD (zero_grad, backward, step: gradkit's calls)",
        "torch_manual": "PyTorch eager, the course's loop (p.grad = None; backward; p.data += -lr * p.grad)",
    }}
    for batch, rounds, steps in MLP_PLAN[mode]:
        for dtype in MLP_DTYPES[mode]:
            common.log(f"mlp: batch {batch} {dtype}, {rounds} rounds x {steps} steps")
            _wait_quiet(mode)
            emb = choose_emb_backward(batch, dtype, rounds=5 if mode == "full" else 2)
            row = None
            for attempt in range(1, ATTEMPTS[mode] + 1):  # again when other processes took a core meanwhile
                quiet = _wait_quiet(mode)
                g = mlp_step.GradkitMLP(backend, batch, dtype)
                init = g.weights()
                contenders = {"gradkit": g, "eager": mlp_step.GradkitMLP(backend, batch, dtype, compiled=False),
                              "closure": mlp_step.ClosureMLP(backend, X, Y, init, batch, dtype),
                              "numpy": mlp_step.HandNumpyMLP(X, Y, init, batch, emb["fastest"])}
                if torch is not None:
                    contenders["torch_optim"] = mlp_step.TorchMLP(torch, X, Y, init, batch, update="optim")
                    contenders["torch_manual"] = mlp_step.TorchMLP(torch, X, Y, init, batch, update="manual")
                load_before, meter = common.loadavg(), common.CpuMeter()
                faults: dict[str, list[float]] = {}
                samples = common.interleave(contenders, rounds=rounds, steps=steps, warmup=max(1, steps // 4),
                                            faults=faults)
                this: dict[str, Any] = {"batch": batch, "dtype": dtype, "rounds": rounds, "steps_per_round": steps,
                                        "attempt": attempt, "quiet_wait": quiet,
                                        "loadavg_before": load_before, "loadavg_after": common.loadavg(),
                                        "foreign_cores": meter.foreign_cores(), "emb_backward": emb,
                                        "ms_per_step": {name: _ms(s) for name, s in samples.items()},
                                        "minor_faults_per_step": {n: statistics.median(f) for n, f in faults.items()},
                                        "samples_ms": {n: [round(x * 1e3, 4) for x in v] for n, v in samples.items()},
                                        "ratio_gradkit_over": {}}
                for name in samples:
                    if name != "gradkit":
                        this["ratio_gradkit_over"][name] = common.paired_ratio(samples["gradkit"], samples[name])
                this["ratio_eager_over_numpy"] = common.paired_ratio(samples["eager"], samples["numpy"])
                this["ratio_closure_over_numpy"] = common.paired_ratio(samples["closure"], samples["numpy"])
                if torch is not None:  # the faster PyTorch way of this configuration: the stricter comparison
                    best = min(("torch_optim", "torch_manual"), key=lambda n: this["ms_per_step"][n]["median"])
                    this["torch_best"] = best
                    this["ratio_numpy_over_torch_best"] = common.paired_ratio(samples["numpy"], samples[best])
                del contenders, g
                gc.collect()
                if row is None or this["foreign_cores"] < row["foreign_cores"]:
                    row = this
                common.log(f"   attempt {attempt}: other processes took {this['foreign_cores']} cores")
                if this["foreign_cores"] <= CONTENDED or _late(mode):
                    break
            assert row is not None
            out["rows"].append(row)
    return out


def section_alone(mode: str) -> dict[str, Any]:
    """gradkit vs the hand-written step, side by side in a fresh process without PyTorch (bench/alone_child.py):
    glibc's default allocator behaviour, which a gradkit-only script sees."""
    out: dict[str, Any] = {"rows": []}
    for batch, dtype, rounds, steps in ALONE_PLAN[mode]:
        common.log(f"alone: batch {batch} {dtype} in a fresh process without torch")
        quiet = _wait_quiet(mode)
        cmd = [sys.executable, str(common.BENCH / "alone_child.py"), "--batch", str(batch), "--dtype", dtype,
               "--rounds", str(rounds), "--steps", str(steps)]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=common.ROOT)
        if proc.returncode != 0:
            out["rows"].append({"batch": batch, "dtype": dtype, "error": proc.stderr[-2000:]})
            continue
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        row["quiet_wait"] = quiet
        out["rows"].append(row)
    return out


def section_moons(mode: str) -> dict[str, Any]:
    import small

    gc.enable()
    assert common.gc_is_on()
    backend = backends.get_backend("numpy")
    rounds = 11 if mode == "full" else 2
    value, tensor = small.ValueMoons(), small.TensorMoons(backend)
    quiet = _wait_quiet(mode)
    # the Value step is ~10-50x slower: give each contender a comparable time per round
    steps = {"value": 3, "tensor": 30} if mode == "full" else {"value": 1, "tensor": 2}
    samples = common.interleave({"value": value, "tensor": tensor}, rounds=rounds, steps=steps, warmup=2)
    return {"gc_enabled": common.gc_is_on(), "gc_thresholds": gc.get_threshold(), "rounds": rounds,
            "quiet_wait": quiet,
            "steps_per_round": steps, "ms_per_step": {n: _ms(s) for n, s in samples.items()},
            "ratio_value_over_tensor": common.paired_ratio(samples["value"], samples["tensor"])}


def section_overhead(torch: Any, mode: str) -> dict[str, Any]:
    import small

    backend = backends.get_backend("numpy")
    rounds, steps = {"full": (15, 2000), "smoke": (1, 10)}.get(mode, (3, 100))
    out: dict[str, Any] = {"what": "x (4, 4) float32, requires_grad: fwd_bwd = x.tanh().sum().backward(); x.grad = "
                                   "None (two ops: tanh and sum, each forward and backward); forward = x.tanh()",
                           "rounds": rounds, "iterations_per_round": steps}
    for kind in ("fwd_bwd", "forward"):
        contenders = {"gradkit": small.gradkit_op(backend) if kind == "fwd_bwd" else small.gradkit_forward(backend),
                      "numpy": small.numpy_op() if kind == "fwd_bwd" else small.numpy_forward()}
        if torch is not None:
            contenders["torch"] = small.torch_op(torch) if kind == "fwd_bwd" else small.torch_forward(torch)
        quiet = _wait_quiet(mode)
        samples = common.interleave(contenders, rounds=rounds, steps=steps, warmup=100)
        out[kind] = {"us_per_iteration": {n: _us(s) for n, s in samples.items()}, "quiet_wait": quiet}
        if torch is not None:
            out[kind]["ratio_gradkit_over_torch"] = common.paired_ratio(samples["gradkit"], samples["torch"])
    return out


def _own_rss() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def section_memory(mode: str) -> dict[str, Any]:
    """Each engine in a fresh process, started while this one is small (before torch or data are loaded here):
    Linux carries the peak RSS of the address space a child had before its exec (a copy of this process's) into
    the child's ru_maxrss."""
    steps, batch = MEMORY_STEPS[mode], MEMORY_BATCH.get(mode, 8192)
    out: dict[str, Any] = {"batch": batch, "steps": steps, "dtype": "float32", "runs": {},
                           "parent_rss_at_spawn": _own_rss()}
    for engine in ("gradkit", "gradkit-eager", "numpy", "torch"):
        common.log(f"memory: {engine}, {steps} steps at batch {batch} in a fresh process")
        cmd = [sys.executable, str(common.BENCH / "memory_child.py"), engine, "--batch", str(batch), "--steps",
               str(steps), "--dtype", "float32"]
        quiet = _wait_quiet(mode)
        meter = common.CpuMeter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=common.ROOT)
        foreign = meter.foreign_cores()
        if proc.returncode != 0:
            out["runs"][engine] = {"error": proc.stderr[-2000:]}
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        r["quiet_wait"], r["foreign_cores"] = quiet, foreign
        if "skipped" in r:
            out["runs"][engine] = r
            continue
        r["delta_vs_imports"] = r["peak_after_steps"] - r["peak_after_imports"]
        r["delta_vs_setup"] = r["peak_after_steps"] - r["peak_after_setup"]
        out["runs"][engine] = r
    return out


TRANSFORMER_PLAN = {"full": (32, 9, 4), "quick": (32, 3, 1), "targets": (32, 5, 2), "smoke": (4, 1, 1)}  # batch,
# rounds, steps


def section_transformer(torch: Any, mode: str) -> dict[str, Any]:
    """makemore's Transformer (its recipe: 4 blocks, 4 heads, n_embd 64, batch 32, AdamW) through ``fit``, compiled
    (what ``gradkit train --type transformer`` runs) and eager, interleaved with PyTorch eager running makemore.py's
    step at the same recipe (``programs.py``'s equivalent, 4 layers)."""
    import mlp_step
    import programs

    from gradkit.train import TrainConfig, fit, new_run, prepare

    batch, rounds, steps = TRANSFORMER_PLAN[mode]
    backend, words = backends.get_backend("numpy"), mlp_step.words()
    config = TrainConfig.of("transformer", batch_size=batch, max_steps=10**12, log_every=10**12,
                            seed=mlp_step.SEED).resolved().fit_to(words)
    splits = prepare(words, config, backend)

    def contender(compiled: bool) -> Any:
        run = new_run(config, splits.vocab, backend)
        return lambda k: fit(run, splits, max_steps=run.step + k, compiled=compiled)

    spec = config.spec
    recipe = programs.replace(programs.RECIPES["makemore-transformer"], batch=batch, n_layer=spec.n_layer,
                              n_head=spec.n_head, n_embd=spec.n_embd)
    best: dict[str, Any] | None = None
    for attempt in range(1, ATTEMPTS[mode] + 1):
        quiet = _wait_quiet(mode)
        contenders = {"gradkit": contender(True), "eager": contender(False)}
        if torch is not None:
            contenders["torch"] = programs.Engine("torch", recipe, torch, seed=1)
        meter = common.CpuMeter()
        samples = common.interleave(contenders, rounds=rounds, steps=steps, warmup=2)
        row = {"batch": batch, "rounds": rounds, "steps_per_round": steps, "quiet_wait": quiet, "attempt": attempt,
               "settings": {k: v for k, v in config.to_dict().items() if k != "type"},
               "ms_per_step": {n: _ms(v) for n, v in samples.items()}, "foreign_cores_rows": meter.foreign_cores(),
               "ratio_compiled_over_eager": common.paired_ratio(samples["gradkit"], samples["eager"]),
               "samples_ms": {n: [round(x * 1e3, 4) for x in v] for n, v in samples.items()}}
        if torch is not None:
            row["ratio_compiled_over_torch"] = common.paired_ratio(samples["gradkit"], samples["torch"])
            row["ratio_eager_over_torch"] = common.paired_ratio(samples["eager"], samples["torch"])
        if best is None or row["foreign_cores_rows"] < best["foreign_cores_rows"]:
            best = row
        if row["foreign_cores_rows"] <= CONTENDED or _late(mode):
            break
    assert best is not None
    return best


def section_programs(torch: Any, mode: str) -> dict[str, Any]:
    """The course's programs, gradkit eager and compiled against PyTorch eager (``bench/programs.py``)."""
    import programs

    return programs.section(torch, mode)


def section_gpu(mode: str) -> dict[str, Any]:
    report = backends.probe()["cupy"]
    if not report.usable:
        return {"skipped": report.reason}
    import mlp_step

    numpy_backend, cupy_backend = backends.get_backend("numpy"), backends.get_backend("cupy")
    out: dict[str, Any] = {"device": report.device, "cupy": report.version, "rows": []}
    for batch, rounds, steps in GPU_PLAN[mode]:
        for dtype in ("float32", "float64"):
            common.log(f"gpu: batch {batch} {dtype}")
            contenders = {"numpy": mlp_step.GradkitMLP(numpy_backend, batch, dtype),
                          "cupy": mlp_step.GradkitMLP(cupy_backend, batch, dtype)}  # synchronizes before returning
            samples = common.interleave(contenders, rounds=rounds, steps=steps, warmup=2)
            out["rows"].append({"batch": batch, "dtype": dtype, "rounds": rounds, "steps_per_round": steps,
                                "ms_per_step": {n: _ms(s) for n, s in samples.items()},
                                "speedup_cupy_over_numpy": common.paired_ratio(samples["numpy"], samples["cupy"]),
                                "memory_info": cupy_backend.memory_info()})
            del contenders
            gc.collect()
    return out


# markdown ---------------------------------------------------------------------------------------------------
def _mb(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


def _fmt_ms(x: float) -> str:
    return f"{x:.3f}" if x < 1 else f"{x:.2f}" if x < 100 else f"{x:.0f}"


def _ratio(r: dict[str, float]) -> str:
    return f"{r['median']:.2f} ({r['min']:.2f}-{r['max']:.2f})"


def targets(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """``(target, threshold, measured, met?)`` rows for the targets."""
    rows: list[tuple[str, str, str, str]] = []
    mlp = {(r["batch"], r["dtype"]): r for r in results.get("mlp", {}).get("rows", [])}

    def verdict(value: float, limit: float) -> str:
        return "yes" if value <= limit else "**no**"

    for batch, limit in ((32, 1.10), (8192, 1.02)):  # issue 12: the compiled step against the hand-written one
        r = mlp.get((batch, "float32"))
        if r:
            v = r["ratio_gradkit_over"]["numpy"]["median"]
            rows.append((f"compiled gradkit / hand numpy, batch {batch}, float32", f"<= {limit}", f"{v:.2f}",
                         verdict(v, limit)))
    for batch, limit in ((32, 1.10), (8192, 1.02)):  # the course's closure-style step, compiled
        r = mlp.get((batch, "float32"))
        if r and "ratio_closure_over_numpy" in r:
            v = r["ratio_closure_over_numpy"]["median"]
            rows.append((f"compiled closure-style step / hand numpy, batch {batch}, float32", f"<= {limit}",
                         f"{v:.2f}", verdict(v, limit)))
    for r in results.get("alone", {}).get("rows", []):
        if r.get("batch") == 8192 and r.get("dtype") == "float32" and "error" not in r:
            v = r["ratio_gradkit_over_numpy"]["median"]
            rows.append(("the same, batch 8192, float32, in a fresh process without PyTorch (glibc's default "
                         "allocator behaviour)", "<= 1.02", f"{v:.2f}", verdict(v, 1.02)))
    for batch, limit in ((32, 0.50), (8192, 0.95)):
        r = mlp.get((batch, "float32"))
        if r and "torch_best" in r:
            best = r["torch_best"]
            v = r["ratio_gradkit_over"][best]["median"]
            floor = r["ratio_numpy_over_torch_best"]["median"]
            rows.append((f"compiled gradkit / PyTorch CPU ({best.replace('torch_', '')}), batch {batch}, float32",
                         f"<= {limit}", f"{v:.2f} (the hand-written numpy floor: {floor:.2f})", verdict(v, limit)))
        elif r:
            rows.append((f"compiled gradkit / PyTorch CPU, batch {batch}", f"<= {limit}", "PyTorch not installed",
                         "not measured"))
    tr = results.get("transformer", {})
    if "ratio_compiled_over_torch" in tr:
        v = tr["ratio_compiled_over_torch"]["median"]
        rows.append(("`gradkit train --type transformer` (fit, compiled) / PyTorch eager, makemore's recipe",
                     "<= 0.8", f"{v:.2f} (eager: {tr['ratio_eager_over_torch']['median']:.2f})", verdict(v, 0.8)))
    if "programs" in results:
        import programs

        rows += programs.targets(results["programs"])
    mem = results.get("memory", {}).get("runs", {})
    if "delta_vs_imports" in mem.get("gradkit", {}) and "delta_vs_imports" in mem.get("gradkit-eager", {}):
        g, e = mem["gradkit"]["peak_after_steps"], mem["gradkit-eager"]["peak_after_steps"]
        rows.append((f"peak RSS of {results['memory']['steps']:,} steps at batch 8192, compiled vs eager", "<= eager's",
                     f"{_mb(g)} vs {_mb(e)}", verdict(g, e)))
    mem = results.get("memory", {}).get("runs", {})
    if "gradkit" in mem and "torch" in mem and "delta_vs_imports" in mem.get("torch", {}):
        g, t = mem["gradkit"]["delta_vs_imports"], mem["torch"]["delta_vs_imports"]
        rows.append((f"peak RSS of {results['memory']['steps']:,} steps at batch 8192 (minus the RSS after imports), "
                     "gradkit vs PyTorch",
                     "<= PyTorch's", f"{_mb(g)} vs {_mb(t)}", verdict(g, t)))
    elif mem:
        rows.append(("peak RSS at batch 8192, gradkit vs PyTorch", "<= PyTorch's", "PyTorch not measured",
                     "not measured"))
    moons = results.get("moons")
    if moons:
        v = moons["ms_per_step"]["value"]["median"]
        rows.append(("Value engine, ms per moons step, GC on", "<= 50 ms", f"{v:.1f} ms", verdict(v, 50)))
    return rows


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    L: list[str] = []
    add = L.append
    add("# gradkit benchmark results")
    add("")
    add("Written by `bench/run.py`; do not edit by hand. Every figure below was measured in the one run named "
        "here, the contenders interleaved round-robin (the order rotates each round, so load from other processes "
        "hits them alike): a time is the median of that contender's rounds, a ratio the median of the per-round "
        "ratios (min-max over the rounds in brackets). The machine's speed shifts between slower and faster "
        "phases, which the paired ratio cancels, so a ratio can differ from the quotient of the two median "
        "times beside it. Ratios below 1 mean gradkit is faster. The raw per-round samples are in "
        "`bench/results/bench.json`.")
    add("")
    if results["mode"] in ("quick", "smoke"):
        add(f"**This is a `{results['mode']}` run (few repetitions): a smoke test, not a measurement.**")
    elif results["mode"] == "targets":
        add("**This is a `--targets` run: issue 12's rows only (float32; fewer rounds than the full run).**")
        add("")
    add("## Run")
    add("")
    add(f"- command: `{results['command']}`")
    add(f"- started {results['started']}, took {results['seconds']:.0f} s")
    add(f"- load average (1, 5, 15 min) at start {results['loadavg_start']}, at end {results['loadavg_end']}, "
        f"highest 1-min value seen between sections {results['loadavg_max']} (on {m['cores']} cores; the machine "
        "is shared, other people's tests may have run at the same time)")
    add(f"- CPU taken by other processes during the run (the machine's busy time from /proc/stat minus this run's "
        f"own CPU time, per second): {results['foreign_cores']} cores on average; per section: "
        + ", ".join(f"{n} {results[n]['foreign_cores']}" for n in SECTIONS if n in results and
                    "foreign_cores" in results[n]))
    git = m["git"]
    changed = ", ".join(git["engine_files_changed"]) or "none"
    add(f"- gradkit at commit {git['commit']}; uncommitted changes to gradkit/ or backends/ in the tree it was "
        f"installed from: {changed}")
    add("")
    add("## Machine")
    add("")
    add(f"- CPU: {m['cpu']}, {m['cores']} cores ({m['platform']})")
    add(f"- Python {m['python']}; numpy {m['numpy']} with {m['numpy_blas']}"
        + (f" (`{m['numpy_blas_config']}`)" if m.get("numpy_blas_config") else ""))
    pools = m.get("threadpools")
    if isinstance(pools, list):
        for pool in pools:
            version = f" {pool['version']}" if pool.get("version") else ""
            add(f"- threadpoolctl: {pool.get('internal_api')} ({pool.get('prefix')}{version}), "
                f"kernel {pool.get('architecture', '-')}, {pool.get('num_threads')} threads")
    else:
        add(f"- {pools}")
    if "torch" in m:
        add(f"- PyTorch {m['torch']} ({m['torch_blas']}, CPU capability {m['torch_cpu_capability']}), "
            f"{m['torch_threads']} threads")
    else:
        add(f"- PyTorch: {results.get('torch_note')}")
    env = ", ".join(f"{k}={v if v is not None else '(unset)'}" for k, v in m["env"].items()
                    if k != "NOX_CURRENT_SESSION")
    add(f"- environment: {env}")
    add("")
    add("## Targets")
    add("")
    add("| target | limit | measured | met? |")
    add("| --- | --- | --- | --- |")
    for row in targets(results):
        add("| " + " | ".join(row) + " |")
    add("")

    if "verify" in results:
        worst = max(results["verify"]["max_abs_loss_difference_vs_gradkit"].values())
        torch_too = " and PyTorch's" if "torch" in m else ""
        add(f"Check before timing: from the same weights and minibatches (float64), the hand-written numpy step "
            f"(every embedding-backward form){torch_too} give the same losses as gradkit's `fit` over the "
            f"first steps, within {worst:.1e}.")
        add("")
    if "mlp" in results:
        add("## MLP language model training step (ms per step)")
        add("")
        add("vocab 27, block 3, n_embd 10, n_hidden 200; one step = draw the minibatch indices, gather, forward, "
            "cross-entropy, backward, SGD (lr 0.1). Contenders:")
        add("")
        for name, what in results["mlp"]["contenders"].items():
            add(f"- `{name}`: {what}")
        add("")
        add("| batch | dtype | gradkit (compiled) | gradkit eager | hand numpy | torch (optim) | torch (manual) | "
            "compiled / numpy | compiled / eager | eager / numpy | compiled / torch (faster way) | hand numpy / torch "
            "(faster way) | rounds x steps | load before -> after | other processes (cores) |")
        add("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in results["mlp"]["rows"]:
            t = r["ms_per_step"]
            cell = {n: _fmt_ms(t[n]["median"]) if n in t else "-" for n in ("gradkit", "eager", "numpy", "torch_optim",
                                                                              "torch_manual")}
            ratios = r["ratio_gradkit_over"]
            eager_cells = (f"{_ratio(ratios['eager'])} | {_ratio(r['ratio_eager_over_numpy'])}" if "eager" in ratios
                           else "- | -")
            vs_torch = floor = "-"
            if "torch_best" in r:
                vs_torch = f"{_ratio(r['ratio_gradkit_over'][r['torch_best']])} ({r['torch_best'][6:]})"
                floor = _ratio(r["ratio_numpy_over_torch_best"])
            add(f"| {r['batch']} | {r['dtype']} | {cell['gradkit']} | {cell['eager']} | {cell['numpy']} | "
                f"{cell['torch_optim']} | {cell['torch_manual']} | {_ratio(ratios['numpy'])} | {eager_cells} | "
                f"{vs_torch} | {floor} | "
                f"{r['rounds']} x {r['steps_per_round']} | {r['loadavg_before'][0]} -> {r['loadavg_after'][0]} | "
                f"{r['foreign_cores']}{' (contended)' if r['foreign_cores'] > CONTENDED else ''} |")
        add("")
        add("`other processes`: the cores that other processes took while the row was measured (the machine's "
            "busy time minus this run's CPU time). With two threads on two cores, a process holding one core slows "
            f"every two-threaded BLAS or OpenMP call several times over, and PyTorch's far more than numpy's: a row "
            f"above {CONTENDED} cores is marked, and was measured up to {ATTEMPTS[results['mode']]} times after "
            "waiting for a quiet moment, the least disturbed attempt kept.")
        add("")
        add("Minor page faults per step (median; each is a 4 KiB page of fresh memory from the kernel, which an "
            "engine pays for every large temporary that the allocator does not recycle):")
        add("")
        add("| batch | dtype | gradkit (compiled) | gradkit eager | hand numpy | torch (optim) | torch (manual) |")
        add("| --- | --- | --- | --- | --- | --- | --- |")
        for r in results["mlp"]["rows"]:
            f = r["minor_faults_per_step"]
            add(f"| {r['batch']} | {r['dtype']} | " + " | ".join(
                f"{f[n]:.0f}" if n in f else "-" for n in ("gradkit", "eager", "numpy", "torch_optim", "torch_manual"))
                + " |")
        add("")
        add("The hand-written step's embedding backward (dC = sum of the rows of dembs per index) uses the fastest "
            "numpy form measured just before (µs per call, median):")
        add("")
        names = list(results["mlp"]["rows"][0]["emb_backward"]["us_per_call"])
        add("| batch | dtype | " + " | ".join(names) + " | used |")
        add("| --- | --- | " + " | ".join("---" for _ in names) + " | --- |")
        for r in results["mlp"]["rows"]:
            e = r["emb_backward"]
            add(f"| {r['batch']} | {r['dtype']} | " + " | ".join(f"{e['us_per_call'][n]:.1f}" for n in names)
                + f" | {e['fastest']} |")
        add("")
    if "transformer" in results:
        tr = results["transformer"]
        add(f"## makemore's Transformer, batch {tr['batch']} (float32, numpy): `fit` compiled and eager against "
            "PyTorch eager")
        add("")
        add(f"Settings: {tr['settings']}. `gradkit (compiled)` is `gradkit.train.fit`, what `gradkit train --type "
            "transformer` runs; `PyTorch eager` is makemore.py's step at the same recipe (`bench/programs.py`'s "
            "equivalent, with its own minibatch draw and host-to-tensor copy, as makemore.py's loop).")
        add("")
        add("| gradkit (compiled) ms | gradkit eager ms | PyTorch eager ms | compiled / eager | compiled / PyTorch | "
            "eager / PyTorch | rounds x steps | other processes (cores) |")
        add("| --- | --- | --- | --- | --- | --- | --- | --- |")
        t = tr["ms_per_step"]
        vs_torch = (f"{_ratio(tr['ratio_compiled_over_torch'])} | {_ratio(tr['ratio_eager_over_torch'])}"
                    if "ratio_compiled_over_torch" in tr else "- | -")
        add(f"| {_fmt_ms(t['gradkit']['median'])} | {_fmt_ms(t['eager']['median'])} | "
            f"{_fmt_ms(t['torch']['median']) if 'torch' in t else '-'} | {_ratio(tr['ratio_compiled_over_eager'])} | "
            f"{vs_torch} | {tr['rounds']} x {tr['steps_per_round']} | {tr['foreign_cores_rows']}"
            f"{' (contended)' if tr['foreign_cores_rows'] > CONTENDED else ''} |")
        add("")
    if "programs" in results:
        import programs

        L.extend(programs.markdown(results["programs"]))
    if "alone" in results:
        add("## gradkit vs the hand-written step without PyTorch in the process")
        add("")
        add("glibc's malloc gives blocks above its mmap threshold fresh pages from the kernel (a page fault per "
            "4 KiB on first touch) and returns the heap's free top above its trim threshold; both thresholds grow "
            "when a freed mmapped block is larger (up to 32 MiB). In the process of the tables above, PyTorch's "
            "tensors of tens of MiB raised them so far that numpy's temporaries are recycled (0 faults, see the "
            "fault table). A script that uses gradkit alone stays at lower thresholds, and each large temporary "
            "costs fresh pages every step. Here gradkit and the hand-written step run side by side (interleaved) "
            "in a fresh process without PyTorch (`bench/alone_child.py`).")
        add("")
        add("| batch | dtype | gradkit ms | hand numpy ms | gradkit / numpy | minor faults per step, gradkit / "
            "numpy | rounds x steps | other processes (cores) |")
        add("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in results["alone"]["rows"]:
            if "error" in r:
                add(f"| {r['batch']} | {r['dtype']} | failed: {r['error'].splitlines()[-1]} | | | | | |")
                continue
            t, f = r["ms_per_step"], r["minor_faults_per_step"]
            add(f"| {r['batch']} | {r['dtype']} | {_fmt_ms(t['gradkit'])} | {_fmt_ms(t['numpy'])} | "
                f"{_ratio(r['ratio_gradkit_over_numpy'])} | {f['gradkit']:.0f} / {f['numpy']:.0f} | "
                f"{r['rounds']} x {r['steps_per_round']} | {r['foreign_cores']} |")
        add("")
    if "moons" in results:
        mo = results["moons"]
        add("## micrograd's moons step (2-16-16-1 MLP, 100 points, max-margin loss + L2, SGD)")
        add("")
        add("| engine | ms per step (median, min-max) |")
        add("| --- | --- |")
        for name, label in (("value", "`Value` (`gradkit.nn_scalar.moons_step`), GC on"),
                            ("tensor", "`Tensor` float64 on numpy (a step of `models.classifier`'s loop)")):
            s = mo["ms_per_step"][name]
            add(f"| {label} | {s['median']:.2f} ({s['min']:.2f}-{s['max']:.2f}) |")
        add("")
        add(f"Value / Tensor, same rounds: {_ratio(mo['ratio_value_over_tensor'])}; garbage collector on: "
            f"{mo['gc_enabled']}, thresholds {tuple(mo['gc_thresholds'])}.")
        add("")
    if "overhead" in results:
        ov = results["overhead"]
        add("## Per-op engine overhead (µs)")
        add("")
        add(f"{ov['what']}. Plain numpy does the same arithmetic without an engine (the floor).")
        add("")
        add("| measure | gradkit | torch | numpy | gradkit / torch |")
        add("| --- | --- | --- | --- | --- |")
        for kind, label in (("fwd_bwd", "tanh + sum, forward and backward, per iteration"),
                            ("forward", "tanh forward, recording the graph")):
            u = ov[kind]["us_per_iteration"]
            torch_cell = f"{u['torch']['median']:.1f}" if "torch" in u else "-"
            ratio = _ratio(ov[kind]["ratio_gradkit_over_torch"]) if "ratio_gradkit_over_torch" in ov[kind] else "-"
            add(f"| {label} | {u['gradkit']['median']:.1f} | {torch_cell} | {u['numpy']['median']:.1f} | {ratio} |")
        u = ov["fwd_bwd"]["us_per_iteration"]
        add(f"| per op (the first row / 2) | {u['gradkit']['median'] / 2:.1f} | "
            + (f"{u['torch']['median'] / 2:.1f}" if "torch" in u else "-") + f" | {u['numpy']['median'] / 2:.1f} | |")
        add("")
    if "memory" in results:
        me = results["memory"]
        add(f"## Peak memory: {me['steps']} MLP steps at batch {me['batch']} ({me['dtype']}), each engine in a fresh "
            "process")
        add("")
        add("Peak RSS (`ru_maxrss`) in the child; the baseline is the peak after the imports (numpy, gradkit, and "
            "torch for its run), `setup` the peak once the data (the names' context windows) and the model are "
            "built. `VmHWM` is the child's own address space's peak, a check on `ru_maxrss` (which would include "
            f"the parent's RSS at the fork: the parent had {_mb(me['parent_rss_at_spawn'])} then). "
            "`numpy` is the hand-written step, the floor. `ms per step, alone`: each engine alone in its "
            "process, the engines one after the other (not side by side: the load may differ, see the last column;"
            " the side-by-side speeds are the tables above).")
        add("")
        add("| engine | after imports | after setup | after the steps (absolute) | minus imports | minus setup "
            "| VmHWM | ms per step, alone | minor faults per step | other processes (cores) |")
        add("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for name, r in me["runs"].items():
            if "error" in r or "skipped" in r:
                add(f"| {name} | {r.get('skipped') or 'failed: ' + r['error'].splitlines()[-1]} | | | | | | | | |")
                continue
            add(f"| {name} | {_mb(r['peak_after_imports'])} | {_mb(r['peak_after_setup'])} | "
                f"{_mb(r['peak_after_steps'])} | {_mb(r['delta_vs_imports'])} | {_mb(r['delta_vs_setup'])} | "
                f"{_mb(r['vm_hwm_after_steps'])} | {r['seconds'] / r['steps'] * 1e3:.1f} | "
                f"{r['minor_faults_per_step']:.0f} | {r['foreign_cores']} |")
        add("")
    if "gpu" in results:
        gp = results["gpu"]
        add("## cupy vs numpy (gradkit's `fit`, `backend.synchronize()` before each timer stops)")
        add("")
        if "skipped" in gp:
            add(f"Skipped: {gp['skipped']}")
        else:
            add(f"Device: {gp['device']}, CuPy {gp['cupy']}.")
            add("")
            add("| batch | dtype | numpy ms | cupy ms | cupy speed-up |")
            add("| --- | --- | --- | --- | --- |")
            for r in gp["rows"]:
                t = r["ms_per_step"]
                add(f"| {r['batch']} | {r['dtype']} | {_fmt_ms(t['numpy']['median'])} | "
                    f"{_fmt_ms(t['cupy']['median'])} | {_ratio(r['speedup_cupy_over_numpy'])} |")
        add("")
    if results.get("notes"):
        add("## Notes")
        add("")
        for note in results["notes"]:
            add(f"- {note}")
        add("")
    return "\n".join(L)


def _pyperf_samples(results: dict[str, Any]) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Every timed contender's per-round samples in seconds per step, named ``section-batch-dtype-contender``."""
    samples: dict[str, list[float]] = {}
    steps: dict[str, int] = {}
    for r in results.get("mlp", {}).get("rows", []):
        for name, values in r["samples_ms"].items():
            key = f"mlp-{r['batch']}-{r['dtype']}-{name}"
            samples[key], steps[key] = [v / 1e3 for v in values], r["steps_per_round"]
    tr = results.get("transformer")
    if tr:
        for name, values in tr["samples_ms"].items():
            key = f"transformer-{tr['batch']}-float32-{name}"
            samples[key], steps[key] = [v / 1e3 for v in values], tr["steps_per_round"]
    if "programs" in results:
        import programs

        more, more_steps = programs.pyperf_samples(results["programs"])
        samples.update(more)
        steps.update(more_steps)
    return samples, steps


def _errors(results: Any, where: str = "") -> list[str]:
    """The places in ``results`` that hold an ``"error"`` (a child process that failed)."""
    if isinstance(results, dict):
        found = [where] if "error" in results else []
        return found + [w for k, v in results.items() for w in _errors(v, f"{where}/{k}")]
    if isinstance(results, list):
        return [w for i, v in enumerate(results) for w in _errors(v, f"{where}/{i}")]
    return []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few repetitions of everything (a smoke test)")
    parser.add_argument("--targets", action="store_true", help="the target rows only (MLP at batch 32 and 8192, "
                        "float32; the transformer; memory): a few minutes")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    parser.add_argument("--no-markdown", action="store_true", help="do not rewrite bench/RESULTS.md")
    parser.add_argument("--smoke", action="store_true", help="every section at tiny sizes, in seconds; writes no "
                        "file, exits 1 when a section failed (the test suite's check that the bench runs)")
    args = parser.parse_args()
    mode = "smoke" if args.smoke else "quick" if args.quick else "targets" if args.targets else "full"
    sections = args.only or list(SECTIONS)

    t_start, total_meter = time.perf_counter(), common.CpuMeter()
    load_start = common.loadavg()
    early: dict[str, Any] = {}
    if "memory" in sections:  # first, while this process is small (see section_memory)
        common.log("== memory")
        t0, meter = time.perf_counter(), common.CpuMeter()
        early["memory"] = section_memory(mode)
        early["memory"]["seconds"] = time.perf_counter() - t0
        early["memory"]["foreign_cores"] = meter.foreign_cores()
    torch, torch_note = common.load_torch()
    session = common.ENV_AT_START.get("NOX_CURRENT_SESSION")
    argv = " ".join(sys.argv[1:])
    command = (f"nox -s {session}" + (f" -- {argv}" if argv else "")) if session else \
        f"python bench/run.py {argv}".strip()
    results: dict[str, Any] = {
        "mode": mode, "command": command,
        "started": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": common.machine(torch), "torch_note": torch_note, "loadavg_start": load_start,
        "notes": [], **early,
    }
    if torch_note:
        results["notes"].append(torch_note)
    common.log(json.dumps(results["machine"], indent=1, default=str))
    loads = [results["loadavg_start"][0]] if results["loadavg_start"] else []
    for name in [s for s in SECTIONS if s in sections and s not in early]:
        t0, meter = time.perf_counter(), common.CpuMeter()
        common.log(f"== {name}")
        if name == "verify":
            results[name] = section_verify(torch, mode)
        elif name == "mlp":
            results[name] = section_mlp(torch, mode)
        elif name == "alone":
            results[name] = section_alone(mode)
        elif name == "moons":
            results[name] = section_moons(mode)
        elif name == "overhead":
            results[name] = section_overhead(torch, mode)
        elif name == "transformer":
            results[name] = section_transformer(torch, mode)
        elif name == "programs":
            results[name] = section_programs(torch, mode)
        elif name == "gpu":
            results[name] = section_gpu(mode)
        results[name]["seconds"] = time.perf_counter() - t0
        results[name]["foreign_cores"] = meter.foreign_cores()
        if common.loadavg():
            loads.append(common.loadavg()[0])
        common.log(f"   {name}: {results[name]['seconds']:.1f} s, load {common.loadavg()}")
    results["loadavg_end"] = common.loadavg()
    results["loadavg_max"] = max(loads) if loads else None
    results["seconds"] = time.perf_counter() - t_start
    results["foreign_cores"] = total_meter.foreign_cores()
    if mode == "smoke":
        print(markdown(results))
        errors = _errors(results)
        for where in errors:
            common.log(f"smoke: {where} failed")
        sys.exit(1 if errors else 0)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = common.write_json("bench.json", results)
    common.write_pyperf("bench-pyperf.json", *_pyperf_samples(results))
    common.write_json(f"bench-{mode}-{stamp}.json", results)
    text = markdown(results)
    if not args.no_markdown:
        (common.BENCH / "RESULTS.md").write_text(text + "\n")
    print(text)
    common.log(f"wrote {path} and {'bench/RESULTS.md' if not args.no_markdown else '(no markdown)'}; "
               f"{results['seconds']:.0f} s")


if __name__ == "__main__":
    os.chdir(common.ROOT)
    main()
    sys.exit(0)
