"""Issue 8, interrupted builds: a build killed with SIGKILL at any point, then run
again, gives a dataset identical (fingerprints and the bytes of every column, and
the skip records) to an uninterrupted build, and a half-written cache is never
returned.

A real build runs in a subprocess (``scripts/reliability_build.py``) over a
synthetic harmony corpus and is SIGKILLed, process group and ``num_proc`` workers
together, at a named step: the build kills itself there (``--kill-at``, the
``kelly_hf.builder.kill_point`` test hook), so every kill lands at the same
step whatever the machine's load - once its ``.incomplete`` directory is ready,
once the first 1,000-row Arrow batch is written, once the train split is
complete - and each test first checks that the kill left what that step means.
``scripts/kill_sweep.py`` kills at many evenly spaced times instead.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kelly_hf import synthetic

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / "scripts" / "reliability_build.py"
sys.path.insert(0, str(REPO / "scripts"))
from reliability_build import build  # noqa: E402

N_HARMONY = 1500
# Every build here, in this process or a subprocess, uses one builder hash (cache
# directory name), so a retry finds the killed build's directory even if package
# files are edited while the tests run (the code hash would differ between processes).
HASH = "reliability-interrupt"
BROKEN = b'{"progressions": [ {"chords": ["C"'  # a skip record at the start of every split


def _env(tmp: Path) -> dict:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_CACHE": str(tmp / "hf"), "PYTHONHASHSEED": "random"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A synthetic harmony corpus with one broken file, and its uninterrupted build."""
    root = tmp_path_factory.mktemp("interrupt")
    data_dir = synthetic.write("harmony", root / "data", n=N_HARMONY)
    Path(data_dir, "aaa_broken.json").write_bytes(BROKEN)
    reference = _build(data_dir, root / "reference_cache")
    assert any(r["source"] == "aaa_broken.json" for r in reference["skips"])
    return root, data_dir, reference


def _build(data_dir, cache_dir, num_proc=None) -> dict:
    return build("harmony", str(data_dir), str(cache_dir), num_proc=num_proc, hash=HASH)


def _killed_at(point: str, data_dir, cache_dir, tmp: Path, num_proc=None) -> int:
    """Run a build in a subprocess (its own process group) that SIGKILLs the group at
    ``point``; return the build's pid once it is dead."""
    cmd = [sys.executable, str(BUILD), "harmony", "--data-dir", str(data_dir), "--cache-dir", str(cache_dir),
           "--hash", HASH, "--kill-at", point]
    if num_proc:
        cmd += ["--num-proc", str(num_proc)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(tmp),
                            start_new_session=True)
    try:
        _, err = proc.communicate(timeout=900)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)   # nothing left after a kill point; this is for a failure
        except ProcessLookupError:
            pass
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, \
        f"the build did not stop at {point!r} (exit status {proc.returncode}): {err.decode()[-3000:]}"
    return proc.pid


def _incomplete(cache_dir) -> list[str]:
    return glob.glob(os.path.join(str(cache_dir), "**", "*.incomplete"), recursive=True)


def _left(cache_dir) -> dict[str, int]:
    """{path relative to the .incomplete directory: size} of every file the kill left."""
    [directory] = _incomplete(cache_dir)
    return {os.path.relpath(os.path.join(d, f), directory): os.path.getsize(os.path.join(d, f))
            for d, _, files in os.walk(directory) for f in files}


def _arrow(left: dict[str, int], split: str) -> dict[str, int]:
    return {f: n for f, n in left.items() if f.endswith(".arrow") and f"-{split}" in f}


# test id: (the build's kill point, what the kill must have left in .incomplete)
KILL_POINTS = {
    "incomplete dir ready": ("incomplete-dir-ready", lambda left: left == {}),
    "first rows written": ("row-1000", lambda left: sum(_arrow(left, "train").values()) > 256 * 1024
                           and "harmony-train.arrow" not in left and any(f.startswith("skipped/") for f in left)),
    "train split done": ("split-done-train", lambda left: list(_arrow(left, "train")) == ["harmony-train.arrow"]
                         and not _arrow(left, "validation")),
}


def _kill(point: str, data_dir, cache_dir, tmp: Path, num_proc=None) -> int:
    """Kill a build at the test's kill point, check what it left; return its pid."""
    step, left_as_expected = KILL_POINTS[point]
    pid = _killed_at(step, data_dir, cache_dir, tmp, num_proc)
    _no_finished_cache(cache_dir)
    assert left_as_expected(_left(cache_dir)), _left(cache_dir)
    return pid


def _no_finished_cache(cache_dir) -> None:
    """After a kill: nothing outside the .incomplete directory looks like a finished build."""
    infos = [p for p in glob.glob(os.path.join(str(cache_dir), "**", "dataset_info.json"), recursive=True)
             if ".incomplete" not in p]
    assert not infos, infos
    assert len(_incomplete(cache_dir)) == 1, "the killed build left no .incomplete directory"


