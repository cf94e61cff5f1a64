"""Tests of gradkit.data: words, vocabulary, context windows, splits (makemore, "Building makemore" 1 and 2)."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradkit.data import (
    DataError,
    UnknownCharError,
    Vocab,
    bigram_pairs,
    build_dataset,
    load_words,
    make_moons,
    split_words,
)


@pytest.fixture(scope="module")
def embedded() -> list[str]:
    return load_words()


def reference_windows(words: list[str], vocab: Vocab, block_size: int) -> tuple[list, list]:
    """The course's loop (makemore part 2), verbatim in spirit."""
    X, Y = [], []
    for w in words:
        context = [0] * block_size
        for ch in w + ".":
            ix = vocab.stoi[ch]
            X.append(context)
            Y.append(ix)
            context = context[1:] + [ix]
    return X, Y


# --- the lectures' data steps on the names that ship with gradkit -------------------------------------------


def test_names_vocabulary(embedded: list[str]) -> None:
    vocab = Vocab(embedded)
    assert vocab.vocab_size == 27
    assert vocab.stoi["."] == 0 and vocab.stoi["a"] == 1 and vocab.stoi["z"] == 26
    assert vocab.itos[0] == "." and vocab.itos[26] == "z"


def test_bigram_pairs(embedded: list[str]) -> None:
    vocab = Vocab(embedded)
    xs, ys = bigram_pairs(embedded, vocab)
    n = sum(len(w) + 1 for w in embedded)  # a word of k letters gives k + 1 bigrams, '.' at both ends
    assert n == 214_764 and xs.shape == (n,) and ys.shape == (n,)
    assert xs.dtype == np.int64 and ys.dtype == np.int64
    # ".emma." -> (.e) (em) (mm) (ma) (a.)
    assert xs[:5].tolist() == [0, 5, 13, 13, 1]
    assert ys[:5].tolist() == [5, 13, 13, 1, 0]
    # the lecture's count table N, against counting with a dict as the lecture first does
    counts = np.zeros((27, 27), np.int64)
    np.add.at(counts, (xs, ys), 1)
    b: dict[tuple[str, str], int] = {}
    for w in embedded:
        chs = [".", *w, "."]
        for ch1, ch2 in zip(chs, chs[1:]):
            b[(ch1, ch2)] = b.get((ch1, ch2), 0) + 1
    assert {(vocab.itos[i], vocab.itos[j]): int(c) for (i, j), c in np.ndenumerate(counts) if c} == b


def test_build_dataset(embedded: list[str]) -> None:
    vocab = Vocab(embedded)
    X, Y = build_dataset(embedded, vocab, 3)
    assert X.shape == (214_764, 3) and Y.shape == (214_764,)
    assert X.dtype == np.int64 and Y.dtype == np.int64
    assert X.flags.c_contiguous
    assert X[:5].tolist() == [[0, 0, 0], [0, 0, 5], [0, 5, 13], [5, 13, 13], [13, 13, 1]]
    assert Y[:5].tolist() == [5, 13, 13, 1, 0]
    assert X[5].tolist() == [0, 0, 0] and Y[5] == vocab.stoi["l"]  # "liam" starts afresh
    ref_X, ref_Y = reference_windows(embedded[:2000], vocab, 3)
    n = len(ref_Y)
    np.testing.assert_array_equal(X[:n], np.array(ref_X))
    np.testing.assert_array_equal(Y[:n], np.array(ref_Y))


def test_split(embedded: list[str]) -> None:
    train, dev, test = split_words(embedded)
    assert (len(train), len(dev), len(test)) == (23928, 2991, 2991)  # makemore's int(0.8 n), int(0.9 n)
    assert sorted(train + dev + test) == sorted(embedded)
    Xtr, _ = build_dataset(train, Vocab(embedded), 3)
    assert Xtr.shape[1] == 3


# --- the embedded names list ------------------------------------------------------------------------------


def test_embedded_list(embedded: list[str]) -> None:
    assert 28000 <= len(embedded) <= 32000
    assert len(embedded) == 29910
    assert all(re.fullmatch(r"[a-z]+", w) for w in embedded)
    assert len(set(embedded)) == len(embedded)
    assert embedded[:5] == ["emma", "liam", "olivia", "noah", "ava"]  # most frequent first (SSA, 2017)
    vocab = Vocab(embedded)
    assert vocab.symbols == list(".abcdefghijklmnopqrstuvwxyz")


def test_embedded_file_is_in_package() -> None:
    from importlib import resources

    resource = resources.files("gradkit.data") / "names.txt"
    assert resource.is_file()
    assert resource.read_text(encoding="utf-8").split() == load_words()


