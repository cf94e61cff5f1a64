"""Item assignment and retain_grad (issue 9): the course's N[i, j] += 1, dlogits[range(n), Yb] -= 1, x[mask] = 0,
index_put_/index_add_ with repeated indices summed, the differentiable index_put (Value oracle, gradcheck), and
writes into a recorded graph, recorded as torch records them."""

from __future__ import annotations

import numpy as np
import pytest

import gradkit as gk
from gradkit import Tensor
from gradkit.testing import check_against_value, gradcheck


def test_counting_with_item_assignment(backend):
    N = gk.zeros((3, 3), dtype=gk.int32, device=backend)
    pairs = [(0, 1), (1, 2), (0, 1), (2, 0), (0, 1)]
    for a, b in pairs:
        N[a, b] += 1
    expected = np.zeros((3, 3), np.int32)
    for a, b in pairs:
        expected[a, b] += 1
    np.testing.assert_array_equal(N.numpy(), expected)
    # each += is two writes, as in torch (N[a, b] is a view sharing N's version counter: its += bumps it, then
    # the assignment back does): torch's N._version is 10 here too
    assert N.dtype == gk.int32 and N._version == 10


def test_assignment_keys(backend):
    host = np.arange(12.0).reshape(3, 4)
    x = Tensor(host, backend=backend)
    Y = gk.tensor([1, 3, 0], device=backend)
    x[range(3), Y] -= 100
    host[range(3), [1, 3, 0]] -= 100
    x[x < 0] = 0
    host[host < 0] = 0
    x[1] = gk.tensor([7.0, 7.0, 7.0, 7.0], device=backend)
    host[1] = 7
    x[:, 2] = 9  # a number broadcast over a slice
    host[:, 2] = 9
    x[[True, False, True]] = -1
    host[[True, False, True]] = -1
    x[0, [0, 2]] = 5
    host[0, [0, 2]] = 5
    x[gk.tensor([2, 2], device=backend), gk.tensor([1, 3], device=backend)] = gk.tensor([4.0, 6.0], device=backend)
    host[[2, 2], [1, 3]] = [4, 6]
    np.testing.assert_array_equal(x.numpy(), host)
    with pytest.raises(IndexError, match="index 3 is out of bounds for dimension 0 with size 3"):  # torch's words
        x[gk.tensor([0, 3], device=backend), gk.tensor([0, 0], device=backend)] = 1
    with pytest.raises(IndexError, match="boolean mask of shape"):
        x[gk.tensor([True, False], device=backend)] = 1


def test_repeated_indices_sum_with_accumulate_as_torch(backend):
    z = gk.zeros(4, 2, device=backend)
    rows = gk.tensor([0, 2, 0, 0], device=backend)
    z.index_put_((rows,), gk.ones(4, 2, device=backend), accumulate=True)
    np.testing.assert_array_equal(z.numpy(), [[3, 3], [0, 0], [1, 1], [0, 0]])
    z.index_put_((rows, gk.tensor([1, 1, 1, 0], device=backend)), gk.tensor(2.0, device=backend), accumulate=True)
    np.testing.assert_array_equal(z.numpy(), [[5, 7], [0, 0], [1, 3], [0, 0]])
    z.index_put_((gk.tensor([1, 1], device=backend),), gk.tensor([[1.0, 2.0], [3.0, 4.0]], device=backend))
    np.testing.assert_array_equal(z.numpy()[1], [3, 4])  # without accumulate a repeat keeps the last value
    w = gk.zeros(2, 3, device=backend)
    w.index_add_(1, gk.tensor([2, 0, 2], device=backend), gk.ones(2, 3, device=backend), alpha=2)
    np.testing.assert_array_equal(w.numpy(), [[2, 0, 4], [2, 0, 4]])
    with pytest.raises(ValueError, match="expected \\(2, 2\\)"):
        w.index_add_(1, gk.tensor([0, 1], device=backend), gk.ones(2, 3, device=backend))


def test_writes_into_a_recorded_graph_are_recorded(backend):
    """Item assignment inside a graph is recorded (torch's CopySlices): the gradient reaches the written value
    inside the region and the old contents outside it."""
    w = gk.tensor([1.0, 2.0, 3.0], dtype=gk.float64, requires_grad=True, device=backend)
    v = gk.tensor([10.0], dtype=gk.float64, requires_grad=True, device=backend)
    h = w * 2
    h[0] = v[0] * 5  # into a non-leaf: h = [50, 4, 6]
    c = gk.zeros(3, dtype=gk.float64, device=backend)
    c[1:] = h[1:] * v  # a plain tensor receiving values that require grad starts to require grad
    assert c.requires_grad and not c.is_leaf and c.tolist() == [0.0, 40.0, 60.0]
    (h * gk.tensor([1.0, 10.0, 100.0], dtype=gk.float64, device=backend)).sum().backward(retain_graph=True)
    assert w.grad.tolist() == [0.0, 20.0, 200.0] and v.grad.tolist() == [5.0]
    w.grad = v.grad = None
    c.sum().backward()
    assert w.grad.tolist() == [0.0, 20.0, 20.0] and v.grad.tolist() == [10.0]
    with pytest.raises(RuntimeError, match="^a view of a leaf Variable that requires grad is being used"):
        w[0] = 5.0  # a leaf that requires grad, in grad mode: torch's error (a basic key writes a view of it)
    with pytest.raises(RuntimeError, match="^a leaf Variable that requires grad is being used"):
        w[gk.tensor([0], device=backend)] = 5.0  # (an index array: the leaf itself, in torch's words)
    with gk.no_grad():  # what an optimizer or a manual backward does: allowed, and counted
        before = w._version
        w[0] = 5.0
    assert w._version == before + 1 and w.tolist() == [5.0, 2.0, 3.0]
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):  # mul saves its operands
        y = w * w
        with gk.no_grad():
            w[1] = 0.0
        y.sum().backward()


