"""gradkit.save / gradkit.load (torch.save / torch.load in the safetensors format): round trips of every kind of
value on every backend, refusals, and, in the torch session, torch as the oracle: the same structure as
torch.save/torch.load gives, tensors that safetensors.torch reads, and every model type's checkpoint loaded into
its PyTorch twin (tests/torch_twins.py) giving gradkit's logits."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

import gradkit
from gradkit import backends, nn, serialization
from gradkit.files import CheckpointError


def nested(backend: backends.Backend) -> dict[Any, Any]:
    """One of each kind of value gradkit.save stores."""
    t = gradkit.tensor
    return {
        "f32": t([[1.5, -2.0], [3.0, 4.25]], backend=backend, dtype="float32"),
        "f64": t([1e-300, -0.0], backend=backend, dtype="float64", requires_grad=True),
        "i64": t([2**40, -3], backend=backend, dtype="int64"),
        "mask": t([True, False], backend=backend),
        "scalar": t(7.0, backend=backend, dtype="float64"),
        "param": nn.Parameter(np.ones((2, 3)), backend=backend, dtype="float32"),
        "array": np.arange(6, dtype=np.int8).reshape(2, 3),
        "numpy scalar": np.float32(0.25),
        3: {"step": 10, "lr": 0.001, "betas": (0.9, 0.99), "nan": math.nan, "inf": -math.inf},
        "list": [None, True, "text ☃", [], (), {}, [1, [2, [3]]]],
    }


def assert_same(got: Any, expected: Any, backend: backends.Backend) -> None:
    assert type(got) is type(expected), (got, expected)
    if isinstance(expected, gradkit.Tensor):
        assert got.backend is backend and got.dtype == expected.dtype and got.shape == expected.shape
        assert got.requires_grad == expected.requires_grad
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
    elif isinstance(expected, (np.ndarray, np.generic)):
        assert got.dtype == expected.dtype and np.shape(got) == np.shape(expected)
        np.testing.assert_array_equal(got, expected)
    elif isinstance(expected, dict):
        assert list(got) == list(expected)
        for k in expected:
            assert_same(got[k], expected[k], backend)
    elif isinstance(expected, (list, tuple)):
        assert len(got) == len(expected)
        for a, b in zip(got, expected):
            assert_same(a, b, backend)
    elif isinstance(expected, float) and math.isnan(expected):
        assert math.isnan(got)
    else:
        assert got == expected


def test_round_trip_of_every_kind_of_value(backend: backends.Backend, tmp_path: Path) -> None:
    obj = nested(backend)
    gradkit.save(obj, tmp_path / "obj.safetensors")
    assert_same(gradkit.load(tmp_path / "obj.safetensors"), obj, backend)  # back on the backend it was saved from
    host = gradkit.load(tmp_path / "obj.safetensors", map_location="cpu", weights_only=True)
    assert host["f32"].backend is backends.get_backend("numpy")
    buffer = io.BytesIO()  # a file object, as torch.save(obj, buffer)
    gradkit.save(obj, buffer)
    buffer.seek(0)
    assert_same(gradkit.load(buffer), obj, backend)


def test_a_state_dict_keeps_its_names_for_any_safetensors_reader(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(3, 4, generator=gradkit.Generator().manual_seed(0)), nn.Tanh())
    state = model.state_dict()
    gradkit.save(state, tmp_path / "model.safetensors")
    tensors = load_file(tmp_path / "model.safetensors")
    assert tensors.keys() == state.keys()
    for k, v in state.items():
        np.testing.assert_array_equal(tensors[k], v)
    loaded = gradkit.load(tmp_path / "model.safetensors")
    model.load_state_dict(loaded)


def test_an_optimizer_state_round_trips(tmp_path: Path) -> None:
    """The optimizer's state_dict as it gives it (opaque to gradkit.save), loaded into a fresh optimizer."""
    w = nn.Parameter(np.ones(3), dtype="float64")
    opt = gradkit.optim.AdamW([w], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    gradkit.save(opt.state_dict(), tmp_path / "opt.safetensors")
    again = gradkit.optim.AdamW([nn.Parameter(np.ones(3), dtype="float64")], lr=0.5)
    again.load_state_dict(gradkit.load(tmp_path / "opt.safetensors"))
    assert again.param_groups[0]["lr"] == 0.1 and again.state_dict().keys() == opt.state_dict().keys()
    for name, value in opt.state[w].items():
        np.testing.assert_array_equal(again.state[again.param_groups[0]["params"][0]][name].numpy(), value.numpy())


def test_a_plain_safetensors_file_loads_as_a_dict_of_tensors(tmp_path: Path) -> None:
    save_file({"a": np.arange(3.0), "b": np.eye(2, dtype=np.float32)}, tmp_path / "plain.safetensors")
    loaded = gradkit.load(tmp_path / "plain.safetensors")
    assert sorted(loaded) == ["a", "b"] and loaded["b"].dtype == gradkit.float32
    assert loaded["a"].backend is backends.get_backend("numpy")
    np.testing.assert_array_equal(loaded["a"].numpy(), np.arange(3.0))


class Thing:
    pass


@pytest.mark.parametrize(("obj", "message"), [
    (Thing(), r"cannot store the .*Thing at the top level"),
    ({"fn": print}, r"cannot store the builtins.builtin_function_or_method at \['fn'\]"),
    ({"layer": nn.Tanh()}, r"at \['layer'\].*save its state_dict\(\) instead"),
    ([{1.5: 0}], r"a dict key at \['0'\] is float"),
    ({"c": np.zeros(2, np.complex128)}, "dtype complex128"),
    ({"s": np.array(["a"])}, "dtype <U1"),
])
def test_anything_else_is_refused_with_the_reason(tmp_path: Path, obj: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        gradkit.save(obj, tmp_path / "x.safetensors")
    assert not (tmp_path / "x.safetensors").exists()


def test_too_deep_and_bad_arguments(tmp_path: Path) -> None:
    deep: list[Any] = []
    for _ in range(serialization.MAX_DEPTH + 1):
        deep = [deep]
    with pytest.raises(ValueError, match="deeper than 64 levels"):
        gradkit.save(deep, tmp_path / "deep.safetensors")
    gradkit.save({"a": gradkit.zeros(1, backend="numpy")}, tmp_path / "a.safetensors")
    with pytest.raises(TypeError, match="map_location must be a device or backend name"):
        gradkit.load(tmp_path / "a.safetensors", map_location={"cuda:0": "cpu"})
    with pytest.raises(backends.UnknownBackendError, match="tpu"):
        gradkit.load(tmp_path / "a.safetensors", map_location="tpu")


def test_a_damaged_file_is_one_checkpoint_error(tmp_path: Path) -> None:
    gradkit.save({"w": np.arange(100.0)}, tmp_path / "w.safetensors")
    data = bytearray((tmp_path / "w.safetensors").read_bytes())
    data[-9] ^= 1
    (tmp_path / "w.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="do not match the checksum"):
        gradkit.load(tmp_path / "w.safetensors")
    (tmp_path / "w.safetensors").write_bytes(data[:-4])
    with pytest.raises(CheckpointError, match="damaged or truncated"):
        gradkit.load(tmp_path / "w.safetensors")


def test_a_tensor_saved_on_a_missing_device_names_map_location(tmp_path: Path) -> None:
    if backends.probe()["cupy"].usable:
        pytest.skip("cupy works here")
    tensors, structure = serialization.encode({"w": np.zeros(2)})
    serialization.write(tmp_path / "gpu.safetensors", tensors, {"format": serialization.FORMAT,
                                                              "structure": '{"tensor": "w", "device": "cupy"}'})
    with pytest.raises(backends.BackendUnavailableError, match="pass map_location='cpu'"):
        gradkit.load(tmp_path / "gpu.safetensors")
    assert gradkit.load(tmp_path / "gpu.safetensors", map_location="cpu").shape == (2,)


# --- against torch ---------------------------------------------------------------------------------------------


def _to_gradkit(obj: Any) -> Any:
    """A torch object with its tensors as gradkit Tensors (the same structure)."""
    import torch

    if isinstance(obj, torch.Tensor):
        return gradkit.tensor(obj.detach().numpy(), backend="numpy", requires_grad=obj.requires_grad)
    if isinstance(obj, dict):
        return {k: _to_gradkit(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_gradkit(v) for v in obj)
    return obj


def _assert_matches_torch(got: Any, expected: Any) -> None:
    import torch

    if isinstance(expected, torch.Tensor):
        assert isinstance(got, gradkit.Tensor) and got.shape == tuple(expected.shape)
        assert str(got.dtype).removeprefix("gradkit.") == str(expected.dtype).removeprefix("torch.")
        assert got.requires_grad == expected.requires_grad
        np.testing.assert_array_equal(got.numpy(), expected.detach().numpy())
    elif isinstance(expected, dict):
        assert type(got) is dict and list(got) == list(expected)  # key types too: int stays int
        for k in expected:
            _assert_matches_torch(got[k], expected[k])
    elif isinstance(expected, (list, tuple)):
        assert type(got) is type(expected) and len(got) == len(expected)
        for a, b in zip(got, expected):
            _assert_matches_torch(a, b)
    else:
        assert type(got) is type(expected) and (got == expected or got != got and expected != expected)


@pytest.mark.torch
def test_the_same_object_as_torch_save_and_load_give(tmp_path: Path) -> None:
    """A torch optimizer's state_dict ({'state': {int: {...}}, 'param_groups': [...]}) and a model's, with
    nested extras: gradkit.save + gradkit.load give what torch.save + torch.load give, and safetensors.torch
    reads every tensor with its dtype and shape."""
    import torch
    from safetensors.torch import load_file as torch_load_file

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4)).double()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99))
    model(torch.randn(5, 3, dtype=torch.float64)).sum().backward()
    opt.step()
    obj = {"model": model.state_dict(), "optimizer": opt.state_dict(), "iter_num": 7, "best_val_loss": 1.5,
           "ix": torch.tensor([1, 2], dtype=torch.int64), "mask": torch.tensor([True]),
           "config": {"n_layer": 2, "bias": False, "dataset": "names", "dropout": 0.0}, "none": None}
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    expected = torch.load(buffer, weights_only=True)
    gradkit.save(_to_gradkit(obj), tmp_path / "ckpt.safetensors")
    _assert_matches_torch(gradkit.load(tmp_path / "ckpt.safetensors"), expected)
    tensors = torch_load_file(tmp_path / "ckpt.safetensors")
    assert tensors["optimizer.state.0.exp_avg"].dtype == torch.float64
    torch.testing.assert_close(tensors["optimizer.state.1.exp_avg_sq"], expected["optimizer"]["state"][1]["exp_avg_sq"])
    assert torch.equal(tensors["optimizer.state.0.step"], expected["optimizer"]["state"][0]["step"])
    fresh = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4)).double()
    fresh.load_state_dict({k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")})
    for a, b in zip(fresh.parameters(), model.parameters()):
        assert torch.equal(a, b)


TINY = {"counts": {}, "bigram": {}, "mlp": {"n_embd": 3, "n_hidden": 8}, "bnmlp": {"n_embd": 3, "n_hidden": 8,
        "n_layer": 2}, "wavenet": {"n_embd": 3, "n_hidden": 8, "block_size": 4}, "bow": {"n_embd": 4, "n_embd2": 6},
        "rnn": {"n_embd": 4, "n_embd2": 6}, "gru": {"n_embd": 4, "n_embd2": 6},
        "transformer": {"n_embd": 8, "n_head": 2, "n_layer": 2}}



@pytest.mark.torch
@pytest.mark.parametrize("kind", list(TINY))
def test_a_checkpoint_loads_into_the_torch_twin(kind: str, tmp_path: Path) -> None:
    """gradkit train's model.safetensors, read by safetensors.torch.load_file, fills the equivalent torch
    module's state_dict (strict: every name and shape), which then gives gradkit's logits."""
    import torch
    from safetensors.torch import load_file as torch_load_file
    from torch_twins import twin

    from gradkit.data import load_words
    from gradkit.train import TrainConfig, fit, new_run, prepare
    from gradkit.workdir import load_run, save_run

    be = gradkit.get_backend("numpy")
    words = load_words()[:300]
    settings = {"max_steps": 3, "batch_size": 8} if kind != "counts" else {}
    config = TrainConfig.of(kind, dtype="float64", **TINY[kind], **settings).resolved().fit_to(words)
    splits = prepare(words, config, be)
    save_run(tmp_path, fit(new_run(config, splits.vocab, be), splits), splits.vocab, be, None)
    run, _, _ = load_run(tmp_path, be)
    tensors = torch_load_file(tmp_path / "model.safetensors")
    module = twin(kind, run.config.spec, splits.vocab.vocab_size)
    module.load_state_dict({k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")})
    X = splits.tensors["dev"][0][:16].long()
    run.model.eval()
    with torch.no_grad():
        expected = module(torch.from_numpy(X.numpy()))
    np.testing.assert_allclose(run.model(X).numpy(), expected.numpy(), rtol=1e-12, atol=1e-12)


# --- copy.deepcopy and pickle (Python's own copies, as torch supports them) ------------------------------------


def test_deepcopy_of_a_model_and_its_optimizer_state_is_an_independent_equal_copy(backend: backends.Backend) -> None:
    """``copy.deepcopy(model)`` (the lectures' and nanoGPT's EMA/best-model idiom) and ``copy.deepcopy(opt.
    state_dict())`` (the Optimizer docstring's advice): equal values, Parameters still, on the same backend, and
    independent: a later step changes the originals only. A weight tied in two places stays one tensor."""
    import copy

    model = nn.Sequential(nn.Linear(3, 4, device=backend), nn.Tanh(), nn.Linear(4, 3, device=backend))
    model[2].weight = model[0].weight  # tied: one tensor in two places (the shapes do not matter here)
    opt = gradkit.optim.AdamW(model.parameters(), lr=0.1)
    for p in model.parameters():
        p.grad = gradkit.ones_like(p)
    opt.step()
    twin, state = copy.deepcopy(model), copy.deepcopy(opt.state_dict())
    assert next(model.parameters()) is model[0].weight  # an iterator, as torch's
    assert twin[0].weight is twin[2].weight and twin[0].weight is not model[0].weight
    before = [p.numpy() for p in twin.parameters()]
    moments = [s["exp_avg"].numpy() for s in state["state"].values()]
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        assert type(q) is nn.Parameter and q.backend == backend and q.requires_grad
        np.testing.assert_array_equal(p.numpy(), q.numpy(), strict=True)
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy(), strict=True)
    opt.step()
    for b, q in zip(before, twin.parameters(), strict=True):
        np.testing.assert_array_equal(b, q.numpy(), strict=True)
    for m, s in zip(moments, state["state"].values(), strict=True):
        np.testing.assert_array_equal(m, s["exp_avg"].numpy(), strict=True)
    assert not np.array_equal(before[0], model[0].weight.numpy())


def test_pickle_round_trips_a_tensor_and_refuses_a_graph_as_torch(backend: backends.Backend) -> None:
    """pickle keeps values, dtype, backend, requires_grad and .grad; a non-leaf that requires grad is refused with
    torch's words (pickle and deepcopy alike)."""
    import copy
    import pickle

    t = gradkit.tensor([[1.5, -2.0], [3.0, 4.25]], backend=backend, dtype="float64", requires_grad=True)
    t.grad = gradkit.tensor([[0.5, 0.25], [1.0, 2.0]], backend=backend, dtype="float64")
    u = pickle.loads(pickle.dumps(t))
    assert u.backend is t.backend and u.dtype == t.dtype and u.requires_grad and u.is_leaf
    np.testing.assert_array_equal(u.detach().numpy(), t.detach().numpy(), strict=True)
    np.testing.assert_array_equal(u.grad.numpy(), t.grad.numpy(), strict=True)
    i = pickle.loads(pickle.dumps(gradkit.tensor([2**40, -3], backend=backend, dtype="int64")))
    assert i.dtype == gradkit.int64 and i.tolist() == [2**40, -3]
    with pytest.raises(RuntimeError, match="Cowardly refusing to serialize non-leaf tensor which requires_grad"):
        pickle.dumps(t * 2)
    with pytest.raises(RuntimeError, match=r"Only Tensors created explicitly by the user \(graph leaves\)"):
        copy.deepcopy(t * 2)
    assert pickle.loads(pickle.dumps((t * 2).detach())).tolist() == [[3.0, -4.0], [6.0, 8.5]]


def test_a_pickled_optimizer_steps_as_the_original(backend: backends.Backend) -> None:
    """pickle of a model and its AdamW together (one pickle, so the optimizer holds the copy's parameters): the
    copy's next step gives the original's numbers."""
    import pickle

    model = nn.Linear(3, 2, device=backend)
    opt = gradkit.optim.AdamW(model.parameters(), lr=0.1)
    for _ in range(2):
        for p in model.parameters():
            p.grad = gradkit.ones_like(p)
        opt.step()
    twin, twin_opt = pickle.loads(pickle.dumps((model, opt)))
    for m, o in ((model, opt), (twin, twin_opt)):
        for p in m.parameters():
            p.grad = gradkit.full_like(p, 0.5)
        o.step()
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy(), strict=True)
    assert twin_opt.param_groups[0]["params"][0] is twin.weight
