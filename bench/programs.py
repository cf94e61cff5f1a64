"""The course's programs, each written ONCE against PyTorch's API and run on two engines: ``torch`` itself and
``gradkit`` (``import gradkit as torch``). One training step = forward, loss, zero_grad, backward, (clip,)
optimizer step, on a minibatch handed over from the host, as the programs do.

These are gradkit's own equivalents of the programs, not their code: the same layers, sizes, losses and
optimizers (makemore.py's six model types, the GPT lecture's bigram.py and gpt.py, nanoGPT's model.py with its
train.py step), written here as a function of the namespace ``T`` (``torch`` or ``gradkit``). Where gradkit does
not have a name yet, ``standins`` gives one (recorded in the results), so that the same text runs on both.

    python bench/programs.py [--only NAME ...] [--rounds 9] [--quick]   # writes bench/results/programs.json

``bench/run.py --only programs`` runs the same measurement as a section of RESULTS.md.
"""

from __future__ import annotations

import argparse
import math
import types
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


# Stand-ins for names gradkit lacks (recorded in the results; each is used only where the name is missing) ------
def standins(T: Any) -> list[str]:
    """Give the gradkit namespace ``T`` the few torch names these programs use that it does not have yet;
    returns the names filled in. torch has them all."""
    filled: list[str] = []
    Tensor, nn, F = T.Tensor, T.nn, T.nn.functional
    if not hasattr(Tensor, "split"):
        def split(self: Any, size: int, dim: int = 0) -> tuple[Any, ...]:
            n = self.shape[dim]
            lead = (slice(None),) * (dim % self.ndim)
            return tuple(self[(*lead, slice(lo, min(lo + size, n)))] for lo in range(0, n, size))
        Tensor.split = split
        filled.append("Tensor.split")
    if not hasattr(Tensor, "contiguous"):
        Tensor.contiguous = lambda self: self
        filled.append("Tensor.contiguous")
    if not hasattr(nn.Module, "register_buffer"):
        nn.Module.register_buffer = lambda self, name, t, persistent=True: setattr(self, name, t)
        filled.append("Module.register_buffer")
    if not hasattr(nn, "Dropout"):
        class Dropout(nn.Module):  # inverted dropout, torch's semantics, from gradkit's own ops
            def __init__(self, p: float = 0.5) -> None:
                self.p = p

            def forward(self, x: Any) -> Any:
                if not self.training or self.p == 0:
                    return x
                keep = T.rand(*x.shape) >= self.p
                return x * keep.float() * (1.0 / (1.0 - self.p))
        nn.Dropout = Dropout
        filled.append("nn.Dropout")
    if not hasattr(nn, "utils"):
        def clip_grad_norm_(params: Any, max_norm: float) -> Any:
            grads = [p.grad for p in params if p.grad is not None]
            total = T.sqrt(T.stack([(g * g).sum() for g in grads]).sum())
            coef = T.clamp(max_norm / (total + 1e-6), max=1.0)
            for g in grads:
                g.mul_(coef)
            return total
        nn.utils = types.SimpleNamespace(clip_grad_norm_=clip_grad_norm_)
        filled.append("nn.utils.clip_grad_norm_")
    if not hasattr(T, "from_numpy"):
        T.from_numpy = lambda a: T.tensor(a)
        filled.append("from_numpy")
    del F
    return filled


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


def verify(torch: Any, gk: Any, name: str) -> dict[str, float]:
    """One step of both engines from the same weights and minibatch (dropout off): the loss difference and the
    largest gradient difference relative to that gradient's largest entry (float32)."""
    r = replace(RECIPES[name], dropout=0.0)
    g = Engine("gradkit", r, gk)
    t = Engine("torch", r, torch, init=weights(g.model))
    ix = g.rng.integers(0, g.X.shape[0], r.batch)
    Xb, Yb = g.X[ix], g.Y[ix]
    loss_g = float(g.step(gk.from_numpy(Xb), gk.from_numpy(Yb)).item())
    loss_t = float(t.step(torch.from_numpy(Xb), torch.from_numpy(Yb)).item())
    worst = max(float(np.abs(pg.grad.numpy() - pt.grad.numpy()).max() / (np.abs(pt.grad.numpy()).max() + 1e-30))
                for pg, pt in zip(g.model.parameters(), t.model.parameters()) if pt.grad is not None)
    return {"loss_gradkit": loss_g, "loss_torch": loss_t, "max_rel_grad_diff": worst}


