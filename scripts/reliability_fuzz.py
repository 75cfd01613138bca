"""Mutation fuzzing of the Kelly readers (issue 8), shared by the short CI pass
(``tests/test_reliability_fuzz.py``, hypothesis with a fixed seed) and the long
run (``scripts/fuzz_long.py``, >= 100,000 inputs on 2 worker processes).

Every mutator is ``f(data, rng, ctx) -> bytes`` with ``rng`` a ``random.Random``
(hypothesis' ``st.randoms()`` in CI, a seeded ``random.Random`` in the long
run), so both passes draw from the same input space. Seeds are the real files
in ``../shared/fixtures`` (MIDI from the parser test suites, MAESTRO, Groove,
Lakh and pop files; the chord annotations; the DEAM CSVs) plus small synthetic
documents in the layouts the builders read.

Each ``run_*`` function feeds one input to the code under test and returns an
:class:`Outcome`: ``ok`` (rows, or the typed error / skip records), ``known``
(an exception a known, reported bug produces - see :data:`KNOWN_BUGS`), or a
failure class: ``bug`` (any other exception), ``slow`` (over the per-input
time limit) or ``memory`` (peak RSS growth over the bound).
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import random
import shutil
import struct
import sys
import time
import traceback
import wave
from pathlib import Path

import numpy as np
from mido.midifiles.meta import encode_variable_int

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures"

TIME_LIMIT_S = 1.0                  # per input (CPU seconds), the limit
WALL_LIMIT_S = 10.0                 # per input, wall clock (a blocked read; the machine is shared)
MEMORY_BASE_KB = 64 * 1024          # allowed peak RSS growth per input: 64 MB ...
MEMORY_PER_BYTE = 64                # ... + 64 x the input size


# ============================================================================ measuring


def _status() -> dict[str, int]:
    out = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM", "VmSize"):
                    out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) of this process (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class Meter:
    """CPU time, wall time and peak RSS growth (kB) of the code in a ``with`` block.

    The time limit is checked on CPU time (the work done, independent of how
    loaded the shared machine is) and, more loosely, on wall time (a blocked
    read). The peak is the kernel's high-water mark (VmHWM, reset on entry), so
    C++ allocations (symusic) and numpy buffers count as well as Python objects.
    """

    def __enter__(self):
        self.exact = _reset_peak()
        self.rss0 = _status().get("VmRSS", 0)
        self.t0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.t0
        self.seconds = time.process_time() - self.c0
        st = _status()
        self.peak_kb = max(0, st.get("VmHWM", 0) - self.rss0) if self.exact else 0
        return False


def memory_bound_kb(size: int) -> int:
    return MEMORY_BASE_KB + MEMORY_PER_BYTE * size // 1024


# ============================================================================ outcomes


@dataclasses.dataclass
class Outcome:
    status: str        # ok | known | bug | slow | memory
    detail: str        # class of the result: "rows", "MidiError: no MTrk track chunk", "bug H1 ..."
    seconds: float = 0.0   # CPU
    peak_kb: int = 0
    trace: str = ""
    wall: float = 0.0

    @property
    def failed(self) -> bool:
        return self.status in ("bug", "slow", "memory")


@dataclasses.dataclass(frozen=True)
class KnownBug:
    id: str
    summary: str
    types: tuple[type, ...]
    file: str
    functions: frozenset[str]

    def matches(self, exc: BaseException) -> bool:
        if not isinstance(exc, self.types):
            return False
        frames = [(os.path.basename(f.filename), f.name) for f in traceback.extract_tb(exc.__traceback__)]
        return any(fn == self.file and name in self.functions for fn, name in frames)


# Bugs found by this fuzzing in files this harness does not own and still open;
# each gets an xfail(strict=True) reproducer in tests/test_reliability_*.py, and
# its entry is removed when the bug is fixed. Anything else is a new bug. None is
# open: fixed on 2026-11-24 and so failures if they come back are H1-H5 (harmony
# readers), S1 (splits), B2 (builder skip records), D1 / D2 (DEAM CSV cell size,
# song-id sort key), G2 (Groove time signature 0/x) and M1 / G1 (MAESTRO / Groove
# windows that grew with a MIDI's time span: a slow or memory outcome now).
KNOWN_BUGS: tuple[KnownBug, ...] = ()


def known_bug(exc: BaseException) -> KnownBug | None:
    return next((b for b in KNOWN_BUGS if b.matches(exc)), None)


def _classify_exception(exc: BaseException, documented: tuple[type, ...]) -> Outcome:
    if documented and isinstance(exc, documented):
        reason = getattr(exc, "reason", None) or str(exc)
        return Outcome("ok", f"{type(exc).__name__}: {_stable(reason)}")
    bug = known_bug(exc)
    trace = "".join(traceback.format_exception(exc, limit=-8))
    if bug is not None:
        return Outcome("known", f"known bug {bug.id}", trace=trace)
    return Outcome("bug", f"{type(exc).__name__} in {_where(exc)}", trace=trace)


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/kelly_hf/" in f.filename or "/builders/" in f.filename]
    f = (ours or frames or [None])[-1]
    return f"{os.path.basename(f.filename)}:{f.name}" if f is not None else "?"


def _stable(reason: str) -> str:
    """A reason without its per-input detail (numbers, paths), for counting."""
    import re

    reason = reason.split(" (", 1)[0]
    return re.sub(r"\d+", "N", reason)[:80]


def _finish(outcome: Outcome, meter: Meter, size: int) -> Outcome:
    outcome.seconds, outcome.peak_kb, outcome.wall = meter.seconds, meter.peak_kb, meter.wall
    if outcome.status in ("ok", "known"):
        if meter.seconds > TIME_LIMIT_S or meter.wall > WALL_LIMIT_S:
            outcome.status = "slow"
            outcome.detail = f"{meter.seconds:.2f} s CPU, {meter.wall:.2f} s wall ({outcome.detail})"
        elif meter.peak_kb > memory_bound_kb(size):
            outcome.status, outcome.detail = "memory", f"{meter.peak_kb} kB peak ({outcome.detail})"
    return outcome


# ============================================================================ MIDI seeds


def midi_seeds() -> list[tuple[str, bytes]]:
    """Every MIDI file in the fixtures (content-deduplicated, sorted by path)."""
    seen, out = set(), []
    for path in sorted(FIXTURES.rglob("*")):
        if path.suffix.lower() in (".mid", ".midi") and path.is_file():
            data = path.read_bytes()
            if data not in seen:
                seen.add(data)
                out.append((str(path.relative_to(FIXTURES)), data))
    return out


# ============================================================================ SMF structure


def _vlq(n: int) -> bytes:
    return bytes(encode_variable_int(n))


@dataclasses.dataclass
class Smf:
    """A well-framed SMF split into its header and chunks (``None`` if not framed)."""

    header: bytearray          # the 14 header bytes (MThd, length, format, ntrks, division)
    chunks: list[list]         # [chunk id, body bytearray]

    @classmethod
    def parse(cls, data: bytes) -> Smf | None:
        if len(data) < 14 or data[:4] != b"MThd" or struct.unpack_from(">I", data, 4)[0] != 6:
            return None
        chunks, pos = [], 14
        while pos + 8 <= len(data):
            cid = data[pos:pos + 4]
            (length,) = struct.unpack_from(">I", data, pos + 4)
            if pos + 8 + length > len(data):
                return None
            chunks.append([bytes(cid), bytearray(data[pos + 8:pos + 8 + length])])
            pos += 8 + length
        if pos != len(data) or not chunks:
            return None
        return cls(bytearray(data[:14]), chunks)

    def tracks(self) -> list[int]:
        return [i for i, (cid, _) in enumerate(self.chunks) if cid == b"MTrk"]

    def bytes(self) -> bytes:
        return bytes(self.header) + b"".join(cid + struct.pack(">I", len(body)) + bytes(body)
                                             for cid, body in self.chunks)


def events(body: bytes) -> list[tuple[int, int, int]]:
    """(delta start, status start, event end) of each event of a track, as far as it decodes."""
    out, pos, status = [], 0, None
    n = len(body)
    try:
        while pos < n:
            start = pos
            for _ in range(4):
                b = body[pos]
                pos += 1
                if b < 0x80:
                    break
            at = pos
            b = body[pos]
            if b == 0xFF:
                pos += 2
                length, pos = _read_vlq(body, pos)
                pos += length
            elif b in (0xF0, 0xF7):
                pos += 1
                length, pos = _read_vlq(body, pos)
                pos += length
            elif b >= 0x80:
                status = b
                pos += 1 + (1 if 0xC0 <= b < 0xE0 else 2)
            else:
                if status is None:
                    break
                pos += 0 + (1 if 0xC0 <= status < 0xE0 else 2)
            if pos > n:
                break
            out.append((start, at, pos))
    except IndexError:
        pass
    return out


def _read_vlq(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    for _ in range(4):
        b = data[pos]
        pos += 1
        value = value << 7 | b & 0x7F
        if b < 0x80:
            break
    return value, pos


# ============================================================================ MIDI mutators

INTERESTING_BYTES = (0x00, 0x01, 0x7F, 0x80, 0x81, 0xFF, 0xF0, 0xF7, 0xF8, 0x2F, 0x51, 0x58, 0x90, 0x99, 0xC0)
HUGE_DELTAS = (0x0FFFFFFF, 0x0FFFFFFE, 1 << 27, 1 << 21, 10 ** 6, 65535)
TEMPOS = (b"\x00\x00\x00", b"\x00\x00\x01", b"\xff\xff\xff", b"\x7f\xff\xff", b"\x00\x00", b"", b"\x07\xa1\x20\x00")
DIVISIONS = (0, 1, 2, 0x7FFF, 0x8000, 0xE250, 0xE728, 0xE301, 0xE800, 0xFF01, 0x80FF, 0xE700)
BAD_VLQS = (b"\xff\xff\xff\xff", b"\x80\x80\x80\x80\x00", b"\x8f\xff\xff\x7f", b"\xff\xff\xff", b"\x80", b"\xff")
MAX_MUTANT_BYTES = 256 * 1024   # the 1 s limit is for files of real sizes (the seeds are <= 104 kB)


def m_flip_bits(data, rng, ctx):
    if not data:
        return data
    b = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 3, 8, 32))):
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


def m_set_bytes(data, rng, ctx):
    if not data:
        return bytes([rng.choice(INTERESTING_BYTES)])
    b = bytearray(data)
    for _ in range(rng.choice((1, 2, 4))):
        b[rng.randrange(len(b))] = rng.choice(INTERESTING_BYTES) if rng.random() < 0.7 else rng.randrange(256)
    return bytes(b)


def m_truncate(data, rng, ctx):
    return data[:rng.randrange(len(data))] if data else data


def m_delete_range(data, rng, ctx):
    if len(data) < 2:
        return data
    i = rng.randrange(len(data))
    return data[:i] + data[i + rng.randrange(1, min(64, len(data) - i) + 1):]


def m_duplicate_range(data, rng, ctx):
    if not data:
        return data
    i = rng.randrange(len(data))
    j = min(len(data), i + rng.randrange(1, 256))
    return data[:j] + data[i:j] * rng.choice((1, 2, 16)) + data[j:]


def m_chunk_length(data, rng, ctx):
    """Corrupt the length field of MThd or one MTrk (framing lost)."""
    heads = [0] + [i for i in range(14, max(14, len(data) - 7)) if data[i:i + 4] == b"MTrk"][:64]
    at = rng.choice(heads) + 4
    if at + 4 > len(data):
        return data
    (old,) = struct.unpack_from(">I", data, at)
    new = rng.choice((0, 1, 5, 6, 7, max(0, old - 1), old + 1, old * 2, 0x7FFFFFFF, 0xFFFFFFFF,
                      rng.getrandbits(32))) & 0xFFFFFFFF
    return data[:at] + struct.pack(">I", new) + data[at + 4:]


def _with_track(data, rng, edit):
    """Apply ``edit(body, evs, rng) -> body`` to a random track, keeping the framing right."""
    smf = Smf.parse(data)
    if smf is None or not smf.tracks():
        return m_set_bytes(data, rng, None)
    k = rng.choice(smf.tracks())
    body = bytes(smf.chunks[k][1])
    new = edit(body, events(body), rng)
    smf.chunks[k][1] = bytearray(new)
    return smf.bytes()


def m_vlq_corrupt(data, rng, ctx):
    """A delta time (or meta length) replaced by an over-long / unterminated VLQ."""
    def edit(body, evs, rng):
        if not evs:
            return body + rng.choice(BAD_VLQS)
        d, s, e = rng.choice(evs)
        if body[s] in (0xFF, 0xF0, 0xF7) and rng.random() < 0.5:  # the length field instead
            at = s + (2 if body[s] == 0xFF else 1)
            _, after = _read_vlq(body, at) if at < len(body) else (0, at)
            return body[:at] + rng.choice(BAD_VLQS) + body[after:]
        return body[:d] + rng.choice(BAD_VLQS) + body[s:]
    return _with_track(data, rng, edit)


def m_huge_delta(data, rng, ctx):
    """Some delta times replaced by huge (valid) ones."""
    def edit(body, evs, rng):
        if not evs:
            return body
        picks = sorted(rng.sample(evs, min(len(evs), rng.choice((1, 1, 2, 10, 100)))), reverse=True)
        for d, s, _ in picks:
            body = body[:d] + _vlq(rng.choice(HUGE_DELTAS)) + body[s:]
        return body
    return _with_track(data, rng, edit)


def m_tempo(data, rng, ctx):
    """Absurd tempos: existing tempo payloads set to 0 / 1 / 0xFFFFFF µs per quarter (or cut short),
    or such a tempo event inserted."""
    def edit(body, evs, rng):
        tempos = [(d, s, e) for d, s, e in evs if body[s] == 0xFF and s + 1 < len(body) and body[s + 1] == 0x51]
        payload = rng.choice(TEMPOS)
        event = b"\xff\x51" + _vlq(len(payload)) + payload
        if tempos and rng.random() < 0.6:
            d, s, e = rng.choice(tempos)
            return body[:s] + event + body[e:]
        at = rng.choice(evs)[0] if evs else 0
        return body[:at] + _vlq(rng.choice((0, 0, 1, 480))) + event + body[at:]
    return _with_track(data, rng, edit)


def m_header(data, rng, ctx):
    """Declared track count (65535, 0), format and division set to edge values."""
    if len(data) < 14:
        return data
    b = bytearray(data)
    field = rng.choice(("tracks", "tracks", "format", "division"))
    if field == "tracks":
        b[10:12] = struct.pack(">H", rng.choice((65535, 0, 65534, rng.getrandbits(16))))
    elif field == "format":
        b[8:10] = struct.pack(">H", rng.choice((0, 1, 2, 3, 0xFFFF)))
    else:
        b[12:14] = struct.pack(">H", rng.choice(DIVISIONS))
    return bytes(b)


def m_many_tracks(data, rng, ctx):
    """Many real tracks: one track duplicated hundreds or thousands of times (65535 declared)."""
    smf = Smf.parse(data)
    if smf is None or not smf.tracks():
        return data + (b"MTrk\x00\x00\x00\x04\x00\xff\x2f\x00" * rng.choice((100, 1000, 5000)))
    k = rng.choice(smf.tracks())
    body = smf.chunks[k][1]
    copies = max(1, min(rng.choice((100, 1000, 5000, 20000)), MAX_MUTANT_BYTES // (len(body) + 8)))
    smf.chunks[k + 1:k + 1] = [[b"MTrk", bytearray(body)] for _ in range(copies)]
    smf.header[10:12] = struct.pack(">H", rng.choice((65535, min(65535, len(smf.tracks())))))
    return smf.bytes()


def m_remove_eot(data, rng, ctx):
    def edit(body, evs, rng):
        ends = [(d, s, e) for d, s, e in evs if body[s] == 0xFF and s + 1 < len(body) and body[s + 1] == 0x2F]
        if not ends:
            return body[:-1]
        d, s, e = ends[-1]
        return body[:d] + body[e:]
    return _with_track(data, rng, edit)


def m_insert_events(data, rng, ctx):
    """Odd events inserted: sysex / meta with absurd lengths, stray system bytes, lone F7,
    running status without a status, data bytes > 127, notes never released."""
    def edit(body, evs, rng):
        at = rng.choice(evs)[0] if evs else 0
        kind = rng.randrange(8)
        if kind == 0:
            ev = b"\x00\xf0" + rng.choice((b"\x8f\xff\xff\x7f", b"\x05", b"\x00")) + b"\x7e\x7f\x09\x01\xf7"
        elif kind == 1:
            ev = b"\x00\xff" + bytes([rng.randrange(256)]) + rng.choice((b"\x8f\xff\xff\x7f", b"\x00", b"\x7f"))
        elif kind == 2:
            ev = b"\x00" + bytes([rng.choice((0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF8, 0xFE))]) + b"\x10\x10"
        elif kind == 3:
            ev = b"\x00\xf7\x01\xf8"
        elif kind == 4:
            ev = b"\x00\x3c\x40"          # running status, maybe with no status before it
        elif kind == 5:
            ev = b"\x00\x90\xbc\xff"       # data bytes > 127
        elif kind == 6:                    # a flood of notes never released
            n = rng.choice((100, 1000, 10000))
            ev = b"".join(b"\x00\x90" + bytes([p % 128, 100]) for p in range(n))
        else:
            ev = b"\x00\xff\x58\x04\x04\xff\x18\x08"  # time signature denominator 2**255
        return body[:at] + ev + body[at:]
    return _with_track(data, rng, edit)


def m_splice(data, rng, ctx):
    """Head of this file, tail of another seed."""
    others = (ctx or {}).get("seeds") or [data]
    other = rng.choice(others)
    return data[:rng.randrange(len(data) + 1)] + other[rng.randrange(len(other) + 1):]


def m_rmid(data, rng, ctx):
    """Wrapped in a RIFF RMID container, possibly with wrong sizes."""
    size = rng.choice((len(data), len(data) + 100, 0, 0xFFFFFFFF))
    return b"RIFF" + struct.pack("<I", len(data) + 12) + b"RMID" + b"data" + struct.pack("<I", size) + data


MIDI_MUTATORS = {
    "flip_bits": m_flip_bits, "set_bytes": m_set_bytes, "truncate": m_truncate, "delete_range": m_delete_range,
    "duplicate_range": m_duplicate_range, "chunk_length": m_chunk_length, "vlq_corrupt": m_vlq_corrupt,
    "huge_delta": m_huge_delta, "tempo": m_tempo, "header": m_header, "many_tracks": m_many_tracks,
    "remove_eot": m_remove_eot, "insert_events": m_insert_events, "splice": m_splice, "rmid": m_rmid,
}
# Structural mutations more often than raw bit noise: they reach deeper code.
MIDI_WEIGHTS = {"flip_bits": 3, "set_bytes": 2, "truncate": 2, "delete_range": 1, "duplicate_range": 1,
                "chunk_length": 2, "vlq_corrupt": 2, "huge_delta": 3, "tempo": 3, "header": 3, "many_tracks": 1,
                "remove_eot": 1, "insert_events": 3, "splice": 1, "rmid": 1}


def mutate(data: bytes, rng: random.Random, mutators: dict, weights: dict, ctx=None,
           max_ops: int = 3) -> tuple[bytes, list[str]]:
    names = sorted(mutators)
    w = [weights.get(n, 1) for n in names]
    ops = []
    for _ in range(rng.randint(1, max_ops)):
        name = rng.choices(names, w)[0]
        data = mutators[name](data, rng, ctx)[:MAX_MUTANT_BYTES]
        ops.append(name)
    return data, ops


def mutate_midi(data: bytes, rng: random.Random, seeds=None, max_ops: int = 3) -> tuple[bytes, list[str]]:
    return mutate(data, rng, MIDI_MUTATORS, MIDI_WEIGHTS, {"seeds": seeds}, max_ops)


# ============================================================================ MIDI runners


def check_midi(m) -> str | None:
    """Invariants a returned Midi must hold (None when it does)."""
    n = m.notes
    if len(n):
        if not (np.isfinite(n["start"]).all() and np.isfinite(n["end"]).all()):
            return "non-finite note time"
        if (n["start"] < 0).any() or (n["end"] < n["start"]).any():
            return "note ends before it starts or starts before 0"
        if (n["pitch"] > 127).any() or (n["velocity"] > 127).any() or (n["velocity"] == 0).any():
            return "pitch / velocity out of range"
    if not (np.isfinite(m.duration_s) and m.duration_s >= 0):
        return "bad duration"
    if len(n) and n["end"].max() > m.duration_s + 1e-6 * max(1.0, m.duration_s):
        return "note past the end of the file"
    if not (np.isfinite(m.tempos).all() and (m.tempos[:, 1] > 0).all()):
        return "bad tempo row"
    return None


def run_midi(data: bytes) -> Outcome:
    """``kelly_hf.midi.read_notes`` on one input: a Midi (checked) or MidiError."""
    from kelly_hf.midi import MidiError, read_notes

    with Meter() as meter:
        try:
            m = read_notes(data)
        except MidiError as exc:
            outcome = Outcome("ok", f"MidiError: {_stable(exc.reason)}")
        except Exception as exc:  # noqa: BLE001 - classifying is the point
            outcome = _classify_exception(exc, ())
        else:
            problem = check_midi(m)
            if problem:
                outcome = Outcome("bug", f"invariant: {problem}")
            else:
                outcome = Outcome("ok", f"rows ({m.parser}{', no notes' if not len(m.notes) else ''})")
    return _finish(outcome, meter, len(data))


def run_midi_builders(data: bytes) -> Outcome:
    """The MIDI builders' row functions on one input: MAESTRO (segments, piece) and
    Groove (full, 2bar, 4bar), each measured on its own (one config is what one
    build does with the file); the worst outcome is returned.

    They read the bytes with read_notes and make the rows; the outcome is rows or
    skip / note Problems (MidiError becomes a skip), anything else is a bug.
    """
    from kelly_hf import groove, maestro
    from kelly_hf.inputs import Source

    perf = maestro.Performance("fuzz.midi", "train", Source("fuzz.midi"), "fuzz.midi")
    take = groove.Take("fuzz", "fuzz.mid", "train", Source("fuzz.mid"), "fuzz.mid")
    calls = [("maestro", c, lambda c=c: maestro.performance_rows(perf, data, c), maestro.Problem)
             for c in ("segments", "piece")]
    calls += [("groove", c, lambda c=c: groove.take_rows(take, data, c), groove.Problem)
              for c in ("full", "2bar", "4bar")]
    rank = {"ok": 0, "known": 1, "memory": 2, "slow": 2, "bug": 3}
    worst, rows = None, 0
    for module, config, call, problem in calls:
        with Meter() as meter:
            try:
                for item in call():
                    rows += not isinstance(item, problem)
            except Exception as exc:  # noqa: BLE001
                outcome = _classify_exception(exc, ())
            else:
                outcome = Outcome("ok", "rows" if rows else "skips only")
        outcome = _finish(outcome, meter, len(data))
        outcome.detail = f"{outcome.detail} [{module} {config}]" if outcome.status != "ok" else outcome.detail
        if worst is None or rank[outcome.status] > rank[worst.status] or (
                rank[outcome.status] == rank[worst.status] and outcome.seconds > worst.seconds):
            worst = outcome
    if worst.status == "ok":
        worst.detail = "rows" if rows else "skips only"
    return worst


def warm_up() -> None:
    """Import and first-use costs (symusic, mido, librosa filterbank, soundfile) paid
    once before measuring, so they do not count as one input's memory."""
    from kelly_hf import audio, harmony
    from kelly_hf.midi import read_notes

    for name, data in midi_seeds()[:40]:
        for parser in ("symusic", "mido"):
            try:
                read_notes(data, parser=parser)
            except Exception:  # noqa: BLE001 - warming up only
                pass
    harmony.heard_mel((0, 5))
    audio.mel_features(np.zeros(4096, np.float32), audio.SR)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\1" * 8000)
    y, sr = audio.load(buf.getvalue(), name="warm-up")
    audio.window_features(y, sr, [0.0, 0.5], 0.5)


