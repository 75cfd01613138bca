"""Training data: batched reads, shuffling, rank shards, streaming, and the per-corpus fallback."""

import dataclasses

import numpy as np
import pytest

import kelly_hf
from kelly_hf import loading
from train import data
from train.distributed import Dist
from train.models import SPECS

HARMONY = SPECS["harmony"]
N = 160


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A shared output folder (its synthetic harmony corpus) and datasets cache."""
    root = tmp_path_factory.mktemp("train_data")
    output, cache = str(root / "out"), str(root / "cache")
    corpus = data.open_corpus(HARMONY, datasets_dir=str(root / "none"), output=output, use_synthetic=True,
                              cache_dir=cache, synthetic_n={"harmony": N})
    return root, output, cache, corpus


def _epoch(reader, epoch=0):
    xs, ys, ids = [], [], []
    for x, y, i in reader.epoch(epoch):
        xs.append(x.numpy()), ys.append(y.numpy()), ids.extend(i)
    return np.concatenate(xs), np.concatenate(ys), ids


def test_prepared_batches_read_every_row_in_a_seeded_order(work, monkeypatch):
    *_, corpus = work
    train = corpus.splits["train"]
    monkeypatch.setattr(data.PreparedBatches, "READ_ROWS", 40)   # several Arrow reads per epoch
    reader = data.PreparedBatches(train, HARMONY, 16, shuffle=True, seed=3)
    x, y, ids = _epoch(reader)
    assert sorted(ids) == list(range(len(train))) and ids != sorted(ids)
    assert x.dtype == np.float32 and x.shape == (len(train), 128) and y.shape == (len(train), 64)
    rows = train.with_format("numpy")[ids]          # each batch row is the row its index names
    np.testing.assert_array_equal(x, rows["context"])
    np.testing.assert_array_equal(y, rows["chords"])
    assert _epoch(data.PreparedBatches(train, HARMONY, 16, shuffle=True, seed=3))[2] == ids   # reproducible
    assert _epoch(reader, 1)[2] != ids                                                       # reshuffled per epoch
    assert _epoch(data.PreparedBatches(train, HARMONY, 16, shuffle=False))[2] == list(range(len(train)))


def test_prepared_batches_give_ranks_disjoint_shards(work):
    *_, corpus = work
    train = corpus.splits["train"]
    seen = [set(_epoch(data.PreparedBatches(train, HARMONY, 8, shuffle=True, dist=Dist(rank=r, world=2)))[2])
            for r in (0, 1)]
    assert not seen[0] & seen[1] and seen[0] | seen[1] == set(range(len(train)))


def test_streaming_batches_through_a_dataloader(work):
    root, output, cache, corpus = work
    spec = dataclasses.replace(HARMONY, streaming=True)
    stream = kelly_hf.load_dataset("harmony", data_dir=corpus.data_dir, streaming=True, cache_dir=cache)
    names = set(corpus.splits["train"]["name"])
    one = data.StreamingBatches(stream["train"], spec, 16, shuffle=True, num_workers=1, id_column="name")
    x, y, ids = _epoch(one, 0)
    assert set(ids) == names and len(ids) == len(names) and x.shape == (len(names), 128)
    assert _epoch(one, 1)[2] != ids                                # a new shuffle each epoch
    # two ranks: disjoint rows in each epoch, together the whole split
    for epoch in (0, 1):
        parts = [set(_epoch(data.StreamingBatches(stream["train"], spec, 16, shuffle=True, dist=Dist(rank=r, world=2),
                                                  id_column="name"), epoch)[2]) for r in (0, 1)]
        assert not parts[0] & parts[1] and parts[0] | parts[1] == names


def test_missing_corpus_falls_back_to_synthetic_with_a_warning(work):
    root, output, cache, _ = work
    warnings = []
    corpus = data.open_corpus(HARMONY, datasets_dir=str(root / "datasets"), output=output, cache_dir=cache,
                              synthetic_n={"harmony": N}, warn=warnings.append)
    assert corpus.source == "synthetic" and corpus.data_dir.startswith(output)
    assert len(warnings) == 1 and "harmony" in warnings[0] and "no corpus folder" in warnings[0]
    assert sum(corpus.rows.values()) > 0


def test_failing_corpus_falls_back_and_says_why(work):
    root, output, cache, _ = work
    broken = root / "datasets_broken" / "harmony"
    broken.mkdir(parents=True)
    (broken / "chord_progressions.json").write_text("{ not json")
    warnings = []
    corpus = data.open_corpus(HARMONY, datasets_dir=str(broken.parent), output=output, cache_dir=cache,
                              synthetic_n={"harmony": N}, warn=warnings.append)
    assert corpus.source == "synthetic"
    assert len(warnings) == 1 and str(broken) in warnings[0] and "failed to load" in warnings[0]


def test_real_corpus_is_used_when_it_loads(work):
    root, output, cache, synthetic_corpus = work
    warnings = []
    corpus = data.open_corpus(HARMONY, datasets_dir=str(root / "out" / "synthetic"), output=output,
                              cache_dir=cache, warn=warnings.append)
    assert corpus.source == "real" and not warnings and corpus.rows == synthetic_corpus.rows


def test_builder_not_installed_is_skipped(work, monkeypatch):
    root, output, cache, _ = work
    monkeypatch.setattr(loading, "available", lambda: [c for c in loading.CORPORA if c != "harmony"])
    with pytest.raises(data.Skipped, match="harmony builder is not installed"):
        data.open_corpus(HARMONY, datasets_dir=str(root), output=output, cache_dir=cache)


def test_column_contract_is_checked(work):
    *_, corpus = work
    ds = dict(corpus.splits)
    with pytest.raises(data.CorpusError, match="'mel'"):
        data._check(dataclasses.replace(HARMONY, input="mel"), ds)
    with pytest.raises(data.CorpusError, match="length 128, the model needs 64"):
        data._check(dataclasses.replace(SPECS["groove"], input="context", target="chords"), ds)
