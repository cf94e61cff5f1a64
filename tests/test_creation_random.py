"""Creation and random functions with PyTorch's signatures (issue 9): device= as backend=, Generator and
manual_seed, randint, multinomial, randperm, the *_like family, full, linspace. One seed gives the same numbers
on every backend (drawn on the host)."""

from __future__ import annotations

import numpy as np
import pytest
from gradkit.backends import get_backend

import gradkit as gk


def test_generator_manual_seed_returns_itself_and_restarts_the_stream(backend):
    g = gk.Generator(backend)
    assert g.manual_seed(5) is g and g.initial_seed() == 5
    a = gk.randn(4, generator=g).numpy()
    g.manual_seed(5)
    np.testing.assert_array_equal(gk.randn(4, generator=g).numpy(), a)
    np.testing.assert_array_equal(a, np.random.default_rng(5).normal(size=4).astype(np.float32))


def test_one_seed_same_numbers_on_every_backend(backend):
    numpy_be = get_backend("numpy")
    for fn in (lambda g, be: gk.randn(2, 3, generator=g, device=be),
               lambda g, be: gk.rand((5,), generator=g, backend=be, dtype=gk.float64),
               lambda g, be: gk.randint(3, 9, (4,), generator=g, device=be),
               lambda g, be: gk.randperm(7, generator=g, device=be)):
        here = fn(gk.Generator().manual_seed(11), backend)
        there = fn(gk.Generator().manual_seed(11), numpy_be)
        assert here.backend == backend and here.dtype == there.dtype
        np.testing.assert_array_equal(here.numpy(), there.numpy())


def test_manual_seed_drives_the_default_generator(backend):
    gk.manual_seed(3)
    a = gk.randn(3, device=backend)
    gk.manual_seed(3)
    b = gk.randn(3, device=backend)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert gk.manual_seed(3) is gk.default_generator
    with pytest.raises(TypeError, match="seed is an int"):
        gk.manual_seed(1.5)


def test_generator_of_a_backend_lands_there_unless_told(backend):
    g = backend.random(0)
    assert gk.randn(2, generator=g).backend == backend
    assert gk.randn(2, generator=g, device="cpu").backend == get_backend("numpy")
    with pytest.raises(TypeError, match="both backend="):
        gk.randn(2, backend="numpy", device="cpu")


def test_randint_forms_and_range(backend):
    x = gk.randint(10, (1000,), generator=gk.Generator().manual_seed(0), device=backend)
    assert x.dtype == gk.int64 and x.shape == (1000,)
    host = x.numpy()
    assert host.min() == 0 and host.max() == 9
    y = gk.randint(-2, 2, size=(3, 4), device=backend)
    assert y.shape == (3, 4) and set(np.unique(y.numpy())) <= {-2, -1, 0, 1}
    with pytest.raises(ValueError, match="low"):
        gk.randint(5, 5, (2,))
    with pytest.raises(TypeError, match="high, size"):
        gk.randint(5)


def test_multinomial_frequencies_follow_the_weights(backend):
    w = gk.tensor([1.0, 0.0, 3.0, 4.0], device=backend)  # unnormalised, a zero weight
    g = gk.Generator().manual_seed(2147483647)
    s = gk.multinomial(w, 40000, replacement=True, generator=g)
    assert s.dtype == gk.int64 and s.shape == (40000,) and s.backend == backend
    freq = np.bincount(s.numpy(), minlength=4) / 40000
    assert freq[1] == 0  # a zero weight is never drawn
    np.testing.assert_allclose(freq, [0.125, 0.0, 0.375, 0.5], atol=0.01)  # 4 sigma ~ 0.01
    rows = gk.multinomial(gk.tensor([[0.0, 1.0], [1.0, 0.0]], device=backend), 3, replacement=True)
    np.testing.assert_array_equal(rows.numpy(), [[1, 1, 1], [0, 0, 0]])


