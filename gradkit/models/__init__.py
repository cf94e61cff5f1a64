"""The course's models: counting bigram, neural bigram, MLP language model, and micrograd's classifier."""

from __future__ import annotations

from typing import Any

from backends import Generator

from .base import LanguageModel, uniform_loss
from .bigram import NeuralBigram
from .classifier import MLPClassifier, max_margin_loss
from .counts import CountingBigram
from .mlp import MLPLanguageModel
from .sampling import sample

MODEL_TYPES: dict[str, Any] = {"counts": CountingBigram, "bigram": NeuralBigram,
                                               "mlp": MLPLanguageModel}


def build_model(kind: str, config: dict[str, Any], *, generator: Generator, dtype: Any) -> LanguageModel:
    """A new model of ``kind`` (``counts``, ``bigram``, ``mlp``) from its ``config`` (the constructor's
    keyword arguments, ``vocab_size`` included), on ``generator``'s backend.

    Raises:
        ValueError: an unknown kind (the message lists the known ones) or a bad config value.
    """
    if kind not in MODEL_TYPES:
        raise ValueError(f"unknown model type {kind!r}; choose one of: {', '.join(MODEL_TYPES)}")
    if kind == "counts":
        return CountingBigram(**config, backend=generator.backend, dtype="float64")
    return MODEL_TYPES[kind](**config, generator=generator, dtype=dtype)


__all__ = ["MODEL_TYPES", "CountingBigram", "LanguageModel", "MLPClassifier", "MLPLanguageModel", "NeuralBigram",
           "build_model", "max_margin_loss", "sample", "uniform_loss"]
