"""PyTorch twins of gradkit's model types, with gradkit's attribute names (makemore.py's own transformer names
its tensors otherwise: docs/checkpoints.md gives the renaming), for the torch-marked tests:
``twin(kind, spec, vocab_size)`` is the torch module whose ``state_dict`` a gradkit checkpoint of that
type fills (through ``safetensors.torch.load_file``), and whose forward in eval mode gives gradkit's logits.
Imported by torch-marked tests only (it imports torch)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812


class BatchNorm1d(nn.Module):
    """The course's BatchNorm1d (makemore part 3): ``gamma``, ``beta``, buffers ``running_mean``/``running_var``;
    in eval mode ``(x - running_mean) / sqrt(running_var + eps) * gamma + beta``."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.gamma, self.beta = nn.Parameter(torch.ones(dim)), nn.Parameter(torch.zeros(dim))
        self.register_buffer("running_mean", torch.zeros(dim))
        self.register_buffer("running_var", torch.ones(dim))

    def forward(self, x: Any) -> Any:
        return (x - self.running_mean) / torch.sqrt(self.running_var + self.eps) * self.gamma + self.beta


class FlattenConsecutive(nn.Module):
    """makemore part 5: ``(B, T, C)`` -> ``(B, T // n, C * n)``, squeezed to ``(B, C * n)`` when one is left."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def forward(self, x: Any) -> Any:
        B, T, C = x.shape
        x = x.reshape(B, T // self.n, C * self.n)
        return x.squeeze(1) if x.shape[1] == 1 else x


class Counts(nn.Module):
    def __init__(self, V: int, smoothing: float) -> None:
        super().__init__()
        self.smoothing = smoothing
        self.register_buffer("counts", torch.zeros(V, V))

    def forward(self, X: Any) -> Any:
        smoothed = self.counts + self.smoothing
        return torch.log(smoothed / smoothed.sum(1, keepdim=True))[X[:, -1]]


class Bigram(nn.Module):
    def __init__(self, V: int) -> None:
        super().__init__()
        self.W = nn.Parameter(torch.zeros(V, V))

    def forward(self, X: Any) -> Any:
        return self.W[X[:, -1]]


class MLP(nn.Module):
    def __init__(self, V: int, s: Any) -> None:
        super().__init__()
        self.C = nn.Embedding(V, s.n_embd)
        self.hidden = nn.Linear(s.block_size * s.n_embd, s.n_hidden)
        self.out = nn.Linear(s.n_hidden, V)

    def forward(self, X: Any) -> Any:
        return self.out(torch.tanh(self.hidden(self.C(X).flatten(1))))


class BNMLP(nn.Module):
    def __init__(self, V: int, s: Any) -> None:
        super().__init__()
        self.C = nn.Embedding(V, s.n_embd)
        sizes = [s.block_size * s.n_embd] + [s.n_hidden] * s.n_layer
        layers: list[nn.Module] = []
        for fan_in, fan_out in zip(sizes, sizes[1:]):
            layers += [nn.Linear(fan_in, fan_out, bias=False), BatchNorm1d(fan_out), nn.Tanh()]
        self.layers = nn.Sequential(*layers, nn.Linear(s.n_hidden, V, bias=False), BatchNorm1d(V))

    def forward(self, X: Any) -> Any:
        return self.layers(self.C(X).flatten(1))


class WaveNet(nn.Module):
    def __init__(self, V: int, s: Any) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Embedding(V, s.n_embd)]
        width = s.n_embd
        for _ in range(s.block_size.bit_length() - 1):
            layers += [FlattenConsecutive(2), nn.Linear(2 * width, s.n_hidden, bias=False), BatchNorm1d(s.n_hidden),
                       nn.Tanh()]
            width = s.n_hidden
        self.layers = nn.Sequential(*layers, nn.Linear(s.n_hidden, V))

    def forward(self, X: Any) -> Any:
        return self.layers(X)


class BoW(nn.Module):
    def __init__(self, V: int, s: Any) -> None:
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, s.n_embd), nn.Embedding(s.block_size, s.n_embd)
        self.c_fc, self.c_proj = nn.Linear(s.n_embd, s.n_embd2), nn.Linear(s.n_embd2, s.n_embd)
        self.lm_head = nn.Linear(s.n_embd, V)
        self.register_buffer("average", torch.zeros(s.block_size, s.block_size))

    def forward(self, X: Any) -> Any:
        T = X.shape[1]
        x = self.wte(X) + self.wpe.weight[:T]
        x = x + self.average[:T, :T] @ x
        return self.lm_head(x + self.c_proj(torch.tanh(self.c_fc(x))))


class RNNCell(nn.Module):
    def __init__(self, s: Any) -> None:
        super().__init__()
        self.xh_to_h = nn.Linear(s.n_embd + s.n_embd2, s.n_embd2)

    def forward(self, xt: Any, h: Any) -> Any:
        return torch.tanh(self.xh_to_h(torch.cat([xt, h], 1)))


class GRUCell(nn.Module):
    def __init__(self, s: Any) -> None:
        super().__init__()
        width = s.n_embd + s.n_embd2
        self.xh_to_z, self.xh_to_r = nn.Linear(width, s.n_embd2), nn.Linear(width, s.n_embd2)
        self.xh_to_hbar = nn.Linear(width, s.n_embd2)

    def forward(self, xt: Any, h: Any) -> Any:
        xh = torch.cat([xt, h], 1)
        r = torch.sigmoid(self.xh_to_r(xh))
        hbar = torch.tanh(self.xh_to_hbar(torch.cat([xt, r * h], 1)))
        z = torch.sigmoid(self.xh_to_z(xh))
        return (1 - z) * h + z * hbar


class RNN(nn.Module):
    def __init__(self, V: int, s: Any, cell: type[nn.Module]) -> None:
        super().__init__()
        self.start = nn.Parameter(torch.zeros(1, s.n_embd2))
        self.wte, self.cell, self.lm_head = nn.Embedding(V, s.n_embd), cell(s), nn.Linear(s.n_embd2, V)

    def forward(self, X: Any) -> Any:
        emb, h = self.wte(X), self.start.expand(X.shape[0], -1)
        hiddens = []
        for t in range(X.shape[1]):
            h = self.cell(emb[:, t, :], h)
            hiddens.append(h)
        return self.lm_head(torch.stack(hiddens, 1))


class Attention(nn.Module):
    def __init__(self, s: Any) -> None:
        super().__init__()
        self.n_head = s.n_head
        self.c_attn, self.c_proj = nn.Linear(s.n_embd, 3 * s.n_embd), nn.Linear(s.n_embd, s.n_embd)
        self.register_buffer("mask", torch.zeros(s.block_size, s.block_size))

    def forward(self, x: Any) -> Any:
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        att = q @ k.transpose(-2, -1) * (1.0 / math.sqrt(k.shape[-1])) + self.mask[:T, :T]
        return self.c_proj((F.softmax(att, -1) @ v).transpose(1, 2).reshape(B, T, C))


class Block(nn.Module):
    def __init__(self, s: Any) -> None:
        super().__init__()
        self.ln_1, self.attn, self.ln_2 = nn.LayerNorm(s.n_embd), Attention(s), nn.LayerNorm(s.n_embd)
        self.mlp = nn.ModuleDict({"c_fc": nn.Linear(s.n_embd, 4 * s.n_embd),
                                  "c_proj": nn.Linear(4 * s.n_embd, s.n_embd)})

    def forward(self, x: Any) -> Any:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp.c_proj(F.gelu(self.mlp.c_fc(self.ln_2(x)), approximate="tanh"))


class Transformer(nn.Module):
    def __init__(self, V: int, s: Any) -> None:
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, s.n_embd), nn.Embedding(s.block_size, s.n_embd)
        self.h = nn.ModuleList(Block(s) for _ in range(s.n_layer))
        self.ln_f, self.lm_head = nn.LayerNorm(s.n_embd), nn.Linear(s.n_embd, V, bias=False)

    def forward(self, X: Any) -> Any:
        x = self.wte(X) + self.wpe.weight[: X.shape[1]]
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))


def twin(kind: str, spec: Any, vocab_size: int) -> nn.Module:
    """The torch module of gradkit's type ``kind`` with config ``spec`` (float64, eval mode)."""
    make = {"counts": lambda: Counts(vocab_size, spec.smoothing), "bigram": lambda: Bigram(vocab_size),
            "mlp": lambda: MLP(vocab_size, spec), "bnmlp": lambda: BNMLP(vocab_size, spec),
            "wavenet": lambda: WaveNet(vocab_size, spec), "bow": lambda: BoW(vocab_size, spec),
            "rnn": lambda: RNN(vocab_size, spec, RNNCell), "gru": lambda: RNN(vocab_size, spec, GRUCell),
            "transformer": lambda: Transformer(vocab_size, spec)}
    return make[kind]().double().eval()