def measure(torch: Any, gk: Any, name: str, rounds: int, steps: int, attempts: int = 3,
            contended: float = 0.3, max_wait: float = 10.0) -> dict[str, Any]:
    """gradkit eager, gradkit compiled and torch eager on one recipe, side by side (``common.interleave``); a row
    disturbed by more than ``contended`` cores of other processes is measured again (at most ``attempts``
    times, after waiting for a quiet moment), the least disturbed attempt kept."""
    r = RECIPES[name]
    best: dict[str, Any] | None = None
    for attempt in range(1, attempts + 1):
        quiet = common.wait_quiet(max_wait=max_wait)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            contenders = {"gradkit": Engine("gradkit", r, gk, seed=1), "compiled": Engine("compiled", r, gk, seed=1),
                          "torch": Engine("torch", r, torch, seed=1)}
            load_before, meter = common.loadavg(), common.CpuMeter()
            samples = common.interleave(contenders, rounds=rounds, steps=steps, warmup=3)
        row = {"program": name, "rounds": rounds, "steps_per_round": steps, "attempt": attempt, "quiet_wait": quiet,
               "loadavg_before": load_before, "loadavg_after": common.loadavg(),
               "foreign_cores": meter.foreign_cores(),
               "ms_per_step": {n: common.summary([x * 1e3 for x in s]) for n, s in samples.items()},
               "samples_ms": {n: [round(x * 1e3, 4) for x in s] for n, s in samples.items()},
               "eager_over_torch": common.paired_ratio(samples["gradkit"], samples["torch"]),
               "compiled_over_torch": common.paired_ratio(samples["compiled"], samples["torch"]),
               "compile_warnings": sorted({str(w.message).splitlines()[0] for w in caught})}
        if best is None or row["foreign_cores"] < best["foreign_cores"]:
            best = row
        common.log(f"{name}: eager/torch {row['eager_over_torch']['median']:.2f}, compiled/torch "
                   f"{row['compiled_over_torch']['median']:.2f} (other processes {row['foreign_cores']} cores, "
                   f"attempt {attempt})")
        if row["foreign_cores"] <= contended:
            break
    assert best is not None
    return best


PLAN = {"full": (9, 10), "quick": (2, 1)}  # rounds, steps per round (per contender)


def section(torch: Any, mode: str, only: list[str] | None = None) -> dict[str, Any]:
    """Every recipe (or ``only``): checks, then timings; what ``bench/run.py``'s programs section records."""
    import gradkit

    filled = standins(gradkit)
    rounds, steps = PLAN["quick" if mode == "quick" else "full"]
    out: dict[str, Any] = {"standins": filled, "recipes": {}, "checks": {}, "rows": []}
    for name in only or list(RECIPES):
        r = RECIPES[name]
        out["recipes"][name] = {"program": r.program, "note": r.note, "batch": r.batch,
                                "block": r.block or "makemore's", "n_layer": r.n_layer, "n_head": r.n_head,
                                "n_embd": r.n_embd, "dropout": r.dropout}
        out["checks"][name] = verify(torch, gradkit, name)
        out["rows"].append(measure(torch, gradkit, name, rounds, steps, attempts=1 if mode == "quick" else 3,
                                   max_wait=2.0 if mode == "quick" else 10.0))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=list(RECIPES))
    parser.add_argument("--quick", action="store_true", help="a smoke test: 2 rounds of 1 step")
    args = parser.parse_args()
    torch, why = common.load_torch()
    if torch is None:
        raise SystemExit(why)
    result = section(torch, "quick" if args.quick else "full", args.only)
    path = common.write_json("programs.json", result)
    for row in result["rows"]:
        t = row["ms_per_step"]
        print(f"{row['program']:22s} gradkit {t['gradkit']['median']:7.2f}  compiled {t['compiled']['median']:7.2f}  "
              f"torch {t['torch']['median']:7.2f} ms   eager/torch {row['eager_over_torch']['median']:.2f}  "
              f"compiled/torch {row['compiled_over_torch']['median']:.2f}  load {row['foreign_cores']}")
    common.log(f"wrote {path}")


if __name__ == "__main__":
    main()