# ============================================================================ text seeds

_SYNTH_PROGRESSIONS = [
    {"name": "p1", "chords": ["C", "Am", "F", "G7"], "emotion": {"valence": 0.5, "arousal": 0.4}},
    {"name": "p2", "chords": "Dm7 | G7 | Cmaj7 | A7", "key": "C:maj"},
    {"name": "p3", "chords": ["vi", "IV", "I", "V"], "key": "G", "valence": -0.2, "arousal": 0.7},
    {"title": "p4", "progression": ["E:min", "C:maj/3", "G:(1,3,5)", "D:7", "N", "B:hdim7"]},
    ["F#m", "Bbsus4", "Eb+", "Ddim", "X"],
]


def harmony_seeds() -> list[tuple[str, bytes]]:
    """(file name as the builder sees it, bytes) of every harmony input kind."""
    chords_dir = FIXTURES / "chords"
    seeds = [
        ("chord_progressions.json", json.dumps({"progressions": _SYNTH_PROGRESSIONS}, indent=1).encode()),
        ("bare.json", json.dumps(_SYNTH_PROGRESSIONS).encode()),
        ("items.jsonl", "".join(json.dumps(p) + "\n" for p in _SYNTH_PROGRESSIONS).encode()),
        ("song.lab", b"0.000 1.500 C:maj\n1.500 3.000 A:min7\n3.000 4.000 F:maj/3\n4.000 6.000 G:7\n6.0 7.0 N\n"),
        ("chord_midi.txt", (FIXTURES / "pop909/POP909/008/chord_midi.txt").read_bytes()[:2000]),
        ("salami_chords.txt", (chords_dir / "billboard/McGill-Billboard/0003/salami_chords.txt").read_bytes()),
        ("solo.jams", (chords_dir / "guitarset/annotation/03_BN3-119-G_solo.jams").read_bytes()),
    ]
    return seeds


