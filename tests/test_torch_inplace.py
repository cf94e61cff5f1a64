"""PyTorch's in-place semantics, against torch: aliasing after ``+=``, in-place ops on leaves and non-leaves in and
out of grad mode, views written through either end, item assignment inside a graph, the error for a saved tensor
that was modified, and writes through expanded views. Each case is written once against a library namespace
(``gradkit`` or ``torch``); values, dtypes, versions and every gradient are compared, and where torch raises,
gradkit raises the same kind of error with torch's words."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import gradkit as gk  # noqa: E402

pytestmark = pytest.mark.torch


def _t(lib: Any, be: Any, value: Any, grad: bool = False) -> Any:
    if lib is torch:
        return torch.tensor(value, dtype=torch.float64, requires_grad=grad)
    return gk.tensor(value, dtype=gk.float64, requires_grad=grad, device=be)


def _zeros(lib: Any, be: Any, *shape: int) -> Any:
    return torch.zeros(*shape, dtype=torch.float64) if lib is torch else gk.zeros(*shape, dtype=gk.float64, device=be)


def _ints(lib: Any, be: Any, value: Any) -> Any:
    return torch.tensor(value) if lib is torch else gk.tensor(value, device=be)


def _no_grad(lib: Any) -> Any:
    return lib.no_grad()


def alias_after_iadd(L: Any, be: Any) -> list:
    y = _t(L, be, [1.0, 2.0, 3.0])
    z = y
    y += 1
    y *= 2
    y -= z / 4
    y /= 3
    return [z, y, y._version]


def leaf_iadd_grad_mode(L: Any, be: Any) -> list:
    x = _t(L, be, [1.0, 2.0], grad=True)
    x += 1
    return [x]


def leaf_ops_no_grad(L: Any, be: Any) -> list:
    x = _t(L, be, [1.0, -2.0, 3.0], grad=True)
    with _no_grad(L):
        x.mul_(2).add_(1).sub_(0.5).div_(4)
        x.clamp_(-0.5, 1.0)
    return [x, x.requires_grad, x.is_leaf, x._version]


def nonleaf_ops_grad_mode(L: Any, be: Any) -> list:
    x = _t(L, be, [1.0, -2.0, 3.0], grad=True)
    w = _t(L, be, [0.5, 0.25, -1.0], grad=True)
    y = x * 1
    y.mul_(w).add_(x).sub_(w, alpha=2).div_(3)
    y.clamp_(-0.5, 1.0)
    y.backward(_t(L, be, [1.0, 10.0, 100.0]))
    return [y, x.grad, w.grad, y.is_leaf]


def nonleaf_iadd_recorded(L: Any, be: Any) -> list:
    x = _t(L, be, [[1.0, 2.0], [3.0, 4.0]], grad=True)
    b = _t(L, be, [0.5, -0.5], grad=True)
    out = x * 2  # part 3's Linear: self.out = x @ W; self.out += self.bias
    child = out * 3  # computed from the values before the +=
    out += b
    out *= out
    (out.sum() + child.sum()).backward()
    return [out, child, x.grad, b.grad]


def plain_receives_grad(L: Any, be: Any) -> list:
    b = _t(L, be, [1.0, 2.0], grad=True)
    c = _zeros(L, be, 2)
    c += b * 3  # a plain tensor meeting one that requires grad joins the graph
    flags = [c.requires_grad, c.is_leaf]
    (c * c).sum().backward()
    return [c, b.grad, *flags]


def views_both_ends(L: Any, be: Any) -> list:
    b = _zeros(L, be, 2, 3)
    v = b.t()
    v[0, 1] = 5
    u = b.view(6)
    u[5] = 9
    row = b[1]
    row += 1
    s = b[:, 1:]
    b.mul_(2)
    e = b.unsqueeze(0)
    e[0, 0, 0] = -1
    d = b.detach()
    d[0, 2] = 7
    return [b, v, u, row, s, e, d, b._version, v._version]


def view_in_graph(L: Any, be: Any) -> list:
    x = _t(L, be, [1.0, 2.0, 3.0, 4.0], grad=True)
    w = _t(L, be, [5.0], grad=True)
    y = x * 1
    v1, v2 = y[0:2], y[1:3]
    v1 *= 3  # through one view: the base and the other view follow, with their histories
    y[3:] = w * 2  # through the base: the views follow
    (v2 * _t(L, be, [1.0, 10.0])).sum().backward(retain_graph=True)
    first = [x.grad.clone(), w.grad.clone()]
    (y * _t(L, be, [1.0, 10.0, 100.0, 1000.0])).sum().backward()
    return [y, v1, v2, *first, x.grad, w.grad]


def item_assignment_in_graph(L: Any, be: Any) -> list:
    x = _t(L, be, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], grad=True)
    w = _t(L, be, [0.5, 2.0], grad=True)
    y = x * 1
    y[0, 1] = w[0] * 4
    y[1] = w[1] * x[0]
    y[:, 0] += w
    y[_ints(L, be, [0, 1]), _ints(L, be, [2, 2])] -= 1  # part 4's dlogits[range(n), Yb] -= 1
    (y * _t(L, be, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).sum().backward()
    return [y, x.grad, w.grad]


def part4_scatter(L: Any, be: Any) -> list:
    demb = _t(L, be, [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], grad=True) * 1
    dC = _zeros(L, be, 4, 2)
    ix = _ints(L, be, [3, 0, 3])
    for k in range(3):
        dC[ix[k]] += demb[k]
    flags = [dC.requires_grad, dC.is_leaf]
    (dC * _t(L, be, [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]])).sum().backward()
    return [dC, *flags]


def part5_rows(L: Any, be: Any) -> list:
    W = _t(L, be, [[1.0, 2.0], [3.0, 4.0]], grad=True)
    logits = _zeros(L, be, 3, 2)
    for i in range(3):
        logits[i] = (W[i % 2] * (i + 1)).unsqueeze(0)  # logits[i] = model(x[[i]]): a (1, C) row
    logits.backward(_t(L, be, [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    return [logits, W.grad, logits.requires_grad]


def saved_then_modified(L: Any, be: Any) -> list:
    x = _t(L, be, [1.0, 2.0], grad=True)
    a = x * 1
    b = a * a
    a.add_(1)
    b.sum().backward()
    return [b]


def output_saved_then_modified(L: Any, be: Any) -> list:
    x = _t(L, be, [1.0, 2.0], grad=True)
    y = x.exp()
    y.add_(1)
    y.sum().backward()
    return [y]


def write_through_expand(L: Any, be: Any) -> list:
    x = _zeros(L, be, 3)
    e = x.expand(2, 3)
    e += 1
    return [e]


def leaf_view_grad_mode(L: Any, be: Any) -> list:
    W = _t(L, be, [1.0, 2.0], grad=True)
    v = W[0:1]
    v += 1
    return [v]


def data_write_untracked(L: Any, be: Any) -> list:
    x = _t(L, be, [1.0, 2.0], grad=True)
    z = x * x
    x.data.add_(1.0)  # .data's changes are not version-checked, as torch's
    z.sum().backward()
    return [x, x.grad, x._version]


def data_iadd_and_set(L: Any, be: Any) -> list:
    x = _t(L, be, [1.0, 2.0, 3.0], grad=True)
    z = x * x
    x.data += 1.0  # the course's SGD idiom: through the alias, then set back; no version moves
    z.sum().backward()
    y = _t(L, be, [4.0, 5.0, 6.0])
    head = y[:2]
    y.data = _t(L, be, [7.0, 8.0, 9.0])  # y takes the new values; its old view keeps the old ones
    return [x, x.grad, x._version, y, head, y._version, head._version]


def overwrite_nonleaf(L: Any, be: Any) -> list:
    a = _t(L, be, [1.0, 2.0, 3.0], grad=True)
    w = _t(L, be, [2.0, 2.0, 2.0], grad=True)
    b, c, d, e = a * 2, a * 3, a * 4, a * 5
    b.zero_()
    c.fill_(3.0)
    d.copy_(_t(L, be, [1.0, 1.0, 1.0]))
    e.copy_(w * 5)  # the old contents get zeros, the source its gradient
    e[:2] = 0.0
    (b + c * 2 + d * 3 + e * _t(L, be, [1.0, 2.0, 3.0])).sum().backward()
    return [b, c, d, e, a.grad, w.grad]


def overwrite_saved_output(L: Any, be: Any) -> list:
    a = _t(L, be, [1.0, 2.0], grad=True)
    b = a.sigmoid()  # saves its output
    b.zero_()
    b.sum().backward()  # torch: modified by an inplace operation
    return [a.grad]


def grad_accumulates_in_place(L: Any, be: Any) -> list:
    w = _t(L, be, [1.0, 2.0, 3.0], grad=True)
    (w * 2).sum().backward()
    first = w.grad
    (w * w).sum().backward()  # added into the same tensor: the earlier reference sees the sum
    return [first, w.grad, first is w.grad]


def expanded_then_copied(L: Any, be: Any) -> list:
    a = _t(L, be, [1.0, 2.0, 3.0])
    e = a.expand(2, 3)
    c, r, f = e.contiguous(), e.reshape(6), a.unsqueeze(1).expand(3, 2).flatten()
    c.mul_(2)  # copies: writable, and the expanded view and its base keep their values
    r[0] = 5.0
    f += 1
    x = _t(L, be, [1.0, 2.0, 3.0], grad=True)
    b = (x * 1).expand(2, 3).contiguous()
    b.mul_(2)
    b.sum().backward()
    return [a, e, c, r, f, x.grad, e.is_contiguous(), c.is_contiguous(), a.is_contiguous()]


def int_iadd_float(L: Any, be: Any) -> list:
    x = _ints(L, be, [1, 2])
    x += 1.5
    return [x]


def shape_mismatch(L: Any, be: Any) -> list:
    x = _zeros(L, be, 3)
    x += _zeros(L, be, 2, 3)
    return [x]


def zero_d_reduction(L: Any, be: Any) -> list:
    s = _t(L, be, [1.0, 2.0, 3.0]).sum()
    s += 1
    s.mul_(2)
    return [s]


CASES: dict[str, Callable[[Any, Any], list]] = {f.__name__: f for f in (
    alias_after_iadd, leaf_iadd_grad_mode, leaf_ops_no_grad, nonleaf_ops_grad_mode, nonleaf_iadd_recorded,
    plain_receives_grad, views_both_ends, view_in_graph, item_assignment_in_graph, part4_scatter, part5_rows,
    saved_then_modified, output_saved_then_modified, write_through_expand, leaf_view_grad_mode, data_write_untracked,
    data_iadd_and_set, overwrite_nonleaf, overwrite_saved_output,
    grad_accumulates_in_place, expanded_then_copied,
    int_iadd_float, shape_mismatch, zero_d_reduction)}


# The in-place methods a new user's PyTorch script reached for: each on a leaf under no_grad, on a non-leaf in grad
# mode (values, dtypes, versions, every gradient) and on a leaf that requires grad in grad mode (torch's error).
X0 = [[0.5, 1.5, 2.0], [3.0, 0.25, 1.25]]
W0 = [[2.0, -1.0, 0.5], [1.5, 3.0, -2.0]]
NEW_INPLACE: dict[str, Callable[[Any, Any, Any, Any], Any]] = {
    "exp_": lambda L, be, y, w: y.exp_(),
    "log_": lambda L, be, y, w: y.log_(),
    "tanh_": lambda L, be, y, w: y.tanh_(),
    "sigmoid_": lambda L, be, y, w: y.sigmoid_(),
    "sqrt_": lambda L, be, y, w: y.sqrt_(),
    "relu_": lambda L, be, y, w: y.relu_(),
    "pow_": lambda L, be, y, w: y.pow_(3),
    "pow_tensor": lambda L, be, y, w: y.pow_(w),
    "neg_": lambda L, be, y, w: y.neg_(),
    "negative_": lambda L, be, y, w: y.negative_(),
    "reciprocal_": lambda L, be, y, w: y.reciprocal_(),
    "square_": lambda L, be, y, w: y.square_(),
    "abs_": lambda L, be, y, w: y.abs_(),
    "addcmul_": lambda L, be, y, w: y.addcmul_(w, _t(L, be, [0.5, -2.0, 4.0]), value=0.5),
    "addcdiv_": lambda L, be, y, w: y.addcdiv_(_t(L, be, [0.5, -2.0, 4.0]), w, value=-2),
    "scatter_": lambda L, be, y, w: y.scatter_(1, _ints(L, be, [[2, 0], [1, 2]]), w[:, :2]),
    "scatter_value": lambda L, be, y, w: y.scatter_(0, _ints(L, be, [[1, 0, 1]]), 7.5),
    "scatter_add_": lambda L, be, y, w: y.scatter_add_(0, _ints(L, be, [[1, 0, 1], [1, 1, 0]]), w),
    "index_fill_": lambda L, be, y, w: y.index_fill_(1, _ints(L, be, [2, 0]), -1.5),
    "index_fill_tensor": lambda L, be, y, w: y.index_fill_(0, _ints(L, be, [1]), w[0, 1]),
    "index_copy_": lambda L, be, y, w: y.index_copy_(1, _ints(L, be, [2, 0]), w[:, :2] * 3),
    "fill_diagonal_": lambda L, be, y, w: y.fill_diagonal_(9.0),
}


def _new_leaf_no_grad(name: str) -> Callable[[Any, Any], list]:
    def case(L: Any, be: Any) -> list:
        x, w = _t(L, be, X0, grad=True), _t(L, be, W0, grad=True)
        with _no_grad(L):
            out = NEW_INPLACE[name](L, be, x, w)
        return [x, out is x, x.requires_grad, x.is_leaf, x._version, w._version]
    case.__name__ = f"{name}_leaf_no_grad"
    return case


def _new_nonleaf_grad(name: str) -> Callable[[Any, Any], list]:
    def case(L: Any, be: Any) -> list:
        x, w = _t(L, be, X0, grad=True), _t(L, be, W0, grad=True)
        y = x * 1
        out = NEW_INPLACE[name](L, be, y, w)
        (y * _t(L, be, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).sum().backward()
        return [y, out is y, y.is_leaf, y._version, x.grad, w.grad]
    case.__name__ = f"{name}_nonleaf_grad"
    return case


def _new_leaf_grad_mode(name: str) -> Callable[[Any, Any], list]:
    def case(L: Any, be: Any) -> list:
        x, w = _t(L, be, X0, grad=True), _t(L, be, W0)
        NEW_INPLACE[name](L, be, x, w)
        return [x]
    case.__name__ = f"{name}_leaf_grad_mode"
    return case


def int_exp_(L: Any, be: Any) -> list:
    x = _ints(L, be, [1, 2])
    x.exp_()
    return [x]


def int_inplace_ops(L: Any, be: Any) -> list:
    x = _ints(L, be, [[1, -2, 3], [0, 5, -4]])
    x.neg_().square_().relu_().pow_(2)
    x.addcmul_(_ints(L, be, [1, 2, 3]), _ints(L, be, [2, 2, 2]), value=3)
    x.scatter_(1, _ints(L, be, [[0], [2]]), 7.9)  # the number cast to the tensor's dtype: 7
    x.index_fill_(0, _ints(L, be, [1]), -3)
    x.index_copy_(1, _ints(L, be, [1]), _ints(L, be, [[10], [20]]))
    x.scatter_add_(0, _ints(L, be, [[1, 1, 0]]), _ints(L, be, [[5, 6, 7]]))
    x.fill_diagonal_(2.5)
    return [x, x._version]


def int_addcdiv_refused(L: Any, be: Any) -> list:
    x = _t(L, be, [1.0, 2.0])
    x.addcdiv_(_ints(L, be, [1, 2]), _ints(L, be, [3, 4]))
    return [x]


def wrapped_fill_diagonal(L: Any, be: Any) -> list:
    a, b, c = _zeros(L, be, 7, 3), _zeros(L, be, 3, 5), _zeros(L, be, 3, 3, 3)
    a.fill_diagonal_(1.0, wrap=True)
    b.fill_diagonal_(2.0)
    c.fill_diagonal_(3.0)
    view = a[1:].t()  # through a view: the base follows
    view.fill_diagonal_(-1.0)
    return [a, b, c, view, b._version, c._version]  # torch's wrap=True moves a's (shared) version twice


def index_ops_out_of_place(L: Any, be: Any) -> list:
    x, w = _t(L, be, X0, grad=True), _t(L, be, W0, grad=True)
    idx = _ints(L, be, [[1, 0, 1]])
    outs = [x.scatter(0, idx, w[:1]), x.scatter(1, _ints(L, be, [[0], [2]]), 4.0), x.scatter_add(0, idx, w[:1]),
            x.index_fill(1, _ints(L, be, [1]), 0.0), x.index_copy(0, _ints(L, be, [1, 0]), w),
            L.scatter(x, 1, _ints(L, be, [[2, 1]]), w[:1, :2]), L.scatter_add(x, 0, idx, w[1:]),
            L.index_fill(x, 0, _ints(L, be, [0]), -1.0), L.index_copy(x, 1, _ints(L, be, [0]), w[:, 2:]),
            x.addcmul(w, x, value=2), L.addcmul(x, w, w), x.addcdiv(w, x), L.addcdiv(x, x, w, value=0.5)]
    total = outs[0].sum()
    for k, o in enumerate(outs[1:]):
        total = total + (o * (k + 2)).sum()
    total.backward()
    return [*outs, x.grad, w.grad]


def scatter_bad_index(L: Any, be: Any) -> list:
    return [_zeros(L, be, 3, 4).scatter(0, _ints(L, be, [[3, 0]]), 1.0)]


def index_copy_wrong_dtype(L: Any, be: Any) -> list:
    return [_zeros(L, be, 3, 4).index_copy(1, _ints(L, be, [1]), _zeros(L, be, 3, 1).float())]


for _name in NEW_INPLACE:
    for _make in (_new_leaf_no_grad, _new_nonleaf_grad, _new_leaf_grad_mode):
        _case = _make(_name)
        CASES[_case.__name__] = _case
for _case in (int_exp_, int_inplace_ops, int_addcdiv_refused, wrapped_fill_diagonal, index_ops_out_of_place,
              scatter_bad_index, index_copy_wrong_dtype):
    CASES[_case.__name__] = _case


def _run(fn: Callable[[Any, Any], list], lib: Any, be: Any) -> Any:
    try:
        return fn(lib, be)
    except (RuntimeError, TypeError) as exc:
        return exc


def _host(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().numpy()
    if isinstance(value, gk.Tensor):
        return value.detach().numpy()
    return value


@pytest.mark.parametrize("case", list(CASES))
def test_in_place_semantics_match_torch(backend: Any, case: str) -> None:
    expected = _run(CASES[case], torch, None)
    got = _run(CASES[case], gk, backend)
    if isinstance(expected, Exception):
        assert isinstance(got, Exception), f"torch raises {expected!r}, gradkit returned {got!r}"
        words = {"modified by an inplace operation", "leaf Variable that requires grad", "single memory location",
                 "can't be cast to the desired output type", "doesn't match the broadcast shape",
                 "Integer division with addcdiv", "is out of bounds for dimension", "expected to have the same dtype"}
        for w in words:
            if w in str(expected):
                assert w in str(got), f"torch: {expected}\ngradkit: {got}"
        return
    assert not isinstance(got, Exception), f"torch gives {expected}, gradkit raises {got!r}"
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        a, b = _host(a), _host(b)
        if isinstance(b, np.ndarray):
            assert a.dtype == b.dtype, (a.dtype, b.dtype)
            np.testing.assert_allclose(a, b, rtol=1e-13, atol=0)
        else:
            assert a == b


EMBEDDING_OPTIONS = [{}, {"padding_idx": 1}, {"padding_idx": -1, "scale_grad_by_freq": True}, {"max_norm": 1.0},
                     {"max_norm": 0.5, "norm_type": 1.0}, {"max_norm": 0.5, "norm_type": float("inf")}]


@pytest.mark.parametrize("options", EMBEDDING_OPTIONS, ids=[str(o) for o in EMBEDDING_OPTIONS])
def test_embedding_matches_torch(backend: Any, options: dict) -> None:
    """F.embedding (nn.Embedding's forward): values, dtype, the weight's gradient, its renormed rows and version."""
    w0 = np.random.default_rng(0).normal(size=(5, 3))
    ids = np.array([[0, 1, 1], [4, 1, 3]])
    got = []
    for lib, F in ((torch, torch.nn.functional), (gk, gk.nn.functional)):
        w = _t(lib, backend, w0, grad=True)
        out = F.embedding(_ints(lib, backend, ids), w, **options)
        (out * _t(lib, backend, np.arange(18.0).reshape(2, 3, 3))).sum().backward()
        got.append([_host(out), _host(w.grad), _host(w), w._version])
    for a, b in zip(*got, strict=True):
        if isinstance(b, np.ndarray):
            assert a.dtype == b.dtype
            np.testing.assert_allclose(a, b, rtol=1e-13)
        else:
            assert a == b


def test_embedding_errors_match_torch(backend: Any) -> None:
    for lib in (torch, gk):
        emb = lib.nn.Embedding(27, 4) if lib is torch else lib.nn.Embedding(27, 4, device=backend)
        for bad in ([27], [0, -1]):
            with pytest.raises(IndexError, match="^index out of range in self$"):
                emb(_ints(lib, backend, bad))
        with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
            lib.nn.Embedding(5, 3, padding_idx=5)
        with pytest.raises(RuntimeError, match="Long, Int; but got"):
            lib.nn.functional.embedding(_t(lib, backend, [1.0]), emb.weight)
    padded = gk.nn.Embedding(5, 3, padding_idx=-2, device=backend)
    assert padded.padding_idx == torch.nn.Embedding(5, 3, padding_idx=-2).padding_idx == 3
    assert not padded.weight.numpy()[3].any()
    assert repr(padded) == repr(torch.nn.Embedding(5, 3, padding_idx=-2))
    with pytest.raises(IndexError, match="out of bounds for dimension 0 with size 2"):  # plain indexing: as it was
        gk.tensor([[1.0], [2.0]], device=backend)[gk.tensor([2], device=backend)]
