"""A character-level language model trained through a Dataset and a DataLoader, in the style of makemore.py.

Written for PyTorch (``import torch``); the test suite runs it under ``gradkit run`` and under torch and
compares the losses. A context of ``--block-size`` characters predicts the next one (Bengio et al. 2003's MLP,
makemore part 2). ``--work-dir`` saves the trained state_dict there with torch.save (model.pt); ``--sample-only``
reloads it with torch.load and only samples. ``--init``/``--dump-init`` read/write the initial weights as a numpy
.npz, so that two frameworks can start from the same numbers; ``--in-order`` visits the examples in order.

Usage: python char_loop.py -i words.txt [--steps N] [--work-dir DIR] [--sample-only] [--init F.npz]
"""

import argparse
import os

import numpy as np
import torch
import torch.nn as nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset


class CharContexts(Dataset):
    """Every (context, next character) pair of the words; character 0 is the word boundary."""

    def __init__(self, words, chars, block_size):
        self.stoi = {ch: i + 1 for i, ch in enumerate(chars)}
        self.itos = {i: ch for ch, i in self.stoi.items()}
        xs, ys = [], []
        for w in words:
            context = [0] * block_size
            for ix in [self.stoi[ch] for ch in w] + [0]:
                xs.append(context)
                ys.append(ix)
                context = context[1:] + [ix]
        self.x = torch.tensor(xs, dtype=torch.long)
        self.y = torch.tensor(ys, dtype=torch.long)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


class MLP(nn.Module):
    def __init__(self, vocab_size, block_size, n_embd, n_hidden):
        super().__init__()
        self.block_size = block_size
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.hidden = nn.Linear(block_size * n_embd, n_hidden)
        self.out = nn.Linear(n_hidden, vocab_size)

    def forward(self, idx, targets=None):
        emb = self.wte(idx).view(idx.size(0), -1)
        logits = self.out(torch.tanh(self.hidden(emb)))
        loss = None if targets is None else F.cross_entropy(logits, targets)
        return logits, loss


@torch.inference_mode()
def evaluate(model, dataset, device):
    model.eval()
    losses = [model(x.to(device), y.to(device))[1].item() for x, y in DataLoader(dataset, batch_size=500)]
    model.train()
    return torch.tensor(losses).mean().item()


@torch.no_grad()
def sample(model, itos, n, device):
    out = []
    for _ in range(n):
        context, word = torch.zeros((1, model.block_size), dtype=torch.long, device=device), ""
        for _ in range(20):
            logits, _ = model(context)
            ix = torch.multinomial(F.softmax(logits, dim=-1), num_samples=1)
            if ix.item() == 0:
                break
            word += itos[ix.item()]
            context = torch.cat([context[:, 1:], ix], dim=1)
        out.append(word)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("-i", "--input-file", required=True)
    p.add_argument("--work-dir", default=None)
    p.add_argument("--sample-only", action="store_true")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--block-size", type=int, default=3)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--device", default="cpu")
    p.add_argument("--in-order", action="store_true")
    p.add_argument("--init", default=None)
    p.add_argument("--dump-init", default=None)
    args = p.parse_args()
    torch.manual_seed(args.seed)

    with open(args.input_file) as f:
        words = [w.strip() for w in f.read().splitlines() if w.strip()]
    chars = sorted(set("".join(words)))
    n_dev = len(words) // 10
    train, dev = CharContexts(words[n_dev:], chars, args.block_size), CharContexts(words[:n_dev], chars,
                                                                                     args.block_size)
    model = MLP(len(chars) + 1, args.block_size, 10, 64).to(args.device)
    print(f"{len(train)} training examples, {sum(p.numel() for p in model.parameters())} parameters")
    if args.dump_init:
        np.savez(args.dump_init, **{k: np.asarray(v) for k, v in model.state_dict().items()})
        return
    if args.init:
        model.load_state_dict({k: torch.from_numpy(v) for k, v in np.load(args.init).items()})
    path = None if args.work_dir is None else os.path.join(args.work_dir, "model.pt")
    if args.sample_only:
        model.load_state_dict(torch.load(path))
        print(f"dev loss {evaluate(model, dev, args.device):.6f}")
        print("samples:", " ".join(sample(model, train.itos, 10, args.device)))
        return

    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    loader = DataLoader(train, batch_size=args.batch_size, shuffle=not args.in_order, drop_last=True,
                        num_workers=0)
    step = 0
    while step < args.steps:
        for x, y in loader:
            x, y = x.to(args.device), y.to(args.device)
            _, loss = model(x, y)
            model.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            print(f"step {step} loss {loss.item():.6f}")
            step += 1
            if step == args.steps:
                break
    print(f"dev loss {evaluate(model, dev, args.device):.6f}")
    if path is not None:
        os.makedirs(args.work_dir, exist_ok=True)
        torch.save(model.state_dict(), path)
        print(f"saved {path}")


if __name__ == "__main__":
    main()
