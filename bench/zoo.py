"""The zoo's big steps beside PyTorch CPU eager: makemore's Transformer and part 5's WaveNet, one training step
each (forward, backward, optimizer update) at their published recipes on makemore's names, from the same
weights (gradkit's seeded init copied into torch modules of the same names) and the same minibatches.

    python bench/zoo.py [--rounds 9] [--steps 20] [-i names.txt]     # writes bench/ZOO.md
    python bench/zoo.py --smoke     # one step of each, in seconds, no file written; PyTorch skipped when absent

Times are medians over interleaved rounds (``common.interleave``: each round runs every contender, in a
rotating order, so other processes' load hits all alike); a ratio is the median of the per-round ratios.
Peak memory is each engine's ``VmHWM`` in a fresh process (``--child ENGINE MODEL``) over 200 steps. Before
timing, one step from the same weights and batch is compared: both engines' losses and every gradient.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import common  # thread settings before numpy
import numpy as np  # noqa: E402

MODELS = ("transformer", "wavenet")
CHILD_STEPS = 200


def _setup(kind: str, source: str | None) -> tuple[Any, Any, np.ndarray, np.ndarray]:
    """gradkit's run of ``kind`` at its recipe (float32, numpy): ``(config, run, X, Y)`` with the training
    rows on the host (int64)."""
    from gradkit import get_backend
    from gradkit.data import load_words
    from gradkit.train import TrainConfig, new_run, prepare

    words = load_words(source)
    config = TrainConfig.of(kind).resolved().fit_to(words)
    backend = get_backend("numpy")
    splits = prepare(words, config, backend)
    X, Y = (t.numpy().astype(np.int64) for t in splits.tensors["train"])  # the compact int8 rows widened, as fit
    # widens each batch (torch's embedding takes int64 or int32 indices only)
    return config, new_run(config, splits.vocab, backend), X, Y


def _torch_model(torch: Any, kind: str, config: Any, vocab_size: int) -> Any:
    """makemore's modules in PyTorch, named as gradkit names its parameters."""
    nn, F = torch.nn, torch.nn.functional
    spec = config.spec

    class CausalSelfAttention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c_attn = nn.Linear(spec.n_embd, 3 * spec.n_embd)
            self.c_proj = nn.Linear(spec.n_embd, spec.n_embd)
            self.register_buffer("mask", torch.tril(torch.ones(spec.block_size, spec.block_size)), persistent=False)
            self.n_head = spec.n_head

        def forward(self, x: Any) -> Any:
            B, T, C = x.size()
            q, k, v = self.c_attn(x).split(C, dim=2)
            k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = F.softmax(att.masked_fill(self.mask[:T, :T] == 0, float("-inf")), dim=-1)
            return self.c_proj((att @ v).transpose(1, 2).contiguous().view(B, T, C))

    class NewGELU(nn.Module):
        def forward(self, x: Any) -> Any:
            return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln_1, self.attn = nn.LayerNorm(spec.n_embd), CausalSelfAttention()
            self.ln_2 = nn.LayerNorm(spec.n_embd)
            self.mlp = nn.ModuleDict({"c_fc": nn.Linear(spec.n_embd, 4 * spec.n_embd),
                                      "c_proj": nn.Linear(4 * spec.n_embd, spec.n_embd), "act": NewGELU()})

        def forward(self, x: Any) -> Any:
            x = x + self.attn(self.ln_1(x))
            m = self.mlp
            return x + m.c_proj(m.act(m.c_fc(self.ln_2(x))))

    class Transformer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.wte, self.wpe = nn.Embedding(vocab_size, spec.n_embd), nn.Embedding(spec.block_size, spec.n_embd)
            self.h = nn.ModuleList([Block() for _ in range(spec.n_layer)])
            self.ln_f, self.lm_head = nn.LayerNorm(spec.n_embd), nn.Linear(spec.n_embd, vocab_size, bias=False)

        def forward(self, idx: Any) -> Any:
            x = self.wte(idx) + self.wpe.weight[: idx.size(1)]
            for block in self.h:
                x = block(x)
            return self.lm_head(self.ln_f(x))

    class BatchNorm3(nn.Module):
        """The course's BatchNorm1d over axes (0, 1) of (B, T, C) or axis 0 of (B, C), torch's statistics."""

        def __init__(self, dim: int) -> None:
            super().__init__()
            self.gamma, self.beta = nn.Parameter(torch.ones(dim)), nn.Parameter(torch.zeros(dim))
            self.register_buffer("running_mean", torch.zeros(dim))
            self.register_buffer("running_var", torch.ones(dim))

        def forward(self, x: Any) -> Any:
            flat = x.reshape(-1, x.shape[-1])
            out = F.batch_norm(flat, self.running_mean, self.running_var, self.gamma, self.beta, self.training)
            return out.view(x.shape)

    class FlattenConsecutive(nn.Module):
        def forward(self, x: Any) -> Any:
            B, T, C = x.shape
            x = x.view(B, T // 2, C * 2)
            return x.squeeze(1) if x.shape[1] == 1 else x

    class WaveNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layers: list[Any] = [nn.Embedding(vocab_size, spec.n_embd)]
            width = spec.n_embd
            for _ in range(spec.block_size.bit_length() - 1):
                layers += [FlattenConsecutive(), nn.Linear(2 * width, spec.n_hidden, bias=False),
                           BatchNorm3(spec.n_hidden), nn.Tanh()]
                width = spec.n_hidden
            self.layers = nn.Sequential(*layers, nn.Linear(spec.n_hidden, vocab_size))

        def forward(self, idx: Any) -> Any:
            return self.layers(idx)

    return Transformer() if kind == "transformer" else WaveNet()


class Engine:
    """One engine's training step on a stream of minibatches: ``engine(k)`` runs k steps."""

    def __init__(self, name: str, kind: str, source: str | None, torch: Any = None, seed: int = 0) -> None:
        self.config, run, self.X, self.Y = _setup(kind, source)
        self.batch, self.rng = self.config.batch_size, np.random.default_rng(seed)
        self.name, self.step_no = name, 0
        if name == "gradkit":
            from gradkit.train import train_step

            self.model, self.opt, self.train_step = run.model, run.optimizer, train_step
            return
        self.torch = torch
        self.model = _torch_model(torch, kind, self.config, run.model.vocab_size)
        state = {k: torch.from_numpy(v.numpy()) for k, v in run.model.state_dict().items() if not k.endswith(".mask")}
        self.model.load_state_dict(state)
        spec = self.config.spec
        if kind == "transformer":
            self.opt = torch.optim.AdamW(self.model.parameters(), lr=spec.learning_rate, betas=(0.9, 0.99), eps=1e-8,
                                         weight_decay=spec.weight_decay)
        else:
            self.opt = torch.optim.SGD(self.model.parameters(), lr=spec.learning_rate)

    def batch_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        ix = self.rng.integers(0, self.X.shape[0], self.batch)
        return self.X[ix], self.Y[ix]

    def step(self, Xb: np.ndarray, Yb: np.ndarray) -> Any:
        """One training step on host arrays; returns the loss (engine's own type)."""
        lr = self.config.spec.lr_at(self.step_no)
        self.step_no += 1
        if self.name == "gradkit":
            from gradkit import Tensor
            from gradkit.train import set_lr

            set_lr(self.opt, lr)  # outside the (compiled) step: the group's lr tensor carries it in
            return self.train_step(self.model, self.opt, Tensor(Xb), Tensor(Yb))
        torch = self.torch
        logits = self.model(torch.from_numpy(Xb))
        loss = torch.nn.functional.cross_entropy(logits.view(-1, logits.size(-1)), torch.from_numpy(Yb).view(-1),
                                                 ignore_index=-1)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        for group in self.opt.param_groups:
            group["lr"] = lr
        self.opt.step()
        return loss

    def __call__(self, k: int) -> None:
        for _ in range(k):
            self.step(*self.batch_arrays())


def verify(torch: Any, kind: str, source: str | None) -> dict[str, float]:
    """One step of both engines from the same weights and batch: the loss difference and the largest
    gradient difference relative to that gradient's largest entry (float32)."""
    gk, tc = Engine("gradkit", kind, source), Engine("torch", kind, source, torch)
    Xb, Yb = gk.batch_arrays()
    loss_g, loss_t = gk.step(Xb, Yb).item(), tc.step(Xb, Yb).item()
    grads_t = {k: p.grad.numpy() for k, p in tc.model.named_parameters()}
    worst = max(float(np.abs(p.grad.numpy() - grads_t[n]).max() / (np.abs(grads_t[n]).max() + 1e-30))
                for n, p in gk.model.named_parameters())
    return {"loss_gradkit": loss_g, "loss_torch": loss_t, "max_rel_grad_diff": worst}


def child(engine: str, kind: str, source: str | None, steps: int = CHILD_STEPS) -> None:
    """Peak memory of one engine alone in this process (``VmHWM``), after ``steps`` steps."""
    import memory_child

    torch = None
    if engine == "torch":
        torch, why = common.load_torch()
        if torch is None:
            print(json.dumps({"skipped": why}))
            return
    base = memory_child.vm_hwm()
    eng = Engine(engine, kind, source, torch)
    t0 = time.perf_counter()
    eng(steps)
    print(json.dumps({"baseline": base, "peak": memory_child.vm_hwm(), "seconds": time.perf_counter() - t0}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--steps", type=int, default=20, help="steps per contender per round")
    parser.add_argument("-i", "--input-file", default=None, help="words (default: the embedded names)")
    parser.add_argument("--child", nargs=2, metavar=("ENGINE", "MODEL"))
    parser.add_argument("--smoke", action="store_true", help="one step of each engine and model, in seconds: writes "
                        "no file, and skips PyTorch when it is not installed (the test suite runs it)")
    args = common.smoke(parser.parse_args(), rounds=1, steps=1)
    child_steps = 2 if args.smoke else CHILD_STEPS
    if args.child:
        child(args.child[0], args.child[1], args.input_file, child_steps)
        return
    memory: dict[str, dict[str, Any]] = {}
    for kind in MODELS:  # fresh processes first, while this one is small
        for engine in ("gradkit", "torch"):
            extra = ["-i", args.input_file] if args.input_file else []
            smoke = ["--smoke"] if args.smoke else []
            out = subprocess.run([sys.executable, __file__, "--child", engine, kind, *extra, *smoke],
                                 capture_output=True, text=True, check=True).stdout
            memory[f"{engine} {kind}"] = json.loads(out.strip().splitlines()[-1])
    torch, why = common.load_torch()
    if torch is None and not args.smoke:
        sys.exit(why)
    rows, checks = [], {}
    for kind in MODELS:
        contenders = {"gradkit": Engine("gradkit", kind, args.input_file, seed=1)}
        if torch is not None:
            checks[kind] = verify(torch, kind, args.input_file)
            contenders["torch"] = Engine("torch", kind, args.input_file, torch, seed=1)
        meter = common.CpuMeter()
        samples = common.interleave(contenders, rounds=args.rounds, steps=args.steps)
        if torch is None:  # --smoke without PyTorch: gradkit's step ran, no column to compare
            common.log(f"{kind}: gradkit {common.summary(samples['gradkit'])['median'] * 1e3:.1f} ms/step ({why})")
            continue
        ratio = common.paired_ratio(samples["gradkit"], samples["torch"])
        rows.append((kind, common.summary(samples["gradkit"]), common.summary(samples["torch"]), ratio,
                     meter.foreign_cores()))
        common.log(f"{kind}: gradkit/torch {ratio['median']:.2f}")
    if not args.smoke:
        write(args, rows, checks, memory, torch)


def write(args: Any, rows: list[Any], checks: dict[str, Any], memory: dict[str, Any], torch: Any) -> None:
    m = common.machine(torch)
    source = Path(args.input_file).name if args.input_file else None  # the file's name: no machine path
    cmd = "python bench/zoo.py" + "".join(f" --{k.replace('_', '-')} {v}" for k, v in
                                          (("rounds", args.rounds), ("steps", args.steps), ("input_file", source))
                                          if v)
    lines = ["# The zoo's steps beside PyTorch CPU eager", "",
             f"`{cmd}` at {m['git']['commit']} on {m['cpu']} ({m['cores']} cores), numpy {m['numpy']}, torch "
             f"{m.get('torch')} ({m.get('torch_threads')} threads, BLAS threads {common.THREADS}), Python "
             f"{m['python']}. Load average at the end: {common.loadavg()}.", "",
             "Each recipe as published (float32): the Transformer of makemore (4 layers, 4 heads, n_embd 64, "
             "block 16, batch 32, AdamW), the WaveNet of part 5 (n_embd 24, n_hidden 128, block 8, batch 32, "
             "SGD). One step = forward, loss, zero_grad, backward, update. Same initial weights (gradkit's, "
             "copied) and same minibatches.", "",
             "| model | gradkit ms/step | torch ms/step | gradkit / torch (paired median, min-max) | "
             "other processes (cores) | peak RSS gradkit | peak RSS torch |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for kind, g, t, r, load in rows:
        mg, mt = memory[f"gradkit {kind}"], memory[f"torch {kind}"]
        lines.append(f"| {kind} | {g['median'] * 1e3:.2f} | {t['median'] * 1e3:.2f} | {r['median']:.2f} "
                     f"({r['min']:.2f}-{r['max']:.2f}) | {load} | {mg['peak'] / 2**20:.0f} MiB | "
                     f"{mt.get('peak', 0) / 2**20:.0f} MiB |")
    lines += ["", "Same step, same numbers (one step from the same weights and batch, float32):", ""]
    for kind, c in checks.items():
        lines.append(f"- {kind}: loss gradkit {c['loss_gradkit']:.6f}, torch {c['loss_torch']:.6f}; largest "
                     f"gradient difference {c['max_rel_grad_diff']:.1e} of that gradient's largest entry")
    lines += ["", f"Peak RSS: `VmHWM` of a fresh process per engine and model after {CHILD_STEPS} steps "
              "(imports, data and model included)."]
    (common.BENCH / "ZOO.md").write_text("\n".join(lines) + "\n")
    common.log(f"wrote {common.BENCH / 'ZOO.md'}")


if __name__ == "__main__":
    main()
