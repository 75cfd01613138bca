"""The front door: ``kelly_hf.load_dataset``, with the call shape of ``datasets.load_dataset``.

``datasets`` 4+ no longer runs loading scripts, so the builders are importable
classes (shipped inside the package as ``kelly_hf.builders.<corpus>``) and this
function resolves a corpus name or a builder directory to one of them.
"""

from __future__ import annotations

import collections
import glob
import importlib
import importlib.util
import inspect
import json
import os
import sys
from pathlib import Path

import datasets

from kelly_hf.builder import SKIP_DIR, KellyBuilder, logger

CORPORA = ("harmony", "lakh", "maestro", "groove", "deam")
# The seed's folder names, accepted as corpus names too.
ALIASES = {"lakh_midi": "lakh", "chords": "harmony", "groove_midi": "groove"}
BUILDERS_DIR = Path(__file__).resolve().parent.parent / "builders"


def available() -> list[str]:
    """Corpus names whose builder is installed."""
    return [c for c in CORPORA if importlib.util.find_spec(f"kelly_hf.builders.{c}") is not None
            and importlib.util.find_spec(f"kelly_hf.builders.{c}.{c}") is not None]


def _builder_class_in(module) -> type[KellyBuilder]:
    classes = [obj for obj in vars(module).values()
               if inspect.isclass(obj) and issubclass(obj, datasets.GeneratorBasedBuilder)
               and obj.__module__ == module.__name__]
    if len(classes) != 1:
        raise ImportError(f"{module.__file__}: expected one GeneratorBasedBuilder class, found {len(classes)}")
    return classes[0]


def builder_class(path: str | os.PathLike) -> type[KellyBuilder]:
    """Resolve ``"harmony"``, ``"builders/harmony"`` or any builder directory to its class."""
    text = os.fspath(path)
    name = os.path.basename(os.path.normpath(text))
    name = ALIASES.get(name, name)
    # A directory is a builder directory when it holds a builder script; a data
    # folder that happens to share a corpus name ("./harmony") is not one.
    if os.path.isdir(text) and any(p.name != "__init__.py" for p in Path(text).glob("*.py")):
        directory = Path(text).resolve()
        package = importlib.util.find_spec(f"kelly_hf.builders.{name}")
        if package is None or Path(package.submodule_search_locations[0]).resolve() != directory:
            return _load_from_file(directory)
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {text!r}: expected a builder directory or one of {', '.join(CORPORA)}")
    try:
        module = importlib.import_module(f"kelly_hf.builders.{name}.{name}")
    except ModuleNotFoundError as exc:
        raise ValueError(f"the {name} builder is not installed ({exc})") from None
    return _builder_class_in(module)


def _load_from_file(directory: Path) -> type[KellyBuilder]:
    candidates = [directory / f"{directory.name}.py"]
    candidates = [c for c in candidates if c.is_file()] or sorted(
        p for p in directory.glob("*.py") if p.name != "__init__.py")
    if len(candidates) != 1:
        raise ValueError(f"{directory}: expected one builder script, found {[c.name for c in candidates]}")
    module_name = f"kelly_hf_local_builders.{directory.name}.{candidates[0].stem}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, candidates[0])
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return _builder_class_in(sys.modules[module_name])


def load_builder(path, name=None, *, data_dir=None, cache_dir=None, **config_kwargs) -> KellyBuilder:
    """The configured builder, like ``datasets.load_dataset_builder``."""
    cls = builder_class(path)
    return cls(config_name=name, data_dir=data_dir, cache_dir=cache_dir, **config_kwargs)


def load_dataset(path, name=None, *, data_dir=None, split=None, streaming=False, cache_dir=None,
                 num_proc=None, **config_kwargs):
    """Build (or reuse the cached build of) a Kelly corpus.

    Same call shape and return types as ``datasets.load_dataset``: a
    ``DatasetDict`` (or ``Dataset`` with ``split=``), or with ``streaming=True``
    an ``IterableDatasetDict`` (``IterableDataset``). ``path`` is a corpus name
    (``"harmony"``) or a builder directory (``"builders/harmony"``); ``name`` the
    config; ``data_dir`` the local corpus folder; further keyword arguments set
    config fields (e.g. ``max_files=1000``).
    """
    builder = load_builder(path, name, data_dir=data_dir, cache_dir=cache_dir, **config_kwargs)
    if streaming:
        return builder.as_streaming_dataset(split=split)  # rows typed like prepared rows (kelly_hf.streaming)
    builder.download_and_prepare(num_proc=num_proc)
    report = summarize(skip_records(builder))
    if report:
        logger.warning("%s/%s: %s", builder.name, builder.config.name, report)
    if not sum(s.num_examples for s in builder.info.splits.values()):
        raise ValueError(f"{builder.name}: nothing loaded from {builder.config.data_dir}"
                         + (f" ({report})" if report else ""))
    return builder.as_dataset(split=split)


def skip_records(builder: KellyBuilder) -> list[dict]:
    """The skip and note records of a prepared build, deduplicated and sorted."""
    seen = set()
    for path in glob.glob(os.path.join(builder.cache_dir, SKIP_DIR, "*.jsonl")):
        with open(path, encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                seen.add((r["kind"], r["split"], r["source"], r["reason"]))
    return [dict(kind=k, split=s, source=src, reason=r) for k, s, src, r in sorted(seen)]


def reason_counts(records: list[dict], kind: str = "skip") -> collections.Counter:
    """How many inputs per reason (file-level reasons are counted once, not per split)."""
    unique = {(r["source"], r["reason"]) for r in records if r["kind"] == kind}
    return collections.Counter(reason_key(reason) for _, reason in unique)


def reason_key(reason: str) -> str:
    """The reason without the per-file detail after the first ':' (for counting)."""
    return reason.split(":", 1)[0].strip()


def summarize(records: list[dict]) -> str:
    parts = []
    for kind, label in (("skip", "skipped"), ("note", "noted")):
        counts = reason_counts(records, kind)
        if counts:
            detail = ", ".join(f"{n} x {reason}" for reason, n in counts.most_common())
            parts.append(f"{sum(counts.values())} {label} ({detail})")
    return "; ".join(parts)
