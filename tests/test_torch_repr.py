"""``repr(tensor)`` against PyTorch's: the lectures' printouts look the same with ``import gradkit as torch``."""

from __future__ import annotations

from typing import Any

import pytest

torch = pytest.importorskip("torch")

import gradkit as gk  # noqa: E402

pytestmark = pytest.mark.torch

CASES = {
    "bool": lambda L, be: L.tensor([True, False], device=be),
    "leaf": lambda L, be: L.tensor([1.0, 2.0], requires_grad=True, device=be),
    "int matrix": lambda L, be: L.tensor([[1, 2], [3, 400]], device=be),
    "scalar grad_fn": lambda L, be: L.tensor(2.5, device=be) * L.tensor(1.0, requires_grad=True, device=be),
    "float64": lambda L, be: L.tensor([0.12345, 2.0, -3.5], dtype=L.float64, device=be),
    "tiny": lambda L, be: L.tensor([1e-5, 1.0], device=be),
    "huge": lambda L, be: L.tensor([1e9, 1.0], device=be),
    "nan inf": lambda L, be: L.tensor([float("nan"), 1.5, float("inf")], device=be),
    "empty 2-D": lambda L, be: L.zeros(2, 0, device=be),
    "empty int32": lambda L, be: L.tensor([], dtype=L.int32, device=be),
    "summarized": lambda L, be: L.arange(2000.0, device=be),
    "int scalar": lambda L, be: L.tensor(3, device=be),
    "int32": lambda L, be: L.tensor([1, 2], dtype=L.int32, device=be),
    "whole floats": lambda L, be: L.tensor([-1.0, 2.0], device=be),
    "wide range": lambda L, be: L.tensor([100000.0, 2.5], device=be),
    "3-D": lambda L, be: L.arange(24.0, device=be).reshape(2, 3, 4) / 7,
    "summarized matrix": lambda L, be: L.arange(5000, device=be).reshape(50, 100),
    "long rows": lambda L, be: L.arange(3000.0, device=be).reshape(3, 1000) / 3,
    "counts": lambda L, be: L.zeros(27, 27, device=be).int(),
    "wrapped": lambda L, be: L.ones(30, device=be) * 0.0333,
    "signed zeros": lambda L, be: L.tensor([-0.0, 0.0, -0.0], device=be),
}


@pytest.mark.parametrize("case", list(CASES))
def test_repr_is_torchs(case: str) -> None:
    expected = repr(CASES[case](torch, "cpu")).replace("torch.", "gradkit.")
    assert repr(CASES[case](gk, "numpy")) == expected
    assert str(CASES[case](gk, "numpy")) == expected


def test_repr_names_a_device_other_than_the_cpu(backend: Any) -> None:
    text = repr(gk.tensor([1.5, 2.0], device=backend))
    assert text.startswith("tensor([1.5000, 2.0000]")
    assert ("device=" in text) == (str(gk.tensor(1.0, device=backend).device) != "cpu")


def _model(lib: Any) -> Any:
    """A small GPT-shaped model written against ``lib`` (gradkit or torch)."""
    nn = lib.nn

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln = nn.LayerNorm(4)
            self.fc = nn.Linear(4, 8)
            self.act = nn.GELU(approximate="tanh")
            self.drop = nn.Dropout(0.1)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.wte = nn.Embedding(27, 4)
            self.h = nn.ModuleList([Block() for _ in range(3)] + [nn.Linear(4, 4, bias=False)])
            self.head = nn.Sequential(nn.Linear(4, 27), nn.Tanh(), nn.Identity())

    return Net()


MODULES = {
    "linear": lambda nn: nn.Linear(2, 3), "linear no bias": lambda nn: nn.Linear(2, 3, bias=False),
    "embedding": lambda nn: nn.Embedding(5, 3), "layer norm": lambda nn: nn.LayerNorm(4),
    "dropout": lambda nn: nn.Dropout(0.1), "gelu": lambda nn: nn.GELU(), "tanh": lambda nn: nn.Tanh(),
    "identity": lambda nn: nn.Identity(), "sequential": lambda nn: nn.Sequential(nn.Linear(2, 3), nn.Tanh()),
    "module list": lambda nn: nn.ModuleList([nn.Linear(2, 2) for _ in range(3)]),
    "empty list": lambda nn: nn.ModuleList([]),
}


@pytest.mark.parametrize("case", list(MODULES))
def test_module_repr_is_torchs(case: str) -> None:
    assert repr(MODULES[case](gk.nn)) == repr(MODULES[case](torch.nn))


def test_model_and_parameter_repr_are_torchs() -> None:
    assert repr(_model(gk)) == repr(_model(torch))  # children indented, equal blocks of a ModuleList folded
    assert repr(gk.nn.Parameter(gk.ones(2))) == repr(torch.nn.Parameter(torch.ones(2)))
