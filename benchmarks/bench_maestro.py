"""MAESTRO: our path versus a mido-only baseline, and the whole builder extrapolated to MAESTRO v3.

Inputs: the three real MAESTRO performances of ../shared/fixtures (type 1, 384 tpq,
CC64/CC67 pedalling; 2,367 / 4,197 / 12,418 notes, 349-901 s; on average 6,300
notes in 650 s, close to MAESTRO v3's 5,500 notes in 560 s per performance).

1. **Per performance, in one run** (CPU seconds, ``time.process_time``, from bytes in
   memory, best of ``--rounds``): the rows' numbers of the ``segments`` config
   (15 s windows every 7.5 s: ``expression`` and the estimated emotion for every
   window), by
   * ours: ``kelly_hf.midi.read_notes`` + ``kelly_hf.maestro.analyse``;
   * mido-only baseline: ``mido.MidiFile`` + a Python walk over its messages pairing
     note on/off into notes and collecting the pedals (what a builder without a
     fast parser does), then the same vectorised ``analyse``.
   Prints both and the ratio.
2. **The builder** (find files, read the v3 JSON, parse, window, rows, Arrow) on an
   official layout of ``--copies`` copies of the fixtures (``maestro-v3.0.0/<year>/*.midi``
   + a column-oriented ``maestro-v3.0.0.json``), wall clock with ``num_proc=2`` (and 1),
   extrapolated linearly by notes to MAESTRO v3 (1,276 files, 7,045,580 notes).
   Fixed costs (worker start-up, one pool per split) are included, so the
   extrapolation errs on the slow side.

    python benchmarks/bench_maestro.py [--copies 300] [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import mido
import numpy as np

from kelly_hf import loading, maestro
from kelly_hf.midi import CONTROL_DTYPE, NOTE_DTYPE, read_notes

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "maestro" / "maestro-v3.0.0"
MAESTRO_FILES, MAESTRO_NOTES = 1276, 7_045_580


def ours(data: bytes):
    midi = read_notes(data)
    notes = midi.pitched
    starts, ends = maestro.windows(float(notes["end"].max()), "segments")
    return maestro.analyse(notes, midi.controls, starts, ends)


def mido_notes(data: bytes):
    """Notes and controls in seconds with mido alone (merged tracks, tempo map applied by mido)."""
    notes, controls, sounding, t = [], [], {}, 0.0
    for msg in mido.MidiFile(file=io.BytesIO(data)):
        t += msg.time
        if msg.type == "note_on" and msg.velocity:
            sounding.setdefault((msg.channel, msg.note), []).append((t, msg.velocity))
        elif msg.type in ("note_on", "note_off"):
            pending = sounding.get((msg.channel, msg.note))
            if pending:
                start, velocity = pending.pop(0)
                notes.append((msg.note, velocity, start, t, msg.channel, 0, False, 0))
        elif msg.type == "control_change":
            controls.append((t, msg.channel, msg.control, msg.value))
    n = np.array(notes, NOTE_DTYPE)
    return n[np.lexsort((n["pitch"], n["start"]))], np.array(controls, CONTROL_DTYPE)


def baseline(data: bytes):
    notes, controls = mido_notes(data)
    starts, ends = maestro.windows(float(notes["end"].max()), "segments")
    return maestro.analyse(notes, controls, starts, ends)


def cpu_seconds(fn, datas: list[bytes], rounds: int) -> float:
    for d in datas:   # warm-up
        fn(d)
    best = float("inf")
    for _ in range(rounds):
        t0 = time.process_time()
        for d in datas:
            fn(d)
        best = min(best, time.process_time() - t0)
    return best


def official_layout(root: Path, sources: list[Path], copies: int) -> int:
    """maestro-v3.0.0/<year>/*.midi (copies of the fixtures) + the v3 JSON; returns the notes."""
    release = root / "maestro-v3.0.0"
    table = {c: {} for c in ("canonical_composer", "canonical_title", "split", "year", "midi_filename",
                             "audio_filename", "duration")}
    notes = 0
    for i in range(copies):
        src = sources[i % len(sources)]
        name = f"2018/MIDI-Bench_{i:04d}.midi"
        (release / "2018").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, release / name)
        midi = read_notes(src)
        notes += len(midi.notes)
        row = {"canonical_composer": "Bench", "canonical_title": f"Copy {i}",
               "split": ("train", "train", "train", "train", "train", "train", "validation", "test")[i % 8],
               "year": 2018, "midi_filename": name, "audio_filename": name[:-5] + ".wav",
               "duration": float(midi.notes["end"].max())}
        for c, v in row.items():
            table[c][str(i)] = v
    (release / "maestro-v3.0.0.json").write_text(json.dumps(table), encoding="utf-8")
    return notes


def time_builder(data_dir: Path, cache: Path, num_proc) -> tuple[float, int]:
    t0 = time.perf_counter()
    builder = loading.load_builder("maestro", "segments", data_dir=str(data_dir), cache_dir=str(cache))
    builder.download_and_prepare(num_proc=num_proc)
    return time.perf_counter() - t0, sum(s.num_examples for s in builder.info.splits.values())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=300, help="performances in the generated corpus")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the per-performance comparison")
    args = parser.parse_args(argv)

    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()
    sources = sorted(FIXTURES.rglob("*.midi"))
    datas = [p.read_bytes() for p in sources]
    n_notes = sum(len(read_notes(d).notes) for d in datas)
    for d in datas:
        # the same notes; mido's summed float deltas are off by ~1e-11 s, which can move a note lying
        # exactly on a window edge into the next window: the same work either way
        a, (b, _) = read_notes(d).pitched, mido_notes(d)
        assert len(a) == len(b) and np.allclose(np.sort(a["start"]), np.sort(b["start"]), atol=1e-9)
    print(f"{len(datas)} real MAESTRO performances, {n_notes} notes")

    ours_s, base_s = cpu_seconds(ours, datas, args.rounds), cpu_seconds(baseline, datas, args.rounds)
    print("\n1. segments rows' numbers (parse + windows + expression + emotion), CPU seconds, same run")
    for label, s in (("ours", ours_s), ("mido-only", base_s)):
        print(f"  {label:10s} {s:7.3f} s  {n_notes / s / 1e6:6.2f} M notes/s  "
              f"-> MAESTRO v3 ({MAESTRO_NOTES / 1e6:.2f} M notes): {MAESTRO_NOTES * s / n_notes:6.1f} CPU-s")
    print(f"  ratio ours / mido-only: {base_s / ours_s:.1f}x faster")

    workdir = Path(tempfile.mkdtemp(prefix="bench_maestro_"))
    try:
        notes = official_layout(workdir / "maestro", sources, args.copies)
        print(f"\n2. builder, config 'segments', {args.copies} performances, {notes} notes "
              f"(load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
        for num_proc in (None, 2):
            wall, rows = time_builder(workdir / "maestro", workdir / f"cache_{num_proc}", num_proc)
            full = MAESTRO_NOTES * wall / notes
            print(f"  num_proc={num_proc or 1}: {wall:6.2f} s wall, {rows} rows, {notes / wall / 1e6:5.2f} M notes/s, "
                  f"{args.copies / wall:6.1f} files/s")
            print(f"    -> all of MAESTRO v3 ({MAESTRO_FILES} files, {MAESTRO_NOTES} notes): {full:5.1f} s by notes, "
                  f"{MAESTRO_FILES * wall / args.copies:5.1f} s by files{'' if full < 60 else ' (OVER 60 s)'}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
