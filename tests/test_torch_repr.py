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
