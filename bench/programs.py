"""The course's programs, each written ONCE against PyTorch's API and run on two engines: ``torch`` itself and
``gradkit`` (``import gradkit as torch``), eager, and gradkit's step under ``gradkit.compile`` as a third column.
One training step = forward, loss, zero_grad, backward, (clip,) optimizer step, on a minibatch handed over from the
host, as the programs do.

These are gradkit's own equivalents of the programs, not their code: the same layers, sizes, losses and optimizers
(makemore.py's six model types, the GPT lecture's bigram.py and gpt.py, nanoGPT's model.py with its train.py step,
``RECIPES``), written here as functions of the namespace ``T`` (``torch`` or ``gradkit``), so both engines run the
same text. Before timing, one step from the same weights and minibatch (dropout off) is compared: the losses and
every gradient.

    python bench/programs.py [--only NAME ...] [--rounds 9] [--steps 10] [--quick | --smoke]

writes ``bench/results/programs.json`` (not with ``--smoke``); ``bench/run.py`` runs the same measurement as its
``programs`` section of RESULTS.md.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import common  # thread settings before numpy
import numpy as np  # noqa: E402

SEED = 1337


@dataclass(frozen=True)
class Recipe:
    """A program's sizes and optimizer (the published values unless ``note`` says otherwise)."""

    program: str  # what it is the equivalent of
    kind: str  # the model: transformer, mlp, bigram, rnn, gru, bow, lecture_bigram, lecture_gpt, nanogpt
    data: str  # "names" (makemore's padded words, targets -1 after the end) or "chars" (65 symbols, random)
    batch: int
    block: int = 0  # 0: makemore's (the longest name + 1)
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 64
    n_embd2: int = 64
    dropout: float = 0.0
    bias: bool = True
    lr: float = 5e-4
    betas: tuple[float, float] = (0.9, 0.99)
    weight_decay: float = 0.01
    decay_groups: bool = False  # nanoGPT: weight decay on 2-D parameters only
    grad_clip: float = 0.0
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


_MAKEMORE = dict(data="names", batch=32, lr=5e-4, betas=(0.9, 0.99), weight_decay=0.01)
RECIPES: dict[str, Recipe] = {
    "makemore-transformer": Recipe("makemore.py --type transformer --n-layer 2", "transformer", n_layer=2,
                                   **_MAKEMORE),  # type: ignore[arg-type]
    "makemore-mlp": Recipe("makemore.py --type mlp", "mlp", **_MAKEMORE),  # type: ignore[arg-type]
    "makemore-bigram": Recipe("makemore.py --type bigram", "bigram", **_MAKEMORE),  # type: ignore[arg-type]
    "makemore-rnn": Recipe("makemore.py --type rnn", "rnn", **_MAKEMORE),  # type: ignore[arg-type]
    "makemore-gru": Recipe("makemore.py --type gru", "gru", **_MAKEMORE),  # type: ignore[arg-type]
    "makemore-bow": Recipe("makemore.py --type bow", "bow", **_MAKEMORE),  # type: ignore[arg-type]
    "lecture-bigram": Recipe("ng-video-lecture bigram.py", "lecture_bigram", "chars", batch=32, block=8, lr=1e-2,
                             betas=(0.9, 0.999), weight_decay=0.01),
    "lecture-gpt": Recipe("ng-video-lecture gpt.py at a CPU size", "lecture_gpt", "chars", batch=16, block=32,
                          n_layer=4, n_head=4, n_embd=64, dropout=0.2, lr=3e-4, betas=(0.9, 0.999),
                          weight_decay=0.01,
                          note="the lecture's layers, loss and optimizer at batch 16, block 32, n_embd 64, 4 heads, "
                               "4 layers (its GPU size, batch 64, block 256, n_embd 384, 6 layers, is ~100x the work)"),
    "nanogpt": Recipe("nanoGPT model.py + train.py step, README's CPU recipe", "nanogpt", "chars", batch=12, block=64,
                      n_layer=4, n_head=4, n_embd=128, dropout=0.0, bias=False, lr=1e-3, betas=(0.9, 0.99),
                      weight_decay=0.1, decay_groups=True, grad_clip=1.0,
                      note="--block_size=64 --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128 --dropout=0.0 "
                           "(train.py's defaults otherwise: bias False, AdamW betas (0.9, 0.99), weight decay 0.1 "
                           "on 2-D weights, grad clip 1.0)"),
}


