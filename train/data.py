"""Corpora for training: find them, fall back to synthetic, read them in batches.

* :func:`open_corpus` loads a model's corpus through ``kelly_hf.load_dataset``
  from ``<datasets_dir>/<folder>``. A missing or failing corpus, or one without
  rows, is reported and replaced by the synthetic corpus that
  ``kelly_hf.synthetic`` writes in the official layout (read by the same
  builder); a builder that is not installed yet makes the model
  :class:`Skipped`. Nothing is ever replaced by random tensors.
* :func:`resplit` keeps a small real corpus real: when its builder's split
  leaves ``train`` empty or an evaluation split too small, rows are moved by a
  hash of their id (never shuffled), and the corpus reports what moved.
* :class:`PreparedBatches` reads prepared Arrow data in batches: a seeded
  permutation of the rank's indices, fetched a few thousand rows per Arrow
  ``take`` straight to numpy and torch (a per-row ``with_format("torch")``
  DataLoader is ~10x slower, see ``benchmarks/bench_train_read.py``).
* :class:`StreamingBatches` reads a streaming split (Lakh) through a torch
  DataLoader with workers, split across ranks with ``split_dataset_by_node``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import dataclass, field
from typing import Callable, Iterator

import datasets
import numpy as np
import torch

import kelly_hf
from kelly_hf import loading, splits, synthetic
from train.distributed import Dist
from train.models import ModelSpec

SPLITS = ("train", "validation", "test")
#: Synthetic corpus sizes (the writers' ``n``) for training: big enough to learn
#: the emotion -> content relation, small enough to build in a minute or so.
SYNTHETIC_N = {"harmony": 1500, "lakh": 300, "maestro": 60, "groove": 480, "deam": 300}
SHUFFLE_BUFFER = 1000  # streaming shuffle buffer (rows)
EVALUATION = ("test", "validation")   # carving order: a test score first, then model selection
#: An evaluation split is *too small* when it holds fewer than
#: ``eval_target(rows) = min(MIN_EVAL_ROWS, ceil(EVAL_FRACTION * rows))`` rows (rows: the
#: whole corpus; so an empty split of a non-empty corpus always is). It is then topped
#: up to that many rows from ``train`` while train keeps at least MIN_TRAIN_ROWS.
#: EVAL_FRACTION is half of what the hash split aims at (10%): a hash split of 100 rows
#: falls below 5 validation rows ~3% of the time, so only clearly short splits are changed.
MIN_EVAL_ROWS = 10
EVAL_FRACTION = splits.FRACTIONS[1] / 2
MIN_TRAIN_ROWS = 1
COUNT_CAP = math.ceil(MIN_EVAL_ROWS / EVAL_FRACTION)   # streaming: counting this far fixes eval_target


class Skipped(Exception):
    """The model cannot be trained here (the message says why)."""


class CorpusError(Exception):
    """A corpus could not be loaded or does not have the columns the model needs."""


@dataclass
class Corpus:
    spec: ModelSpec
    source: str                        # "real" or "synthetic"
    data_dir: str
    config: str | None
    splits: dict                       # split -> Dataset or IterableDataset
    id_column: str | None = None
    rows: dict = field(default_factory=dict)  # split -> rows (prepared data only)
    streaming: bool = False            # read as a stream (a resplit corpus is read into memory)
    resplit: dict | None = None        # what resplit() moved, None when the builder's splits were kept


# --- finding and loading ---------------------------------------------------------

def open_corpus(spec: ModelSpec, *, datasets_dir: str, output: str, use_synthetic: bool = False,
                cache_dir: str | None = None, max_files: int | None = None, dist: Dist = Dist(),
                synthetic_n: dict | None = None, warn: Callable[[str], None] = print) -> Corpus:
    """The model's corpus: the real one under ``datasets_dir`` if it loads, else the synthetic one."""
    if spec.corpus not in loading.available():
        raise Skipped(f"the {spec.corpus} builder is not installed yet")
    extra = {"max_files": max_files} if spec.corpus == "lakh" and max_files else {}
    if not use_synthetic:
        real = os.path.join(os.path.abspath(datasets_dir), spec.folder)
        if not os.path.isdir(real):
            why = f"no corpus folder at {real}"
        else:
            try:
                return _reported(_load(spec, real, "real", cache_dir, extra, dist), dist, warn)
            except CorpusError as exc:
                why = f"the corpus at {real} failed to load: {exc}"
        if dist.is_main:
            warn(f"WARNING: {spec.corpus} ({spec.key} model): {why}; "
                 f"training on the synthetic {spec.corpus} corpus instead")
    n = {**SYNTHETIC_N, **(synthetic_n or {})}[spec.corpus]
    try:
        data_dir = _main_first(dist, lambda: write_synthetic(spec.corpus, output, n=n), main_only=True)
        return _reported(_load(spec, data_dir, "synthetic", cache_dir, extra, dist), dist, warn)
    except CorpusError as exc:
        raise Skipped(f"the synthetic {spec.corpus} corpus failed too: {exc}") from None


