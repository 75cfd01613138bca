"""What every Kelly builder shares: config, cache keys, skip records.

* **Cache keys.** A build is cached by `datasets` under a directory named from
  the config id and a hash. :class:`KellyBuilder` adds to the config an
  ``input_signature`` (names, sizes and mtimes of every file under
  ``data_dir``) and uses a hash of the package's code as the builder hash, so
  added / removed / edited inputs, a changed config value or changed feature
  code rebuild instead of returning stale rows, while an unchanged re-run reuses
  the cache without parsing anything.
* **Skip records.** One bad input never stops a build: a builder calls
  :meth:`KellyBuilder.skip` (the input gave no row, with the reason) or
  :meth:`KellyBuilder.note` (rows were written but something is worth
  reporting, e.g. unknown chord symbols). During a prepared build they are
  written next to the Arrow files (``skipped/*.jsonl``, inside the temporary
  build directory, so an interrupted build leaves none behind); in streaming
  they are logged. :func:`kelly_hf.loading.skip_records` reads them back.
* **Streaming** yields the rows as Arrow tables typed like the prepared build's
  (:mod:`kelly_hf.streaming`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import datasets

from kelly_hf import streaming

logger = logging.getLogger("kelly_hf")

SKIP_DIR = "skipped"


class DataDirError(FileNotFoundError):
    """data_dir is missing or holds nothing the builder can read (names the path and what was looked for)."""


def input_signature(data_dir: str) -> str:
    """Fingerprint of every file under ``data_dir``: relative path, size, mtime."""
    h = hashlib.sha1()
    for dirpath, dirnames, filenames in os.walk(data_dir):
        dirnames.sort()
        for fn in sorted(filenames):
            full = os.path.join(dirpath, fn)
            try:
                st = os.stat(full)
            except OSError:
                continue
            rel = os.path.relpath(full, data_dir)
            h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()[:16]


@lru_cache(maxsize=None)
def code_hash(builder_file: str) -> str:
    """Hash of the builder file and every module of kelly_hf (features depend on both)."""
    h = hashlib.sha1()
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*.py")) + [Path(builder_file)]:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


@dataclass
class KellyConfig(datasets.BuilderConfig):
    """A builder config; ``input_signature`` is filled in automatically from data_dir."""

    input_signature: str | None = None


class KellyBuilder(datasets.GeneratorBasedBuilder):
    """Base of the five Kelly builders (see the module docstring)."""

    BUILDER_CONFIG_CLASS = KellyConfig
    #: what the builder looks for in data_dir, for the error when it is missing
    LOOKS_FOR = "its input files"

    def __init__(self, *args, data_dir: str | None = None, **kwargs):
        name = type(self).__module__.rsplit(".", 1)[-1]
        if data_dir is None:
            raise DataDirError(f"{name}: no data_dir given; it should be a folder holding {self.LOOKS_FOR}")
        data_dir = os.path.abspath(os.fspath(data_dir))
        if not os.path.isdir(data_dir):
            raise DataDirError(f"{name}: data_dir {data_dir} does not exist or is not a folder; "
                               f"it should hold {self.LOOKS_FOR}")
        kwargs.setdefault("input_signature", input_signature(data_dir))
        import inspect
        kwargs.setdefault("hash", code_hash(inspect.getfile(type(self))))
        self._skip_dir: str | None = None
        super().__init__(*args, data_dir=data_dir, **kwargs)

    def _as_dataset(self, split=datasets.Split.TRAIN, in_memory=False):
        # A small corpus can leave a hash split empty; datasets has no Arrow file
        # for it and would refuse, so an empty split is an empty Dataset.
        info = (self.info.splits or {}).get(str(split))
        if info is not None and info.num_examples == 0:
            table = self.info.features.arrow_schema.empty_table()
            return datasets.Dataset(table, info=self.info.copy(), split=split,
                                    fingerprint=self._get_dataset_fingerprint(split))
        return super()._as_dataset(split, in_memory)

    def _get_examples_iterable_for_split(self, split_generator):
        return streaming.typed_tables(self._generate_examples, split_generator.gen_kwargs, self.info.features)

    # -- skip records ---------------------------------------------------------

    def _download_and_prepare(self, dl_manager, verification_mode, **kwargs):
        # Only a prepared build records skips to disk; self._output_dir is the
        # temporary ".incomplete" directory here, renamed only on success. datasets
        # reuses a killed build's ".incomplete" as it is, so empty it first: its
        # partial shards and skip records must not reach the finished cache.
        if self._output_dir.endswith(".incomplete") and os.path.isdir(self._output_dir):
            shutil.rmtree(self._output_dir)
            os.makedirs(self._output_dir)
        self._skip_dir = os.path.join(self._output_dir, SKIP_DIR)
        os.makedirs(self._skip_dir, exist_ok=True)
        try:
            return super()._download_and_prepare(dl_manager, verification_mode, **kwargs)
        finally:
            self._skip_dir = None

    def _record(self, kind: str, split: str, source: str, reason: str) -> None:
        record = {"kind": kind, "split": split, "source": source, "reason": reason}
        if self._skip_dir is None:
            logger.warning("%s %s: %s", "skipped" if kind == "skip" else "note:", source, reason)
            return
        with open(os.path.join(self._skip_dir, f"records-{os.getpid()}.jsonl"), "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")  # ASCII escapes: file names need not be UTF-8

    def skip(self, split: str, source: str, reason: str) -> None:
        """Record that ``source`` gave no row, and why (``split="*"`` when the
        problem belongs to no split, e.g. an unreadable file every split reads)."""
        self._record("skip", split, source, reason)

    def note(self, split: str, source: str, reason: str) -> None:
        """Record something worth reporting about rows that were written."""
        self._record("note", split, source, reason)

    def report(self, problem) -> None:
        """Record a problem object (``kind`` "skip" or "note", ``split``, ``source``, ``reason``)."""
        (self.skip if problem.kind == "skip" else self.note)(problem.split, problem.source, problem.reason)

    def data_path(self, *parts: str) -> str:
        return os.path.join(self.config.data_dir, *parts)
