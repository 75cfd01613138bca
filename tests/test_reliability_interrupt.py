"""Issue 8, interrupted builds: a build killed with SIGKILL at any point, then run
again, gives a dataset identical (fingerprints and the bytes of every column, and
the skip records) to an uninterrupted build, and a half-written cache is never
returned.

A real build runs in a subprocess (``scripts/reliability_build.py``) over a
synthetic harmony corpus large enough to take a few seconds; the test watches
the cache directory and kills the whole process group at a chosen point: as
soon as the temporary ``.incomplete`` directory appears, once Arrow bytes are
written, once the first split is done. ``scripts/kill_sweep.py`` does the same
at many evenly spaced times.
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
import time
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


def _start(data_dir, cache_dir, tmp: Path, num_proc=None) -> subprocess.Popen:
    cmd = [sys.executable, str(BUILD), "harmony", "--data-dir", str(data_dir), "--cache-dir", str(cache_dir),
           "--hash", HASH]
    if num_proc:
        cmd += ["--num-proc", str(num_proc)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(tmp),
                            start_new_session=True)


def _incomplete(cache_dir) -> list[str]:
    return glob.glob(os.path.join(str(cache_dir), "**", "*.incomplete"), recursive=True)


def _arrow_bytes(cache_dir, split: str | None = None) -> int:
    total = 0
    for d in _incomplete(cache_dir):
        for f in glob.glob(os.path.join(d, "*.arrow")):
            if split is None or f"-{split}" in os.path.basename(f):
                total += os.path.getsize(f)
    return total


KILL_POINTS = {
    # name: condition on the cache dir that triggers the kill
    "incomplete dir appears": lambda c: bool(_incomplete(c)),
    "first rows written": lambda c: _arrow_bytes(c, "train") > 256 * 1024,   # ~ the first 1000-row batch
    "train split done, validation started": lambda c: _arrow_bytes(c, "validation") > 0,
}


def _kill_when(proc: subprocess.Popen, condition, cache_dir, timeout=120.0) -> bool:
    """SIGKILL the build's process group when ``condition(cache_dir)`` holds; False if the
    build finished first."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        if condition(cache_dir):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    raise AssertionError("the build neither finished nor reached the kill point")


def _no_finished_cache(cache_dir) -> None:
    """After a kill: nothing outside the .incomplete directory looks like a finished build."""
    infos = [p for p in glob.glob(os.path.join(str(cache_dir), "**", "dataset_info.json"), recursive=True)
             if ".incomplete" not in p]
    assert not infos, infos
    assert _incomplete(cache_dir), "the kill came before the build started writing"


def _same(result: dict, reference: dict) -> None:
    assert result["digest"] == reference["digest"]
    assert result["skips"] == reference["skips"]


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_killed_build_rebuilds_identically(corpus, tmp_path, point):
    root, data_dir, reference = corpus
    cache = tmp_path / "cache"
    proc = _start(data_dir, cache, tmp_path)
    assert _kill_when(proc, KILL_POINTS[point], cache), "the build finished before the kill point"
    _no_finished_cache(cache)
    leftover = _incomplete(cache)
    result = _build(data_dir, cache)
    assert leftover == [result["cache_dir"] + ".incomplete"]   # the retry did meet the killed build's dir
    _same(result, reference)
    assert not _incomplete(cache)


def test_killed_twice_then_rebuilt(corpus, tmp_path):
    """Killed mid-way, killed again mid-way through the retry, then run to the end."""
    root, data_dir, reference = corpus
    cache = tmp_path / "cache"
    for point in ("first rows written", "train split done, validation started"):
        proc = _start(data_dir, cache, tmp_path)
        assert _kill_when(proc, KILL_POINTS[point], cache)
        _no_finished_cache(cache)
    _same(_build(data_dir, cache), reference)


def test_killed_parallel_build_rebuilds_identically(corpus, tmp_path):
    """num_proc=2 (worker processes writing shards) killed mid-way; the retry, with
    num_proc=2 and then, in a second cache, num_proc=1, gives the reference bytes."""
    root, data_dir, reference = corpus
    split_dir = tmp_path / "data"
    shutil.copytree(data_dir, split_dir)   # several files so that num_proc=2 really shards
    doc = json.loads((split_dir / "chord_progressions.json").read_text())
    (split_dir / "chord_progressions.json").unlink()
    items = doc["progressions"]
    for k in range(4):
        (split_dir / f"part{k}.json").write_text(json.dumps({"progressions": items[k::4]}))
    parallel_reference = _build(split_dir, tmp_path / "ref", num_proc=2)
    for retry_procs, cache in ((2, tmp_path / "cache2"), (None, tmp_path / "cache1")):
        proc = _start(split_dir, cache, tmp_path, num_proc=2)
        assert _kill_when(proc, KILL_POINTS["first rows written"], cache)
        _no_finished_cache(cache)
        result = _build(split_dir, cache, num_proc=retry_procs)
        _same(result, parallel_reference)


def test_a_half_written_cache_is_never_returned(corpus, tmp_path):
    """After a kill, another process asking for the dataset gets a complete build, never
    the rows of the .incomplete directory (even with the killed Arrow files in place)."""
    root, data_dir, reference = corpus
    cache = tmp_path / "cache"
    proc = _start(data_dir, cache, tmp_path)
    assert _kill_when(proc, KILL_POINTS["first rows written"], cache)
    leftover = _incomplete(cache)
    before = sorted(os.listdir(leftover[0]))
    result = _build(data_dir, cache)   # this process is not the killed one
    assert leftover == [result["cache_dir"] + ".incomplete"]
    _same(result, reference)
    assert sum(s["rows"] for s in result["digest"].values()) == sum(s["rows"] for s in reference["digest"].values())
    assert any(f.endswith(".arrow") for f in before)


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
    proc = _start(data_dir, cache, tmp_path)
    assert _kill_when(proc, KILL_POINTS["first rows written"], cache)
    assert glob.glob(os.path.join(_incomplete(cache)[0], "skipped", "records-*.jsonl"))
    result = _build(data_dir, cache)
    _same(result, reference)   # the reported data and records are right ...
    assert _files(result["cache_dir"]) == _files(reference["cache_dir"])   # ... and none of the killed run's files


def test_killed_parallel_build_leaves_no_shard_in_the_finished_cache(corpus, tmp_path):
    root, data_dir, reference = corpus
    split_dir = tmp_path / "data"
    shutil.copytree(data_dir, split_dir)
    items = json.loads((split_dir / "chord_progressions.json").read_text())["progressions"]
    (split_dir / "chord_progressions.json").unlink()
    for k in range(4):
        (split_dir / f"part{k}.json").write_text(json.dumps({"progressions": items[k::4]}))
    cache = tmp_path / "cache"
    proc = _start(split_dir, cache, tmp_path, num_proc=2)
    assert _kill_when(proc, KILL_POINTS["first rows written"], cache)
    # the second worker's shard (a num_proc=1 retry writes the first one's name itself)
    assert any("-train-00001-" in f for f in os.listdir(_incomplete(cache)[0]))
    result = _build(split_dir, cache)
    assert not [f for f in os.listdir(result["cache_dir"]) if "-of-" in f]