def _reported(corpus: Corpus, dist: Dist, warn) -> Corpus:
    """The corpus, after warning (rank 0) when its splits were changed by :func:`resplit`."""
    if corpus.resplit and dist.is_main:
        warn(f"WARNING: {corpus.spec.corpus} ({corpus.spec.key} model): the {corpus.source} corpus at "
             f"{corpus.data_dir}: {describe_resplit(corpus.resplit, corpus.rows)}")
    return corpus


def write_synthetic(name: str, output: str, n: int | None = None, seed: int = 0) -> str:
    """Write (or reuse) the synthetic ``name`` corpus under ``<output>/synthetic``; returns its data_dir.

    A marker records what was written, so a re-run with the same size keeps the
    files (and their mtimes, hence the datasets cache); a different size removes
    the previous corpus first so no stale files are read.
    """
    root = os.path.join(os.path.abspath(output), "synthetic")
    os.makedirs(root, exist_ok=True)
    marker = os.path.join(root, f".{name}.written.json")
    params = {"n": n, "seed": seed}
    if os.path.isfile(marker):
        with open(marker, encoding="utf-8") as f:
            previous = json.load(f)
        if previous["params"] == params and os.path.isdir(previous["data_dir"]):
            return previous["data_dir"]
        shutil.rmtree(previous["data_dir"], ignore_errors=True)
    kwargs = {"seed": seed} if n is None else {"n": n, "seed": seed}
    data_dir = os.path.abspath(synthetic.write(name, root, **kwargs))
    with open(marker, "w", encoding="utf-8") as f:
        json.dump({"params": params, "data_dir": data_dir}, f)
    return data_dir


def config_name(spec: ModelSpec) -> str | None:
    """The first of the spec's preferred configs the builder has, else its default."""
    cls = loading.builder_class(spec.corpus)
    names = [c.name for c in cls.BUILDER_CONFIGS]
    for name in spec.configs:
        if name in names:
            return name
    if len(names) > 1 and not getattr(cls, "DEFAULT_CONFIG_NAME", None):
        return names[0]
    return None


def _main_first(dist: Dist, fn, main_only: bool = False):
    """Run ``fn`` on rank 0 first (it writes / builds the cache), then on the others
    (they reuse it), or only on rank 0 with its result broadcast. An error on rank 0
    is raised as :class:`CorpusError` on every rank, so no rank waits forever."""
    result, error = None, None
    if dist.is_main:
        try:
            result = fn()
        except CorpusError as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - any failure of a corpus is reported, then we fall back
            error = f"{type(exc).__name__}: {exc}"
    error = dist.broadcast(error)
    if error:
        raise CorpusError(error)
    if main_only:
        return dist.broadcast(result)
    return result if dist.is_main else fn()


def _load(spec: ModelSpec, data_dir: str, source: str, cache_dir, extra: dict, dist: Dist) -> Corpus:
    id_column = getattr(loading.builder_class(spec.corpus), "ID_COLUMN", None)

    def load():
        config = config_name(spec)
        ds = kelly_hf.load_dataset(spec.corpus, config, data_dir=data_dir, streaming=spec.streaming,
                                   cache_dir=cache_dir, **extra)
        _check(spec, ds)
        return (*resplit({s: ds[s] for s in SPLITS}, id_column, streaming=spec.streaming), config)

    ds, report, config = _main_first(dist, load)
    streaming = spec.streaming and report is None
    rows = {} if streaming else {s: len(ds[s]) for s in SPLITS}
    return Corpus(spec, source, data_dir, config, ds, id_column, rows, streaming, report)