# --- load_words ------------------------------------------------------------------------------------------


def test_load_words_strips_and_drops_blank_lines(tmp_path: Path) -> None:
    f = tmp_path / "w.txt"
    f.write_bytes(b"\xef\xbb\xbfanna\r\n\n  bob \n\t\ncarl")
    assert load_words(f) == ["anna", "bob", "carl"]
    assert load_words(str(f)) == ["anna", "bob", "carl"]


def test_load_words_missing(tmp_path: Path) -> None:
    f = tmp_path / "nope.txt"
    with pytest.raises(DataError, match="does not exist") as info:
        load_words(f)
    assert str(f) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_load_words_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is a directory") as info:
        load_words(tmp_path)
    assert str(tmp_path) in str(info.value)


@pytest.mark.parametrize(("content", "problem"), [(b"", "is empty"), (b"\n  \n\t\r\n", "only blank lines")])
def test_load_words_empty(tmp_path: Path, content: bytes, problem: str) -> None:
    f = tmp_path / "empty.txt"
    f.write_bytes(content)
    with pytest.raises(DataError, match=problem) as info:
        load_words(f)
    assert str(f) in str(info.value)


def test_load_words_binary(tmp_path: Path) -> None:
    f = tmp_path / "data.bin"
    f.write_bytes("anna\n".encode("utf-16-le"))
    with pytest.raises(DataError, match=r"binary: NUL byte at byte offset 1") as info:
        load_words(f)
    assert str(f) in str(info.value)


def test_load_words_not_utf8(tmp_path: Path) -> None:
    f = tmp_path / "latin1.txt"
    f.write_bytes("anna\nrené\n".encode("latin-1"))  # 0xe9 at offset 8, line 2
    with pytest.raises(DataError, match=r"not valid UTF-8: byte 0xe9 at byte offset 8 \(line 2\)") as info:
        load_words(f)
    assert str(f) in str(info.value)


def test_load_words_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "secret.txt"
    f.write_text("anna\n")

    def denied(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(DataError, match="permission denied") as info:
        load_words(f)
    assert str(f) in str(info.value)


def test_load_words_permission_denied_for_real(tmp_path: Path) -> None:
    f = tmp_path / "secret.txt"
    f.write_text("anna\n")
    f.chmod(0)
    try:
        try:
            f.read_bytes()
        except PermissionError:
            pass
        else:
            pytest.skip("this user can read a mode-000 file (root)")
        with pytest.raises(DataError, match="permission denied"):
            load_words(f)
    finally:
        f.chmod(0o600)


# --- Vocab -----------------------------------------------------------------------------------------------


def test_vocab_round_trip() -> None:
    vocab = Vocab(["emma", "zoë", "jean-luc"])
    assert vocab.symbols == [".", "-", "a", "c", "e", "j", "l", "m", "n", "o", "u", "z", "ë"]
    assert vocab.vocab_size == len(vocab) == 13
    assert vocab.encode("emma") == [4, 7, 7, 2]
    assert vocab.decode(vocab.encode("jean-luc")) == "jean-luc"
    assert vocab.decode(np.array([0, 11, 9, 12, 0])) == ".zoë."
    d = vocab.to_dict()
    restored = Vocab.from_dict(json.loads(json.dumps(d)))
    assert restored == vocab
    assert restored.stoi == vocab.stoi and restored.itos == vocab.itos
    assert restored.encode("zoë") == vocab.encode("zoë")


def test_vocab_unknown_char() -> None:
    vocab = Vocab(["abc"])
    with pytest.raises(UnknownCharError, match="'x'") as info:
        vocab.encode("axb")
    assert isinstance(info.value, DataError) and isinstance(info.value, KeyError)
    assert info.value.char == "x"
    with pytest.raises(KeyError):
        vocab.encode("q")
    with pytest.raises(DataError, match="index 9"):
        vocab.decode([1, 9])


@pytest.mark.parametrize(("bad", "what"), [("a.b", "'.'"), ("a\nb", "newline")])
def test_vocab_rejects_boundary_and_newline(bad: str, what: str) -> None:
    with pytest.raises(DataError, match=what) as info:
        Vocab(["anna", "bob", bad])
    message = str(info.value)
    assert repr(bad) in message and "word number 3" in message


def test_vocab_errors() -> None:
    with pytest.raises(DataError, match="no words"):
        Vocab([])
    with pytest.raises(DataError, match="itos"):
        Vocab.from_dict({"stoi": {}})
    with pytest.raises(DataError, match="start with '.'"):
        Vocab.from_dict({"itos": ["a", "."]})


# --- build_dataset, bigram_pairs -------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    words=st.lists(st.text(alphabet="abcé-", max_size=7), min_size=1, max_size=12),
    block_size=st.integers(1, 9),
)
def test_build_dataset_matches_course_loop(words: list[str], block_size: int) -> None:
    vocab = Vocab(words)
    X, Y = build_dataset(words, vocab, block_size)
    ref_X, ref_Y = reference_windows(words, vocab, block_size)
    assert X.shape == (len(ref_Y), block_size) and X.dtype == np.int64 and Y.dtype == np.int64
    np.testing.assert_array_equal(X, np.array(ref_X, dtype=np.int64).reshape(-1, block_size))
    np.testing.assert_array_equal(Y, np.array(ref_Y, dtype=np.int64))
    xs, ys = bigram_pairs(words, vocab)
    np.testing.assert_array_equal(xs, build_dataset(words, vocab, 1)[0][:, 0])
    np.testing.assert_array_equal(ys, Y)


