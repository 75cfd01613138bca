"""Windows are computed only where an onset can be (M1 / G1): the rows equal those of the
brute force over every window, and a file's cost follows its notes, not its time span."""

from __future__ import annotations

import io

import mido
import numpy as np
import pytest

from kelly_hf import groove, maestro
from kelly_hf.inputs import Source
from kelly_hf.windows import MAX_WINDOWS, occupied, window_pairs


def test_occupied_holds_every_non_empty_window():
    rng = np.random.default_rng(0)
    for hop, width in ((7.5, 15.0), (2.0, 4.0), (2.0, 8.0), (0.3, 0.3)):
        for _ in range(50):
            times = np.sort(np.concatenate([rng.uniform(0, 60, rng.integers(0, 30)), rng.choice([0.0, hop, 2 * hop], 3)]))
            count = int(rng.integers(1, 80))
            starts = np.arange(count) * hop
            _, _, n = window_pairs(times, starts, starts + width, close_last=False)
            got = occupied(times, hop, width, count)
            assert set(np.flatnonzero(n)) <= set(got.tolist())
            assert len(got) <= (width / hop + 3) * len(times) and (np.diff(got) > 0).all()
            assert got.min(initial=0) >= 0 and got.max(initial=0) < count


def test_occupied_refuses_more_than_max_windows():
    with pytest.raises(ValueError):
        occupied(np.array([1.0]), 1.0, 1.0, MAX_WINDOWS + 1)


def _midi(notes: list[tuple[float, float, int]], channel: int = 0) -> bytes:
    """A one-track file at 120 bpm, 480 ticks per quarter: (start s, end s, pitch)."""
    events = []
    for start, end, pitch in notes:
        events += [(round(start * 960), "note_on", pitch, 90), (round(end * 960), "note_off", pitch, 0)]
    track, now = mido.MidiTrack(), 0
    for tick, kind, pitch, vel in sorted(events):
        track.append(mido.Message(kind, note=pitch, velocity=vel, time=tick - now, channel=channel))
        now = tick
    f = mido.MidiFile(ticks_per_beat=480)
    f.tracks.append(track)
    buf = io.BytesIO()
    f.save(file=buf)
    return buf.getvalue()


# a phrase, a long silence, another phrase: most windows in between are empty
GAP = [(t * 0.25, t * 0.25 + 0.2, 60 + t % 12) for t in range(120)] + \
      [(900 + t * 0.5, 900 + t * 0.5 + 0.4, 48 + t % 7) for t in range(40)]


def test_maestro_rows_equal_the_brute_force_over_every_window(fixtures):
    nocturne = (fixtures / "maestro/maestro-v3.0.0/2009/MIDI-Unprocessed_02_R1_2009_03-06_ORIG_MID--AUDIO_02_R1_2009"
                           "_02_R1_2009_03_WAV.midi").read_bytes()
    for data in (_midi(GAP), nocturne):
        p = maestro.Performance("x.midi", "train", Source("x.midi"), "x.midi")
        out = list(maestro.performance_rows(p, data, "segments"))
        rows = [r for r in out if not isinstance(r, maestro.Problem)]
        midi = maestro.read_notes(data)
        starts, ends = maestro.windows(float(midi.pitched["end"].max()), "segments")
        every = maestro.analyse(midi.pitched, midi.controls, starts, ends)
        kept = np.flatnonzero(every["num_notes"] > 0)
        assert [k for k, _ in rows] == [f"x.midi#{i:04d}" for i in kept]
        assert np.array_equal(np.stack([r["expression"] for _, r in rows]), every["expression"][kept].astype(np.float32))
        assert [r["segment_start"] for _, r in rows] == starts[kept].tolist()
        empty = len(starts) - len(kept)
        notes = [r.reason for r in out if isinstance(r, maestro.Problem)]
        assert notes == ([f"empty windows dropped: {empty} of {len(starts)} windows hold no note onset"] if empty else [])
    assert empty == 0 and len(kept) > 10    # the nocturne: every window holds notes


def test_groove_rows_equal_the_brute_force_over_every_window():
    data = _midi([(s / 2, e / 2, p) for s, e, p in GAP], channel=9)   # 120 bpm: bars of 2 s
    t = groove.Take("x", "x.mid", "train", Source("x.mid"), "x.mid")
    out = list(groove.take_rows(t, data, "2bar"))
    rows = [r for r in out if not isinstance(r, groove.Problem)]
    notes = groove.read_notes(data).notes
    n_bars = int(np.floor(float(notes["end"].max()) / 2.0 + 0.5))
    first = np.arange(n_bars - 1)
    every, count = groove.groove_vectors(notes["start"], notes["velocity"], notes["pitch"].astype(np.int64), 0.125,
                                         first * 2.0, (first + 2) * 2.0, close_last=False)
    kept = np.flatnonzero(count)
    assert [k for k, _ in rows] == [f"x:{i:03d}" for i in kept]
    assert np.array_equal(np.stack([r["groove"] for _, r in rows]), every[kept].astype(np.float32))
    assert any(f"empty windows dropped: {len(first) - len(kept)} of {len(first)}" in r.reason
               for r in out if isinstance(r, groove.Problem))
    assert len(first) - len(kept) > 100


def test_a_note_500_years_in_is_a_skip_record(monkeypatch):
    """Past MAX_WINDOWS (int32 start_bar / window index) the file is a skip record."""
    data = _midi([(0.0, 0.5, 60)])
    midi = maestro.read_notes(data)
    midi.notes["end"][-1] = 7.5 * MAX_WINDOWS + 1000.0   # four maximal delta times at the slowest tempo
    monkeypatch.setattr(maestro, "read_notes", lambda *a, **k: midi)
    p = maestro.Performance("x.midi", "train", Source("x.midi"), "x.midi")
    out = list(maestro.performance_rows(p, data, "segments"))
    assert len(out) == 1 and out[0].kind == "skip" and "time span too long" in out[0].reason
