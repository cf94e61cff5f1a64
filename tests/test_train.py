"""gradkit.train (TrainConfig, prepare, new_run, fit, losses) and gradkit.workdir (save_run / load_run)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from safetensors.numpy import save_file

from gradkit import get_backend
from gradkit.data import DataError, load_words
from gradkit.files import CheckpointError
from gradkit.train import ConfigError, TrainConfig, fit, losses, new_run, prepare
from gradkit.workdir import MODEL_FILE, load_run, save_run, write_log, write_samples

# float64 on two backends that both run numpy's kernels underneath: the same operations in the same order,
# so the curves agree to rounding; 1e-10 absolute on losses of ~3.
CURVE_ATOL = 1e-10


@pytest.fixture(scope="module")
def words():
    return load_words()


def _mlp(**kw):
    base = {"n_embd": 4, "n_hidden": 16, "dtype": "float64", "log_every": 1}
    return TrainConfig.of("mlp", **{**base, **kw}).resolved()


def _curve(config, words, backend_name):
    be = get_backend(backend_name)
    splits = prepare(words, config, be)
    run = fit(new_run(config, splits.vocab, be), splits)
    return run, splits


def test_mlp_loss_curve_same_on_numpy_and_strict(words):
    config = _mlp(max_steps=100, lr_decay_step=50)
    a, _ = _curve(config, words, "numpy")
    b, _ = _curve(config, words, "strict")
    steps, la, lra = zip(*a.history)
    assert list(steps) == list(range(100))
    assert lra == (0.1,) * 50 + (0.01,) * 50  # the recipe's lr, divided by 10 at lr_decay_step
    np.testing.assert_allclose([h[1] for h in b.history], la, rtol=0, atol=CURVE_ATOL)
    assert [h[2] for h in b.history] == list(lra)
    for (name, pa), (_, pb) in zip(a.model.named_parameters(), b.model.named_parameters()):
        np.testing.assert_allclose(pb.numpy(), pa.numpy(), rtol=0, atol=CURVE_ATOL, err_msg=name)
    # It learns: from about ln 27 to clearly below it.
    assert abs(la[0] - np.log(27)) < 0.05 and np.mean(la[-10:]) < la[0] - 0.25


def test_fit_in_two_parts_equals_one_run(words):
    config = _mlp(max_steps=60, lr_decay_step=30, log_every=7)
    be = get_backend("numpy")
    splits = prepare(words, config, be)
    whole = fit(new_run(config, splits.vocab, be), splits)
    part = new_run(config, splits.vocab, be)
    fit(part, splits, max_steps=25)
    assert part.step == 25
    fit(part, splits)
    assert part.step == 60 == whole.step
    for (name, pa), (_, pb) in zip(whole.model.named_parameters(), part.model.named_parameters()):
        np.testing.assert_array_equal(pb.numpy(), pa.numpy(), err_msg=name)
    # Logged every 7 steps and at the run's last, however it was split.
    assert [h[0] for h in whole.history] == [0, 7, 14, 21, 28, 35, 42, 49, 56, 59]
    assert part.history == whole.history


def test_fit_reports_each_logged_step(words):
    config = _mlp(max_steps=5, log_every=2)
    be = get_backend("numpy")
    splits = prepare(words, config, be)
    seen = []
    run = fit(new_run(config, splits.vocab, be), splits, on_log=lambda *row: seen.append(row))
    assert seen == run.history and [s for s, _, _ in seen] == [0, 2, 4]


def test_counts_fit_and_losses(words):
    config = TrainConfig.of("counts").resolved()
    be = get_backend("numpy")
    splits = prepare(words, config, be)
    run = fit(new_run(config, splits.vocab, be), splits)
    assert run.step == 1 and run.optimizer is None and run.history == []
    counts = run.model.counts.numpy()
    assert counts.sum() == sum(len(w) + 1 for w in splits.words["train"])  # one bigram per character + '.'
    fit(run, splits)  # a second fit does not count twice
    np.testing.assert_array_equal(run.model.counts.numpy(), counts)
    result = losses(run.model, splits)
    assert list(result) == ["train", "dev", "test"]
    assert 2.3 < result["train"] < result["dev"] < 2.6


def test_full_batch_bigram_recipe(words):
    config = TrainConfig.of("bigram", max_steps=3, log_every=1).resolved()
    assert (config.batch_size, config.spec.learning_rate, config.spec.context_size()) == (0, 50.0, 1)
    assert [config.spec.lr_at(s) for s in (0, 2, 10**6)] == [50.0] * 3  # never decays
    be = get_backend("numpy")
    splits = prepare(words[:3000], config, be)
    run = fit(new_run(config, splits.vocab, be), splits)
    values = [h[1] for h in run.history]
    assert values[0] > values[1] > values[2]
    # Full batch: the logged loss is the model's loss on the whole training split before that step.
    X, Y = splits.tensors["train"]
    assert abs(run.model.loss(X, Y).item() - values[2]) > 1e-4  # after the last step it moved on


# TrainConfig.
def test_recipes_resolve():
    mlp = TrainConfig().resolved()
    spec = mlp.spec
    assert (mlp.type, spec.block_size, mlp.max_steps, mlp.batch_size, spec.learning_rate, spec.lr_decay_step) == \
        ("mlp", 3, 200_000, 32, 0.1, 100_000)
    assert [spec.lr_at(s) for s in (0, 99_999, 100_000, 199_999)] == [0.1, 0.1, 0.01, 0.01]
    bigram = TrainConfig.of("bigram").resolved()
    assert (bigram.max_steps, bigram.batch_size, bigram.spec.learning_rate) == (200, 0, 50.0)
    assert TrainConfig.of("mlp", max_steps=10).resolved().spec.lr_decay_step == 5
    counts = TrainConfig.of("counts").resolved()
    assert (counts.max_steps, counts.batch_size, counts.spec.context_size()) == (0, 0, 1)
    original = TrainConfig.of("mlp")
    original.resolved()
    assert original.spec.lr_decay_step is None  # resolved() returns a copy
    # The checkpoint's form round-trips, and flat settings change one field.
    assert TrainConfig.from_dict(mlp.to_dict()) == mlp
    assert mlp.replace(n_hidden=7, seed=3).resolved().settings() == {**mlp.settings(), "n_hidden": 7, "seed": 3}
    assert mlp.fixed("n_hidden") and mlp.fixed("seed") and not mlp.fixed("max_steps") and not mlp.fixed("log_every")


@pytest.mark.parametrize(("kind", "kwargs", "message"), [
    ("lstm", {}, "unknown model type 'lstm'; choose one of: counts, bigram, mlp"),
    ("mlp", {"block_size": 0}, "--block-size must be an integer >= 1, got 0"),
    ("mlp", {"n_hidden": 0}, "--n-hidden must be an integer >= 1"),
    ("mlp", {"n_embd": 2.5}, "--n-embd must be an integer"),
    ("mlp", {"batch_size": -1}, "--batch-size must be an integer >= 0"),
    ("mlp", {"max_steps": -3}, "--max-steps must be an integer >= 0"),
    ("mlp", {"log_every": 0}, "--log-every must be an integer >= 1"),
    ("mlp", {"seed": -1}, "--seed must be an integer >= 0, got -1"),
    ("mlp", {"dtype": "float16"}, "--dtype must be float32 or float64"),
    ("mlp", {"learning_rate": float("inf")}, "--learning-rate must be a finite number"),
    ("mlp", {"learning_rate": -0.1}, "--learning-rate must be a finite number >= 0"),
    ("counts", {"smoothing": -1.0}, "--smoothing must be a finite number >= 0"),
    ("bigram", {"block_size": 3}, "--block-size does not apply to --type bigram; its settings are --max-steps"),
    ("counts", {"max_steps": 3, "n_embd": 2}, "--max-steps, --n-embd do not apply to --type counts; its settings "
                                              "are --smoothing"),
])
def test_bad_configs(kind, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig.of(kind, **kwargs).resolved()


def test_prepare_splits_and_errors(words):
    config = _mlp(block_size=4, batch_size=8)
    splits = prepare(words, config, get_backend("numpy"))
    n = len(words)
    assert [len(splits.words[k]) for k in ("train", "dev", "test")] == [int(0.8 * n), int(0.9 * n) - int(0.8 * n),
                                                                         n - int(0.9 * n)]
    X, Y = splits.tensors["train"]
    assert X.shape == (sum(len(w) + 1 for w in splits.words["train"]), 4) and Y.shape == X.shape[:1]
    assert sorted(sum(splits.words.values(), [])) == sorted(words)
    tiny = ["ab", "cd", "ef", "gh", "ij", "kl", "mn", "op", "qr", "st"]
    with pytest.raises(ConfigError, match=r"--batch-size 1000 is larger than the training split \(24 examples\)"):
        prepare(tiny, config.replace(batch_size=1000).resolved(), get_backend("numpy"))
    with pytest.raises(DataError, match="at least 6 words"):
        prepare(tiny[:3], config, get_backend("numpy"))


def test_new_run_is_seeded_and_backend_independent(words):
    config = _mlp(max_steps=1)
    vocab = prepare(words[:100], config, get_backend("numpy")).vocab
    def weights(run):
        return {k: v.numpy() for k, v in run.model.state_dict().items()}

    a = weights(new_run(config, vocab, get_backend("numpy")))
    b = weights(new_run(config, vocab, get_backend("strict")))
    c = weights(new_run(dataclasses.replace(config, seed=43), vocab, get_backend("numpy")))
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["hidden.weight"], c["hidden.weight"])


# The work directory.
def test_save_and_load_run_round_trip_on_every_backend(words, tmp_path, backend):
    config = _mlp(max_steps=8, log_every=3)
    be = get_backend("numpy")
    splits = prepare(words, config, be)
    run = fit(new_run(config, splits.vocab, be), splits, max_steps=5)
    save_run(tmp_path, run, splits.vocab, be, None)
    loaded, vocab, meta = load_run(tmp_path, backend)
    assert vocab.symbols == splits.vocab.symbols and loaded.model.backend == backend
    assert (meta["type"], meta["backend"], meta["step"], meta["input"]) == ("mlp", "numpy", 5, None)
    assert loaded.config == config and loaded.step == 5 and loaded.history == run.history
    assert loaded.optimizer.param_groups[0]["lr"] == run.optimizer.param_groups[0]["lr"]
    for k, v in run.model.state_dict().items():
        np.testing.assert_array_equal(loaded.model.state_dict()[k].numpy(), v.numpy())
    # Continuing the loaded run gives what continuing the original gives (same minibatches, same lr).
    fit(run, splits)
    splits_b = prepare(words, config, backend)
    fit(loaded, splits_b)
    for k, v in run.model.state_dict().items():
        np.testing.assert_allclose(loaded.model.state_dict()[k].numpy(), v.numpy(), rtol=0, atol=CURVE_ATOL)


def test_load_run_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no model in .*model.safetensors does not exist; train one first"):
        load_run(tmp_path, get_backend("numpy"))
    save_file({"a": np.zeros(3)}, tmp_path / MODEL_FILE)
    with pytest.raises(CheckpointError, match="not a gradkit checkpoint"):
        load_run(tmp_path, get_backend("numpy"))
    from gradkit import checkpoint

    checkpoint.save(tmp_path / MODEL_FILE, {"model": {"W": np.zeros((3, 3))}}, {"config": {"type": "lstm"}})
    with pytest.raises(CheckpointError, match="does not hold a model gradkit can rebuild.*unknown model type 'lstm'"):
        load_run(tmp_path, get_backend("numpy"))


def test_write_log_and_samples(tmp_path):
    write_log(tmp_path, [(0, 3.2958123, 0.1), (10, 2.5, 0.01)], [(0, 3.3), (10, 2.75)])
    assert (tmp_path / "log.csv").read_text() == ("step,loss,lr,dev_loss\n0,3.295812,0.1,\n0,,,3.300000\n"
                                                  "10,2.500000,0.01,\n10,,,2.750000\n")
    write_samples(tmp_path, ["emma", "liam"])
    assert (tmp_path / "samples.txt").read_text() == "emma\nliam\n"
