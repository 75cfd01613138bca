"""Corpora for training: find them, fall back to synthetic, read them in batches.

* :func:`open_corpus` loads a model's corpus through ``kelly_hf.load_dataset``
  from ``<datasets_dir>/<folder>``. A missing or failing corpus is reported and
  replaced by the synthetic corpus that ``kelly_hf.synthetic`` writes in the
  official layout (read by the same builder); a builder that is not installed
  yet makes the model :class:`Skipped`. Nothing is ever replaced by random tensors.
* :class:`PreparedBatches` reads prepared Arrow data in batches: a seeded
  permutation of the rank's indices, fetched a few thousand rows per Arrow
  ``take`` straight to numpy and torch (a per-row ``with_format("torch")``
  DataLoader is ~10x slower, see ``benchmarks/bench_train_read.py``).
* :class:`StreamingBatches` reads a streaming split (Lakh) through a torch
  DataLoader with workers, split across ranks with ``split_dataset_by_node``.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import torch

import kelly_hf
from kelly_hf import loading, synthetic
from train.distributed import Dist
from train.models import ModelSpec

SPLITS = ("train", "validation", "test")
#: Synthetic corpus sizes (the writers' ``n``) for training: big enough to learn
#: the emotion -> content relation, small enough to build in a minute or so.
SYNTHETIC_N = {"harmony": 1500, "lakh": 300, "maestro": 60, "groove": 480, "deam": 300}
SHUFFLE_BUFFER = 1000  # streaming shuffle buffer (rows)


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

    @property
    def streaming(self) -> bool:
        return self.spec.streaming


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
                return _load(spec, real, "real", cache_dir, extra, dist)
            except CorpusError as exc:
                why = f"the corpus at {real} failed to load: {exc}"
        if dist.is_main:
            warn(f"WARNING: {spec.corpus} ({spec.key} model): {why}; "
                 f"training on the synthetic {spec.corpus} corpus instead")
    n = {**SYNTHETIC_N, **(synthetic_n or {})}[spec.corpus]
    try:
        data_dir = _main_first(dist, lambda: write_synthetic(spec.corpus, output, n=n), main_only=True)
        return _load(spec, data_dir, "synthetic", cache_dir, extra, dist)
    except CorpusError as exc:
        raise Skipped(f"the synthetic {spec.corpus} corpus failed too: {exc}") from None


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
    def load():
        config = config_name(spec)
        ds = kelly_hf.load_dataset(spec.corpus, config, data_dir=data_dir, streaming=spec.streaming,
                                   cache_dir=cache_dir, **extra)
        _check(spec, ds)
        return ds, config

    ds, config = _main_first(dist, load)
    id_column = getattr(loading.builder_class(spec.corpus), "ID_COLUMN", None)
    rows = {} if spec.streaming else {s: len(ds[s]) for s in SPLITS}
    return Corpus(spec, source, data_dir, config, {s: ds[s] for s in SPLITS}, id_column, rows)


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
        if spec.streaming:
            continue
        if not len(ds[split]):
            raise CorpusError(f"the {split} split is empty "
                              f"({', '.join(f'{s} {len(ds[s])}' for s in SPLITS)} rows)")
    if spec.streaming:  # streaming errors surface on iteration: read one row now
        try:
            next(iter(ds["train"]))
        except StopIteration:
            raise CorpusError("the train split is empty") from None


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
        # makes one tensor per float and caps streaming at ~900 rows/s.
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
