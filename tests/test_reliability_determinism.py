"""Issue 8, determinism: the same inputs give byte-identical tables (every column's
Arrow bytes, per split) whatever the number of processes, the file-system order
and the machine's locale and time zone.

Every builder in ``kelly_hf.loading.available()`` is covered (so Lakh is picked
up when it lands), every config for the in-process checks, the default config
for the subprocess ones. The corpus is the synthetic one (small n), plus a copy
of one input file under a non-ASCII name (so locale and path encoding matter);
harmony's single JSON file is split in four so that ``num_proc=2`` really shards.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kelly_hf import loading, synthetic

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
from reliability_build import build, digest  # noqa: E402

BUILDERS = loading.available()
SMALL = {"harmony": 60, "lakh": 40, "maestro": 6, "groove": 24, "deam": 12}
HASH = "reliability-determinism"   # one cache dir name in every process (see test_reliability_interrupt)
INPUT_SUFFIXES = (".json", ".jsonl", ".mid", ".midi", ".wav", ".mp3", ".flac")
CONFIGS = [(name, c.name) for name in BUILDERS for c in loading.builder_class(name).BUILDER_CONFIGS]


def _corpus(name: str, root: Path) -> str:
    data_dir = synthetic.write(name, root, n=SMALL.get(name, 12))
    if name == "harmony":
        path = Path(data_dir, "chord_progressions.json")
        items = json.loads(path.read_text())["progressions"]
        path.unlink()
        for k in range(4):
            Path(data_dir, f"part{k}.json").write_text(json.dumps({"progressions": items[k::4]}))
    inputs = sorted(p for p in Path(data_dir).rglob("*") if p.suffix.lower() in INPUT_SUFFIXES)
    first = inputs[0]
    shutil.copy2(first, first.with_name("\u00fc\u00e9\u4e2d_" + first.name))
    return data_dir


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    cache = {}

    def get(name):
        if name not in cache:
            root = tmp_path_factory.mktemp(f"det_{name}")
            cache[name] = (root, _corpus(name, root / "data"))
        return cache[name]
    return get


@pytest.fixture(scope="module")
def references(corpora):
    """The in-process, num_proc=None build of each (builder, config)."""
    cache = {}

    def get(name, config):
        from kelly_hf.builder import DataDirError

        if (name, config) not in cache:
            root, data_dir = corpora(name)
            try:
                cache[name, config] = build(name, data_dir, str(root / f"ref_{config}"), config, hash=HASH)
            except DataDirError as exc:   # e.g. lakh/clean_midi over the synthetic lmd_full layout
                cache[name, config] = exc
        if isinstance(cache[name, config], Exception):
            pytest.skip(f"the synthetic {name} corpus has nothing for config {config}: {cache[name, config]}")
        return cache[name, config]
    return get


def _columns(result) -> dict:
    """Per split: rows and column digests (fingerprints left out: they name the data_dir)."""
    return {split: (d["rows"], d["columns"]) for split, d in result["digest"].items()}


def _shards(cache_dir: str) -> int:
    return sum(1 for f in os.listdir(cache_dir) if f.endswith(".arrow") and "-of-" in f)


@pytest.mark.parametrize("name,config", CONFIGS)
def test_num_proc_1_vs_2(corpora, references, tmp_path, name, config):
    root, data_dir = corpora(name)
    reference = references(name, config)
    parallel = build(name, data_dir, str(tmp_path / "cache"), config, num_proc=2, hash=HASH)
    assert parallel["digest"] == reference["digest"]      # fingerprints too: same data_dir, same config
    assert parallel["skips"] == reference["skips"]
    assert _shards(parallel["cache_dir"]) >= 2, "num_proc=2 wrote no shards: the check would be vacuous"
    assert sum(d["rows"] for d in reference["digest"].values()) > 0


class _Reversed:
    """``os.scandir`` with the entries in reverse order (a context manager and iterator)."""

    def __init__(self, it):
        with it:
            self.entries = iter(sorted(it, key=lambda e: e.name, reverse=True))

    def __iter__(self):
        return self

    def __next__(self):
        return next(self.entries)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def close(self):
        pass


@pytest.mark.parametrize("name,config", CONFIGS)
def test_file_system_order_and_mtimes(corpora, references, tmp_path, monkeypatch, name, config):
    """The corpus recreated file by file in reverse order with shuffled file and folder
    mtimes, and read with os.scandir / os.listdir returning entries in reverse order."""
    root, data_dir = corpora(name)
    reference = references(name, config)
    src = Path(data_dir)
    dst = tmp_path / "data" / src.name
    files = sorted((p for p in src.rglob("*") if p.is_file()), reverse=True)
    rng = random.Random(42)
    for p in files:
        target = dst / p.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, target)
        t = rng.uniform(0, 2e9)
        os.utime(target, (t, t))
    for d in sorted((p for p in dst.rglob("*") if p.is_dir()), reverse=True) + [dst]:
        t = rng.uniform(0, 2e9)
        os.utime(d, (t, t))

    real_scandir, real_listdir = os.scandir, os.listdir
    monkeypatch.setattr(os, "scandir", lambda path=".": _Reversed(real_scandir(path)))
    monkeypatch.setattr(os, "listdir", lambda path=".": sorted(real_listdir(path), reverse=True))
    result = build(name, str(dst), str(tmp_path / "cache"), config, hash=HASH)
    monkeypatch.undo()
    assert _columns(result) == _columns(reference)
    assert result["skips"] == reference["skips"]


ENVIRONMENTS = {
    "Kiritimati, C locale": {"TZ": "Pacific/Kiritimati", "LC_ALL": "C"},
    "UTC, C.UTF-8": {"TZ": "UTC", "LANG": "C.UTF-8"},
}
# C locale with Python's locale coercion and UTF-8 mode turned off: text I/O
# without an explicit encoding would be ASCII here.
ASCII_ENV = {"TZ": "Pacific/Honolulu", "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}


def _run_in(env_vars: dict, name: str, data_dir: str, cache_dir: Path, tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG", "TZ", "PYTHONUTF8"))}
    env.update(env_vars, HF_HUB_OFFLINE="1", HF_DATASETS_CACHE=str(tmp_path / "hf"), PYTHONHASHSEED="random")
    run = subprocess.run([sys.executable, str(REPO / "scripts" / "reliability_build.py"), name, "--data-dir",
                          data_dir, "--cache-dir", str(cache_dir), "--hash", HASH],
                         capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, (env_vars, run.stderr[-3000:])
    return json.loads(run.stdout)


@pytest.mark.parametrize("name", BUILDERS)
def test_time_zone_and_locale(corpora, references, tmp_path, name):
    """Builds in subprocesses under TZ=Pacific/Kiritimati LC_ALL=C and TZ=UTC LANG=C.UTF-8
    (and random hash seeds) give the same bytes and fingerprints as the in-process build."""
    root, data_dir = corpora(name)
    config = loading.builder_class(name).DEFAULT_CONFIG_NAME or loading.builder_class(name).BUILDER_CONFIGS[0].name
    reference = references(name, config)
    for i, (label, env) in enumerate(ENVIRONMENTS.items()):
        result = _run_in(env, name, data_dir, tmp_path / f"c{i}", tmp_path)
        assert result["digest"] == reference["digest"], label
        assert result["skips"] == reference["skips"], label


@pytest.mark.parametrize("name", BUILDERS)
def test_ascii_locale_without_utf8_mode(corpora, references, tmp_path, name):
    """LC_ALL=C with PYTHONUTF8=0 PYTHONCOERCECLOCALE=0 (preferred encoding ASCII), over the
    corpus with its non-ASCII file name (which this locale decodes to surrogate escapes;
    it crashed the build before the B2 / S1 fixes): the same column bytes as a normal
    build, and as many skip records (those naming that file spell it with escapes)."""
    root, data_dir = corpora(name)
    config = loading.builder_class(name).DEFAULT_CONFIG_NAME or loading.builder_class(name).BUILDER_CONFIGS[0].name
    reference = references(name, config)
    result = _run_in(ASCII_ENV, name, data_dir, tmp_path / "c", tmp_path)
    assert result["encoding"]["preferred"] != "UTF-8", result["encoding"]
    assert _columns(result) == _columns(reference)
    assert len(result["skips"]) == len(reference["skips"])


# -- file names that are not UTF-8 ---------------------------------------------------
# os.walk returns such names (latin-1 bytes from an old zip, or any non-ASCII name
# under an ASCII locale) with surrogate escapes; encoding them as UTF-8 raises.


def _latin1_copy(name: str, root: Path, suffixes: tuple[str, ...]) -> str:
    data_dir = synthetic.write(name, root, n=SMALL.get(name, 12))
    src = sorted(p for p in Path(data_dir).rglob("*") if p.suffix.lower() in suffixes)[0]
    shutil.copyfile(src, os.path.join(os.fsencode(src.parent), b"caf\xe9_" + os.fsencode(src.name)))
    return data_dir


def test_fixed_b2_skip_record_for_a_non_utf8_file_name(tmp_path):
    import kelly_hf

    data_dir = _latin1_copy("groove", tmp_path / "data", (".mid", ".midi"))   # -> "not in info.csv" skip record
    kelly_hf.load_dataset("groove", data_dir=data_dir, cache_dir=str(tmp_path / "cache"))


def test_fixed_s1_hash_split_of_a_non_utf8_id(tmp_path):
    import kelly_hf

    data_dir = _latin1_copy("deam", tmp_path / "data", (".wav", ".mp3", ".flac", ".ogg"))
    kelly_hf.load_dataset("deam", data_dir=data_dir, cache_dir=str(tmp_path / "cache"))


def test_digest_sees_a_one_value_change(corpora, tmp_path):
    """The digest used above is sensitive: one float changed in one row changes it."""
    import datasets

    name = BUILDERS[0]
    root, data_dir = corpora(name)
    reference = build(name, data_dir, str(tmp_path / "cache"), hash=HASH)
    import kelly_hf

    ds = kelly_hf.load_dataset(name, data_dir=data_dir, cache_dir=str(tmp_path / "cache"), hash=HASH)
    column = next(c for c, f in ds["train"].features.items()
                  if isinstance(f, datasets.Value) and f.dtype == "float32")
    changed = ds["train"].map(lambda row, i: {column: row[column] + (1.0 if i == 0 else 0.0)}, with_indices=True)
    altered = dict(ds)
    altered["train"] = changed
    assert digest(altered)["train"]["columns"][column] != reference["digest"]["train"]["columns"][column]
    assert digest(dict(ds)) == reference["digest"]
