"""The course's models, one module per type, and the registry that names them for ``gradkit train --type``.

Each type's module holds its config (a dataclass of ``option`` fields whose defaults are the published
recipe), how the model is built, its optimizer and learning-rate schedule, its data layout and its sampling;
nothing outside this package names a type. Adding one is a new module and one line below.
"""

from __future__ import annotations

from .base import LanguageModel, ModelConfig, StepDecay, Trained, uniform_loss
from .bigram import BigramConfig, NeuralBigram
from .bnmlp import BatchNormMLP, BNMLPConfig
from .bow import BoW, BoWConfig
from .classifier import MLPClassifier, max_margin_loss
from .config import ConfigError
from .counts import CountingBigram, CountsConfig
from .gru import GRUCell, GRUConfig
from .mlp import MLPConfig, MLPLanguageModel
from .rnn import RNN, RNNCell, RNNConfig
from .sampling import iter_samples, sample
from .transformer import Transformer, TransformerConfig
from .wavenet import WaveNet, WaveNetConfig

# --type NAME -> its config class (the help lists them in this order).
TYPES: dict[str, type[ModelConfig]] = {
    "counts": CountsConfig,
    "bigram": BigramConfig,
    "mlp": MLPConfig,
    "bnmlp": BNMLPConfig,
    "wavenet": WaveNetConfig,
    "bow": BoWConfig,
    "rnn": RNNConfig,
    "gru": GRUConfig,
    "transformer": TransformerConfig,
}
DEFAULT_TYPE = "mlp"


def config_of(kind: str) -> type[ModelConfig]:
    """The config class of type ``kind``.

    Raises:
        ConfigError: an unknown type (the message lists the known ones).
    """
    if kind not in TYPES:
        raise ConfigError(f"unknown model type {kind!r}; choose one of: {', '.join(TYPES)}")
    return TYPES[kind]


__all__ = [
    "DEFAULT_TYPE", "RNN", "TYPES", "BNMLPConfig", "BatchNormMLP", "BigramConfig", "BoW", "BoWConfig",
    "GRUCell", "GRUConfig", "RNNCell", "RNNConfig", "Transformer", "TransformerConfig", "ConfigError", "CountingBigram",
    "CountsConfig", "LanguageModel", "MLPClassifier", "MLPConfig", "MLPLanguageModel", "ModelConfig", "NeuralBigram",
    "StepDecay", "Trained", "WaveNet", "WaveNetConfig", "config_of", "iter_samples", "max_margin_loss", "sample",
    "uniform_loss",
]