def _check(spec: ModelSpec, ds) -> None:
    """The splits exist and carry the model's columns at the model's sizes."""
    sizes = {spec.input: spec.model.SIZES[0], spec.target: spec.model.SIZES[-1]}
    for split in SPLITS:
        if split not in ds:
            raise CorpusError(f"no {split} split (have {', '.join(ds)})")
        features = ds[split].features or {}
        for column, size in sizes.items():
            if column not in features:
                raise CorpusError(f"no {column!r} column in {split} (have {', '.join(features)})")
            length = getattr(features[column], "length", None)
            if length != size:
                raise CorpusError(f"{column!r} has length {length}, the model needs {size}")


def _counts(ds: dict, streaming: bool) -> dict:
    """Rows per split. A streaming split is read only as far as the decision needs (its errors
    surface here): MIN_EVAL_ROWS evaluation rows and one train row show that nothing is too
    small; otherwise up to COUNT_CAP rows a split, which fixes eval_target."""
    if not streaming:
        return {s: len(ds[s]) for s in SPLITS}
    def count(split, cap):
        return sum(1 for _ in ds[split].take(cap))
    counts = {s: count(s, 1 if s == "train" else MIN_EVAL_ROWS) for s in SPLITS}
    if counts["train"] and all(counts[s] >= MIN_EVAL_ROWS for s in EVALUATION):
        return counts
    return {s: count(s, COUNT_CAP) for s in SPLITS}


# --- small corpora: re-split by a hash of the row id ----------------------------------

def eval_target(rows: int) -> int:
    """Rows each evaluation split should hold in a corpus of ``rows`` rows (see MIN_EVAL_ROWS)."""
    return min(MIN_EVAL_ROWS, math.ceil(EVAL_FRACTION * rows))


def resplit(ds: dict, id_column: str | None, *, streaming: bool = False) -> tuple[dict, dict | None]:
    """The splits to train on, and a report of what moved (None: the builder's splits as they are).

    1. No train row but evaluation rows: those rows are pooled into train.
    2. test, then validation, when too small (< :func:`eval_target`), take the train
       rows that come first in :func:`carve_order` until they reach the target,
       while train keeps at least :data:`MIN_TRAIN_ROWS` rows. With very few rows
       validation (then test) stays empty: one row trains, three give 1/1/1.

    A streaming corpus is counted only as far as needed (:func:`_counts`); one that
    needs moving is read into memory first.
    """
    counts = _counts(ds, streaming)
    if not sum(counts.values()):
        raise CorpusError("no rows in any split")
    target = eval_target(sum(counts.values()))
    if counts["train"] and all(counts[s] >= target for s in EVALUATION):
        return ds, None
    if streaming:
        ds = {s: _in_memory(ds[s]) for s in SPLITS}
        counts = {s: len(ds[s]) for s in SPLITS}
        target = eval_target(sum(counts.values()))
    report = {"builder_rows": counts, "pooled_into_train": [], "carved": {}, "ids_in_two_splits": 0,
              "eval_target": target}
    train, evaluation = ds["train"], {s: ds[s] for s in EVALUATION}
    if not counts["train"]:
        report["pooled_into_train"] = [s for s in SPLITS if counts[s]]
        train = datasets.concatenate_datasets([ds[s] for s in report["pooled_into_train"]])
        evaluation = {s: ds[s].select([]) for s in EVALUATION}
    ids = _ids(train, id_column)
    order = carve_order(ids)
    taken = 0
    for split in EVALUATION:
        n = max(0, min(target - len(evaluation[split]), len(train) - MIN_TRAIN_ROWS - taken))
        if n:
            rows = sorted(order[taken:taken + n])
            evaluation[split] = datasets.concatenate_datasets([evaluation[split], train.select(rows)])
            report["carved"][split] = n
            taken += n
    kept = sorted(order[taken:])
    groups = [i.rsplit("#", 1)[0] for i in ids]
    report["ids_in_two_splits"] = len({groups[i] for i in kept} & {groups[i] for i in order[:taken]})
    return {"train": train.select(kept), **evaluation}, report