def test_multinomial_without_replacement_and_errors(backend):
    w = gk.tensor([[0.2, 0.3, 0.5, 0.0], [1.0, 1.0, 1.0, 1.0]], device=backend)
    s = gk.multinomial(w, 3, generator=gk.Generator().manual_seed(1)).numpy()
    assert s.shape == (2, 3)
    assert sorted(s[0]) == [0, 1, 2] and len(set(s[1])) == 3  # distinct; the zero weight never drawn
    for bad, match in (([0.5, -0.1], "negative"), ([float("nan"), 1.0], "nan"), ([0.0, 0.0], "sums to 0")):
        with pytest.raises(RuntimeError, match=match):
            gk.multinomial(gk.tensor(bad, device=backend), 1)
    with pytest.raises(RuntimeError, match="without replacement"):
        gk.multinomial(gk.tensor([0.5, 0.5, 0.0], device=backend), 3)
    with pytest.raises(RuntimeError, match="1-D or 2-D"):
        gk.multinomial(gk.ones(2, 2, 2, device=backend), 1)


def test_randperm_is_a_permutation(backend):
    p = gk.randperm(50, generator=gk.Generator().manual_seed(4), device=backend)
    assert p.dtype == gk.int64
    np.testing.assert_array_equal(np.sort(p.numpy()), np.arange(50))


def test_bad_sizes_and_ragged_lists_get_torchs_errors(backend):
    for make in (lambda: gk.randn(-1, device=backend), lambda: gk.zeros(2, -3, device=backend),
                 lambda: gk.full((-2,), 1.0, device=backend), lambda: gk.randint(0, 5, (-2,), device=backend)):
        with pytest.raises(RuntimeError, match=r"Trying to create tensor with negative dimension -\d: \["):
            make()
    for make in (lambda: gk.zeros(2.5, device=backend), lambda: gk.ones((2, "3"), device=backend),
                 lambda: gk.zeros(gk.tensor(2.5), device=backend)):
        with pytest.raises(TypeError, match=r"the size must be ints or one tuple of ints"):
            make()
    with pytest.raises(ValueError, match=r"^expected sequence of length 2 at dim 1 \(got 1\)$"):
        gk.tensor([[1, 2], [3]], device=backend)
    with pytest.raises(ValueError, match=r"^expected sequence of length 1 at dim 2 \(got 2\)$"):
        gk.tensor([[[1], [2]], [[3], [4, 5]]], device=backend)
    with pytest.raises(ValueError, match="rectangular"):
        gk.tensor([[1, 2], 3], device=backend)
    assert gk.zeros(gk.tensor(3), device=backend).shape == (3,) and gk.randn([], device=backend).shape == ()
    assert gk.zeros(gk.Size([2, 3]), device=backend).shape == (2, 3) and gk.ones(0, device=backend).shape == (0,)


def test_creation_functions(backend):
    x = gk.full((2, 3), 1.5, device=backend)
    assert x.dtype == gk.float32 and x.numpy().tolist() == [[1.5] * 3] * 2
    assert gk.full((2,), 7, device=backend).dtype == gk.int64
    assert gk.full((2,), True, device=backend).dtype == gk.bool
    i = gk.zeros((2, 2), dtype=gk.int32, device=backend)
    for like, fill in ((gk.zeros_like(i), 0), (gk.ones_like(i), 1), (gk.full_like(i, 4), 4)):
        assert like.dtype == gk.int32 and like.backend == backend and like.numpy().tolist() == [[fill] * 2] * 2
    assert gk.ones_like(i, dtype=gk.float64).dtype == gk.float64
    assert gk.empty(3, device=backend).numpy().tolist() == [0.0, 0.0, 0.0]
    np.testing.assert_allclose(gk.linspace(-1, 1, 5, device=backend).numpy(), [-1, -0.5, 0, 0.5, 1])
    assert gk.linspace(0, 1, 3, device=backend).dtype == gk.float32
    assert gk.arange(3, device=backend).tolist() == [0, 1, 2] and gk.arange(3).dtype == gk.int64
    np.testing.assert_array_equal(gk.arange(0, 1, 0.25, device=backend).numpy(), [0, 0.25, 0.5, 0.75])
    assert gk.arange(0.0, 2).dtype == gk.float32
    assert gk.tensor([1, 2], device=backend).backend == backend
    assert gk.zeros(2, 3, requires_grad=True, device=backend).requires_grad