def _trim_csv(path: Path, rows: int, columns: int | None = None) -> bytes:
    lines = path.read_bytes().splitlines(keepends=True)[:rows + 1]
    if columns is not None:
        lines = [b",".join(line.rstrip(b"\r\n").split(b",")[:columns]) + b"\n" for line in lines]
    return b"".join(lines)


DEAM_SONG_DIR = "annotations/annotations averaged per song/song_level"
DEAM_DYN_DIR = "annotations/annotations averaged per song/dynamic (per second annotations)"
DEAM_AUDIO_IDS = ("2", "3", "4", "5", "7", "2001", "2002", "2003")
DEAM_AUDIO_S = 17.6   # the dynamic labels start at 15 s; five 500 ms windows fit


def deam_seeds() -> list[tuple[str, str, bytes]]:
    """(config, relative path, bytes) of every DEAM annotation layout (trimmed real files).

    For the dynamic pair the mutated file is one of the two; the other is
    written unmutated (:data:`DEAM_DYNAMIC_PAIR`).
    """
    deam = FIXTURES / "deam"
    song = deam / DEAM_SONG_DIR
    emo = deam / "emomusic_1000songs/annotations"
    return [
        ("song", f"{DEAM_SONG_DIR}/static_annotations_averaged_songs_1_2000.csv",
         _trim_csv(song / "static_annotations_averaged_songs_1_2000.csv", 5)),
        ("song", f"{DEAM_SONG_DIR}/static_annotations_averaged_songs_2000_2058.csv",
         _trim_csv(song / "static_annotations_averaged_songs_2000_2058.csv", 3)),
        ("song", "static_annotations.csv", _trim_csv(emo / "static_annotations.csv", 5)),
        ("song", "annotations/annotations.csv", b"filename,valence,arousal\n2.wav,0.25,0.5\n3.wav,-0.5,0.9\n"
                                                 b"4.mp3,0.0,0.1\n5,1.0,1.0\n"),
        ("frames", f"{DEAM_DYN_DIR}/valence.csv", _trim_csv(emo / "valence_cont_average.csv", 5, 6)),
        ("frames", f"{DEAM_DYN_DIR}/arousal.csv", _trim_csv(emo / "arousal_cont_average.csv", 5, 6)),
    ]