def _ids(dataset, id_column: str | None) -> list[str]:
    """Row ids ``<id>#<k>``: the id column's value and its k-th occurrence (a MAESTRO segment,
    a DEAM frame ...), else the row index when the corpus has no id column."""
    if id_column not in (dataset.features or {}):
        return [f"row{i}#0" for i in range(len(dataset))]
    seen: dict = {}
    out = []
    for value in dataset[id_column]:
        key = str(value)
        out.append(f"{key}#{seen.get(key, 0)}")
        seen[key] = seen.get(key, 0) + 1
    return out


def carve_order(ids: list[str]) -> list[int]:
    """Row indices in the order they are carved: by ``hash_fraction`` of the id (the part
    before '#'), highest first (nearest the hash split's evaluation bands), then of the
    row id. Rows of one id stay together, so carving splits at most one id across splits."""
    def key(i):
        group = ids[i].rsplit("#", 1)[0]
        return -splits.hash_fraction(group), -splits.hash_fraction(ids[i]), i
    return sorted(range(len(ids)), key=key)


def _in_memory(split) -> "datasets.Dataset":
    """A streaming split read into an in-memory Dataset (same features; an empty one keeps its columns)."""
    rows = list(split)
    return datasets.Dataset.from_dict({c: [r[c] for r in rows] for c in split.features}, features=split.features)


def describe_resplit(report: dict, rows: dict) -> str:
    """The warning for a resplit corpus: what the builder gave, what moved, what is trained on."""
    before = ", ".join(f"{s} {report['builder_rows'][s]}" for s in SPLITS)
    parts = [f"its splits hold {before} rows"]
    if report["pooled_into_train"]:
        parts.append(f"train was empty, so {' and '.join(report['pooled_into_train'])} rows were pooled into train")
    if report["carved"]:
        carved = ", ".join(f"{s} {n}" for s, n in report["carved"].items())
        parts.append(f"carved rows out of train by a hash of their id ({carved}; "
                     f"target {report['eval_target']} = min({MIN_EVAL_ROWS}, ceil({EVAL_FRACTION:g} x rows)), "
                     f"train keeps at least {MIN_TRAIN_ROWS})")
    short = [s for s in EVALUATION if rows[s] < report["eval_target"]]
    if short:
        parts.append(f"too few rows to fill {' and '.join(short)}")
    if report["ids_in_two_splits"]:
        parts.append(f"{report['ids_in_two_splits']} id(s) now have rows in train and a carved split")
    after = ", ".join(f"{s} {rows[s]}" for s in SPLITS)
    return "; ".join(parts) + f"; training on them as {after}"


# --- reading batches ---------------------------------------------------------------

Batch = tuple[torch.Tensor, torch.Tensor, list]


