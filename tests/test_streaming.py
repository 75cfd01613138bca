"""Streaming typing: a streamed table holds exactly what the prepared build's ArrowWriter writes."""

from __future__ import annotations

import datasets
import numpy as np
import pyarrow as pa
import pytest
from datasets.arrow_writer import ArrowWriter

import kelly_hf
from kelly_hf import loading, streaming, synthetic

F32 = datasets.Value("float32")
FEATURES = datasets.Features({
    "name": datasets.Value("string"),
    "vector": datasets.List(F32, length=4),
    "value": F32,
    "count": datasets.Value("int32"),
    "label": datasets.ClassLabel(names=["low", "high"]),
    "flag": datasets.Value("bool"),
    "ids": datasets.List(datasets.Value("int32")),
})


def _written(rows: list[dict], features: datasets.Features) -> pa.Table:
    """The table the prepared build writes for these rows (GeneratorBasedBuilder: encode_example, ArrowWriter)."""
    stream = pa.BufferOutputStream()
    with ArrowWriter(features=features, stream=stream) as writer:
        for row in rows:
            writer.write(features.encode_example(row))
        writer.finalize()
    return pa.ipc.open_stream(stream.getvalue()).read_all()


def _row(i: int, **changes) -> dict:
    row = {"name": f"r{i}", "vector": np.array([0.1, 1 / 3, -2.5e-8, i], dtype=np.float32), "value": 0.1 * i + 1e-9,
           "count": i, "label": i % 2, "flag": bool(i % 3), "ids": [i, i + 1]}
    return {**row, **changes}


ODD_COLUMNS = [  # rows the fast paths must hand to the writer's own encoding, or convert to the same values
    {},
    {"vector": np.array([0.1, 1 / 3, 1e-40, 7], dtype=np.float64)},            # float64 vector: rounded to float32
    {"vector": [0.1, 0.2, 0.3, 0.4]},                                            # a list, not an array
    {"vector": np.array([1, 2, 3, 4], dtype=np.int64)},                         # integer vector
    {"value": np.float64(1 / 3)}, {"value": np.float32(1 / 3)}, {"value": 3},   # numpy scalars, an int
    {"value": None}, {"vector": None}, {"name": None},                          # missing values
    {"count": np.int64(7)}, {"count": 7.9},                                     # float in an int column: int()
    {"label": "high"},                                                          # ClassLabel name
    {"flag": 0}, {"name": 12},                                                  # non-bool flag, non-str name
]


@pytest.mark.parametrize("whole_column", [False, True], ids=["one row", "every row"])
@pytest.mark.parametrize("change", ODD_COLUMNS, ids=lambda c: ",".join(f"{k}={type(v).__name__}" for k, v in c.items()))
def test_typed_table_holds_what_the_writer_writes(change, whole_column):
    rows = [_row(i, **(change if whole_column or i == 5 else {})) for i in range(9)]
    got = streaming.typed_table(rows, FEATURES)
    want = _written(rows, FEATURES)
    assert got.schema == want.schema == FEATURES.arrow_schema
    assert got.equals(want), (got.to_pylist()[5], want.to_pylist()[5])


def test_the_fast_paths_are_taken_for_plain_columns():
    rows = [_row(i) for i in range(4)]
    taken = {name: streaming._numbers(feature, [r[name] for r in rows]) is not None
             for name, feature in FEATURES.items()}
    assert taken == {"name": True, "vector": True, "value": True, "count": True,
                     "label": False, "flag": False, "ids": False}


def _generate(shards):
    for shard in shards:
        for i in range(shard * 100, shard * 100 + 70):
            yield f"{shard}-{i}", _row(i)


def test_stream_is_typed_sharded_and_read_whole_tables():
    tables = streaming.typed_tables(_generate, {"shards": list(range(6))}, FEATURES)
    ds = datasets.IterableDataset(tables, info=datasets.DatasetInfo(features=FEATURES))
    rows = list(ds)
    assert rows == _written([r for _, r in _generate(range(6))], FEATURES).to_pylist()
    assert isinstance(rows[0]["vector"][0], float) and rows[0]["vector"][1] == float(np.float32(1 / 3))
    # the tables themselves: TABLE_ROWS rows at most, shard by shard
    lengths = [len(t) for _, t in tables.iter_arrow()]
    assert lengths == [streaming.TABLE_ROWS, 70 - streaming.TABLE_ROWS] * 6
    # shards, shuffled shards and their copies stay typed (read as whole tables, not re-typed row by row)
    for part in (tables.shard_data_sources(2, 1), tables.shuffle_data_sources(np.random.default_rng(1)),
                 tables.reshard_data_sources()):
        assert isinstance(part, streaming.TypedTables) and part.is_typed and part.features == FEATURES
    assert tables.shard_data_sources(2, 1, contiguous=False).kwargs == {"shards": [1, 3, 5]}
    epoch = ds.shuffle(seed=3, buffer_size=1)
    epoch.set_epoch(1)
    assert sorted(r["name"] for r in epoch) == sorted(r["name"] for r in rows)


@pytest.mark.parametrize("name", loading.available())
def test_every_builder_streams_its_prepared_rows(name, tmp_path):
    """Every split of every builder, streamed, is the prepared split: same rows, order, values."""
    data_dir = synthetic.write(name, tmp_path / "data", n={"maestro": 4, "groove": 12, "deam": 6}.get(name, 30))
    prepared = kelly_hf.load_dataset(name, data_dir=data_dir, cache_dir=str(tmp_path / "cache"))
    streamed = kelly_hf.load_dataset(name, data_dir=data_dir, streaming=True)
    assert sum(map(len, prepared.values())) > 3
    for split, ds in prepared.items():
        assert streamed[split].features == ds.features
        assert list(streamed[split]) == list(ds), split
