"""The in-place methods, ``addcmul``/``addcdiv``, torch's ``scatter`` family, ``fill_diagonal_`` and
``F.embedding`` without torch: closed-form values, dtypes, versions and gradients on every backend, on a leaf under
``no_grad`` and on a non-leaf in grad mode (``test_torch_inplace`` checks the same names against torch)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import gradkit as gk

E = math.e
X = [0.25, 1.0, 4.0]


def _t(be: Any, value: Any, grad: bool = False, dtype: Any = gk.float64) -> gk.Tensor:
    return gk.tensor(value, dtype=dtype, requires_grad=grad, device=be)


def _i(be: Any, value: Any) -> gk.Tensor:
    return gk.tensor(value, device=be)


# name -> (the call on y (X as float64) and w (W), the values it leaves in y, dy/dx elementwise at X)
W = [2.0, -1.0, 0.5]
ELEMENTWISE = {
    "exp_": (lambda be, y, w: y.exp_(), [E ** 0.25, E, E ** 4], [E ** 0.25, E, E ** 4]),
    "log_": (lambda be, y, w: y.log_(), [-math.log(4), 0.0, math.log(4)], [4.0, 1.0, 0.25]),
    "tanh_": (lambda be, y, w: y.tanh_(), [math.tanh(v) for v in X], [1 - math.tanh(v) ** 2 for v in X]),
    "sigmoid_": (lambda be, y, w: y.sigmoid_(), [1 / (1 + math.exp(-v)) for v in X],
                 [math.exp(-v) / (1 + math.exp(-v)) ** 2 for v in X]),
    "sqrt_": (lambda be, y, w: y.sqrt_(), [0.5, 1.0, 2.0], [1.0, 0.5, 0.25]),
    "relu_": (lambda be, y, w: y.sub_(1.0).relu_(), [0.0, 0.0, 3.0], [0.0, 0.0, 1.0]),
    "pow_": (lambda be, y, w: y.pow_(2), [0.0625, 1.0, 16.0], [0.5, 2.0, 8.0]),
    "neg_": (lambda be, y, w: y.neg_(), [-0.25, -1.0, -4.0], [-1.0, -1.0, -1.0]),
    "negative_": (lambda be, y, w: y.negative_(), [-0.25, -1.0, -4.0], [-1.0, -1.0, -1.0]),
    "reciprocal_": (lambda be, y, w: y.reciprocal_(), [4.0, 1.0, 0.25], [-16.0, -1.0, -0.0625]),
    "square_": (lambda be, y, w: y.square_(), [0.0625, 1.0, 16.0], [0.5, 2.0, 8.0]),
    "addcmul_": (lambda be, y, w: y.addcmul_(w, _t(be, [1.0, 2.0, 3.0]), value=2), [4.25, -3.0, 7.0],
                 [1.0, 1.0, 1.0]),
    "addcdiv_": (lambda be, y, w: y.addcdiv_(_t(be, [1.0, 2.0, 3.0]), w, value=-2), [-0.75, 5.0, -8.0],
                 [1.0, 1.0, 1.0]),
}


@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_elementwise_in_place_closed_form(backend: Any, name: str) -> None:
    call, values, slope = ELEMENTWISE[name]
    leaf = _t(backend, X, grad=True)
    with gk.no_grad():
        assert call(backend, leaf, _t(backend, W)) is leaf
    np.testing.assert_allclose(leaf.numpy(), values, rtol=1e-12)
    assert leaf.is_leaf and leaf.requires_grad and leaf.dtype == gk.float64 and leaf._version >= 1
    x = _t(backend, X, grad=True)
    y = x * 1
    call(backend, y, _t(backend, W))
    np.testing.assert_allclose(y.numpy(), values, rtol=1e-12)
    assert not y.is_leaf and y._version >= 1
    y.backward(gk.ones_like(y))
    np.testing.assert_allclose(x.grad.numpy(), slope, rtol=1e-12)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        call(backend, _t(backend, X, grad=True), _t(backend, W))


def test_addcmul_addcdiv_functions_and_gradients(backend: Any) -> None:
    a, b, c = _t(backend, [1.0, 2.0], grad=True), _t(backend, [3.0, 4.0], grad=True), _t(backend, [2.0, 8.0],
                                                                                         grad=True)
    out = gk.addcmul(a, b, c, value=0.5) + gk.addcdiv(a, b, c, value=2)
    np.testing.assert_allclose(out.numpy(), [1 + 3 + 1 + 3, 2 + 16 + 2 + 1])
    out.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [2.0, 2.0])
    np.testing.assert_allclose(b.grad.numpy(), [0.5 * 2 + 2 / 2, 0.5 * 8 + 2 / 8])
    np.testing.assert_allclose(c.grad.numpy(), [0.5 * 3 - 2 * 3 / 4, 0.5 * 4 - 2 * 4 / 64])
    ints = _i(backend, [1, 2])
    assert gk.addcmul(ints, ints, ints, value=0.5).tolist() == [1, 2]  # value cast to int64: 0, as torch
    assert gk.addcmul(ints, ints, ints, value=2).dtype == gk.int64
    with pytest.raises(RuntimeError, match="Integer division with addcdiv"):
        ints.addcdiv(ints, ints)
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
        ints.exp_()


def test_scatter_family_closed_form(backend: Any) -> None:
    x = _t(backend, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], grad=True)
    w = _t(backend, [[10.0, 20.0, 30.0]], grad=True)
    y = x * 1
    assert y.scatter_(1, _i(backend, [[2], [0]]), 7.0) is y
    np.testing.assert_array_equal(y.numpy(), [[1, 2, 7], [7, 5, 6]])
    y.scatter_add_(0, _i(backend, [[1, 0, 1]]), w)
    np.testing.assert_array_equal(y.numpy(), [[1, 22, 7], [17, 5, 36]])
    y.index_fill_(1, _i(backend, [1]), -1.0)
    np.testing.assert_array_equal(y.numpy(), [[1, -1, 7], [17, -1, 36]])
    y.index_copy_(0, _i(backend, [0]), w * 2)
    np.testing.assert_array_equal(y.numpy(), [[20, 40, 60], [17, -1, 36]])
    y.fill_diagonal_(0.5)
    np.testing.assert_array_equal(y.numpy(), [[0.5, 40, 60], [17, 0.5, 36]])
    assert y._version == 5
    y.backward(_t(backend, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0, 0], [0, 0, 6]])
    # w's paths: scatter_add to y[1, 0] (4) and y[1, 2] (6) (y[0, 1] was filled later); index_copy to row 0,
    # twice, where y[0, 0] was then overwritten by the diagonal
    np.testing.assert_array_equal(w.grad.numpy(), [[4 + 0, 0 + 2 * 2, 6 + 2 * 3]])
    leaf = _t(backend, [[0.0, 0.0], [0.0, 0.0]], grad=True)
    with gk.no_grad():
        leaf.scatter_(0, _i(backend, [[1, 0]]), _t(backend, [[3.0, 4.0]]))
        leaf.index_fill_(0, _i(backend, [-1]), 9.0)
    np.testing.assert_array_equal(leaf.numpy(), [[0, 4], [9, 9]])
    assert leaf.is_leaf and leaf._version == 2
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        leaf.index_copy_(0, _i(backend, [0]), _t(backend, [[1.0, 1.0]]))


def test_scatter_family_out_of_place_and_errors(backend: Any) -> None:
    x = _t(backend, [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    src = _t(backend, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    np.testing.assert_array_equal(gk.scatter(x, 1, _i(backend, [[2, 0]]), src).numpy(), [[2, 0, 1], [0, 0, 0]])
    np.testing.assert_array_equal(gk.scatter_add(x, 0, _i(backend, [[1, 1, 0], [1, 0, 0]]), src).numpy(),
                                  [[0, 5, 9], [5, 2, 0]])
    np.testing.assert_array_equal(gk.index_fill(x, 1, _i(backend, [0, 2]), 1.0).numpy(), [[1, 0, 1], [1, 0, 1]])
    np.testing.assert_array_equal(gk.index_copy(x, 0, _i(backend, [1]), src[:1]).numpy(), [[0, 0, 0], [1, 2, 3]])
    assert x.numpy().sum() == 0 and x._version == 0  # out of place: x unchanged
    with pytest.raises(RuntimeError, match="index 3 is out of bounds for dimension 0 with size 2"):
        x.scatter(0, _i(backend, [[3, 0, 0]]), 1.0)
    with pytest.raises(IndexError, match="index_copy_\\(\\): index -1 is out of bounds"):
        x.index_copy(1, _i(backend, [-1]), src[:, :1])
    with pytest.raises(RuntimeError, match="Expected self.dtype to be equal to src.dtype"):
        x.scatter(0, _i(backend, [[0]]), src.float())
    with pytest.raises(RuntimeError, match="all dimensions of input must be of equal length"):
        _t(backend, np.zeros((2, 3, 3))).fill_diagonal_(1.0)
    tall = _t(backend, np.zeros((5, 2)))
    tall.fill_diagonal_(1.0, wrap=True)
    np.testing.assert_array_equal(tall.numpy(), [[1, 0], [0, 1], [0, 0], [1, 0], [0, 1]])


def test_embedding_functional_and_module(backend: Any) -> None:
    w = _t(backend, [[0.0, 1.0], [2.0, 3.0], [3.0, 4.0]], grad=True)
    ids = _i(backend, [[2, 0], [2, 1]])
    out = gk.nn.functional.embedding(ids, w, padding_idx=0)
    np.testing.assert_array_equal(out.numpy(), [[[3, 4], [0, 1]], [[3, 4], [2, 3]]])
    out.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[0, 0], [1, 1], [2, 2]])  # none into padding row 0
    w.grad = None
    gk.nn.functional.embedding(ids, w, scale_grad_by_freq=True).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[1, 1], [1, 1], [1, 1]])
    with gk.no_grad():
        renormed = gk.nn.functional.embedding(_i(backend, [2]), w, max_norm=1.0)
    np.testing.assert_allclose(renormed.numpy(), [[0.6, 0.8]], rtol=1e-6)  # norm 5 -> 1
    np.testing.assert_allclose(w.numpy()[2], [0.6, 0.8], rtol=1e-6)
    emb = gk.nn.Embedding(27, 3, padding_idx=0, device=backend)
    assert not emb.weight.numpy()[0].any() and emb(_i(backend, [[0, 26]])).shape == (1, 2, 3)
    for bad in ([27], [-1]):
        with pytest.raises(IndexError, match="^index out of range in self$"):
            emb(_i(backend, bad))
    with pytest.raises(NotImplementedError, match="sparse"):
        gk.nn.Embedding(3, 2, sparse=True)


def test_embedding_range_error_in_a_compiled_step() -> None:
    """A compiled program replays the lookup: an id out of range still raises an IndexError there, before any
    parameter changes (a negative one in embedding's words; on numpy, one past the table in the words of the
    take the program replays, torch's indexing words)."""
    emb = gk.nn.Embedding(27, 4)
    opt = gk.optim.SGD(emb.parameters(), lr=0.1)

    @gk.compile
    def step(ix: gk.Tensor) -> gk.Tensor:
        loss = emb(ix).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    for _ in range(3):
        step(gk.randint(0, 27, (8,)))
    assert step.stats["replays"] >= 1
    before = emb.weight.detach().numpy()
    for bad in ([27] + [0] * 7, [-1] + [0] * 7):
        words = "index out of range in self" if bad[0] < 0 else "index 27 is out of bounds for dimension 0 with size 27"
        with pytest.raises(IndexError, match=f"^{words}$"):
            step(gk.tensor(bad))
    np.testing.assert_array_equal(emb.weight.detach().numpy(), before, strict=True)
