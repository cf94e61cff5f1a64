"""gradkit.utils.data (torch.utils.data) against torch's: batches, collation, samplers, random_split; and
gradkit.utils.tensorboard's SummaryWriter (its event files read back with TensorBoard's own reader)."""

from __future__ import annotations

import collections
import subprocess
import sys

import numpy as np
import pytest

import gradkit as gk
from gradkit.utils import data


class Words(data.Dataset):
    """Examples of every kind default_collate meets: a tuple of tensors, numbers, strings, a dict."""

    def __init__(self, lib, n=7):
        self.lib, self.n = lib, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        x = self.lib.tensor([i, i + 1, i + 2], dtype=self.lib.int64)
        return x, float(i) / 2, i, f"w{i}", {"y": self.lib.tensor([float(i)]), "arr": np.full(2, i, np.float32)}


def _plain(batch):
    """A collated batch as plain Python (lists, numbers, strings), for comparing gradkit's with torch's."""
    if hasattr(batch, "tolist"):
        return ("T", str(batch.dtype).replace("torch.", "").replace("gradkit.", ""), batch.tolist())
    if isinstance(batch, dict):
        return {k: _plain(v) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return [_plain(b) for b in batch]
    return batch


@pytest.mark.torch
@pytest.mark.parametrize(("batch_size", "drop_last"), [(3, False), (3, True), (7, False), (1, False)])
def test_sequential_batches_and_collation_match_torch(batch_size, drop_last):
    t = pytest.importorskip("torch")
    ours = data.DataLoader(Words(gk), batch_size=batch_size, drop_last=drop_last)
    theirs = t.utils.data.DataLoader(Words(t), batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(theirs)
    got, want = [_plain(b) for b in ours], [_plain(b) for b in theirs]
    assert got == want


@pytest.mark.torch
def test_tensor_dataset_random_split_and_no_batching_match_torch():
    t = pytest.importorskip("torch")
    x = np.arange(12).reshape(6, 2)
    ours = data.TensorDataset(gk.tensor(x), gk.tensor(x[:, 0] * 1.5))
    theirs = t.utils.data.TensorDataset(t.tensor(x), t.tensor(x[:, 0] * 1.5))
    assert len(ours) == len(theirs) and _plain(list(ours[2])) == _plain(list(theirs[2]))
    assert [_plain(b) for b in data.DataLoader(ours, batch_size=4)] == \
        [_plain(b) for b in t.utils.data.DataLoader(theirs, batch_size=4)]
    for lengths in ([4, 6], [0.5, 0.3, 0.2], [0.34, 0.33, 0.33]):
        a = data.random_split(range(10), lengths)
        b = t.utils.data.random_split(range(10), lengths)
        assert [len(s) for s in a] == [len(s) for s in b]
        assert sorted(i for s in a for i in s) == list(range(10))
    with pytest.raises(ValueError, match="Sum of input lengths"):
        data.random_split(range(10), [3, 3])
    with pytest.raises(ValueError):
        t.utils.data.random_split(range(10), [3, 3])
    assert _plain(list(data.DataLoader(np.arange(3.0), batch_size=None))) == \
        _plain(list(t.utils.data.DataLoader(np.arange(3.0), batch_size=None)))


@pytest.mark.torch
def test_option_errors_match_torch():
    t = pytest.importorskip("torch")
    ds = list(range(5))
    for kwargs in ({"sampler": [0, 1], "shuffle": True}, {"batch_sampler": [[0]], "batch_size": 2},
                   {"batch_size": None, "drop_last": True}, {"num_workers": -1}):
        with pytest.raises(ValueError) as ours:
            data.DataLoader(ds, **kwargs)
        with pytest.raises(ValueError) as theirs:
            t.utils.data.DataLoader(ds, **kwargs)
        assert str(ours.value).split(";")[0] == str(theirs.value).split(";")[0]
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        data.RandomSampler(ds, num_samples=0)
    with pytest.raises(TypeError, match="replacement should be a boolean"):
        data.RandomSampler(ds, replacement=1)
    with pytest.raises(RuntimeError, match="equal size"):
        data.default_collate([[1, 2], [3]])


def test_shuffle_visits_every_example_once_per_epoch_and_follows_the_seed():
    ds = data.TensorDataset(gk.arange(10))
    gk.manual_seed(1)
    first = [int(i) for (b,) in data.DataLoader(ds, batch_size=3, shuffle=True) for i in b.tolist()]
    second = [int(i) for (b,) in data.DataLoader(ds, batch_size=3, shuffle=True) for i in b.tolist()]
    gk.manual_seed(1)
    again = [int(i) for (b,) in data.DataLoader(ds, batch_size=3, shuffle=True) for i in b.tolist()]
    assert sorted(first) == list(range(10)) and first == again and first != second
    gen = gk.Generator(seed=5)
    a = list(data.RandomSampler(range(10), generator=gen))
    assert sorted(a) == list(range(10))


def test_random_sampler_with_replacement_is_an_endless_lazy_stream():
    """makemore's InfiniteDataLoader: RandomSampler(replacement=True, num_samples=int(1e10))."""
    ds = Words(gk, n=5)
    sampler = data.RandomSampler(ds, replacement=True, num_samples=int(1e10))
    loader = iter(data.DataLoader(ds, sampler=sampler, batch_size=4, pin_memory=True, num_workers=4))
    counts = collections.Counter()
    for _ in range(100):
        x, *_ = next(loader)
        assert x.shape == (4, 3) and x.dtype == gk.int64
        counts.update(int(v) for v in x[:, 0].tolist())
    assert set(counts) == set(range(5)) and min(counts.values()) > 40  # uniform: 80 expected each
    assert len(sampler) == int(1e10)
    short = list(data.RandomSampler(range(3), replacement=True, num_samples=70))
    assert len(short) == 70 and set(short) == {0, 1, 2}
    longer = list(data.RandomSampler(range(3), num_samples=7))
    assert len(longer) == 7 and sorted(longer[:6]) == [0, 0, 1, 1, 2, 2]


def test_iterable_dataset_and_subsets():
    class Stream(data.IterableDataset):
        def __iter__(self):
            return iter(range(5))

    assert [b.tolist() for b in data.DataLoader(Stream(), batch_size=2)] == [[0, 1], [2, 3], [4]]
    with pytest.raises(ValueError, match="shuffle"):
        data.DataLoader(Stream(), shuffle=True)
    both = data.ConcatDataset([range(3), range(10, 12)])
    assert len(both) == 5 and both[3] == 10 and both[-1] == 11
    assert list(data.Subset(range(10), [7, 2])) == [7, 2]
    assert data.get_worker_info() is None


def test_summary_writer_event_file_reads_back(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from gradkit.utils.tensorboard import SummaryWriter

    with SummaryWriter(log_dir=tmp_path / "run") as w:
        for step in range(3):
            w.add_scalar("Loss/train", gk.tensor(2.5 - step), step)
        w.add_scalar("Loss/test", 1.25, 10)
        w.flush()
        with pytest.raises(ValueError, match="scalar"):
            w.add_scalar("bad", gk.tensor([1.0, 2.0]), 0)
    acc = EventAccumulator(str(tmp_path / "run"))
    acc.Reload()
    assert [(e.step, e.value) for e in acc.Scalars("Loss/train")] == [(0, 2.5), (1, 1.5), (2, 0.5)]
    assert [(e.step, e.value) for e in acc.Scalars("Loss/test")] == [(10, 1.25)]


def test_summary_writer_without_tensorboard_names_the_package():
    code = ("import sys; sys.modules['tensorboard'] = None\n"
            "try:\n    import gradkit.utils.tensorboard\nexcept ImportError as e:\n    print(e)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "needs the tensorboard package" in out and "pip install tensorboard" in out
