"""End-to-end Lakh throughput: MIDI file -> Arrow row with all columns, ours vs mido only.

Two corpora, each laid out as ``--files`` files under fake md5 names in a temporary
``lmd_full/<h>/<md5>.mid`` tree (the builder trusts Lakh's names, so copies cost what
distinct files cost):

* **fixtures**: the Lakh-like files in ../shared/fixtures (the 7 multi-track pop files
  and the LMD-full type-0 file: 26-55 KB, 2.7k-8.3k notes, 1-14 tracks).
* **controller-dense**: ``--dense`` distinct General MIDI pop arrangements generated
  here with mido (:func:`dense_song`, deterministic): format 1, a conductor track
  and 8-16 instrument tracks, 96 to 960 ticks per quarter (odd ones too), tempo
  changes and ramps, time and key signatures, a GM-reset sysex, program changes,
  drums on channel 10, pitch-bend ramps, controller sweeps on CC 1/7/10/11/91/93
  and sustain pedal, lyrics (some with UTF-8 punctuation) and text metas, both
  note-off styles with running status; 26-95 KB each - what 1990s GM files in Lakh
  look like. Before issue 14, 14 % of them (UTF-8 lyrics looked like huge delta
  times to a byte-pattern tick bound) went to mido at ~150x the cost of a file.

For each: which parser ``read_pitched`` (so the build) reads the files with, and
the share of files ``read_notes`` can trust symusic with (the rest it reads with
the walker, ``parser="walker"``), with the cost of both on the same files.

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
  ``--mido-files`` distinct files. It gives the same pitched notes as ``read_pitched``
  on these files (checked and printed).
* ``read_pitched`` alone; ``read_notes`` on its symusic path and on the walker; the fixture
  build from ``lmd_full.tar.gz`` (read in place: 3 splits x ``archive_passes``
  decompressions), and parts: ``read_notes``, symusic's bare parse, ``mido.MidiFile``
  parsing alone (the lower bound of any mido reader).

    python benchmarks/bench_lakh.py [--files 2000] [--dense 160] [--mido-files 24]
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import io
import math
import os
import random
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
from mido import MetaMessage as Meta

from kelly_hf import lakh, loading
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


# ---------------------------------------------------------------------------- controller-dense corpus

DENSE_TPQ = (96, 100, 120, 125, 144, 168, 192, 210, 240, 256, 360, 384, 420, 441, 480, 500, 600, 640, 720, 768,
             875, 960)
DENSE_KEYS = ("C", "G", "D", "A", "E", "F", "Bb", "Eb", "Ab", "Db", "Am", "Em", "Bm", "F#m", "Dm", "Gm", "Cm", "Fm")
# (name, GM program, lowest, highest pitch); tracks past the 15th reuse channels with other programs
DENSE_PARTS = (("bass", 33, 28, 52), ("piano", 0, 48, 84), ("pad", 89, 48, 76), ("strings", 48, 52, 84),
               ("lead", 80, 60, 88), ("guitar", 27, 45, 76), ("organ", 16, 48, 79), ("brass", 61, 52, 80),
               ("arp", 81, 60, 96), ("epiano", 4, 48, 84), ("choir", 52, 55, 79), ("flute", 73, 65, 96),
               ("sax", 65, 50, 80), ("clav", 7, 50, 80), ("vibes", 11, 55, 88))
HELD = ("pad", "strings", "choir", "organ")
BENT = ("lead", "guitar", "bass", "sax", "brass")
# Lyrics as real files carry them: plain ASCII, Latin-1-range accents, or typographic punctuation
# (UTF-8 bytes read back as Latin-1 text, which is what mido writes byte for byte).
LYRICS = {
    "ascii": "love don't stop the night oh ba by yeah run free 'cause so high hey light we go".split(),
    "accented": "ca fé dé jà vu co ra zón ü ber ni ño l'a mour tout mon cœur".split(),
    "typographic": "don’t stop “oh” ba by — ’cause we go… so high hey light".split(),
}


def dense_song(seed: int, bars: int) -> bytes:
    """One controller-dense General MIDI pop arrangement of ``bars`` 4/4 bars (deterministic), written with mido:
    format 1, a conductor track (tempo changes and ramps, time and key signatures, markers, text) and
    8-16 instrument tracks (a GM-reset sysex, program changes, drums on channel 10, pitch-bend ramps,
    controller sweeps on CC 1/7/10/11/91/93 and sustain pedal on CC 64, lyrics), note-offs as 0x8n or
    as note-ons of velocity 0 (per track), running status as mido writes it."""
    rng = random.Random(seed)
    tpq = rng.choice(DENSE_TPQ)
    beat, bar = tpq, 4 * tpq
    end = bars * bar
    lyrics = LYRICS[rng.choices(list(LYRICS), weights=(7, 2, 1))[0]]

    def msg(*data: int) -> mido.Message:
        return mido.Message.from_bytes(data)

    bpm = rng.uniform(72, 150)
    conductor = [(0, 1, Meta("track_name", name=f"Song {seed}")), (0, 1, Meta("copyright", text="(C) 1996 Kelly")),
                 (0, 1, Meta("text", text="Arranged for General MIDI")),
                 (0, 1, Meta("time_signature", numerator=4, denominator=4)),
                 (0, 1, Meta("key_signature", key=rng.choice(DENSE_KEYS))),
                 (0, 1, Meta("set_tempo", tempo=mido.bpm2tempo(bpm)))]
    t = 0
    while t < end:
        conductor.append((t, 1, Meta("marker", text=rng.choice(["Intro", "Verse", "Chorus", "Bridge", "Solo"]))))
        if rng.random() < 0.35:  # a ramp over one bar, a tempo event every 16th note
            target = bpm * rng.uniform(0.85, 1.15)
            conductor += [(t + i * bar // 16, 1, Meta("set_tempo", tempo=mido.bpm2tempo(bpm + (target - bpm) * i / 15)))
                          for i in range(16)]
            bpm = target
        elif rng.random() < 0.3:
            bpm *= rng.uniform(0.9, 1.1)
            conductor.append((t, 1, Meta("set_tempo", tempo=mido.bpm2tempo(bpm))))
        if rng.random() < 0.15:
            num, den = rng.choice([(3, 4), (6, 8), (2, 4), (4, 4), (5, 4)])
            conductor.append((t, 1, Meta("time_signature", numerator=num, denominator=den)))
        if rng.random() < 0.1:
            conductor.append((t, 1, Meta("key_signature", key=rng.choice(DENSE_KEYS))))
        t += rng.choice([8, 8, 16]) * bar
    tracks = [conductor]
    roots = [rng.choice([0, 2, 4, 5, 7, 9]) for _ in range(8)]
    for i in range(rng.randint(7, 15)):
        name, program, lo, hi = DENSE_PARTS[i]
        ch = i if i < 9 else i + 1  # channel 10 (9) is the drums'
        ev = [(0, 1, Meta("track_name", name=name)), (0, 1, msg(0xC0 | ch, program))]
        if i == 0:
            ev.insert(0, (0, 1, mido.Message("sysex", data=(0x7E, 0x7F, 0x09, 0x01))))  # GM System On
        ev += [(0, 1, msg(0xB0 | ch, cc, rng.randint(v - 30, v))) for cc, v in ((7, 110), (10, 94), (91, 70), (93, 40))]
        off_is_note_on = rng.random() < 0.5
        step = rng.choice([beat // 2, beat, beat, 2 * beat])
        sung = name == "lead"
        for t in range(rng.choice([0, bar, 2 * bar]), end, bar if name in HELD else step):
            root = roots[t // bar % len(roots)]
            if name in HELD:
                pitches, length = [lo + (root + x) % 12 + 12 * k for k in (0, 1) for x in (0, 4, 7)][:rng.randint(3, 6)], bar
            else:
                pitches = [min(hi, lo + 12 + (root + rng.choice([0, 2, 4, 7, 9, 12])) % 24)]
                if name in ("piano", "epiano", "guitar") and rng.random() < 0.5:
                    pitches += [pitches[0] + 4, pitches[0] + 7]
                length = max(1, int(step * rng.uniform(0.4, 0.95)))
            velocity = rng.randint(50, 120)
            for p in pitches:
                ev.append((t, 1, msg(0x90 | ch, p, velocity)))
                ev.append((t + length, 0, msg(0x90 | ch, p, 0) if off_is_note_on else msg(0x80 | ch, p, 64)))
            if sung and rng.random() < 0.6:
                ev.append((t, 1, Meta("lyrics", text=rng.choice(lyrics).encode().decode("latin-1"))))
        grain = max(1, beat // rng.choice([6, 8, 12]))
        for cc in rng.sample((1, 7, 10, 11, 64, 91, 93), rng.randint(3, 6)):
            if cc == 64:  # sustain pedal, bar by bar
                if name in ("piano", "epiano", "vibes") or rng.random() < 0.3:
                    for b in range(0, end, bar):
                        ev += [(b + 1, 1, msg(0xB0 | ch, 64, 127)), (b + bar - grain, 1, msg(0xB0 | ch, 64, 0))]
                continue
            for b in range(rng.randrange(4 * bar), end, 4 * bar):  # a sweep in about half the phrases
                if rng.random() < 0.45:
                    continue
                span, (low, high), last = rng.choice([1, 2]) * bar, sorted(rng.sample(range(128), 2)), None
                for k in range(0, span, grain):
                    v = int(low + (high - low) * 0.5 * (1 - math.cos(2 * math.pi * k / span)))
                    if v != last:
                        ev.append((b + k, 1, msg(0xB0 | ch, cc, v)))
                        last = v
        if name in BENT or rng.random() < 0.3:  # pitch-bend ramps, back to centre
            for b in range(rng.randrange(bar), end, rng.choice([2, 4]) * bar):
                span, depth = rng.choice([beat // 2, beat]), rng.randint(-8191, 8191)
                for k in range(0, span, max(1, span // 16)):
                    v = 8192 + depth * k // span
                    ev.append((b + k, 1, msg(0xE0 | ch, v & 0x7F, v >> 7)))
                ev.append((b + span, 1, msg(0xE0 | ch, 0, 64)))
        tracks.append(ev)
    drums = [(0, 1, Meta("track_name", name="Drums")), (0, 1, msg(0xC9, rng.choice([0, 8, 16, 25])))]
    off_is_note_on = rng.random() < 0.5
    for t in range(0, end, beat // 2):
        hits = [42] + [36 if t // beat % 2 == 0 else 38] * (t % beat == 0) + [49] * (t % (8 * bar) == 0)
        for p in hits:
            drums.append((t, 1, msg(0x99, p, rng.randint(60, 127))))
            drums.append((t + beat // 4, 0, msg(0x99, p, 0) if off_is_note_on else msg(0x89, p, 0)))
    tracks.insert(rng.randint(1, len(tracks)), drums)

    f = mido.MidiFile(type=1, ticks_per_beat=tpq)
    for events in tracks:
        events.sort(key=lambda e: e[:2])  # note-offs (order 0) before note-ons at one tick, else as added
        track, now = mido.MidiTrack(), 0
        for tick, _, m in events:
            m.time, now = tick - now, tick
            track.append(m)
        f.tracks.append(track)
    buf = io.BytesIO()
    f.save(file=buf)
    return buf.getvalue()


def dense_corpus(n: int) -> list[bytes]:
    """``n`` distinct controller-dense songs, each scaled to a size drawn from 30-90 KB (kept within 26-95 KB)."""
    out = []
    for seed in range(n):
        target, bars = random.Random(f"size {seed}").uniform(30_000, 90_000), 16
        data = dense_song(seed, bars)  # a short draft gives the size of a bar
        for _ in range(4):
            bars = max(4, round(bars * target / len(data)))
            data = dense_song(seed, bars)
            if 26 * 1024 <= len(data) <= 95 * 1024:
                break
        out.append(data)
    return out


def build_rate(data_dir: str, cache: str, n: int) -> tuple[float, int]:
    start = time.process_time()
    builder = loading.load_builder("lakh", "lmd_full", data_dir=data_dir, cache_dir=cache)
    builder.download_and_prepare()
    cpu = time.process_time() - start
    rows = sum(s.num_examples for s in builder.info.splits.values())
    return n / cpu, rows


def per_file_rate(fn, datas: list[bytes], count: int, repeat: int = 1) -> float:
    for d in datas[:4]:
        fn(d)  # warm-up: imports, first-call checks (JIT cache), allocator
    rates = []
    for _ in range(repeat):
        start = time.process_time()
        for i in range(count):
            fn(datas[i % len(datas)])
        rates.append(count / (time.process_time() - start))
    return statistics.median(rates)


def measure(name: str, datas: list[bytes], args, tmp: str) -> dict:
    """One corpus: our build, the mido-only baseline, the paths the files take and what they cost."""
    features = lakh.features()

    def baseline_row(data: bytes) -> None:
        row = lakh.summarize(mido_pitched(data))
        features.encode_example({**row, "md5": "0" * 32, "msd_id": "", "path": "lmd_full/0/x.mid"})

    folder = corpus(datas, args.files, os.path.join(tmp, name))
    runs = [build_rate(folder, os.path.join(tmp, f"{name}_cache{r}"), args.files) for r in range(args.repeat)]
    few = datas[: args.mido_files]
    copies = [datas[i % len(datas)] for i in range(args.files)]  # the corpus, as the build reads it
    trusted = [d for d in datas if read_notes(d).parser == "symusic"]
    return dict(
        name=name, distinct=len(datas), kb=sum(map(len, datas)) / len(datas) / 1024, rows=runs[0][1],
        ours=statistics.median(r[0] for r in runs),
        baseline=per_file_rate(baseline_row, few, args.mido_files, args.repeat),
        gap=max(same_notes(mido_pitched(d), read_pitched(d)) for d in few),
        read_by=collections.Counter(read_pitched(d).parser for d in copies),
        symusic_share=sum(read_notes(d).parser == "symusic" for d in copies) / len(copies),
        pitched=per_file_rate(read_pitched, datas, args.parses, args.repeat),
        symusic=per_file_rate(lambda d: read_notes(d, parser="symusic"), trusted, args.parses // 2, args.repeat),
        walker=per_file_rate(lambda d: read_notes(d, parser="walker"), trusted, args.parses // 2, args.repeat),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=2000, help="files in each corpus for our build")
    ap.add_argument("--dense", type=int, default=160, help="distinct controller-dense songs")
    ap.add_argument("--mido-files", type=int, default=24, help="files for the (slow) mido-only rows")
    ap.add_argument("--parses", type=int, default=1000, help="read_pitched calls (read_notes: half) for the parts")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each measurement (the median is printed)")
    args = ap.parse_args()
    datasets.disable_progress_bars()
    paths = sorted((FIXTURES / "multitrack_pop").rglob("*.mid")) + sorted((FIXTURES / "lakh").rglob("*.mid"))
    if not paths:
        raise SystemExit(f"no fixtures under {FIXTURES}")
    fixtures = [p.read_bytes() for p in paths]
    start = time.perf_counter()
    dense = dense_corpus(args.dense)
    print(f"controller-dense corpus: {len(set(dense))} distinct files, {min(map(len, dense)) / 1024:.0f}-"
          f"{max(map(len, dense)) / 1024:.0f} KB, generated in {time.perf_counter() - start:.0f} s; "
          f"load average {os.getloadavg()[0]:.1f}")

    with tempfile.TemporaryDirectory() as tmp:
        build_rate(corpus(fixtures, 16, os.path.join(tmp, "warm")), os.path.join(tmp, "cache_warm"), 16)
        results = [measure("fixtures", fixtures, args, tmp), measure("controller-dense", dense, args, tmp)]
        print(f"\n{'corpus':18} {'distinct':>8} {'KB':>4} {'rows':>5} {'read by':>12} {'ours files/s':>12} "
              f"{'mido-only':>9} {'ratio':>7} {'symusic trusted':>15}")
        for r in results:
            read_by = ", ".join(f"{k} {100 * n / args.files:.1f}%" for k, n in r["read_by"].most_common())
            print(f"{r['name']:18} {r['distinct']:8d} {r['kb']:4.0f} {r['rows']:5d} {read_by:>12} {r['ours']:12.1f} "
                  f"{r['baseline']:9.1f} {r['ours'] / r['baseline']:6.1f}x {100 * r['symusic_share']:14.1f}%")
        print(f"(read by: the parser read_pitched, i.e. the build, reads the corpus's files with; ours: {args.files} "
              f"files end to end through load_builder + download_and_prepare, per core (CPU time); mido-only: "
              f"{args.mido_files} files, the same notes as ours within {max(r['gap'] for r in results):.1e} s; "
              f"symusic trusted: files read_notes reads with symusic, the rest with the walker)")
        for r in results:
            print(f"{r['name']}: read_pitched {r['pitched']:.0f} files/s; read_notes on the files symusic can be "
                  f"trusted with: symusic path {r['symusic']:.0f} files/s, walker {r['walker']:.0f} files/s "
                  f"(walker cost / symusic cost {r['symusic'] / r['walker']:.2f})")
        ours = results[0]["ours"]
        print(f"LMD-full ({LMD_FULL:,} files) at the fixture rate: {LMD_FULL / ours:6.0f} s on 1 core, "
              f"{LMD_FULL / ours / 2:6.0f} s on 2 (num_proc=2)")

        archive = corpus(fixtures, args.files, os.path.join(tmp, "tar"), archive=True)
        from_tar = statistics.median(build_rate(archive, os.path.join(tmp, f"cache_tar{r}"), args.files)[0]
                                     for r in range(args.repeat))
        print(f"fixtures from lmd_full.tar.gz (read in place): {from_tar:8.1f} files/s per core")

    notes = per_file_rate(read_notes, fixtures, 1000, args.repeat)
    bare = per_file_rate(lambda d: symusic.Score.from_midi(d), fixtures, 2000, args.repeat)
    mido_parse = per_file_rate(lambda d: mido.MidiFile(file=io.BytesIO(d)), fixtures, args.mido_files, args.repeat)
    print(f"(fixture parts: read_notes {notes:.0f} files/s, symusic bare parse {bare:.0f} files/s, "
          f"mido.MidiFile parse only {mido_parse:.1f} files/s)")


if __name__ == "__main__":
    main()