# The programs, written once against T ---------------------------------------------------------------------
def build(T: Any, r: Recipe, vocab: int, block: int) -> Any:
    """The model of recipe ``r`` on namespace ``T`` (``torch`` or ``gradkit``): ``model(idx)`` -> logits
    ``(B, T, vocab)``."""
    nn, F = T.nn, T.nn.functional

    class SelfAttention(nn.Module):  # makemore's and nanoGPT's: one c_attn, heads by reshaping, one c_proj
        def __init__(self) -> None:
            super().__init__()
            self.c_attn = nn.Linear(r.n_embd, 3 * r.n_embd, bias=r.bias)
            self.c_proj = nn.Linear(r.n_embd, r.n_embd, bias=r.bias)
            self.drop = nn.Dropout(r.dropout)
            self.flash = r.kind == "nanogpt" and hasattr(F, "scaled_dot_product_attention")
            if not self.flash:
                self.register_buffer("bias", T.tril(T.ones(block, block)).view(1, 1, block, block))

        def forward(self, x: Any) -> Any:
            B, L, C = x.size()
            q, k, v = self.c_attn(x).split(r.n_embd, dim=2)
            q, k, v = (t.view(B, L, r.n_head, C // r.n_head).transpose(1, 2) for t in (q, k, v))
            if self.flash:
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=r.dropout if self.training
                                                   else 0.0, is_causal=True)
            else:
                att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
                att = att.masked_fill(self.bias[:, :, :L, :L] == 0, float("-inf"))
                y = self.drop(F.softmax(att, dim=-1)) @ v
            return self.drop(self.c_proj(y.transpose(1, 2).contiguous().view(B, L, C)))

    class TanhGELU(nn.Module):  # makemore's NewGELU, as written there (not fused)
        def forward(self, x: Any) -> Any:
            return 0.5 * x * (1.0 + T.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * T.pow(x, 3.0))))

    class GPTBlock(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            nano = r.kind == "nanogpt"
            self.ln_1 = nn.LayerNorm(r.n_embd, bias=r.bias) if nano else nn.LayerNorm(r.n_embd)
            self.attn = SelfAttention()
            self.ln_2 = nn.LayerNorm(r.n_embd, bias=r.bias) if nano else nn.LayerNorm(r.n_embd)
            self.c_fc = nn.Linear(r.n_embd, 4 * r.n_embd, bias=r.bias)
            self.act = nn.GELU() if nano else TanhGELU()
            self.c_proj = nn.Linear(4 * r.n_embd, r.n_embd, bias=r.bias)
            self.drop = nn.Dropout(r.dropout)

        def forward(self, x: Any) -> Any:
            x = x + self.attn(self.ln_1(x))
            return x + self.drop(self.c_proj(self.act(self.c_fc(self.ln_2(x)))))

    class GPT(nn.Module):  # makemore's Transformer and nanoGPT's GPT (tied weights, dropout, no biases)
        def __init__(self) -> None:
            super().__init__()
            self.wte = nn.Embedding(vocab, r.n_embd)
            self.wpe = nn.Embedding(block, r.n_embd)
            self.drop = nn.Dropout(r.dropout)
            self.h = nn.ModuleList([GPTBlock() for _ in range(r.n_layer)])
            nano = r.kind == "nanogpt"
            self.ln_f = nn.LayerNorm(r.n_embd, bias=r.bias) if nano else nn.LayerNorm(r.n_embd)
            self.lm_head = nn.Linear(r.n_embd, vocab, bias=False)
            if nano:
                self.wte.weight = self.lm_head.weight  # nanoGPT's weight tying

        def forward(self, idx: Any) -> Any:
            pos = T.arange(0, idx.size(1), dtype=T.long)
            x = self.drop(self.wte(idx) + self.wpe(pos))
            for blk in self.h:
                x = blk(x)
            return self.lm_head(self.ln_f(x))

    class Bigram(nn.Module):  # makemore's: a table of logits
        def __init__(self) -> None:
            super().__init__()
            self.logits = nn.Parameter(T.zeros((vocab, vocab)))

        def forward(self, idx: Any) -> Any:
            return self.logits[idx]

    class MLP(nn.Module):  # makemore's: the block_size previous tokens (a blank before the start), concatenated
        def __init__(self) -> None:
            super().__init__()
            self.wte = nn.Embedding(vocab + 1, r.n_embd)
            self.mlp = nn.Sequential(nn.Linear(block * r.n_embd, r.n_embd2), nn.Tanh(),
                                     nn.Linear(r.n_embd2, vocab))

        def forward(self, idx: Any) -> Any:
            embs = []
            for _ in range(block):
                embs.append(self.wte(idx))
                blank = T.full((idx.size(0), 1), vocab, dtype=T.long)
                idx = T.cat([blank, idx[:, :-1]], dim=1)  # shifted right by one
            return self.mlp(T.cat(embs, -1))

    class RNNCell(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.xh_to_h = nn.Linear(r.n_embd + r.n_embd2, r.n_embd2)

        def forward(self, xt: Any, hprev: Any) -> Any:
            return F.tanh(self.xh_to_h(T.cat([xt, hprev], dim=1)))

    class GRUCell(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.xh_to_z = nn.Linear(r.n_embd + r.n_embd2, r.n_embd2)
            self.xh_to_r = nn.Linear(r.n_embd + r.n_embd2, r.n_embd2)
            self.xh_to_hbar = nn.Linear(r.n_embd + r.n_embd2, r.n_embd2)

        def forward(self, xt: Any, hprev: Any) -> Any:
            xh = T.cat([xt, hprev], dim=1)
            reset = F.sigmoid(self.xh_to_r(xh))
            hbar = F.tanh(self.xh_to_hbar(T.cat([xt, reset * hprev], dim=1)))
            z = F.sigmoid(self.xh_to_z(xh))
            return (1 - z) * hprev + z * hbar

    class RNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.start = nn.Parameter(T.zeros((1, r.n_embd2)))
            self.wte = nn.Embedding(vocab, r.n_embd)
            self.cell = RNNCell() if r.kind == "rnn" else GRUCell()
            self.lm_head = nn.Linear(r.n_embd2, vocab)

        def forward(self, idx: Any) -> Any:
            emb = self.wte(idx)
            h = self.start.expand((idx.size(0), -1))
            hiddens = []
            for i in range(idx.size(1)):
                h = self.cell(emb[:, i, :], h)
                hiddens.append(h)
            return self.lm_head(T.stack(hiddens, 1))

    class BoW(nn.Module):  # makemore's: a causal average of the past, then an MLP, both residual
        def __init__(self) -> None:
            super().__init__()
            self.wte = nn.Embedding(vocab, r.n_embd)
            self.wpe = nn.Embedding(block, r.n_embd)
            self.register_buffer("bias", T.tril(T.ones(block, block)).view(1, block, block))
            self.c_fc = nn.Linear(r.n_embd, r.n_embd2)
            self.c_proj = nn.Linear(r.n_embd2, r.n_embd)
            self.lm_head = nn.Linear(r.n_embd, vocab)

        def forward(self, idx: Any) -> Any:
            B, L = idx.size()
            x = self.wte(idx) + self.wpe(T.arange(0, L, dtype=T.long).unsqueeze(0))
            att = T.zeros((B, L, L)).masked_fill(self.bias[:, :L, :L] == 0, float("-inf"))
            x = x + F.softmax(att, dim=-1) @ x
            x = x + self.c_proj(F.tanh(self.c_fc(x)))
            return self.lm_head(x)

    class LectureBigram(nn.Module):  # bigram.py: an embedding table of logits
        def __init__(self) -> None:
            super().__init__()
            self.token_embedding_table = nn.Embedding(vocab, vocab)

        def forward(self, idx: Any) -> Any:
            return self.token_embedding_table(idx)

    class Head(nn.Module):  # gpt.py: one head with its own key, query, value projections
        def __init__(self, size: int) -> None:
            super().__init__()
            self.key = nn.Linear(r.n_embd, size, bias=False)
            self.query = nn.Linear(r.n_embd, size, bias=False)
            self.value = nn.Linear(r.n_embd, size, bias=False)
            self.register_buffer("tril", T.tril(T.ones(block, block)))
            self.dropout = nn.Dropout(r.dropout)

        def forward(self, x: Any) -> Any:
            B, L, C = x.shape
            k, q = self.key(x), self.query(x)
            wei = q @ k.transpose(-2, -1) * k.shape[-1] ** -0.5
            wei = F.softmax(wei.masked_fill(self.tril[:L, :L] == 0, float("-inf")), dim=-1)
            return self.dropout(wei) @ self.value(x)

    class LectureBlock(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            size = r.n_embd // r.n_head
            self.heads = nn.ModuleList([Head(size) for _ in range(r.n_head)])
            self.proj = nn.Linear(size * r.n_head, r.n_embd)
            self.drop1 = nn.Dropout(r.dropout)
            self.ffwd = nn.Sequential(nn.Linear(r.n_embd, 4 * r.n_embd), nn.ReLU(), nn.Linear(4 * r.n_embd, r.n_embd),
                                      nn.Dropout(r.dropout))
            self.ln1, self.ln2 = nn.LayerNorm(r.n_embd), nn.LayerNorm(r.n_embd)

        def forward(self, x: Any) -> Any:
            y = self.ln1(x)
            x = x + self.drop1(self.proj(T.cat([h(y) for h in self.heads], dim=-1)))
            return x + self.ffwd(self.ln2(x))

    class LectureGPT(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.token_embedding_table = nn.Embedding(vocab, r.n_embd)
            self.position_embedding_table = nn.Embedding(block, r.n_embd)
            self.blocks = nn.Sequential(*[LectureBlock() for _ in range(r.n_layer)])
            self.ln_f = nn.LayerNorm(r.n_embd)
            self.lm_head = nn.Linear(r.n_embd, vocab)

        def forward(self, idx: Any) -> Any:
            x = self.token_embedding_table(idx) + self.position_embedding_table(T.arange(idx.size(1)))
            return self.lm_head(self.ln_f(self.blocks(x)))

    kinds: dict[str, Callable[[], Any]] = {
        "transformer": GPT, "nanogpt": GPT, "bigram": Bigram, "mlp": MLP, "rnn": RNN, "gru": RNN, "bow": BoW,
        "lecture_bigram": LectureBigram, "lecture_gpt": LectureGPT}
    return kinds[r.kind]()


def optimizer(T: Any, model: Any, r: Recipe) -> Any:
    """AdamW as the program makes it (nanoGPT: decay on the 2-D weights only, as its configure_optimizers)."""
    params = list(model.parameters())
    if r.decay_groups:
        groups: Any = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": r.weight_decay},
                       {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
        return T.optim.AdamW(groups, lr=r.lr, betas=r.betas)
    return T.optim.AdamW(params, lr=r.lr, betas=r.betas, eps=1e-8, weight_decay=r.weight_decay)


def make_step(T: Any, model: Any, opt: Any, r: Recipe, vocab: int) -> Callable[[Any, Any], Any]:
    """The program's training step on minibatch tensors ``(X, Y)``: returns the loss tensor."""
    F = T.nn.functional

    def step(X: Any, Y: Any) -> Any:
        logits = model(X)
        loss = F.cross_entropy(logits.view(-1, vocab), Y.view(-1), ignore_index=-1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if r.grad_clip:
            T.nn.utils.clip_grad_norm_(model.parameters(), r.grad_clip)
        opt.step()
        return loss

    return step


# Data ----------------------------------------------------------------------------------------------------
def dataset(r: Recipe) -> tuple[np.ndarray, np.ndarray, int, int]:
    """``(X, Y, vocab, block)`` as int64 host arrays of rows. names: makemore's CharDataset (a word's characters
    after a 0, targets shifted, -1 past the end); chars: a seeded random text of 65 symbols cut in windows (the
    step's cost does not depend on which characters they are)."""
    if r.data == "names":
        from gradkit.data import load_words

        words = load_words()
        chars = sorted(set("".join(words)))
        stoi = {c: i + 1 for i, c in enumerate(chars)}
        block = max(len(w) for w in words) + 1
        X = np.zeros((len(words), block), np.int64)
        Y = np.full((len(words), block), -1, np.int64)
        for i, w in enumerate(words):
            ix = [stoi[c] for c in w]
            X[i, 1:len(ix) + 1] = ix
            Y[i, :len(ix)] = ix
            Y[i, len(ix)] = 0
        return X, Y, len(chars) + 1, block
    text = np.random.default_rng(SEED).integers(0, 65, 200_000)
    starts = np.arange(0, len(text) - r.block - 1, r.block)
    X = np.stack([text[s:s + r.block] for s in starts])
    Y = np.stack([text[s + 1:s + r.block + 1] for s in starts])
    return X, Y, 65, r.block


class Engine:
    """One engine's training loop for a recipe: ``engine(k)`` runs k steps on seeded random minibatches.

    ``name``: ``torch``, ``gradkit`` (eager) or ``compiled`` (the same step under ``gradkit.compile``)."""

    def __init__(self, name: str, r: Recipe, T: Any, seed: int = 0, init: list[np.ndarray] | None = None
                 ) -> None:
        self.name, self.T, self.recipe = name, T, r
        self.X, self.Y, self.vocab, self.block = dataset(r)
        T.manual_seed(SEED)
        self.model = build(T, r, self.vocab, self.block)
        if init is not None:
            load(T, self.model, init)
        self.opt = optimizer(T, self.model, r)
        step = make_step(T, self.model, self.opt, r, self.vocab)
        self.step = T.compile(step) if name == "compiled" else step
        self.rng = np.random.default_rng(seed)

    def batch(self) -> tuple[Any, Any]:
        ix = self.rng.integers(0, self.X.shape[0], self.recipe.batch)
        return self.T.from_numpy(self.X[ix]), self.T.from_numpy(self.Y[ix])

    def __call__(self, k: int) -> None:
        for _ in range(k):
            self.step(*self.batch())


def weights(model: Any) -> list[np.ndarray]:
    """The parameters as host arrays, in the order of definition (tied weights once; the two engines name a
    Sequential's children differently, so the order, not the name, pairs them)."""
    return [p.detach().numpy().copy() for p in model.parameters()]


def load(T: Any, model: Any, init: list[np.ndarray]) -> None:
    params = list(model.parameters())
    assert [p.shape for p in init] == [tuple(p.shape) for p in params], "the engines' parameters differ"
    with T.no_grad():
        for p, value in zip(params, init):
            p.copy_(T.from_numpy(value.copy()))


def verify(torch: Any, gk: Any, r: Recipe) -> dict[str, float]:
    """One step of both engines from the same weights and minibatch (dropout off): the loss difference and the
    largest gradient difference relative to that gradient's largest entry (float32)."""
    r = replace(r, dropout=0.0)
    g = Engine("gradkit", r, gk)
    t = Engine("torch", r, torch, init=weights(g.model))
    ix = g.rng.integers(0, g.X.shape[0], r.batch)
    Xb, Yb = g.X[ix], g.Y[ix]
    loss_g = float(g.step(gk.from_numpy(Xb), gk.from_numpy(Yb)).item())
    loss_t = float(t.step(torch.from_numpy(Xb), torch.from_numpy(Yb)).item())
    worst = max(float(np.abs(pg.grad.numpy() - pt.grad.numpy()).max() / (np.abs(pt.grad.numpy()).max() + 1e-30))
                for pg, pt in zip(g.model.parameters(), t.model.parameters()) if pt.grad is not None)
    return {"loss_gradkit": loss_g, "loss_torch": loss_t, "max_rel_grad_diff": worst}


# mode: (rounds, steps per round, attempts at a row disturbed by other processes, seconds to wait for quiet)
PLAN = {"full": (9, 10, 3, 10.0), "targets": (7, 6, 2, 5.0), "quick": (2, 1, 1, 2.0), "smoke": (1, 1, 1, 0.0)}
CONTENDED = 0.3  # cores taken by other processes above which a row is measured again
BUDGET = 420.0  # seconds of the section after which no row is measured again and no quiet moment awaited
_START: list[float] = []


def tiny(r: Recipe) -> Recipe:
    """The recipe at toy sizes (``--smoke``: that the bench runs, in seconds)."""
    return replace(r, batch=2, n_layer=1, n_head=2, n_embd=8, n_embd2=8, block=min(r.block, 8) if r.block else 0)


def measure(torch: Any, gk: Any, name: str, r: Recipe, mode: str) -> dict[str, Any]:
    """gradkit eager, gradkit compiled and (when ``torch``) torch eager on one recipe, side by side
    (``common.interleave``: the order rotates every round); a row disturbed by more than ``CONTENDED`` cores of
    other processes is measured again after waiting for a quiet moment, the least disturbed attempt kept."""
    rounds, steps, attempts, wait = PLAN[mode]
    best: dict[str, Any] | None = None
    for attempt in range(1, attempts + 1):
        late = time.perf_counter() - (_START or [time.perf_counter()])[0] > BUDGET
        quiet = common.wait_quiet(max_wait=wait) if wait and not late else {"waited_s": 0.0, "foreign_cores": None}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            contenders: dict[str, Any] = {"gradkit": Engine("gradkit", r, gk, seed=1),
                                          "compiled": Engine("compiled", r, gk, seed=1)}
            if torch is not None:
                contenders["torch"] = Engine("torch", r, torch, seed=1)
            load_before, meter = common.loadavg(), common.CpuMeter()
            samples = common.interleave(contenders, rounds=rounds, steps=steps, warmup=3 if mode != "smoke" else 2)
        row: dict[str, Any] = {
            "program": name, "rounds": rounds, "steps_per_round": steps, "attempt": attempt, "quiet_wait": quiet,
            "loadavg_before": load_before, "loadavg_after": common.loadavg(), "foreign_cores": meter.foreign_cores(),
            "ms_per_step": {n: common.summary([x * 1e3 for x in v]) for n, v in samples.items()},
            "samples_ms": {n: [round(x * 1e3, 4) for x in v] for n, v in samples.items()},
            "compile_warnings": sorted({str(w.message).splitlines()[0] for w in caught})}
        row["compiled_over_eager"] = common.paired_ratio(samples["compiled"], samples["gradkit"])
        if torch is not None:
            row["eager_over_torch"] = common.paired_ratio(samples["gradkit"], samples["torch"])
            row["compiled_over_torch"] = common.paired_ratio(samples["compiled"], samples["torch"])
        if best is None or row["foreign_cores"] < best["foreign_cores"]:
            best = row
        vs = (f"gradkit/torch eager {row['eager_over_torch']['median']:.2f}, compiled "
              f"{row['compiled_over_torch']['median']:.2f}") if torch is not None else "gradkit only"
        common.log(f"{name}: {vs} (other processes {row['foreign_cores']} cores, attempt {attempt})")
        if row["foreign_cores"] <= CONTENDED or late:
            break
    assert best is not None
    return best


def section(torch: Any, mode: str, only: list[str] | None = None) -> dict[str, Any]:
    """Every recipe (or ``only``): the check, then the timings; what ``bench/run.py``'s programs section
    records. ``torch`` None: gradkit's columns only."""
    import gradkit

    _START[:] = [time.perf_counter()]
    out: dict[str, Any] = {"mode": mode, "recipes": {}, "checks": {}, "rows": []}
    for name in only or list(RECIPES):
        r = tiny(RECIPES[name]) if mode == "smoke" else RECIPES[name]
        out["recipes"][name] = {"program": r.program, "note": r.note, "batch": r.batch,
                                "block": r.block or "makemore's", "n_layer": r.n_layer, "n_head": r.n_head,
                                "n_embd": r.n_embd, "dropout": r.dropout}
        if torch is not None:
            out["checks"][name] = verify(torch, gradkit, r)
        out["rows"].append(measure(torch, gradkit, name, r, mode))
    return out


def targets(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """``(target, limit, measured, met?)``: each program's eager step at or under PyTorch eager's."""
    rows = []
    for row in result.get("rows", []):
        if "eager_over_torch" in row:
            v = row["eager_over_torch"]["median"]
            rows.append((f"{RECIPES[row['program']].program}: gradkit eager / PyTorch eager", "<= 1.0", f"{v:.2f}",
                         "yes" if v <= 1.0 else "**no**"))
    return rows


def _ms(x: float) -> str:
    return f"{x:.3f}" if x < 1 else f"{x:.2f}" if x < 100 else f"{x:.0f}"


def _ratio(r: dict[str, float] | None) -> str:
    return "-" if r is None else f"{r['median']:.2f} ({r['min']:.2f}-{r['max']:.2f})"


def markdown(result: dict[str, Any]) -> list[str]:
    """The section of RESULTS.md: the recipes, the table, the checks."""
    L = ["## The course's programs: gradkit eager and compiled against PyTorch eager (ms per step)", "",
         "Each program written once against PyTorch's API (`bench/programs.py`) and run on both engines, float32, "
         "2 threads; one step = forward, cross-entropy, zero_grad, backward, (clip,) AdamW. `compiled` is the same "
         "step under `gradkit.compile` (none of the programs asks for it). Recipes:", ""]
    for name, rec in result["recipes"].items():
        note = f" ({rec['note']})" if rec["note"] else ""
        L.append(f"- `{name}`: {rec['program']}{note}; batch {rec['batch']}, block {rec['block']}, "
                 f"{rec['n_layer']} layers, {rec['n_head']} heads, n_embd {rec['n_embd']}, dropout {rec['dropout']}")
    L += ["", "| program | gradkit eager | gradkit compiled | PyTorch eager | eager / PyTorch | compiled / PyTorch | "
          "rounds x steps | load before -> after | other processes (cores) |",
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in result["rows"]:
        t = row["ms_per_step"]
        torch_ms = _ms(t["torch"]["median"]) if "torch" in t else "-"
        marked = f"{row['foreign_cores']}" + (" (contended)" if row["foreign_cores"] > CONTENDED else "")
        if row["attempt"] > 1:
            marked += f", attempt {row['attempt']}"
        before, after = (row[k][0] if row[k] else "-" for k in ("loadavg_before", "loadavg_after"))
        L.append(f"| {row['program']} | {_ms(t['gradkit']['median'])} | {_ms(t['compiled']['median'])} | {torch_ms} | "
                 f"{_ratio(row.get('eager_over_torch'))} | {_ratio(row.get('compiled_over_torch'))} | "
                 f"{row['rounds']} x {row['steps_per_round']} | {before} -> {after} | {marked} |")
    warned = {row["program"]: row["compile_warnings"] for row in result["rows"] if row["compile_warnings"]}
    if warned:
        L += ["", "Compiled steps that ran eagerly (gradkit.compile's warning):", ""]
        L += [f"- `{name}`: {'; '.join(w)}" for name, w in warned.items()]
    if result["checks"]:
        L += ["", "Same step, same numbers (one step from the same weights and minibatch, dropout off, float32):", ""]
        for name, c in result["checks"].items():
            L.append(f"- `{name}`: loss gradkit {c['loss_gradkit']:.6f}, PyTorch {c['loss_torch']:.6f}; largest "
                     f"gradient difference {c['max_rel_grad_diff']:.1e} of that gradient's largest entry")
    return L + [""]


def pyperf_samples(result: dict[str, Any]) -> tuple[dict[str, list[float]], dict[str, int]]:
    """The per-round samples in seconds per step, named ``programs-NAME-CONTENDER``."""
    samples, steps = {}, {}
    for row in result.get("rows", []):
        for contender, values in row["samples_ms"].items():
            key = f"programs-{row['program']}-{contender}"
            samples[key], steps[key] = [v / 1e3 for v in values], row["steps_per_round"]
    return samples, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=list(RECIPES))
    parser.add_argument("--quick", action="store_true", help="2 rounds of 1 step: a rough look")
    parser.add_argument("--smoke", action="store_true", help="toy sizes, one step each: the test suite's check")
    args = parser.parse_args()
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    torch, why = common.load_torch()
    if torch is None:
        common.log(why)
    result = section(torch, mode, args.only)
    print("\n".join(markdown(result)))
    if mode != "smoke":
        common.write_json("programs.json", result)
        common.write_pyperf("programs-pyperf.json", *pyperf_samples(result))
        common.log("wrote bench/results/programs.json and programs-pyperf.json")


if __name__ == "__main__":
    main()
