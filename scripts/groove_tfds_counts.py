#!/usr/bin/env python
"""Groove window counts under ``bar_policy="tfds"`` beside TFDS's published table.

    python scripts/groove_tfds_counts.py DIR [--cache-dir C] [--num-proc N]

``DIR`` holds the Groove MIDI release (``groove/info.csv`` + ``drummer*/session*/*.mid``,
or ``groove-v1.0.0-midionly.zip``). Builds ``2bar-tfds`` and ``4bar-tfds`` and prints,
per split, TFDS's count (``groove/2bar-midionly``, ``groove/4bar-midionly``), the built
count, their difference, and what the same rule gives with info.csv's ``duration`` as
the take's length instead of the MIDI file's (which is short of it for takes with
controllers after their last note). Exit status 0 when every built count equals TFDS's.
"""

from __future__ import annotations

import argparse
import sys
import tempfile

from kelly_hf import groove, loading, splits
from kelly_hf.inputs import find_files

# TFDS catalog, groove (tensorflow_datasets/audio/groove.py), full release: train, validation, test
TFDS_TABLE = {"2bar": (18_163, 2_252, 2_204), "4bar": (17_261, 2_121, 2_033)}


def from_info_csv(root: str) -> dict[str, dict[str, int]]:
    """{window: {split: count}} by the tfds rule over every info.csv row, its duration as the length."""
    sources = [s for s in find_files(root, (".csv",), []) if s.name.lower() == "info.csv"]
    if not sources:
        return {}
    rows, _ = groove.read_info(sources[0], sources[0].name)
    out = {window: dict.fromkeys(splits.SPLITS, 0) for window in TFDS_TABLE}
    for _, r in rows.values():
        try:
            bpm, duration, sig = int(r["bpm"]), float(r["duration"]), groove.meter(r["time_signature"])
        except (KeyError, TypeError, ValueError):
            continue
        if bpm < 1 or sig is None:
            continue
        _, n_bars = groove.bar_grid("tfds", duration, bpm, bpm, sig)
        for window, counts in out.items():
            counts[r["split"]] += max(0, n_bars - groove.CONFIG_BARS[window] + 1)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data_dir", help="folder holding the Groove MIDI release (folder or zip)")
    p.add_argument("--cache-dir", help="datasets cache (default: a temporary folder)")
    p.add_argument("--num-proc", type=int, default=None)
    args = p.parse_args(argv)
    estimate = from_info_csv(args.data_dir)
    same = True
    with tempfile.TemporaryDirectory() as tmp:
        cache = args.cache_dir or tmp
        print(f"{'config':<10} {'split':<11} {'TFDS':>7} {'built':>7} {'diff':>7} {'info.csv L':>11}")
        for window, table in TFDS_TABLE.items():
            builder = loading.load_builder("groove", groove.config_name(window, "tfds"), data_dir=args.data_dir,
                                           cache_dir=cache)
            builder.download_and_prepare(num_proc=args.num_proc)
            built = {s: builder.info.splits[s].num_examples if s in builder.info.splits else 0 for s in splits.SPLITS}
            for split, tfds in zip(splits.SPLITS, table):
                guess = f"{estimate[window][split]:,}" if estimate else "-"
                print(f"{window + '-tfds':<10} {split:<11} {tfds:>7,} {built[split]:>7,} {built[split] - tfds:>+7,} "
                      f"{guess:>11}")
                same &= built[split] == tfds
            report = loading.summarize(loading.skip_records(builder))
            if report:
                print(f"  {window}-tfds: {report}")
    print("equal to the TFDS table" if same else "NOT equal to the TFDS table")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
