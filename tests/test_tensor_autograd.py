"""The reverse-mode engine: in-place safety, accumulation, graph lifetime, grad mode, deep graphs."""

from __future__ import annotations

import gc
import sys
import weakref

import numpy as np
import pytest

import gradkit as gk
from gradkit import Tensor, is_grad_enabled, no_grad
from gradkit.testing import assert_close


def t(data, backend, requires_grad=False):
    return Tensor(np.asarray(data, dtype=np.float64), backend=backend, requires_grad=requires_grad)


# In-place modification.
INPLACE = {
    "mul_": lambda a: a.mul_(2),
    "add_": lambda a: a.add_(1.0),
    "sub_": lambda a: a.sub_(a.detach() * 0 + 1),
    "div_": lambda a: a.div_(4),
    "copy_": lambda a: a.copy_(a.detach() * 0 + 5),
    "zero_": lambda a: a.zero_(),
    "+=": lambda a: a.__iadd__(3.0),
}


@pytest.mark.parametrize("modify", INPLACE.values(), ids=INPLACE.keys())
def test_inplace_modification_after_use_raises(backend, modify):
    a = t([1.0, 2.0, 3.0], backend)
    w = t([0.5, -1.0, 2.0], backend, requires_grad=True)
    y = (a * w).sum()
    modify(a)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()
    # A graph built after the change uses the new values.
    (a * w).sum().backward()
    assert_close(w.grad, a)