# accumulate: the repeated position (0, 1) sums its values; plain: distinct positions (a repeat keeps its last).
INDEX_CASES = {True: (np.array([0, 2, 0]), np.array([1, 1, 1])), False: (np.array([0, 2, 1]), np.array([1, 1, 0]))}


@pytest.mark.parametrize("accumulate", [False, True])
def test_index_put_gradients_against_value_and_finite_differences(backend, accumulate):
    def fn(o, x, v):
        return o.index_put(x, INDEX_CASES[accumulate], v, accumulate) * x

    inputs = (np.random.default_rng(1).normal(size=(3, 2)), np.array([0.5, -1.0, 2.0]))
    check_against_value(fn, inputs, backend)
    gradcheck(fn, inputs, backend)


def test_retain_grad_keeps_interior_gradients(backend):
    x = gk.tensor([0.5, -1.0, 2.0], dtype=gk.float64, requires_grad=True, device=backend)
    h = x * x
    h.retain_grad()
    h.retain_grad()  # twice is once
    y = h.exp()
    y.retain_grad()
    y.sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [1.0, 1.0, 1.0])
    np.testing.assert_allclose(h.grad.numpy(), np.exp(np.array([0.25, 1.0, 4.0])), rtol=1e-15)
    np.testing.assert_allclose(x.grad.numpy(), np.exp([0.25, 1.0, 4.0]) * 2 * np.array([0.5, -1.0, 2.0]), rtol=1e-15)
    x.retain_grad()  # a leaf: no-op
    with pytest.raises(RuntimeError, match="does not require grad"):
        gk.zeros(2, device=backend).retain_grad()


def test_course_sgd_update_through_data(backend):
    """p.grad = None; loss.backward(); p.data += -lr * p.grad, as the lectures write it, on every backend."""
    g = gk.Generator().manual_seed(0)
    W = gk.randn((3, 2), generator=g, device=backend, dtype=gk.float64, requires_grad=True)
    X = gk.randn((8, 3), generator=g, device=backend, dtype=gk.float64)
    target = X @ gk.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, 1.0]], device=backend, dtype=gk.float64)
    losses = []
    for _ in range(400):
        loss = ((X @ W - target) ** 2).mean()
        W.grad = None
        loss.backward()
        W.data += -0.3 * W.grad
        losses.append(loss.item())
    assert losses[-1] < 1e-8 * losses[0]  # a convex least squares problem: the loss falls to ~0
    np.testing.assert_allclose(W.numpy(), [[1.0, 0.0], [0.0, 2.0], [-1.0, 1.0]], atol=1e-4)
    assert W.is_leaf and W.requires_grad


def test_augmented_assignment_on_a_graph_tensor_is_in_place_with_exact_gradients(backend):
    """part 3's Linear: self.out = x @ W; self.out += b, with grad on: in place as torch (every reference sees
    it), recorded (the history rebased), and exact."""
    w = gk.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=gk.float64, requires_grad=True, device=backend)
    b = gk.tensor([0.5, -0.5], dtype=gk.float64, requires_grad=True, device=backend)
    out = w * 2
    first = out
    child = out * 3  # made before the +=: it was computed from the old values
    out += b
    out *= 3
    host_w = np.array([[1.0, 2.0], [3.0, 4.0]])
    pre = 2 * host_w + np.array([0.5, -0.5])
    assert out is first and first.tolist() == (3 * pre).tolist()
    np.testing.assert_allclose(child.numpy(), 6 * host_w)
    (out.sum() + child.sum()).backward()
    np.testing.assert_allclose(w.grad.numpy(), np.full((2, 2), 3 * 2 + 6.0), rtol=1e-15)
    np.testing.assert_allclose(b.grad.numpy(), [6.0, 6.0], rtol=1e-15)
    square = w * 1
    square *= square  # other is self, saved and then changed: torch's error at backward
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        square.sum().backward()
    c = gk.zeros(2, device=backend)
    c += b  # a plain tensor meeting one that requires grad: recorded too, never silently detached
    assert c.requires_grad and not c.is_leaf
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w += 1  # a leaf that requires grad: refused, as torch