@pytest.mark.parametrize("block_size", [0, -1, 2.5, True])
def test_build_dataset_bad_block_size(block_size: object) -> None:
    with pytest.raises(DataError, match=r"block_size must be an integer >= 1"):
        build_dataset(["ab"], Vocab(["ab"]), block_size)  # type: ignore[arg-type]


def test_build_dataset_word_errors() -> None:
    vocab = Vocab(["abc"])
    with pytest.raises(UnknownCharError, match="'z'"):
        build_dataset(["ab", "az"], vocab, 3)
    with pytest.raises(DataError, match=r"word number 2 \('a\.b'"):
        build_dataset(["ab", "a.b"], vocab, 3)
    X, Y = build_dataset([], vocab, 4)
    assert X.shape == (0, 4) and Y.shape == (0,)


# --- split_words -----------------------------------------------------------------------------------------


def test_split_sizes_disjoint_covering() -> None:
    words = [f"w{i}" for i in range(1000)]
    train, dev, test = split_words(words, seed=7)
    assert (len(train), len(dev), len(test)) == (800, 100, 100)
    assert set(train).isdisjoint(dev) and set(train).isdisjoint(test) and set(dev).isdisjoint(test)
    assert sorted(train + dev + test) == sorted(words)
    assert words == [f"w{i}" for i in range(1000)]  # the input is not shuffled in place


def test_split_deterministic_and_seeded() -> None:
    words = [f"w{i}" for i in range(500)]
    assert split_words(words, seed=3) == split_words(words, seed=3)
    assert split_words(words, seed=3) != split_words(words, seed=4)
    assert split_words(words) == split_words(words, seed=42)
    perm = np.random.default_rng(42).permutation(500)
    assert split_words(words)[0] == [words[i] for i in perm[:400]]


def test_split_leaves_global_random_state_alone() -> None:
    # the legacy global API on purpose: this is the state split_words must leave alone
    np_before = np.random.get_state()  # noqa: NPY002
    py_before = random.getstate()
    split_words([f"w{i}" for i in range(100)], seed=1)
    np_after = np.random.get_state()  # noqa: NPY002
    assert np_before[0] == np_after[0] and np.array_equal(np_before[1], np_after[1])
    assert np_before[2:] == np_after[2:]
    assert random.getstate() == py_before


def test_split_custom_fractions() -> None:
    train, dev, test = split_words([f"w{i}" for i in range(100)], fractions=(0.5, 0.25, 0.25))
    assert (len(train), len(dev), len(test)) == (50, 25, 25)


def test_split_too_few_words() -> None:
    assert [len(s) for s in split_words(list("abcdef"))] == [4, 1, 1]
    with pytest.raises(DataError, match=r"cannot split 5 words.*at least 6 words are needed"):
        split_words(list("abcde"))
    with pytest.raises(DataError, match="at least 51 words"):
        split_words(list("abcdefghij"), fractions=(0.98, 0.01, 0.01))


@pytest.mark.parametrize("fractions", [(0.8, 0.2, 0.0), (0.5, 0.5, 0.5), (0.9, 0.1), ("a", "b", "c")])
def test_split_bad_fractions(fractions: tuple) -> None:
    with pytest.raises(DataError, match="fractions"):
        split_words(list("abcdefghijkl"), fractions=fractions)


def test_make_moons_is_reexported() -> None:
    X, y = make_moons(10)
    assert X.shape == (10, 2) and y.shape == (10,)
