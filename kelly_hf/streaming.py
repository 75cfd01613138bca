"""Streaming: a builder's rows as Arrow tables typed like the prepared build's.

``datasets`` streams a generator-based builder one Python row at a time: every
row is typed on its own (``encode_example`` then ``decode_example``, a few dozen
Python calls a row), and Kelly then had to round-trip the rows through Arrow in
small batches so that a float32 column reads back as float32 (the same value as
the prepared build), then back to Python lists. For Lakh that
added ~10 % to the work of reading, parsing and summarizing each file; typed a
table at a time it adds ~3 % (``bench_lakh_stream.py --instructions``).

Here the builder's rows are collected into tables of :data:`TABLE_ROWS` rows,
each typed once the way the prepared build's ``ArrowWriter`` types a batch
(``Features.encode_column``, ``TypedSequence`` per column, a cast to the
schema), except that columns of plain floats, ints or strings, and fixed-length
vectors given as float numpy arrays, skip the per-value encoding (it would not
change them) and go straight through the same Arrow casts. The result is an
``IterableDataset`` backed by Arrow tables like a streamed Parquet dataset:
``datasets`` turns them into Python rows ten at a time (one at a time after
``select_columns``, which it then re-checks row by row), ``with_format("arrow" |
"numpy" | "torch")`` reads the tables directly, and the ``gen_kwargs`` list still
divides into shards for ``num_proc``, DataLoader workers and
``split_dataset_by_node``.
"""

from __future__ import annotations

import functools
from typing import Callable, Iterator

import datasets
import numpy as np
import pyarrow as pa
from datasets.arrow_writer import TypedSequence
from datasets.iterable_dataset import ArrowExamplesIterable
from datasets.table import table_cast

TABLE_ROWS = 64  # rows typed at once: a table is yielded as soon as it is full (a first row waits for 63 more)


def typed_table(rows: list[dict], features: datasets.Features, schema: pa.Schema | None = None) -> pa.Table:
    """``rows`` as one Arrow table of ``features`` (``schema``: their Arrow schema, if at hand), holding
    the values the prepared build stores."""
    schema = features.arrow_schema if schema is None else schema
    arrays = []
    for name, feature in features.items():
        values = [row.get(name) for row in rows]
        array = _numbers(feature, values)
        if array is None:
            array = pa.array(TypedSequence(features.encode_column(values, name), type=feature))
        arrays.append(array)
    return table_cast(pa.Table.from_arrays(arrays, schema=schema), schema)


# Encoding a float, an int or a str for a Value feature is float() / int() / str() of it: the
# Arrow conversion and cast of the same number give the same value, so such columns skip the
# per-value Python call (anything else - None, bool, an int for a float, ClassLabel names... -
# is encoded as the writer encodes it).
_PLAIN = {"f": (float, np.float64, np.float32), "i": (int, np.int64, np.int32), "s": (str,)}


def _numbers(feature, values: list) -> pa.Array | None:
    """A column of one plain type matching its Value feature, or of float numpy vectors of a
    List(float Value, length=n) feature, as one Arrow array of the feature's type; else None."""
    if isinstance(feature, datasets.Value):
        plain = type(values[0]) if values else None
        if plain in _PLAIN.get(_kind(feature.pa_type), ()) and all(type(v) is plain for v in values):
            return pa.array(values).cast(feature.pa_type)
        return None
    if not (isinstance(feature, datasets.List) and isinstance(feature.feature, datasets.Value)
            and feature.length > 0 and _kind(feature.feature.pa_type) == "f"):
        return None
    if not all(type(v) is np.ndarray and v.shape == (feature.length,) and v.dtype in _FLOATS for v in values):
        return None
    flat = pa.array(np.stack(values).ravel()).cast(feature.feature.pa_type)
    return pa.FixedSizeListArray.from_arrays(flat, feature.length)


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _kind(pa_type: pa.DataType) -> str | None:
    if pa.types.is_floating(pa_type):
        return "f"
    if pa.types.is_integer(pa_type):
        return "i"
    return "s" if pa.types.is_string(pa_type) else None


def _tables(generate_examples: Callable, features: datasets.Features, **gen_kwargs) -> Iterator[tuple[str, pa.Table]]:
    rows, key, schema = [], None, features.arrow_schema
    for k, row in generate_examples(**gen_kwargs):
        key = key if rows else k
        rows.append(row)
        if len(rows) == TABLE_ROWS:
            yield str(key), typed_table(rows, features, schema)
            rows = []
    if rows:
        yield str(key), typed_table(rows, features, schema)


class TypedTables(ArrowExamplesIterable):
    """Tables already of ``features``' schema, saying so (``features``, ``is_typed``), so that
    ``IterableDataset`` reads their rows as they are instead of re-typing each one; shuffled and
    sharded copies say so too."""

    def __init__(self, generate_tables_fn: Callable, kwargs: dict, features: datasets.Features):
        super().__init__(generate_tables_fn, kwargs)
        self._features = features

    @property
    def features(self) -> datasets.Features:
        return self._features

    @property
    def is_typed(self) -> bool:
        return True

    def _same_typing(self, other: ArrowExamplesIterable) -> TypedTables:
        return TypedTables(other.generate_tables_fn, other.kwargs, self._features)

    def shuffle_data_sources(self, generator: np.random.Generator) -> TypedTables:
        return self._same_typing(super().shuffle_data_sources(generator))

    def shard_data_sources(self, num_shards: int, index: int, contiguous=True) -> TypedTables:
        return self._same_typing(super().shard_data_sources(num_shards, index, contiguous=contiguous))

    def reshard_data_sources(self) -> TypedTables:
        return self._same_typing(super().reshard_data_sources())


def typed_tables(generate_examples: Callable, gen_kwargs: dict, features: datasets.Features) -> TypedTables:
    """The examples iterable of one streamed split: ``generate_examples(**gen_kwargs)``'s rows as typed tables."""
    return TypedTables(functools.partial(_tables, generate_examples, features), gen_kwargs, features)