class PreparedBatches:
    """Mini-batches of a prepared split for this rank.

    The rank owns ``indices[rank::world]`` (disjoint across ranks). Each epoch
    shuffles them with a generator seeded by (seed, epoch) and cuts the
    permutation into batches. The split is the memory-mapped Arrow table
    (``with_format("arrow")[:]``, zero-copy); rows are fetched
    :attr:`READ_ROWS` at a time with one Arrow ``take`` (indices sorted, so it
    reads the file forward), turned into numpy without a per-row step and put
    back in permutation order.
    """

    READ_ROWS = 8192

    def __init__(self, dataset, spec: ModelSpec, batch_size: int, *, shuffle: bool, seed: int = 0,
                 dist: Dist = Dist()):
        self.columns = (spec.input, spec.target)
        self.table = dataset.select_columns(list(self.columns)).with_format("arrow")[:]
        self.indices = np.arange(len(dataset))[dist.rank::dist.world]
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed

    def epoch(self, epoch: int) -> Iterator[Batch]:
        idx = self.indices
        if self.shuffle:
            idx = np.random.default_rng([self.seed, epoch]).permutation(idx)
        step = max(1, self.READ_ROWS // self.batch_size) * self.batch_size
        for start in range(0, len(idx), step):
            chunk = idx[start:start + step]
            order = np.argsort(chunk, kind="stable")
            rows = self.table.take(chunk[order])
            x, y = (_unsorted(_matrix(rows.column(c)), order) for c in self.columns)
            for b in range(0, len(chunk), self.batch_size):
                yield x[b:b + self.batch_size], y[b:b + self.batch_size], chunk[b:b + self.batch_size].tolist()


class StreamingBatches:
    """Mini-batches of a streaming split through a torch DataLoader with workers.

    Shuffling is the streaming kind (shard order + a seeded buffer, re-seeded per
    epoch with ``set_epoch``, the same on every rank); ``split_dataset_by_node``
    then gives each rank disjoint shards of that epoch's order (or every
    world-th row when the shards do not divide evenly), so within an epoch the
    ranks read disjoint rows, like a DistributedSampler that reshuffles per epoch.
    """

    def __init__(self, dataset, spec: ModelSpec, batch_size: int, *, shuffle: bool, seed: int = 0,
                 dist: Dist = Dist(), num_workers: int = 0, id_column: str | None = None):
        from datasets.distributed import split_dataset_by_node
        from torch.utils.data import DataLoader

        self.columns = (spec.input, spec.target)
        self.id_column = id_column if id_column in (dataset.features or {}) else None
        ds = dataset.select_columns(list(self.columns) + ([self.id_column] if self.id_column else []))
        if shuffle:
            ds = ds.shuffle(seed=seed, buffer_size=SHUFFLE_BUFFER)
        if dist.world > 1:
            ds = split_dataset_by_node(ds, rank=dist.rank, world_size=dist.world)
        # Rows are collated as lists and stacked once per batch: with_format("torch")
        # formats row by row, ~10 % slower per worker CPU second (bench_lakh_stream.py).
        self.dataset = ds
        workers = max(0, min(num_workers, self.dataset.num_shards))
        self.loader = DataLoader(self.dataset, batch_size=batch_size, num_workers=workers,
                                 persistent_workers=workers > 0, collate_fn=_collate)

    def epoch(self, epoch: int) -> Iterator[Batch]:
        self.dataset.set_epoch(epoch)  # shared with persistent workers
        for batch in self.loader:
            ids = list(batch[self.id_column]) if self.id_column else []
            x, y = (torch.from_numpy(np.asarray(batch[c], dtype=np.float32)) for c in self.columns)
            yield x, y, ids


def _collate(rows: list[dict]) -> dict:
    """A batch of streamed rows as column lists (stacked into tensors in the main process)."""
    return {key: [row[key] for row in rows] for key in rows[0]}


def _unsorted(sorted_rows: np.ndarray, order: np.ndarray) -> torch.Tensor:
    """Rows read in sorted-index order, back in the order of the indices asked for."""
    out = np.empty_like(sorted_rows)
    out[order] = sorted_rows
    return torch.from_numpy(out)


def _matrix(column) -> np.ndarray:
    """A fixed-length list column (Arrow) as a float32 [rows, dims] array, without a per-row step."""
    array = column.combine_chunks()
    values = array.flatten().to_numpy(zero_copy_only=False)
    return np.ascontiguousarray(values.reshape(len(array), -1), dtype=np.float32)


def readers(corpus: Corpus, batch_size: int, seed: int, dist: Dist, num_workers: int = 0,
            keep_ids: bool = False) -> dict:
    """One batch reader per split (only train shuffles)."""
    out = {}
    for split in SPLITS:
        ds, shuffle = corpus.splits[split], split == "train"
        if corpus.streaming:
            out[split] = StreamingBatches(ds, corpus.spec, batch_size, shuffle=shuffle, seed=seed, dist=dist,
                                          num_workers=num_workers,
                                          id_column=corpus.id_column if keep_ids else None)
        else:
            out[split] = PreparedBatches(ds, corpus.spec, batch_size, shuffle=shuffle, seed=seed, dist=dist)
    return out
