"""End-to-end Lakh throughput: MIDI file -> Arrow row with all columns, ours vs mido only.

Corpus: ``--files`` copies of the Lakh-like fixtures in ../shared/fixtures (the 7
multi-track pop files and the LMD-full type-0 file: 26-55 KB, 2.7k-8.3k notes,
1-14 tracks), written under fake md5 names into a temporary ``lmd_full/<h>/<md5>.mid``
tree (the builder trusts Lakh's names, so copies cost what distinct files cost).

Timed with ``time.process_time`` (CPU seconds of this process: other load on the
shared machine distorts it less than wall time), each the median of ``--repeat``
runs, after one warm-up of each (imports such as datasets' streaming patches, first-call
checks: one-time costs that a 176,581-file build amortises), in one run:

* **ours, end to end**: ``kelly_hf.loading.load_builder("lakh", "lmd_full", ...)`` and
  ``download_and_prepare()`` in this process: input fingerprint, layout scan,
  reading, parsing (``read_pitched``), features, emotion, Arrow writing, all
  three splits.
* **mido-only baseline, same rows**: the way a mido user writes it (as pretty_midi
  does): ``mido.MidiFile``, iterate the merged tracks in play order with times in
  seconds, pair note-ons and note-offs per channel and key, skip channel 10; then
  the same row maths (``kelly_hf.lakh.summarize``) and Arrow encoding, over
  ``--mido-files`` files. It gives the same pitched notes as ``read_pitched`` on
  these files (checked and printed). For reference also: our own mido path
  (``file_row(parser="mido")``, the fallback for files symusic cannot be trusted
  with) and ``mido.MidiFile`` parsing alone, the lower bound of any mido reader.
* the same build from ``lmd_full.tar.gz`` (read in place: 3 splits x
  ``archive_passes`` decompressions), and the parts: ``read_pitched`` alone,
  ``read_notes``, symusic's bare parse.

    python benchmarks/bench_lakh.py [--files 2000] [--mido-files 24]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import statistics
import tarfile
import tempfile
import time
from collections import deque
from pathlib import Path

import datasets
import mido
import numpy as np
import symusic


from kelly_hf import lakh, loading
from kelly_hf.inputs import Source
from kelly_hf.midi import Pitched, read_notes, read_pitched

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
LMD_FULL = 176_581


def mido_pitched(data: bytes) -> Pitched:
    """The mido-only baseline reader (see the module docstring)."""
    mid = mido.MidiFile(file=io.BytesIO(data), clip=True)
    now, tempo, sounding, rows = 0.0, None, {}, []
    for msg in mid:  # all tracks merged in time order, delta times in seconds through mido's tempo map
        now += msg.time
        if msg.type == "set_tempo" and tempo is None:
            tempo = mido.tempo2bpm(msg.tempo)
        elif msg.type in ("note_on", "note_off") and msg.channel != 9:
            key = (msg.channel, msg.note)
            if msg.type == "note_on" and msg.velocity:
                sounding.setdefault(key, deque()).append((now, msg.velocity))
            elif sounding.get(key):
                start, velocity = sounding[key].popleft()
                rows.append((msg.note, velocity, start, now))
    for (_, pitch), pending in sounding.items():
        rows += [(pitch, velocity, start, now) for start, velocity in pending]
    a = np.array(rows, dtype=np.float64).reshape(-1, 4)
    return Pitched(a[:, 0].astype(np.uint8), a[:, 1].astype(np.uint8), a[:, 2], a[:, 3], len(mid.tracks), now,
                   tempo or 120.0, "mido")


def same_notes(a: Pitched, b: Pitched) -> float:
    """Largest onset/offset difference (s) between two readings with the same pitches, else inf."""
    ka, kb = np.lexsort((a.end, a.start, a.pitch)), np.lexsort((b.end, b.start, b.pitch))
    if len(ka) != len(kb) or not np.array_equal(a.pitch[ka], b.pitch[kb]):
        return float("inf")
    return float(max(np.abs(a.start[ka] - b.start[kb]).max(initial=0), np.abs(a.end[ka] - b.end[kb]).max(initial=0)))


def corpus(datas: list[bytes], n: int, root: str, archive: bool = False) -> str:
    files = {}
    for i in range(n):
        md5 = hashlib.md5(f"kelly-bench-{i}".encode()).hexdigest()
        files[f"lmd_full/{md5[0]}/{md5}.mid"] = datas[i % len(datas)]
    os.makedirs(root, exist_ok=True)
    if archive:
        with tarfile.open(os.path.join(root, "lmd_full.tar.gz"), "w:gz") as tf:
            for name in sorted(files):
                info = tarfile.TarInfo(name)
                info.size = len(files[name])
                tf.addfile(info, io.BytesIO(files[name]))
        return root
    for name, data in files.items():
        path = os.path.join(root, *name.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        Path(path).write_bytes(data)
    return root


def build_rate(data_dir: str, cache: str, n: int) -> tuple[float, int]:
    start = time.process_time()
    builder = loading.load_builder("lakh", "lmd_full", data_dir=data_dir, cache_dir=cache)
    builder.download_and_prepare()
    cpu = time.process_time() - start
    rows = sum(s.num_examples for s in builder.info.splits.values())
    return n / cpu, rows


def per_file_rate(fn, datas: list[bytes], count: int, repeat: int = 1) -> float:
    for d in datas:
        fn(d)  # warm-up: imports, first-call checks, allocator
    rates = []
    for _ in range(repeat):
        start = time.process_time()
        for i in range(count):
            fn(datas[i % len(datas)])
        rates.append(count / (time.process_time() - start))
    return statistics.median(rates)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=2000, help="files in the corpus for our build")
    ap.add_argument("--mido-files", type=int, default=24, help="files for the (slow) mido-only rows")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each measurement (the median is printed)")
    args = ap.parse_args()
    datasets.disable_progress_bars()
    paths = sorted((FIXTURES / "multitrack_pop").rglob("*.mid")) + sorted((FIXTURES / "lakh").rglob("*.mid"))
    if not paths:
        raise SystemExit(f"no fixtures under {FIXTURES}")
    datas = [p.read_bytes() for p in paths]

    features = lakh.features()
    item = lakh.make_item(Source("bench.mid"), "lmd_full/0/0.mid", ("lmd_full", "0"), "0" * 32 + ".mid")
    ctx = lakh.Context(root=".", layout="lmd_full")

    def baseline_row(data: bytes) -> None:
        row = lakh.summarize(mido_pitched(data))
        features.encode_example({**row, "md5": "0" * 32, "msd_id": "", "path": "lmd_full/0/x.mid"})

    def our_mido_row(data: bytes) -> None:
        (key, row), = lakh.file_row(item, data, "0" * 32, "train", ctx, parser="mido")
        features.encode_example(row)

    with tempfile.TemporaryDirectory() as tmp:
        folder = corpus(datas, args.files, os.path.join(tmp, "dir"))
        build_rate(corpus(datas, 16, os.path.join(tmp, "warm")), os.path.join(tmp, "cache_warm"), 16)
        runs = [build_rate(folder, os.path.join(tmp, f"cache{r}"), args.files) for r in range(args.repeat)]
        ours, rows = statistics.median(r[0] for r in runs), runs[0][1]
        baseline = per_file_rate(baseline_row, datas, args.mido_files, args.repeat)
        our_mido = per_file_rate(our_mido_row, datas, args.mido_files, args.repeat)
        parse_only = per_file_rate(lambda d: mido.MidiFile(file=io.BytesIO(d)), datas, args.mido_files, args.repeat)
        gap = max(same_notes(mido_pitched(d), read_pitched(d)) for d in datas)
        print(f"corpus: {args.files} files ({len(datas)} Lakh-like fixtures, "
              f"{sum(map(len, datas)) // len(datas) // 1024} KB on average), {rows} rows")
        print(f"mido-only baseline, same rows:                {baseline:8.1f} files/s  ({args.mido_files} files; "
              f"same notes as ours within {gap:.1e} s)")
        print(f"  (our mido fallback path, same rows:         {our_mido:8.1f} files/s)")
        print(f"  (mido.MidiFile parse only:                  {parse_only:8.1f} files/s)")
        print(f"ours, end to end (load_builder + prepare):    {ours:8.1f} files/s per core (CPU time)")
        print(f"ratio ours / mido-only baseline:              {ours / baseline:8.1f}x"
              f"   (/ our mido path: {ours / our_mido:.1f}x, / mido parse only: {ours / parse_only:.1f}x)")
        print(f"LMD-full ({LMD_FULL:,} files) at this rate: {LMD_FULL / ours:6.0f} s on 1 core, "
              f"{LMD_FULL / ours / 2:6.0f} s on 2 (num_proc=2)")

        archive = corpus(datas, args.files, os.path.join(tmp, "tar"), archive=True)
        from_tar = statistics.median(build_rate(archive, os.path.join(tmp, f"cache_tar{r}"), args.files)[0]
                                     for r in range(args.repeat))
        print(f"ours from lmd_full.tar.gz (read in place):    {from_tar:8.1f} files/s per core")

    pitched = per_file_rate(read_pitched, datas, 2000, args.repeat)
    notes = per_file_rate(read_notes, datas, 1000, args.repeat)
    bare = per_file_rate(lambda d: symusic.Score.from_midi(d), datas, 2000, args.repeat)
    print(f"(parts: read_pitched {pitched:.0f} files/s, read_notes {notes:.0f} files/s, "
          f"symusic bare parse {bare:.0f} files/s)")


if __name__ == "__main__":
    main()
