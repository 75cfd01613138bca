"""Streaming Lakh through a torch DataLoader with 2 workers: rows/s, rows per worker CPU second, memory.

Corpus: ``--files`` files in a temporary ``lmd_full/<h>/<md5>.mid`` tree, copies of
``--corpus fixtures`` (the 8 Lakh-like fixtures) or ``--corpus dense`` (bench_lakh.py's
160 distinct controller-dense GM arrangements); the train split (80 % by md5 hash)
is streamed, so 13,000 files give ~10,300 rows.

Each run: ``kelly_hf.load_dataset("lakh", "lmd_full", data_dir=..., streaming=True,
split="train")`` -> ``select_columns(["emotion", "notes"])`` -> ``DataLoader(batch_size=64,
num_workers=2, persistent_workers=True)`` with a collate function that stacks each
column of a batch into one float32 tensor in the worker, read to the end. In one run:

* **now**: the streamed rows as they are (Arrow tables typed like the prepared
  build's, :mod:`kelly_hf.streaming`);
* **previous**: the path before it, rebuilt here as it was: datasets' row-by-row
  ``ExamplesIterable`` (each row typed on its own, value by value), then re-typed
  through Arrow in batches of 64 and back to Python lists (the old
  ``kelly_hf.loading._typed``).

Printed for each: rows/s by wall clock from the first batch to the last (the
machine is shared: the load average is printed too); the CPU seconds of the
workers (from /proc) and of the main process, rows per worker CPU second (the
figure to trust on a shared machine) and the rate all of it would give on free
cores (rows x workers / all CPU seconds); the resident memory (VmRSS) of the main
process and of each worker after the first 1,000 rows and at the end. Then the
ratio now / previous, and (unless ``--no-check``) whether the streamed train
split equals the prepared build's train split row for row, every column and
value, and whether the batches of the timed run hold exactly the prepared rows'
vectors (an order-free digest: the workers interleave their shards), with the
prepared build's own rows per CPU second (the ceiling streaming approaches: the
same reading, parsing and row maths, measured in the same run). Last,
``with_format("torch")`` instead of the collate function over ``--torch-rows``
rows (datasets' own tensor formatting, one row at a time).

``--instructions`` (needs valgrind; ~20 minutes): instead, instructions counted by
callgrind, which other jobs on the machine do not change, for one process reading
the train split three ways - ``lakh.rows`` alone (reading, parsing, row maths: the
floor), now and previous, each through the same collate per 64 rows - on a 240- and
an 80-file corpus; the difference divided by the difference in rows leaves out
imports and set-up: instructions per row, and each path's overhead over the floor.

    python benchmarks/bench_lakh_stream.py [--files 13000] [--workers 2] [--no-check]
    python benchmarks/bench_lakh_stream.py --instructions
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import datasets  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

import kelly_hf  # noqa: E402
from bench_lakh import FIXTURES, corpus, dense_corpus  # noqa: E402
from kelly_hf import lakh, loading  # noqa: E402

COLUMNS = ["emotion", "notes"]


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except OSError:
                continue
    return sorted(out)


def batch_tensors(rows: list[dict]) -> dict:
    """One float32 tensor per column for a batch of rows (lists of floats), made in the worker."""
    return {k: torch.from_numpy(np.asarray([r[k] for r in rows], dtype=np.float32)) for k in rows[0]}


def previous_stream(data_dir: str) -> datasets.IterableDataset:
    """The streamed train split as it was read before kelly_hf.streaming (see the module docstring)."""
    builder = loading.load_builder("lakh", "lmd_full", data_dir=data_dir)
    builder._get_examples_iterable_for_split = functools.partial(
        datasets.GeneratorBasedBuilder._get_examples_iterable_for_split, builder)
    streamed = builder.as_streaming_dataset(split="train")
    features = streamed.features

    def through_arrow(batch):
        return pa.Table.from_pydict(features.encode_batch(batch), schema=features.arrow_schema).to_pydict()

    return streamed.map(through_arrow, batched=True, batch_size=64, features=features)


def row_digest(matrix: np.ndarray) -> int:
    """An order-free digest of a float32 matrix's rows (a sum of per-row hashes): equal for the same
    rows in any order, constant memory however many batches are added up."""
    return sum(int.from_bytes(hashlib.blake2b(r.tobytes(), digest_size=16).digest(), "little")
               for r in np.ascontiguousarray(matrix, dtype=np.float32)) % 2**128


def run(loader, limit: int | None = None) -> dict:
    """Read ``loader`` to the end (or ``limit`` rows)."""
    rows, first, samples, digest = 0, None, [], 0
    main_cpu = time.process_time()
    before = {p: cpu_s(p) for p in children(os.getpid())}  # persistent workers of an earlier run: none
    it = iter(loader)
    for batch in it:
        rows += len(batch["notes"])
        digest += row_digest(np.hstack([batch[c].numpy() for c in COLUMNS]))
        if first is None:
            first, rows_at_first = time.perf_counter(), rows
        if rows >= 1000 * (len(samples) + 1):
            samples.append((rows, rss_mb(os.getpid()), [rss_mb(p) for p in children(os.getpid())]))
        if limit and rows >= limit:
            break
    samples.append((rows, rss_mb(os.getpid()), [rss_mb(p) for p in children(os.getpid())]))
    wall = time.perf_counter() - first
    main_cpu = time.process_time() - main_cpu
    cpu = [cpu_s(p) - before.get(p, 0.0) for p in children(os.getpid())]
    getattr(it, "_shutdown_workers", lambda: None)()  # persistent workers: end them before the next run
    return dict(rows=rows, rate=(rows - rows_at_first) / wall, cpu=cpu, main_cpu=main_cpu, samples=samples,
                shape=tuple(batch["notes"].shape), digest=digest % 2**128)


def report(name: str, r: dict, workers: int) -> float:
    total = sum(r["cpu"]) + r["main_cpu"]
    per_cpu = r["rows"] / sum(r["cpu"])
    print(f"{name}: {r['rows']} rows (notes batch {r['shape']}), wall clock {r['rate']:7.1f} rows/s "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print(f"  CPU: workers {sum(r['cpu']):.1f} s = {per_cpu:.0f} rows per worker CPU second; main process "
          f"{r['main_cpu']:.1f} s; all of it on {workers} free cores: ~{workers * r['rows'] / total:.0f} rows/s")
    if len(r["samples"]) > 1:
        for label, (n, main_rss, worker_rss) in (("after", r["samples"][0]), ("end  ", r["samples"][-1])):
            print(f"  RSS {label} {n:>6} rows: main {main_rss:6.1f} MB, workers "
                  + ", ".join(f"{x:6.1f} MB" for x in worker_rss))
        growth = [b - a for a, b in zip(r["samples"][0][2], r["samples"][-1][2])]
        print("  worker RSS change over the run: " + ", ".join(f"{g:+.1f} MB" for g in growth)
              + f"; main {r['samples'][-1][1] - r['samples'][0][1]:+.1f} MB")
    return per_cpu


def check(stream: datasets.IterableDataset, loaded_digest: int, data_dir: str, cache: str) -> float:
    """Prepare the build (timed: rows per CPU second, the reference); check that the streamed train
    split equals the prepared one row for row (same order: shard by shard), and that the batches the
    DataLoader workers gave hold exactly the prepared rows' vectors (in the workers' interleaved order)."""
    start = time.process_time()
    builder = loading.load_builder("lakh", "lmd_full", data_dir=data_dir, cache_dir=cache)
    builder.download_and_prepare()
    rate = sum(s.num_examples for s in builder.info.splits.values()) / (time.process_time() - start)
    prepared = builder.as_dataset(split="train")
    streamed = list(stream)
    same = len(streamed) == len(prepared) and all(a == b for a, b in zip(streamed, prepared))
    print(f"streamed train split == prepared train split (all {len(prepared.features)} columns, every value): "
          f"{same} ({len(streamed)} vs {len(prepared)} rows)")
    want = row_digest(np.hstack([np.asarray(prepared.with_format("numpy")[c], dtype=np.float32) for c in COLUMNS]))
    loaded = loaded_digest == want
    print(f"timed DataLoader batches == prepared {'+'.join(COLUMNS)} rows (order-free digest of every row's "
          f"float32 bytes): {loaded}")
    if not (same and loaded):
        raise SystemExit("streamed rows differ from the prepared build")
    return rate


def loop(path: str, data_dir: str) -> int:
    """One in-process read of the train split: ``floor``, ``now`` or ``previous`` (``--instructions``)."""
    if path == "floor":
        plan = lakh.plan(data_dir, "lmd_full")
        return sum(not isinstance(r, lakh.Problem) for r in lakh.rows(plan.shards["train"], "train", plan.context))
    stream = loading.load_builder("lakh", "lmd_full", data_dir=data_dir).as_streaming_dataset(split="train") \
        if path == "now" else previous_stream(data_dir)
    rows, batch = 0, []
    for row in stream.select_columns(COLUMNS):
        batch.append(row)
        if len(batch) == 64:
            rows += len(batch_tensors(batch)["notes"])
            batch = []
    return rows + (len(batch_tensors(batch)["notes"]) if batch else 0)


def instructions(datas: list[bytes], tmp: str) -> None:
    """Instructions per train row of each path, by callgrind (see the module docstring)."""
    counts, rows = {}, {}
    for files in (80, 240):
        data_dir = corpus(datas, files, os.path.join(tmp, f"lakh{files}"))
        for path in ("floor", "now", "previous"):
            run_ = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
                                   __file__, "--loop", path, data_dir], capture_output=True, text=True, check=True)
            counts[path, files] = int(re.search(r"Collected : (\d+)", run_.stderr).group(1))
            rows[path, files] = int(run_.stdout.split()[-1])
    per_row = {}
    for path in ("floor", "now", "previous"):
        n = rows[path, 240] - rows[path, 80]
        per_row[path] = (counts[path, 240] - counts[path, 80]) / n
        over = per_row[path] / per_row["floor"] - 1
        print(f"{path:8s}: {per_row[path] / 1e6:6.2f} M instructions per train row ({n} rows)"
              + (f", {over:+.1%} over reading + parsing + row maths alone" if path != "floor" else ""))
    print(f"rows per instruction, now / previous: {per_row['previous'] / per_row['now']:.2f}x")


def main() -> None:
    if sys.argv[1:2] == ["--loop"]:
        datasets.disable_progress_bars()
        print(loop(*sys.argv[2:4]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=13000)
    ap.add_argument("--corpus", choices=("fixtures", "dense"), default="fixtures",
                    help="copies of the 8 fixtures or of 160 distinct controller-dense songs")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--no-check", dest="check", action="store_false", help="skip the streamed == prepared check")
    ap.add_argument("--torch-rows", type=int, default=2000, help="rows for the with_format('torch') run (0: skip)")
    ap.add_argument("--instructions", action="store_true", help="count instructions per row with callgrind instead")
    args = ap.parse_args()
    paths = sorted((FIXTURES / "multitrack_pop").rglob("*.mid")) + sorted((FIXTURES / "lakh").rglob("*.mid"))
    datas = [p.read_bytes() for p in paths] if args.corpus == "fixtures" else dense_corpus(160)
    datasets.disable_progress_bars()
    with tempfile.TemporaryDirectory() as tmp:
        if args.instructions:
            instructions(datas, tmp)
            return
        data_dir = corpus(datas, args.files, os.path.join(tmp, "lakh"))
        stream = kelly_hf.load_dataset("lakh", "lmd_full", data_dir=data_dir, streaming=True, split="train")
        print(f"corpus: {args.files} files ({len(set(datas))} distinct, {args.corpus}); train split streamed from {stream.num_shards} shards, "
              f"{args.workers} DataLoader workers, batch {args.batch_size}")

        def loader(ds):
            return DataLoader(ds.select_columns(COLUMNS), batch_size=args.batch_size, num_workers=args.workers,
                              collate_fn=batch_tensors, persistent_workers=True)

        timed = run(loader(stream))
        now = report("now     ", timed, args.workers)
        before = report("previous", run(loader(previous_stream(data_dir))), args.workers)
        print(f"rows per worker CPU second, now / previous: {now / before:.2f}x")
        if args.check:
            prepared = check(stream, timed["digest"], data_dir, os.path.join(tmp, "cache"))
            print(f"prepared build (all splits, one process): {prepared:.0f} rows per CPU second; streaming now "
                  f"reaches {now / prepared:.0%} of it per worker CPU second")
        if args.torch_rows:
            t = run(DataLoader(stream.select_columns(COLUMNS).with_format("torch"), batch_size=args.batch_size,
                               num_workers=args.workers, persistent_workers=True), limit=args.torch_rows)
            total = sum(t["cpu"]) + t["main_cpu"]
            print(f"with_format('torch') instead: {t['rate']:8.1f} rows/s wall, {t['rows'] / sum(t['cpu']):.0f} rows "
                  f"per worker CPU second, ~{args.workers * t['rows'] / total:.0f} rows/s on {args.workers} free cores "
                  f"({t['rows']} rows)")


if __name__ == "__main__":
    main()