DEAM_DYNAMIC_PAIR = {"valence.csv": "arousal.csv", "arousal.csv": "valence.csv"}


# ============================================================================ text mutators

INTERESTING_CELLS = ("", " ", "nan", "NaN", "-nan", "inf", "-Infinity", "1e309", "-1e999", "9" * 400,
                     "0x1F", "1_000", "five", "5,5", "\u00a05", "\u2212" + "1", "٣", "null", "None", "\x00",
                     '"', '""', "'", "1" * 5000, "3.0", "-0", "1e-400", "\ufeff5", "\t", "\r", "\n", "é")
ENCODINGS = ("latin-1", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "cp1252", "utf-8-sig", "utf-7", "cp500")


def t_reencode(data, rng, ctx):
    """The text in another encoding (latin-1, UTF-16 with and without BOM, UTF-32, EBCDIC...)."""
    text = data.decode("utf-8", errors="replace")
    enc = rng.choice(ENCODINGS)
    return text.encode(enc, errors="replace")


def t_bom(data, rng, ctx):
    return rng.choice((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf\xef\xbb\xbf")) + data


def t_line_endings(data, rng, ctx):
    lines = data.splitlines()
    return rng.choice((b"\r\n", b"\r", b"\n\n", b"\x85", "\u2028".encode())).join(lines)


def t_cell(data, rng, ctx):
    """A CSV-ish cell (between separators) replaced by an interesting value."""
    text = data.decode("utf-8", errors="replace")
    lines = text.split("\n")
    i = rng.randrange(len(lines))
    sep = rng.choice((",", ",", " ", "\t", ":"))
    cells = lines[i].split(sep)
    j = rng.randrange(len(cells))
    cells[j] = rng.choice(INTERESTING_CELLS) if rng.random() < 0.8 else str(rng.uniform(-1e6, 1e6))
    lines[i] = sep.join(cells)
    return "\n".join(lines).encode("utf-8", errors="surrogatepass")


def t_drop_column(data, rng, ctx):
    """One column removed from every line (a missing column)."""
    lines = data.split(b"\n")
    k = rng.randrange(6)
    return b"\n".join(b",".join(c for i, c in enumerate(line.split(b",")) if i != k) for line in lines)


def t_swap_columns(data, rng, ctx):
    lines = data.split(b"\n")
    a, b = rng.randrange(5), rng.randrange(5)
    out = []
    for line in lines:
        cells = line.split(b",")
        if max(a, b) < len(cells):
            cells[a], cells[b] = cells[b], cells[a]
        out.append(b",".join(cells))
    if rng.random() < 0.5:   # header only: wrong types in every column
        return out[0] + b"\n" + b"\n".join(lines[1:])
    return b"\n".join(out)


def t_header(data, rng, ctx):
    """The header line renamed, duplicated, emptied or padded."""
    lines = data.split(b"\n")
    choice = rng.randrange(5)
    if choice == 0:
        lines[0] = lines[0].upper()
    elif choice == 1:
        lines.insert(1, lines[0])
    elif choice == 2:
        lines[0] = b""
    elif choice == 3:
        lines[0] = b",".join(b"  " + c + b"  " for c in lines[0].split(b","))
    else:
        lines[0] = lines[0] + b"," + lines[0]
    return b"\n".join(lines)


def t_lines(data, rng, ctx):
    """Lines deleted, duplicated (duplicate ids) or shuffled; ragged rows."""
    lines = data.split(b"\n")
    choice = rng.randrange(4)
    i = rng.randrange(len(lines))
    if choice == 0:
        del lines[i]
    elif choice == 1:
        lines.insert(i, lines[i])
    elif choice == 2:
        rng.shuffle(lines)
    else:
        lines[i] = lines[i] + b"," * rng.choice((1, 5, 1000))
    return b"\n".join(lines)


def t_quote(data, rng, ctx):
    """An unterminated or stray quote somewhere (CSV quoting state)."""
    i = rng.randrange(len(data) + 1)
    return data[:i] + rng.choice((b'"', b'"x', b'\\"', b"'")) + data[i:]


def t_huge(data, rng, ctx):
    """A very long line, field or token."""
    i = rng.randrange(len(data) + 1)
    return data[:i] + rng.choice((b"9", b"a", b",", b" ", b"[", b"{")) * rng.choice((1000, 20000, 200000)) + data[i:]


def t_nesting(data, rng, ctx):
    """Deep JSON nesting wrapped around the document or put inside it."""
    depth = rng.choice((100, 900, 1100, 5000, 50000))
    if rng.random() < 0.5:
        return b"[" * depth + data + b"]" * depth
    return b'{"progressions": [' + b"[" * depth + b"]" * depth + b"]}"


def _json_paths(node, path=()):
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _json_paths(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _json_paths(v, path + (i,))


JSON_VALUES = (None, True, 0, -1, 1.5, float("nan"), float("inf"), -float("inf"), 10 ** 400, -(10 ** 400),
               1e308, 2 ** 63, "", " ", "C", "N", "X", "Z:maj", "C:(1,b3,5,b7,9,#11,13)", "I/V/V", "é" * 3,
               "\x00", "\ud800", "1" * 10000, [], {}, [[]], [None], ["C"] * 3000, {"chords": None},
               {"valence": 0.5}, {"valence": "0.5", "arousal": "high"}, [1, "two", 3.0],
               {"time": "zero", "value": "C"}, {"time": 0}, {"value": 5})


def _set_path(root, path, value):
    if not path:
        return value
    node = root
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return root


def t_json_tree(data, rng, ctx):
    """Structured JSON mutation: a node replaced by an odd value, a key deleted or renamed,
    an element duplicated. Falls back to byte noise when the text is not JSON."""
    try:
        return _json_tree(data, rng, ctx)
    except RecursionError:   # a document nested too deep for this mutator itself
        return m_flip_bits(data, rng, ctx)


def _json_tree(data, rng, ctx):
    text = data.decode("utf-8", errors="replace")
    try:
        docs = [json.loads(text)]
        jsonl = False
    except ValueError:
        try:
            docs = [json.loads(line) for line in text.splitlines() if line.strip()]
            jsonl = True
        except ValueError:
            return m_flip_bits(data, rng, ctx)
    if not docs:
        return data
    d = rng.randrange(len(docs))
    doc = docs[d]
    paths = list(_json_paths(doc))
    path = rng.choice(paths)
    op = rng.randrange(4)
    if op == 0 or not path:
        doc = _set_path(doc, path, json.loads(json.dumps(rng.choice(JSON_VALUES))))
    else:
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        if op == 1:
            del parent[key]
        elif op == 2 and isinstance(parent, dict):
            parent[rng.choice(("chords", "name", "valence", "arousal", "emotion", "key", "x", "time", "value",
                               "namespace", "data", "annotations"))] = parent.pop(key)
        elif isinstance(parent, list):
            parent.insert(key, parent[key])
        else:
            parent[key] = rng.choice(JSON_VALUES)
    docs[d] = doc
    if jsonl:
        return "".join(json.dumps(x) + "\n" for x in docs).encode("utf-8", errors="surrogatepass")
    return json.dumps(docs[0]).encode("utf-8", errors="surrogatepass")


TEXT_MUTATORS = {
    "flip_bits": m_flip_bits, "set_bytes": m_set_bytes, "truncate": m_truncate, "delete_range": m_delete_range,
    "reencode": t_reencode, "bom": t_bom, "line_endings": t_line_endings, "cell": t_cell,
    "drop_column": t_drop_column, "swap_columns": t_swap_columns, "header": t_header, "lines": t_lines,
    "quote": t_quote, "huge": t_huge, "nesting": t_nesting, "json_tree": t_json_tree,
}
CSV_WEIGHTS = {"flip_bits": 2, "set_bytes": 1, "truncate": 1, "delete_range": 1, "reencode": 2, "bom": 1,
               "line_endings": 1, "cell": 6, "drop_column": 2, "swap_columns": 2, "header": 2, "lines": 2,
               "quote": 1, "huge": 1, "nesting": 0, "json_tree": 0}
JSON_WEIGHTS = {"flip_bits": 2, "set_bytes": 1, "truncate": 1, "delete_range": 1, "reencode": 1, "bom": 1,
                "line_endings": 1, "cell": 2, "drop_column": 0, "swap_columns": 0, "header": 0, "lines": 1,
                "quote": 1, "huge": 1, "nesting": 1, "json_tree": 8}


def mutate_text(data: bytes, rng: random.Random, kind: str, max_ops: int = 3) -> tuple[bytes, list[str]]:
    return mutate(data, rng, TEXT_MUTATORS, CSV_WEIGHTS if kind == "csv" else JSON_WEIGHTS, None, max_ops)


# ============================================================================ builder-level runners


def _quiet():
    logging.getLogger("kelly_hf").setLevel(logging.ERROR)
    import datasets

    datasets.logging.set_verbosity_error()
    datasets.disable_progress_bars()


def _counting(builder, counts):
    def record(kind, split, source, reason):
        counts[kind] = counts.get(kind, 0) + 1
    builder._record = record


class HarmonyRunner:
    """The harmony builder's own generator (``Harmony._generate_examples``, every
    split) over a data_dir holding one mutated input file."""

    def __init__(self, workdir: str):
        _quiet()
        from kelly_hf import loading

        self.cls = loading.builder_class("harmony")
        self.root = os.path.join(workdir, "harmony_fuzz")

    def __call__(self, name: str, data: bytes) -> Outcome:
        from kelly_hf import harmony, splits

        shutil.rmtree(self.root, ignore_errors=True)
        os.makedirs(self.root)
        with open(os.path.join(self.root, name), "wb") as f:
            f.write(data)
        if name == "chord_midi.txt":
            with open(os.path.join(self.root, "key_audio.txt"), "wb") as f:
                f.write(b"0.0 10.0 Bb:maj\n")
        counts = {"rows": 0}
        with Meter() as meter:
            try:
                builder = self.cls(data_dir=self.root, cache_dir=os.path.join(self.root + "_cache"))
                _counting(builder, counts)
                files = harmony.find_inputs(self.root)
                for split in splits.SPLITS:
                    for key, row in builder._generate_examples(files, split):
                        builder.info.features.encode_example(row)
                        counts["rows"] += 1
            except Exception as exc:  # noqa: BLE001
                outcome = _classify_exception(exc, ())
            else:
                outcome = Outcome("ok", "rows" if counts["rows"] else "skips only")
        return _finish(outcome, meter, len(data))


def _write_wav(path: str, seconds: float, freq: float, sr: int = 8000) -> None:
    t = np.arange(int(seconds * sr)) / sr
    y = (0.3 * np.sin(2 * np.pi * freq * t) * 32767).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(y.tobytes())


class DeamRunner:
    """The DEAM builder (``_split_generators`` then ``_generate_examples`` of every
    split) over a data_dir with short real audio and one mutated annotation CSV.

    Documented errors: :class:`~kelly_hf.builder.DataDirError` and
    :class:`~kelly_hf.deam.AnnotationFileError` (the build stops with a clear
    error naming the file); everything else must end as rows or skip records.
    """

    def __init__(self, workdir: str):
        _quiet()
        from kelly_hf import loading

        self.cls = loading.builder_class("deam")
        self.audio = os.path.join(workdir, "deam_audio")
        if not os.path.isdir(self.audio):
            os.makedirs(self.audio + ".tmp/MEMD_audio", exist_ok=True)
            for i, song in enumerate(DEAM_AUDIO_IDS):
                _write_wav(os.path.join(self.audio + ".tmp/MEMD_audio", f"{song}.wav"), DEAM_AUDIO_S, 220.0 * (i + 1))
            os.replace(self.audio + ".tmp", self.audio)
        self.root = os.path.join(workdir, "deam_fuzz")
        self.seeds = {rel: data for _, rel, data in deam_seeds()}

    def __call__(self, config: str, rel: str, data: bytes) -> Outcome:
        from kelly_hf import deam
        from kelly_hf.builder import DataDirError

        shutil.rmtree(self.root, ignore_errors=True)
        os.makedirs(os.path.join(self.root, os.path.dirname(rel)), exist_ok=True)
        os.makedirs(os.path.join(self.root, "MEMD_audio"))
        for fn in os.listdir(os.path.join(self.audio, "MEMD_audio")):   # hard links: os.walk sees them
            os.link(os.path.join(self.audio, "MEMD_audio", fn), os.path.join(self.root, "MEMD_audio", fn))
        with open(os.path.join(self.root, rel), "wb") as f:
            f.write(data)
        other = DEAM_DYNAMIC_PAIR.get(os.path.basename(rel))
        if config == "frames" and other:
            other_rel = os.path.join(os.path.dirname(rel), other)
            with open(os.path.join(self.root, other_rel), "wb") as f:
                f.write(self.seeds[other_rel])
        counts = {"rows": 0}
        with Meter() as meter:
            try:
                builder = self.cls(config_name=config, data_dir=self.root, cache_dir=self.root + "_cache")
                _counting(builder, counts)
                for gen in builder._split_generators(None):
                    for key, row in builder._generate_examples(**gen.gen_kwargs):
                        builder.info.features.encode_example(row)
                        counts["rows"] += 1
            except Exception as exc:  # noqa: BLE001
                outcome = _classify_exception(exc, (DataDirError, deam.AnnotationFileError))
            else:
                outcome = Outcome("ok", "rows" if counts["rows"] else "skips only")
        return _finish(outcome, meter, len(data))


def limit_address_space(extra_bytes: int = 1 << 30) -> None:
    """Cap this process's address space at its current size + ``extra_bytes``, so a
    runaway allocation fails with MemoryError instead of taking the machine."""
    import resource

    size = _status().get("VmSize", 0) * 1024
    if size:
        resource.setrlimit(resource.RLIMIT_AS, (size + extra_bytes, resource.RLIM_INFINITY))


if __name__ == "__main__":  # a quick smoke run: python scripts/reliability_fuzz.py
    rng = random.Random(0)
    seeds = midi_seeds()
    for i in range(20):
        name, data = rng.choice(seeds)
        mutant, ops = mutate_midi(data, rng, [d for _, d in seeds])
        print(name, ops, run_midi(mutant))
    sys.exit(0)
