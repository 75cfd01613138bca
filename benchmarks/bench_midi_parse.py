"""Throughput of ``kelly_hf.midi.read_notes`` versus plain mido on Lakh-like MIDI files.

Files: the multi-track pop fixtures and the Lakh fixture in ../shared/fixtures
(8 files, 26-55 KB, 2.7k-8.3k notes, 1-14 tracks). Each reader parses them once
to warm up, then round-robin, from bytes already in memory, until it has done
``--parses`` parses, timed with ``time.process_time`` (CPU seconds of this
process, so other load on the machine distorts it less).

* mido: ``mido.MidiFile(file=BytesIO(data))`` - parsing only, no note pairing or
  timing, so a lower bound for any mido-based reader.
* read_notes: the full result (notes in seconds with channel/program/track,
  controls, tempo map), symusic path with the walker for what it cannot be
  trusted with.
* read_pitched: pitched notes only (what Lakh needs), read by the compiled walker.

Also printed for reference: symusic's bare parse (``Score.from_midi``, which
does not give channels), ``read_notes(parser="walker")`` (the walker for every
file) and ``read_notes(parser="mido")`` (the reference the walker is held to).

    python benchmarks/bench_midi_parse.py [--parses 300] [--mido-parses 300]
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import mido
import symusic

from kelly_hf.midi import read_notes, read_pitched

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"


def files_per_second(parse, datas: list[bytes], parses: int) -> float:
    for data in datas:  # warm-up: imports, first-call checks, allocator
        parse(data)
    start = time.process_time()
    for i in range(parses):
        parse(datas[i % len(datas)])
    return parses / (time.process_time() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parses", type=int, default=300, help="parses for read_notes and symusic")
    ap.add_argument("--mido-parses", type=int, default=300, help="parses for the (slow) mido readers")
    args = ap.parse_args()
    paths = sorted((FIXTURES / "multitrack_pop").rglob("*.mid")) + sorted((FIXTURES / "lakh").rglob("*.mid"))
    if not paths:
        raise SystemExit(f"no fixtures under {FIXTURES}")
    datas = [p.read_bytes() for p in paths]

    plain = files_per_second(lambda d: mido.MidiFile(file=io.BytesIO(d)), datas, args.mido_parses)
    ours = files_per_second(read_notes, datas, args.parses)
    print(f"mido.MidiFile (parse only): {plain:8.1f} files/s  ({args.mido_parses} parses of {len(datas)} files)")
    print(f"read_notes:                 {ours:8.1f} files/s  ({args.parses} parses)")
    print(f"ratio read_notes / mido:    {ours / plain:8.1f}x")
    pitched = files_per_second(read_pitched, datas, args.parses)
    print(f"read_pitched:               {pitched:8.1f} files/s  ({pitched / plain:.1f}x mido)")

    bare = files_per_second(lambda d: symusic.Score.from_midi(d), datas, args.parses)
    walker = files_per_second(lambda d: read_notes(d, parser="walker"), datas, args.parses)
    reference = files_per_second(lambda d: read_notes(d, parser="mido"), datas, args.mido_parses)
    print(f"(symusic bare parse:        {bare:8.1f} files/s; read_notes(parser='walker'): {walker:.1f} files/s; "
          f"read_notes(parser='mido'): {reference:.1f} files/s)")


if __name__ == "__main__":
    main()
