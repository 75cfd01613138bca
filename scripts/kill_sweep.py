#!/usr/bin/env python
"""Interrupted builds at many points (issue 8): SIGKILL a real build at evenly spaced
times, then run it again, and compare with an uninterrupted build.

    python scripts/kill_sweep.py                       # harmony and deam, 20 kill points each
    python scripts/kill_sweep.py --builders harmony --points 40 --num-proc 2

For each builder: a synthetic corpus (harmony 4,000 progressions plus a broken
file, so there are skip records; DEAM 60 songs); an uninterrupted reference
build in a subprocess; then ``--points`` builds, each started in a subprocess
(its own process group) and SIGKILLed (every worker with it): half at times
spread evenly over the reference's writing phase (from just before its
``.incomplete`` directory appeared to its end), half when the Arrow bytes in the
``.incomplete`` directory reach k/(n+1) of the finished build's. What the kill
left is recorded, and the build is run again, in a new process, in the same
cache: its digest (every
split's fingerprint, row count and the SHA-256 of every column's Arrow bytes)
and skip records must equal the reference's. Prints one line per kill and a
summary; exit status 1 on any mismatch.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / "scripts" / "reliability_build.py"
HASH = "kill-sweep"


def corpus(name: str, root: Path) -> str:
    from kelly_hf import synthetic

    if name == "harmony":
        data_dir = synthetic.write("harmony", root, n=4000)
        Path(data_dir, "aaa_broken.json").write_bytes(b'{"progressions": [ {"chords": ["C"')
    else:
        data_dir = synthetic.write(name, root, n={"deam": 60, "maestro": 24, "groove": 240, "lakh": 300}[name])
    return data_dir


def start(name, data_dir, cache, num_proc=None) -> subprocess.Popen:
    cmd = [sys.executable, str(BUILD), name, "--data-dir", str(data_dir), "--cache-dir", str(cache), "--hash", HASH]
    if num_proc:
        cmd += ["--num-proc", str(num_proc)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_CACHE": str(Path(cache) / "hf")}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)


def finish(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=3600)
    if proc.returncode:
        raise RuntimeError(err[-3000:])
    return json.loads(out)


def arrow_bytes(cache: Path) -> int:
    return sum(os.path.getsize(f) for d in glob.glob(str(cache / "**" / "*.incomplete"), recursive=True)
               for f in glob.glob(os.path.join(d, "*.arrow")))


def state(cache: Path) -> str:
    """What the kill left: 'nothing', 'incomplete (N files)' or 'finished' (the kill came after
    the rename of the complete build, e.g. while the process was printing its digest)."""
    done = [p for p in glob.glob(str(cache / "**" / "dataset_info.json"), recursive=True) if ".incomplete" not in p]
    if done:
        return "finished"
    inc = glob.glob(str(cache / "**" / "*.incomplete"), recursive=True)
    if not inc:
        return "nothing"
    files = sum(len(fs) for d in inc for _, _, fs in os.walk(d))
    arrow = sum(os.path.getsize(f) for d in inc for f in glob.glob(os.path.join(d, "*.arrow")))
    return f"incomplete ({files} files, {arrow // 1024} kB Arrow)"


def sweep(name: str, points: int, num_proc: int | None, work: Path) -> list[dict]:
    root = Path(tempfile.mkdtemp(prefix=f"kill-{name}-", dir=work))
    data_dir = corpus(name, root / "data")
    ref_bytes = 0
    t0 = time.time()
    proc, began = start(name, data_dir, root / "reference", num_proc), None
    while proc.poll() is None:   # when does the build start writing (after the interpreter start)?
        if began is None and state(root / "reference") != "nothing":
            began = time.time() - t0
        time.sleep(0.01)
    reference = finish(proc)
    total = time.time() - t0
    ref_bytes = sum(os.path.getsize(f) for f in glob.glob(os.path.join(reference["cache_dir"], "*.arrow")))
    began = began or 0.0
    print(f"{name}: reference build {total:.1f} s, writing from {began:.1f} s, "
          f"{sum(d['rows'] for d in reference['digest'].values())} rows, {len(reference['skips'])} records",
          flush=True)
    out = []
    # half the kills at times spread over the writing phase, half when the Arrow bytes written
    # reach a fraction of the finished build's (the same states whatever the machine's load)
    plan = [("time", began * 0.9 + (total - began * 0.9) * k / (points // 2 + 1)) for k in range(1, points // 2 + 1)]
    plan += [("bytes", ref_bytes * k / (points - points // 2 + 1)) for k in range(1, points - points // 2 + 1)]
    for k, (how, when) in enumerate(plan, 1):
        cache = root / f"cache{k}"
        proc = start(name, data_dir, cache, num_proc)
        t_start, killed = time.time(), False
        while proc.poll() is None:
            if (how == "time" and time.time() - t_start >= when) or (how == "bytes" and arrow_bytes(cache) >= when):
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                killed = True
                break
            time.sleep(0.005)
        left = state(cache)
        retry = finish(start(name, data_dir, cache, num_proc))
        same = retry["digest"] == reference["digest"] and retry["skips"] == reference["skips"]
        row = {"builder": name, "num_proc": num_proc, "kill": f"{how} {when:.2f} s" if how == "time"
               else f"at {int(when) // 1024} kB of {ref_bytes // 1024} kB Arrow", "killed": killed,
               "left": left, "identical": same}
        out.append(row)
        print(json.dumps(row), flush=True)
        shutil.rmtree(cache, ignore_errors=True)
    shutil.rmtree(root, ignore_errors=True)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--builders", default="harmony,deam")
    p.add_argument("--points", type=int, default=20)
    p.add_argument("--num-proc", type=int)
    p.add_argument("--work", default=tempfile.gettempdir())
    p.add_argument("--out")
    args = p.parse_args(argv)
    rows = []
    for name in args.builders.split(","):
        rows += sweep(name, args.points, args.num_proc, Path(args.work))
    killed = [r for r in rows if r["killed"]]
    bad = [r for r in rows if not r["identical"]]
    print(f"\n{len(rows)} runs, {len(killed)} killed mid-build "
          f"({sum(r['left'].startswith('incomplete') for r in killed)} left an .incomplete dir, "
          f"{sum(r['left'] == 'nothing' for r in killed)} were killed before it existed, "
          f"{sum(r['left'] == 'finished' for r in killed)} after the complete build was renamed into place), "
          f"{len(rows) - len(bad)} rebuilt identical to the uninterrupted build, {len(bad)} not")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=1)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
