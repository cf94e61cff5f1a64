"""The model registry: every type's config is the one home of its recipe, flags, schedule and checkpoint;
the training loop, the command line and the work directory name no type, and a new type is one module plus
one registry line (docs/models.md's example, run here)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

import gradkit
from gradkit import ops
from gradkit.cli import build_parser, main
from gradkit.models import TYPES, LanguageModel, Trained
from gradkit.models.config import flag, meta, options
from gradkit.nn import Parameter
from gradkit.train import TrainConfig


# docs/models.md's smallest example of a new type (gradkit/models/unigram.py).
@dataclasses.dataclass
class UnigramConfig(Trained):
    """unigram: one learned distribution over characters, whatever came before"""

    learning_rate: float = 1.0

    def build(self, vocab_size, generator, dtype):
        return Unigram(vocab_size, generator=generator, dtype=dtype)


class Unigram(LanguageModel):
    """``logits (B, V)``: the same learned row for every context ``X (B, 1)``."""

    def __init__(self, vocab_size, *, generator, dtype):
        self.vocab_size, self.block_size = vocab_size, 1
        self.W = Parameter.of(generator.normal(0.0, 1.0, (1, vocab_size), dtype), generator.backend)

    def forward(self, X):
        return ops.getitem(self.W, X[:, -1] * 0)


def test_a_new_type_is_one_class_and_one_registry_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(TYPES, "unigram", UnigramConfig)
    out = tmp_path / "u"
    args = ["train", "--type", "unigram", "--backend", "numpy", "--max-steps", "30", "--batch-size", "64", "--quiet",
            "-n", "2", "-o", str(out)]
    assert main(args) == 0
    losses = [float(x) for x in re.findall(r"\d+\.\d{4}", capsys.readouterr().out.splitlines()[0])]
    assert all(2.8 < v < 3.3 for v in losses)  # a unigram of names: ~2.9 nats, below ln 27
    assert main(["train", "--resume", "--max-steps", "40", "--backend", "strict", "--quiet", "-n", "1",
                 "-o", str(out)]) == 0
    assert main(["sample", "--backend", "numpy", "-o", str(out), "-n", "3"]) == 0
    assert main(["train", "--type", "unigram", "--n-embd", "3", "-o", str(tmp_path / "x")]) == 2
    assert "--n-embd does not apply to --type unigram" in capsys.readouterr().err


def test_flags_come_from_the_configs_with_their_defaults():
    parser = build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]  # type: ignore[union-attr]
    text = " ".join(train.format_help().split())
    for name, cls in [("", TrainConfig), *TYPES.items()]:
        for field in options(cls):
            assert flag(field) in text, field
            default = cls.__dataclass_fields__[field].default
            if default is not None:
                assert f"{name + ': ' if name else ''}{default}" in text or f"(default {default})" in text, field
            assert meta(cls, field)["help"].split()[0] in text
    for name, cls in TYPES.items():
        assert f"{name}: {cls.__doc__.strip()}" in text


def test_each_config_resolves_round_trips_and_has_a_pure_schedule():
    for name in TYPES:
        config = TrainConfig.of(name).resolved()
        assert TrainConfig.from_dict(config.to_dict()) == config
        rates = [config.spec.lr_at(s) for s in range(0, max(config.max_steps, 1), max(config.max_steps // 7, 1))]
        assert rates == [config.spec.lr_at(s) for s in range(0, max(config.max_steps, 1),
                                                              max(config.max_steps // 7, 1))]
        assert all(r >= 0 for r in rates)


SHARED = ["train.py", "commands.py", "cli.py", "workdir.py"]


@pytest.mark.parametrize("module", SHARED)
def test_the_shared_layers_name_no_model_type(module):
    source = (Path(gradkit.__file__).parent / module).read_text()
    for name in TYPES:
        assert not re.search(rf"[\"']{name}[\"']", source), f"{module} names the type {name!r}"
    for cls in TYPES.values():
        assert cls.__name__ not in source and cls.build.__qualname__ not in source
    assert "isinstance(run.model" not in source