def _same(result: dict, reference: dict) -> None:
    assert result["digest"] == reference["digest"]
    assert result["skips"] == reference["skips"]


def _split_into_four_files(data_dir, out: Path) -> Path:
    """The corpus as 4 input files, so that num_proc=2 really shards (2 writing workers)."""
    shutil.copytree(data_dir, out)
    items = json.loads((out / "chord_progressions.json").read_text())["progressions"]
    (out / "chord_progressions.json").unlink()
    for k in range(4):
        (out / f"part{k}.json").write_text(json.dumps({"progressions": items[k::4]}))
    return out


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_killed_build_rebuilds_identically(corpus, tmp_path, point):
    root, data_dir, reference = corpus
    cache = tmp_path / "cache"
    _kill(point, data_dir, cache, tmp_path)
    leftover = _incomplete(cache)
    result = _build(data_dir, cache)
    assert leftover == [result["cache_dir"] + ".incomplete"]   # the retry did meet the killed build's dir
    _same(result, reference)
    assert not _incomplete(cache)


def test_killed_twice_then_rebuilt(corpus, tmp_path):
    """Killed mid-way, killed again later in the retry (which emptied the first run's
    directory: only its own skip records are left), then run to the end."""
    root, data_dir, reference = corpus
    cache = tmp_path / "cache"
    _kill("first rows written", data_dir, cache, tmp_path)
    pid = _kill("train split done", data_dir, cache, tmp_path)
    assert [f for f in _left(cache) if f.startswith("skipped/")] == [f"skipped/records-{pid}.jsonl"]
    _same(_build(data_dir, cache), reference)


def test_killed_parallel_build_rebuilds_identically(corpus, tmp_path):
    """num_proc=2 (worker processes writing shards) killed by a worker mid-write (its
    500th train row); the retry, with num_proc=2 and then, in a second cache, num_proc=1,
    gives the reference bytes."""
    root, data_dir, reference = corpus
    split_dir = _split_into_four_files(data_dir, tmp_path / "data")
    parallel_reference = _build(split_dir, tmp_path / "ref", num_proc=2)
    for retry_procs, cache in ((2, tmp_path / "cache2"), (None, tmp_path / "cache1")):
        _killed_at("row-500", split_dir, cache, tmp_path, num_proc=2)   # each worker has ~600 train rows
        _no_finished_cache(cache)
        assert not _arrow(_left(cache), "validation")
        result = _build(split_dir, cache, num_proc=retry_procs)
        _same(result, parallel_reference)


def test_a_half_written_cache_is_never_returned(corpus, tmp_path):
    """After a kill, another process asking for the dataset gets a complete build, never
    the rows of the .incomplete directory (even with the killed Arrow files in place)."""
    root, data_dir, reference = corpus
    cache = tmp_path / "cache"
    _kill("first rows written", data_dir, cache, tmp_path)   # a partial train shard is left
    leftover = _incomplete(cache)
    result = _build(data_dir, cache)   # this process is not the killed one
    assert leftover == [result["cache_dir"] + ".incomplete"]
    _same(result, reference)
    assert sum(s["rows"] for s in result["digest"].values()) == sum(s["rows"] for s in reference["digest"].values())


def _files(cache_dir: str) -> list[str]:
    """Files of a finished build, with process ids in names replaced by 'PID'."""
    out = []
    for dirpath, _, filenames in os.walk(cache_dir):
        for fn in filenames:
            rel = os.path.relpath(os.path.join(dirpath, fn), cache_dir)
            out.append(re.sub(r"records-\d+", "records-PID", rel))
    return sorted(out)


def test_killed_build_leaves_nothing_in_the_finished_cache(corpus, tmp_path):
    root, data_dir, reference = corpus
    cache = tmp_path / "cache"
    pid = _kill("first rows written", data_dir, cache, tmp_path)
    assert f"skipped/records-{pid}.jsonl" in _left(cache)
    result = _build(data_dir, cache)
    _same(result, reference)   # the reported data and records are right ...
    assert _files(result["cache_dir"]) == _files(reference["cache_dir"])   # ... and none of the killed run's files
    assert not os.path.exists(os.path.join(result["cache_dir"], "skipped", f"records-{pid}.jsonl"))


def test_killed_parallel_build_leaves_no_shard_in_the_finished_cache(corpus, tmp_path):
    """A num_proc=2 build killed with its train shards written; a num_proc=1 retry in the
    same cache (it names its one shard harmony-train.arrow) keeps none of them."""
    root, data_dir, reference = corpus
    split_dir = _split_into_four_files(data_dir, tmp_path / "data")
    cache = tmp_path / "cache"
    _killed_at("split-done-train", split_dir, cache, tmp_path, num_proc=2)
    _no_finished_cache(cache)
    assert sorted(_arrow(_left(cache), "train")) == [f"harmony-train-0000{k}-of-00002.arrow" for k in (0, 1)]
    result = _build(split_dir, cache)
    assert not [f for f in os.listdir(result["cache_dir"]) if "-of-" in f]
