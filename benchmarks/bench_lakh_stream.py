"""Streaming Lakh through a torch DataLoader with 2 workers: rows/s and resident memory.

Corpus: ``--files`` copies of the Lakh-like fixtures (as in bench_lakh.py) in a
temporary ``lmd_full/<h>/<md5>.mid`` tree; the train split (80 % by md5 hash) is
streamed, so 12,500 files give ~10,000 rows.

``kelly_hf.load_dataset("lakh", "lmd_full", data_dir=..., streaming=True, split="train")``
-> ``select_columns(["emotion", "notes"])`` -> ``DataLoader(batch_size=64, num_workers=2)``
with a collate function that makes one tensor per column and batch. Printed:
rows/s by wall clock from the first batch to the last (the machine is shared: the
load average is printed too); the CPU seconds of the workers (from /proc) and of
the main process, and the rate they would give on free cores (rows x workers /
all CPU seconds); the resident memory (VmRSS) of the main process and of each
worker after the first 1,000 rows and at the end.

Then the same with ``.with_format("torch")`` instead of the collate function (as
``train/data.py`` reads it today) over ``--torch-rows`` rows: datasets' torch
formatter turns every float of a Python-list row into its own tensor (~2.5 ms a
row), which costs more than reading and parsing the MIDI file.

    python benchmarks/bench_lakh_stream.py [--files 12500] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import datasets  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

import kelly_hf  # noqa: E402
from bench_lakh import FIXTURES, corpus  # noqa: E402


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
    """One tensor per column for a batch of rows (lists of floats)."""
    import torch

    return {k: torch.tensor([r[k] for r in rows]) for k in rows[0]}


def run(loader, limit: int | None = None) -> dict:
    rows, first, samples = 0, None, []
    main_cpu = time.process_time()
    it = iter(loader)
    for batch in it:
        rows += len(batch["notes"])
        if first is None:
            first, rows_at_first = time.perf_counter(), rows
        if rows >= 1000 * (len(samples) + 1):
            samples.append((rows, rss_mb(os.getpid()), [rss_mb(p) for p in children(os.getpid())]))
        if limit and rows >= limit:
            break
    wall = time.perf_counter() - first
    main_cpu = time.process_time() - main_cpu
    cpu = [cpu_s(p) for p in children(os.getpid())]
    getattr(it, "_shutdown_workers", lambda: None)()  # persistent workers: end them before the next run
    return dict(rows=rows, rate=(rows - rows_at_first) / wall, cpu=cpu, main_cpu=main_cpu, samples=samples,
                shape=batch["notes"].shape)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=12500)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--torch-rows", type=int, default=2000, help="rows for the with_format('torch') run (0: skip)")
    args = ap.parse_args()
    paths = sorted((FIXTURES / "multitrack_pop").rglob("*.mid")) + sorted((FIXTURES / "lakh").rglob("*.mid"))
    datas = [p.read_bytes() for p in paths]
    datasets.disable_progress_bars()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = corpus(datas, args.files, os.path.join(tmp, "lakh"))
        stream = kelly_hf.load_dataset("lakh", "lmd_full", data_dir=data_dir, streaming=True, split="train")
        columns = stream.select_columns(["emotion", "notes"])
        print(f"corpus: {args.files} files; train split streamed from {stream.num_shards} shards, "
              f"{args.workers} DataLoader workers, batch {args.batch_size}")
        r = run(DataLoader(columns, batch_size=args.batch_size, num_workers=args.workers, collate_fn=batch_tensors,
                           persistent_workers=True))
        print(f"rows: {r['rows']} (notes batch {tuple(r['shape'])})")
        print(f"wall clock: {r['rate']:8.1f} rows/s  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        total = sum(r["cpu"]) + r["main_cpu"]
        print(f"CPU: workers {sum(r['cpu']):.1f} s ({r['rows'] / sum(r['cpu']):.0f} rows per worker CPU second), "
              f"main process {r['main_cpu']:.1f} s; all of it on {args.workers} free cores: "
              f"~{args.workers * r['rows'] / total:.0f} rows/s")
        for label, (n, main_rss, worker_rss) in (("after", r["samples"][0]), ("end  ", r["samples"][-1])):
            print(f"RSS {label} {n:>6} rows: main {main_rss:6.1f} MB, workers "
                  + ", ".join(f"{x:6.1f} MB" for x in worker_rss))
        growth = [b - a for a, b in zip(r["samples"][0][2], r["samples"][-1][2])]
        print("worker RSS change over the run: " + ", ".join(f"{g:+.1f} MB" for g in growth)
              + f"; main {r['samples'][-1][1] - r['samples'][0][1]:+.1f} MB")
        if args.torch_rows:
            t = run(DataLoader(columns.with_format("torch"), batch_size=args.batch_size, num_workers=args.workers,
                               persistent_workers=True), limit=args.torch_rows)
            total = sum(t["cpu"]) + t["main_cpu"]
            print(f"with_format('torch') instead: {t['rate']:8.1f} rows/s wall, "
                  f"~{args.workers * t['rows'] / total:.0f} rows/s on {args.workers} free cores ({t['rows']} rows)")


if __name__ == "__main__":
    main()
