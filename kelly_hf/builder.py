"""What every Kelly builder shares: config, cache keys, skip records.

* **Cache keys.** A build is cached by `datasets` under a directory named from
  the config id and a hash. :class:`KellyBuilder` adds to the config an
  ``input_signature`` (names, sizes and mtimes of every file under
  ``data_dir``) and uses a hash of the package's code and of the emotion
  estimate's version (``musical_emotion.VERSION``) as the builder hash, so
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
* **Kill points** (a test hook, inert unless ``KELLY_KILL_AT`` is set): see
  :func:`kill_point`.
* **Streaming** yields the rows as Arrow tables typed like the prepared build's
  (:mod:`kelly_hf.streaming`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import signal
from dataclasses import dataclass
from functools import lru_cache, wraps
from pathlib import Path

import datasets

from kelly_hf import musical_emotion, streaming

logger = logging.getLogger("kelly_hf")

SKIP_DIR = "skipped"

#: Test hook for the interrupted-build tests (tests/test_reliability_interrupt.py),
#: read once at import. Unset - always, outside those tests - nothing is wrapped and
#: each check is one comparison per build or split.
KILL_AT = os.environ.get("KELLY_KILL_AT")


def kill_point(point: str) -> None:
    """SIGKILL this process's group (the build and its ``num_proc`` workers) if
    ``KELLY_KILL_AT`` names ``point``, so a test kills a build at an exact step
    whatever the machine's load. The test starts the build in its own process group.

    Points: ``incomplete-dir-ready`` (the empty ``.incomplete`` directory is in place,
    nothing written yet); ``row-<n>`` (a split's generator - one worker's share under
    ``num_proc`` - has handed its n-th row to the Arrow writer: at the writer's batch
    size, 1,000 by default, that batch is on disk); ``split-done-<split>`` (the split's
    Arrow files are complete and named, the next split not begun).
    """
    if point == KILL_AT:
        os.killpg(0, signal.SIGKILL)


def _rows_with_kill_points(generate):
    @wraps(generate)
    def rows(self, *args, **kwargs):
        for n, row in enumerate(generate(self, *args, **kwargs), 1):
            yield row
            kill_point(f"row-{n}")  # resumed: the writer has taken row n
    return rows


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
    """Hash of the builder file and every module of kelly_hf (features depend on both), and
    explicitly of the emotion estimate's version (``estimated`` rows depend on it)."""
    h = hashlib.sha1(musical_emotion.VERSION.encode())
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

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if KILL_AT and KILL_AT.startswith("row-") and "_generate_examples" in vars(cls):
            cls._generate_examples = _rows_with_kill_points(vars(cls)["_generate_examples"])

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
        # reuses a killed build's ".incomplete" as it is, so empty it first (in place: the
        # directory never disappears): its partial shards and skip records must not reach
        # the finished cache.
        if self._output_dir.endswith(".incomplete") and os.path.isdir(self._output_dir):
            for entry in os.scandir(self._output_dir):
                shutil.rmtree(entry.path) if entry.is_dir(follow_symlinks=False) else os.unlink(entry.path)
        self._skip_dir = os.path.join(self._output_dir, SKIP_DIR)
        os.makedirs(self._skip_dir, exist_ok=True)
        kill_point("incomplete-dir-ready")
        try:
            return super()._download_and_prepare(dl_manager, verification_mode, **kwargs)
        finally:
            self._skip_dir = None

    def _prepare_split(self, split_generator, **kwargs):
        super()._prepare_split(split_generator, **kwargs)
        kill_point(f"split-done-{split_generator.name}")

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
