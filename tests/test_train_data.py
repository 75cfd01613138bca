"""Training data: batched reads, shuffling, rank shards, streaming, and the per-corpus fallback."""

import dataclasses
import json

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


# --- small corpora: resplit ---------------------------------------------------------

from datasets import Dataset, Features, IterableDataset, Value, concatenate_datasets  # noqa: E402

from kelly_hf.splits import hash_fraction  # noqa: E402


ROW = Features({"name": Value("string"), "x": Value("int64"), "was": Value("string")})


def _rows(ids, split="train"):
    """A corpus split with an id column and a value per row (its position in ``ids``)."""
    return Dataset.from_dict({"name": list(ids), "x": list(range(len(ids))), "was": [split] * len(ids)}, features=ROW)


def _corpus(train=(), validation=(), test=()):
    return {"train": _rows(train), "validation": _rows(validation, "validation"), "test": _rows(test, "test")}


def _names(ds):
    return {s: sorted(ds[s]["name"]) for s in data.SPLITS}


def _by_hash(ids):
    """The ids in carving order, computed here from the rule: highest hash_fraction first."""
    return sorted(ids, key=lambda i: -hash_fraction(i))


def test_eval_target_is_five_percent_capped_at_ten():
    sizes = (1, 3, 10, 20, 21, 40, 55, 100, 199, 200, 10_000)
    assert [data.eval_target(n) for n in sizes] == [1, 1, 1, 1, 2, 2, 3, 5, 10, 10, 10]


def test_big_enough_splits_are_kept_as_they_are():
    ds = _corpus([f"t{i}" for i in range(40)], ["v0", "v1", "v2", "v3", "v4"], ["s0", "s1", "s2", "s3", "s4"])   # 50 rows: 3 needed
    out, report = data.resplit(ds, "name")
    assert report is None and out is ds


def test_one_row_trains_and_leaves_validation_and_test_empty():
    out, report = data.resplit(_corpus(["only"]), "name")
    assert _names(out) == {"train": ["only"], "validation": [], "test": []}
    assert report == {"builder_rows": {"train": 1, "validation": 0, "test": 0}, "pooled_into_train": [],
                      "carved": {}, "ids_in_two_splits": 0, "eval_target": 1}


def test_three_rows_give_one_each_by_hash_not_by_order():
    ids = ["a", "b", "c"]
    out, report = data.resplit(_corpus(ids), "name")
    first, second, last = _by_hash(ids)
    assert _names(out) == {"train": [last], "validation": [second], "test": [first]}
    assert report["carved"] == {"test": 1, "validation": 1}
    # the same rows whatever order the builder wrote them in, and every time
    again, _ = data.resplit(_corpus(ids[::-1]), "name")
    assert _names(again) == _names(out)


def test_too_small_split_is_topped_up_from_train():
    train = [f"t{i}" for i in range(250)]
    out, report = data.resplit(_corpus(train, ["v0", "v1", "v2"], [f"s{i}" for i in range(12)]), "name")
    assert report["eval_target"] == 10 and report["carved"] == {"validation": 7}
    carved = sorted(set(out["validation"]["name"]) - {"v0", "v1", "v2"})
    assert carved == sorted(_by_hash(train)[:7])
    assert len(out["train"]) == 243 and not set(out["train"]["name"]) & set(carved)
    assert sorted(out["test"]["name"]) == sorted(f"s{i}" for i in range(12))     # big enough: untouched
    # rows keep their columns and values
    row = out["validation"].filter(lambda r: r["name"] == carved[0])[0]
    assert row["x"] == train.index(carved[0]) and row["was"] == "train"


def test_empty_train_pools_the_other_splits_first():
    out, report = data.resplit(_corpus([], ["v0"], ["s0", "s1"]), "name")
    assert report["pooled_into_train"] == ["validation", "test"] and report["carved"] == {"test": 1, "validation": 1}
    assert sorted(sum(_names(out).values(), [])) == ["s0", "s1", "v0"]
    assert len(out["train"]) == 1


def test_rows_of_one_id_are_carved_together():
    # two performances of 40 segments each (the MAESTRO case): carving takes one performance's rows first
    ids = ["A"] * 40 + ["B"] * 40
    out, report = data.resplit(_corpus(ids), "name")
    top = "A" if hash_fraction("A") > hash_fraction("B") else "B"
    assert report["carved"] == {"test": 4, "validation": 4}
    assert set(out["test"]["name"]) == set(out["validation"]["name"]) == {top}
    assert report["ids_in_two_splits"] == 1            # said, not hidden: `top` has rows in train too


def test_no_row_at_all_is_a_corpus_error():
    with pytest.raises(data.CorpusError, match="no rows"):
        data.resplit(_corpus(), "name")


def test_streaming_corpus_is_counted_and_read_into_memory_only_when_it_must():
    def stream(ids):
        return IterableDataset.from_generator(lambda: ({"name": i, "x": 0, "was": "train"} for i in ids),
                                              features=ROW)

    big = {"train": stream([f"t{i}" for i in range(300)]), "validation": stream([f"v{i}" for i in range(20)]),
           "test": stream([f"s{i}" for i in range(20)])}
    out, report = data.resplit(big, "name", streaming=True)
    assert report is None and out is big                          # counted up to COUNT_CAP rows, kept streaming
    small = {"train": stream(["a", "b", "c", "d"]), "validation": stream([]), "test": stream(["e"])}
    out, report = data.resplit(small, "name", streaming=True)
    assert isinstance(out["train"], Dataset) and report["carved"] == {"validation": 1}
    assert sorted(concatenate_datasets(list(out.values()))["name"]) == ["a", "b", "c", "d", "e"]


def test_small_real_corpus_stays_real_and_says_what_moved(work):
    root, output, cache, _ = work
    folder = root / "datasets_small" / "harmony"
    folder.mkdir(parents=True)
    (folder / "chord_progressions.json").write_text(json.dumps({"progressions": [
        {"name": n, "chords": ["C", "Am", "F", "G"]} for n in ("one", "two", "three")]}))
    warnings = []
    corpus = data.open_corpus(HARMONY, datasets_dir=str(folder.parent), output=output, cache_dir=cache,
                              warn=warnings.append)
    assert corpus.source == "real" and corpus.rows == {"train": 1, "validation": 1, "test": 1}
    before = corpus.resplit["builder_rows"]
    assert sum(before.values()) == 3 and before["train"] >= 2              # the hash split left a split empty
    assert sum(corpus.resplit["carved"].values()) == before["train"] - 1
    assert len(warnings) == 1 and "carved rows out of train by a hash of their id (" in warnings[0]
    assert "the real corpus at" in warnings[0] and warnings[0].endswith("training on them as train 1, validation 1, test 1")
