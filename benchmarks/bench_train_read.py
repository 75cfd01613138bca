"""Training read path: batched Arrow reads versus a per-row DataLoader.

Both read the same prepared split (the harmony corpus, synthetic unless
``--data-dir`` is given) for the same columns (``context``, ``chords``), in
shuffled batches of ``--batch-size``, into float32 tensors:

* per-row: ``ds.with_format("torch", columns=...)`` + ``torch.utils.data.DataLoader
  (shuffle=True)``, the common recipe: one Arrow lookup and one formatting per row;
* ours: :class:`train.data.PreparedBatches`, one Arrow ``take`` per batch of a
  seeded permutation, to numpy, to torch.

Each path reads ``--epochs`` full epochs once (wall clock, in this process);
prints rows/s for both and the ratio.

    python benchmarks/bench_train_read.py [--n 2000] [--epochs 5] [--batch-size 64] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch
from torch.utils.data import DataLoader

import kelly_hf
from kelly_hf import synthetic
from train.data import PreparedBatches
from train.models import SPECS


def per_row(ds, columns, batch_size: int, epochs: int) -> tuple[int, float]:
    loader = DataLoader(ds.with_format("torch", columns=list(columns)), batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(0))
    rows, start = 0, time.perf_counter()
    for _ in range(epochs):
        for batch in loader:
            x, y = batch[columns[0]].float(), batch[columns[1]].float()
            rows += len(x)
    return rows, time.perf_counter() - start


def batched(ds, spec, batch_size: int, epochs: int) -> tuple[int, float]:
    reader = PreparedBatches(ds, spec, batch_size, shuffle=True, seed=0)
    rows, start = 0, time.perf_counter()
    for epoch in range(epochs):
        for x, y, _ in reader.epoch(epoch):
            rows += len(x)
    return rows, time.perf_counter() - start


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=2000, help="synthetic progressions to write (default 2000)")
    p.add_argument("--epochs", type=int, default=5, help="epochs each path reads (default 5)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--data-dir", default=None, help="a harmony corpus to read instead of the synthetic one")
    args = p.parse_args(argv)
    spec = SPECS["harmony"]
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir or synthetic.write("harmony", tmp, n=args.n)
        ds = kelly_hf.load_dataset("harmony", data_dir=data_dir, split="train", cache_dir=f"{tmp}/cache")
        columns = (spec.input, spec.target)
        print(f"harmony train split: {len(ds)} rows; columns {columns}; batch {args.batch_size}; "
              f"{args.epochs} epochs per path")
        rows_a, secs_a = per_row(ds, columns, args.batch_size, args.epochs)
        rows_b, secs_b = batched(ds, spec, args.batch_size, args.epochs)
    assert rows_a == rows_b, (rows_a, rows_b)
    rate_a, rate_b = rows_a / secs_a, rows_b / secs_b
    print(f"per-row with_format('torch') + DataLoader: {rate_a:>12,.0f} rows/s  ({secs_a:.3f} s)")
    print(f"batched Arrow take (train.data):          {rate_b:>12,.0f} rows/s  ({secs_b:.3f} s)")
    print(f"ratio: {rate_b / rate_a:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
