"""The deeper MLP with BatchNorm of makemore part 3: six Linear layers, each followed by BatchNorm1d (and tanh
but the last)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from gradkit.backends import Generator

from .. import nn
from ..autograd import no_grad
from ..tensor import Tensor
from .base import LanguageModel, StepDecay, check_positive
from .config import option

if TYPE_CHECKING:
    from ..data import Vocab
    from ..diagnostics import UpdateRatios


@dataclasses.dataclass
class BNMLPConfig(StepDecay):
    """deeper MLP with BatchNorm1d after every Linear (makemore part 3)"""

    block_size: int = option(3, "context length: how many previous characters the model reads", low=1)
    n_embd: int = option(10, "embedding size per character", low=1)
    n_hidden: int = option(100, "hidden units per layer", low=1)
    n_layer: int = option(5, "hidden layers (Linear, BatchNorm1d, tanh each)", low=1)
    plot_stats: bool = option(False, "write stats.png (activation and gradient histograms per tanh layer) and "
                              "ud.png (update-to-data ratios per step), makemore part 3's diagnostics", resume=True)
    decay_at: ClassVar[float] = 0.75  # the notebook: lr = 0.1 if i < 150000 else 0.01, of 200,000 steps

    def build(self, vocab_size: int, generator: Generator, dtype: str) -> LanguageModel:
        model = BatchNormMLP(vocab_size, self.block_size, self.n_embd, self.n_hidden, self.n_layer,
                             generator=generator, dtype=dtype)
        model.track(self.plot_stats)
        return model


class BatchNormMLP(LanguageModel):
    """``C[X]`` flattened, then ``n_layer`` x (Linear without bias, BatchNorm1d, tanh), then Linear to
    ``vocab_size`` and a last BatchNorm1d whose gamma starts at 0.1 ("make the last layer less confident").

    Shapes: ``X (B, block_size)`` int -> ``(B, block_size * n_embd)`` -> ``(B, n_hidden)`` ... ->
    ``logits (B, vocab_size)``. Linear weights ~ N(0, 1/fan_in) (gain 1, as the notebook's last run).
    BatchNorm1d is torch's (biased batch variance; the notebook's hand-written one divides by B - 1).
    Source: makemore part 3, "Activations & Gradients, BatchNorm" (Karpathy), the "PyTorch-ifying" section;
    Ioffe & Szegedy 2015.
    """

    _ratios: UpdateRatios | None = None  # the diagnostics, when tracked
    _last: tuple[Tensor, Tensor] | None = None

    def __init__(self, vocab_size: int, block_size: int = 3, n_embd: int = 10, n_hidden: int = 100,
                 n_layer: int = 5, *, generator: Generator, dtype: Any = "float32") -> None:
        check_positive(vocab_size=vocab_size, block_size=block_size, n_embd=n_embd, n_hidden=n_hidden,
                       n_layer=n_layer)
        self.vocab_size, self.block_size = vocab_size, block_size
        be = generator.backend
        self.C = nn.Embedding(vocab_size, n_embd, generator=generator, dtype=dtype)
        self.flatten = nn.Flatten()
        sizes = [block_size * n_embd] + [n_hidden] * n_layer
        layers: list[nn.Module] = []
        for fan_in, fan_out in zip(sizes, sizes[1:]):
            layers += [nn.Linear(fan_in, fan_out, bias=False, generator=generator, gain=1.0, dtype=dtype),
                       nn.BatchNorm1d(fan_out, backend=be, dtype=dtype), nn.Tanh()]
        last_bn = nn.BatchNorm1d(vocab_size, backend=be, dtype=dtype)
        with no_grad():
            last_bn.gamma.mul_(0.1)
        layers += [nn.Linear(n_hidden, vocab_size, bias=False, generator=generator, gain=1.0, dtype=dtype), last_bn]
        self.layers = nn.Sequential(*layers)

    def forward(self, X: Tensor) -> Tensor:
        return self.layers(self.flatten(self.C(X)))

    def track(self, on: bool = True) -> None:
        """Record the diagnostics of makemore part 3 after every step (``after_step``) and draw them with the
        other pictures: ``stats.png`` and ``ud.png``."""
        from ..diagnostics import UpdateRatios

        self._ratios = UpdateRatios(self) if on else None
        self._last = None

    def after_step(self, X: Tensor, Y: Tensor, lr: float) -> None:
        if self._ratios is not None:
            self._ratios.record(lr)
            self._last = (X, Y)

    def pictures(self, workdir: Path, vocab: Vocab) -> list[Path]:
        """With tracking on: ``stats.png`` (each tanh layer's activations and gradients on the last training
        batch) and ``ud.png`` (update-to-data ratios)."""
        from .. import diagnostics, functional

        ratios, last = self._ratios, self._last
        if ratios is None or last is None:
            return []
        X, Y = last
        stats = diagnostics.layer_statistics(self.layers, self.flatten(self.C(X)).detach(),
                                             lambda logits: functional.cross_entropy(logits, Y))
        written = [diagnostics.plot_layer_statistics(stats, workdir / "stats.png"),
                   diagnostics.plot_update_ratios(ratios, workdir / "ud.png")]
        return [p for p in written if p is not None]