def test_inplace_on_a_tensor_requiring_grad(backend):
    w = t([1.0, 2.0], backend, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        w.add_(1.0)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w *= 2
    assert w.tolist() == [1.0, 2.0]
    (w * w).sum().backward()
    with no_grad():  # an optimizer step
        w.sub_(w.grad * 0.25)
    assert w.tolist() == [0.5, 1.0] and w.requires_grad and w.is_leaf
    w.zero_grad()
    (w * 3).sum().backward()
    assert w.grad.tolist() == [3.0, 3.0]


def test_inplace_change_of_an_interior_output_raises(backend):
    x = t([0.5, 1.0], backend, requires_grad=True)
    for op in (lambda v: v.exp(), lambda v: v.tanh(), lambda v: v.sigmoid(), lambda v: 1 / v,
               lambda v: gk.softmax(v), lambda v: v.amax(0, keepdims=True)):
        h = op(x)
        with no_grad():
            h.mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            (h * 1).sum().backward()


# Accumulation.
def test_diamond_accumulates_every_path(backend):
    host = np.array([[0.5, -1.0], [2.0, 0.25]])
    a = t(host, backend, requires_grad=True)
    b = a * 2  # a feeds four ops
    c = a.exp()
    d = (b * c + a - a.tanh()).sum()
    d.backward()
    # d/da of 2 a e^a + a - tanh(a)
    expected = 2 * np.exp(host) + 2 * host * np.exp(host) + 1 - (1 - np.tanh(host) ** 2)
    assert_close(a.grad, expected)
    x = t([3.0], backend, requires_grad=True)
    (x * x + x + x).backward()
    assert x.grad.tolist() == [8.0]


def test_leaf_gradients_accumulate_and_zero_grad_resets(backend):
    x = t([1.0, -2.0], backend, requires_grad=True)
    y = (x * x * x).sum()  # grad 3 x^2 = [3, 12]
    y.backward(retain_graph=True)
    assert x.grad.tolist() == [3.0, 12.0]
    y.backward(retain_graph=True)
    assert x.grad.tolist() == [6.0, 24.0]
    (x * 10).sum().backward()  # another graph adds into the same leaf
    assert x.grad.tolist() == [16.0, 34.0]
    x.zero_grad()
    assert x.grad is None
    y.backward()
    assert x.grad.tolist() == [3.0, 12.0]
    with pytest.raises(RuntimeError, match=r"second time.*retain_graph=True"):
        y.backward()
    assert x.grad.tolist() == [3.0, 12.0]


def test_second_backward_through_a_shared_freed_subgraph_raises(backend):
    x = t([1.0, 2.0], backend, requires_grad=True)
    h = x.exp()
    y1, y2 = h.sum(), (h * 3).sum()
    y1.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y2.backward()


# No gradient buffer is shared.
SHARING = {
    "a + b": lambda a, b: a + b,
    "a - b": lambda a, b: a - b,
    "reshape pass-through": lambda a, b: a.reshape(6) + b.reshape(-1),
    "T pass-through": lambda a, b: a.T + b.T,
    "clone": lambda a, b: a.clone() + b.clone(),
    "a + 1, b * 1": lambda a, b: (a + 1) + (b * 1),
    "slices": lambda a, b: a[:] + b[:, :],
    "concat": lambda a, b: gk.concat([a, b]),
    "same leaf twice": lambda a, b: a + a + b,
    "sum broadcast": lambda a, b: a.sum() + b.sum(0),
}


@pytest.mark.parametrize("fn", SHARING.values(), ids=SHARING.keys())
def test_no_gradient_buffer_is_shared(backend, fn):
    a = t(np.ones((2, 3)), backend, requires_grad=True)
    b = t(np.ones((2, 3)), backend, requires_grad=True)
    y = fn(a, b)
    upstream = np.ones(y.shape)
    y.backward(upstream, retain_graph=True)
    assert a.grad._data is not b.grad._data
    before = b.grad.numpy()
    a.grad._data[...] = 7.0  # writable, and writing into it changes nothing else
    assert np.array_equal(b.grad.numpy(), before)
    assert upstream.tolist() == np.ones(y.shape).tolist()
    y.backward(upstream)  # accumulation makes new buffers, still separate
    assert a.grad._data is not b.grad._data
    assert np.all(a.grad.numpy() >= 7.0)
    assert np.array_equal(b.grad.numpy(), 2 * before)


def test_gradient_argument_is_copied(backend):
    a = t(np.ones(3), backend, requires_grad=True)
    g = t([1.0, 2.0, 3.0], backend)
    a.backward(g)  # a leaf as the root
    assert a.grad._data is not g._data
    a.grad._data[...] = 0.0
    assert g.tolist() == [1.0, 2.0, 3.0]
    b = t(np.ones(3), backend, requires_grad=True)
    (b + 0).backward(g)
    assert b.grad._data is not g._data and b.grad.tolist() == [1.0, 2.0, 3.0]


# Graph lifetime.
def test_graph_is_freed_after_backward(backend):
    x = t(np.ones((3, 4)), backend, requires_grad=True)
    h = x.exp()
    array_ref = weakref.ref(h._data)
    y = (h * 2).sum()
    del h  # nodes keep arrays, never the tensors that ops made
    node = y.grad_fn
    assert array_ref() is not None and node.parents != ()
    y.backward()
    assert node.parents == () and node.saved == ()
    assert array_ref() is None  # freed at once, no garbage collection needed
    assert x.grad is not None and x.grad.shape == (3, 4)


def test_retain_graph_keeps_the_graph(backend):
    x = t(np.ones(3), backend, requires_grad=True)
    h = x.tanh()
    ref = weakref.ref(h._data)
    y = (h * h).sum()
    del h
    y.backward(retain_graph=True)
    gc.collect()
    assert ref() is not None and len(y.grad_fn.parents) == 1
    y.backward()
    assert ref() is None and y.grad_fn.parents == ()
    assert_close(x.grad, 2 * 2 * np.tanh(1.0) * (1 - np.tanh(1.0) ** 2) * np.ones(3))


def test_backward_argument_errors(backend):
    x = t([1.0, 2.0], backend)
    with pytest.raises(RuntimeError, match="does not require grad"):
        (x * 2).sum().backward()
    w = t([1.0, 2.0], backend, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"one-element.*shape \(2,\)"):
        (w * 2).backward()
    with pytest.raises(ValueError, match=r"gradient has shape \(3,\)"):
        (w * 2).backward(np.ones(3))


# Grad mode, detach.
def test_no_grad_context_manager(backend):
    w = t([1.0, 2.0], backend, requires_grad=True)
    assert is_grad_enabled()
    with no_grad():
        assert not is_grad_enabled()
        y = w * 2
        with no_grad():
            z = y + 1
        assert not is_grad_enabled()
    assert is_grad_enabled()
    assert not y.requires_grad and y.is_leaf and not z.requires_grad
    assert y.tolist() == [2.0, 4.0]
    with pytest.raises(ZeroDivisionError), no_grad():
        raise ZeroDivisionError
    assert is_grad_enabled()  # restored after an exception
    assert (w * 2).requires_grad


def test_no_grad_decorator(backend):
    w = t([1.0, 2.0], backend, requires_grad=True)

    @no_grad()
    def evaluate(v):
        """Doc."""
        assert not is_grad_enabled()
        return (v * w).sum()

    out = evaluate(t([3.0, 4.0], backend))
    assert out.item() == 11.0 and not out.requires_grad
    assert evaluate.__name__ == "evaluate" and evaluate.__doc__ == "Doc."
    assert is_grad_enabled()
    assert evaluate(w).item() == 5.0  # and reusable


def test_detach(backend):
    x = t([1.0, 2.0, 3.0], backend, requires_grad=True)
    d = x.detach()
    assert d._data is x._data and not d.requires_grad and d.is_leaf
    (d * x).sum().backward()  # only the non-detached path carries gradient
    assert x.grad.tolist() == [1.0, 2.0, 3.0]
    y = (x * 2).detach()
    assert not y.requires_grad and y.is_leaf and y.tolist() == [2.0, 4.0, 6.0]


def test_requires_grad_propagates(backend):
    a, b = t([1.0], backend), t([2.0], backend, requires_grad=True)
    assert not (a * 2).requires_grad and (a * 2).is_leaf
    c = a * b
    assert c.requires_grad and not c.is_leaf
    with pytest.raises(TypeError, match="floating-point"):
        Tensor([1, 2], backend=backend).requires_grad_()
    assert a.requires_grad_().requires_grad


# Deep graphs.
def test_chain_of_10000_ops_backpropagates_with_the_default_recursion_limit(backend):
    limit = sys.getrecursionlimit()
    assert limit < 10_000  # the chain is deeper than any recursion could go
    x = t(0.5, backend, requires_grad=True)
    y = x
    for i in range(10_000):
        y = y * 1.0001 if i % 2 else y + 0.001
    y.backward()
    assert sys.getrecursionlimit() == limit
    assert_close(x.grad, np.float64(1.0001) ** 5000)
    assert_close(y, 0.5 * 1.0001**5000 + 0.001 * sum(1.0001**k for k in range(1, 5001)))


def test_deep_chain_is_released_without_backward(backend):
    x = t(1.0, backend, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0
    ref = weakref.ref(y)
    del y  # deallocating 10,000 nested nodes must not overflow the C stack
    assert ref() is None
