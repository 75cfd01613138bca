"""Synthetic MAESTRO in the official v3 layout: short piano pieces played the way a known emotion asks.

Writes ``<out_dir>/maestro/``::

    maestro-v3.0.0/<year>/MIDI-Synthetic_<k>_R1_<year>_wav--1.midi
    maestro-v3.0.0/maestro-v3.0.0.json     pandas column-oriented {column: {row: value}}, like v3
    maestro-v3.0.0/maestro-v3.0.0.csv      the same rows, the real v3 header

The MIDI is written like MAESTRO's: format 1, 384 ticks per quarter, a tempo
track at a fixed 120 bpm (the clock, not the music), then one piano track with
note-offs as velocity-0 note-ons and CC64 / CC67 pedalling. Splits are official
metadata: of every 6 pieces the 5th is validation, the 6th test, the rest train
(so 6 pieces already fill all three).

Each piece (30-60 s) follows a slowly varying emotion ``(v(t), a(t))``; the
notes carry what the builder's ``context`` estimates and the playing what its
``expression`` measures, both following the emotion so a model can learn
context -> expression:

* what is played (-> context): valence -> mode (major for v >= 0, else minor) and
  register (melody around MIDI 67 + 8v, chords in the tonic's octave nearest
  50 + 6v, so melody and chords share the key); arousal -> tempo
  (60 + 90a bpm) and density (melody in quarters, 8ths or 16ths as a rises);
* how it is played (-> expression): arousal -> loudness (velocity 30 + 70a, a
  4-beat crescendo of 10a), articulation (duration
  1.1 - 0.7a of the inter-onset interval), sustain pedal (held for 0.95 - 0.7a of
  each bar) and the soft pedal (down while a < 0.3); calmer pieces are also freer
  in time (onset jitter 10 + 20 (1 - a) ms); valence -> voicing (the melody
  8 + 6v velocity steps above the chords).

Everything comes from one seeded ``numpy`` Generator: the same call writes the same bytes.
"""

from __future__ import annotations

import csv
import json
import os

import mido
import numpy as np

TPQ = 384
TICKS_PER_S = TPQ * 2            # at MAESTRO's fixed 120 bpm
YEARS = (2004, 2006, 2008, 2009, 2011, 2013, 2014, 2015, 2017, 2018)
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
PROGRESSION = (0, 3, 4, 0, 5, 3, 4, 0)   # scale degrees of the chord roots, one per bar
COLUMNS = ("canonical_composer", "canonical_title", "split", "year", "midi_filename", "audio_filename", "duration")


def split_of(i: int) -> str:
    return {4: "validation", 5: "test"}.get(i % 6, "train")


def trajectory(rng: np.random.Generator):
    v0, a0 = rng.uniform(-0.8, 0.8), rng.uniform(0.1, 0.9)
    period, phase = rng.uniform(20.0, 40.0), rng.uniform(0, 2 * np.pi)

    def at(t: float) -> tuple[float, float]:
        s = np.sin(2 * np.pi * t / period + phase)
        return float(np.clip(v0 + 0.2 * s, -0.95, 0.95)), float(np.clip(a0 + 0.15 * s, 0.02, 0.98))
    return at


def perform(rng: np.random.Generator, emotion_at, length_s: float):
    """(notes [(start, end, pitch, velocity)], controls [(time, number, value)]) of one piece."""
    tonic = int(rng.integers(0, 12))
    notes, controls = [], []
    t, beat, melody_degree = 0.5, 0, 7
    soft = False
    while t < length_s:
        v, a = emotion_at(t)
        scale = MAJOR if v >= 0 else MINOR
        beat_s = 60.0 / (60.0 + 90.0 * a)
        bar, pos = divmod(beat, 4)
        if pos == 0:   # pedal: up at the bar line, down 50 ms later, held for part of the bar
            held = (0.95 - 0.7 * a) * 4 * beat_s
            controls += [(t, 64, 0), (t + 0.05, 64, 127), (t + 0.05 + held, 64, 0)]
            if (a < 0.3) != soft:
                soft = a < 0.3
                controls.append((t, 67, 127 if soft else 0))
        level = 30.0 + 70.0 * a + 10.0 * a * (pos / 3.0 - 0.5)
        jitter = 0.01 + 0.02 * (1.0 - a)
        melody_lift = 8.0 + 6.0 * v
        ratio = 1.1 - 0.7 * a
        # chord on the beat: a triad on the bar's degree, spread by a few ms
        root = PROGRESSION[bar % len(PROGRESSION)]
        base = tonic + 12 * int(round((50 + 6 * v - tonic) / 12))   # the tonic's octave nearest 50 + 6v
        onset = t + rng.normal(0, jitter)
        for j, step in enumerate((0, 2, 4)):
            degree = root + step
            pitch = base + 12 * (degree // 7) + scale[degree % 7] - scale[0]
            start = max(0.0, onset + 0.004 * j)
            notes.append((start, start + ratio * beat_s, pitch, level + rng.normal(0, 4)))
        # melody: 1, 2 or 4 notes per beat, a random walk on the scale around 67 + 8v
        per_beat = 1 if a < 0.35 else 2 if a < 0.7 else 4
        centre = 67 + 8 * v
        for k in range(per_beat):
            melody_degree += int(rng.integers(-2, 3))
            pitch = tonic + 12 * (melody_degree // 7) + scale[melody_degree % 7] + 48
            while pitch > centre + 7:
                melody_degree -= 7
                pitch -= 12
            while pitch < centre - 7:
                melody_degree += 7
                pitch += 12
            start = max(0.0, t + k * beat_s / per_beat + rng.normal(0, jitter))
            notes.append((start, start + ratio * beat_s / per_beat, pitch, level + melody_lift + rng.normal(0, 5)))
        t += beat_s
        beat += 1
    controls.append((t + 0.5, 64, 0))
    return notes, controls


def write_midi(path: str, notes, controls) -> float:
    """A MAESTRO-style file; returns the end of the last note (s)."""
    events = []
    for start, end, pitch, velocity in notes:
        p = int(np.clip(pitch, 21, 108))
        events.append((int(round(start * TICKS_PER_S)), 1, mido.Message("note_on", note=p,
                                                                       velocity=int(np.clip(round(velocity), 1, 127)))))
        events.append((int(round(end * TICKS_PER_S)), 0, mido.Message("note_on", note=p, velocity=0)))
    for time, number, value in controls:
        events.append((int(round(time * TICKS_PER_S)), 0, mido.Message("control_change", control=number, value=value)))
    events.sort(key=lambda e: (e[0], e[1]))   # at one tick: offs and pedals before ons
    tempo = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000, time=0),
                            mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0),
                            mido.MetaMessage("end_of_track", time=1)])
    piano = mido.MidiTrack([mido.Message("program_change", program=0, time=0)])
    now = 0
    for tick, _, msg in events:
        piano.append(msg.copy(time=tick - now))
        now = tick
    piano.append(mido.MetaMessage("end_of_track", time=1))
    midi = mido.MidiFile(type=1, ticks_per_beat=TPQ)
    midi.tracks += [tempo, piano]
    midi.save(path)
    return max(end for _, end, _, _ in notes)


def pieces(n: int, seed: int = 0, length_s: tuple[float, float] = (30.0, 60.0)):
    """``(emotion_at, notes, controls)`` of the ``n`` pieces :func:`write` writes, in order."""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        emotion_at = trajectory(rng)
        length = float(rng.uniform(*length_s))
        yield (emotion_at, *perform(rng, emotion_at, length))


def write(out_dir, n: int = 24, seed: int = 0, length_s: tuple[float, float] = (30.0, 60.0)) -> str:
    root = os.path.join(os.fspath(out_dir), "maestro")
    release = os.path.join(root, "maestro-v3.0.0")
    rows = []
    for i, (emotion_at, notes, controls) in enumerate(pieces(n, seed, length_s)):
        year = YEARS[i % len(YEARS)]
        os.makedirs(os.path.join(release, str(year)), exist_ok=True)
        name = f"{year}/MIDI-Synthetic_{i + 1:03d}_R1_{year}_wav--1.midi"
        duration = write_midi(os.path.join(release, name), notes, controls)
        v, a = emotion_at(0.0)
        rows.append({"canonical_composer": f"Synthetic Composer {i % 5 + 1}",
                     "canonical_title": f"Study No. {i + 1} (valence {v:+.2f}, arousal {a:.2f} at the start)",
                     "split": split_of(i), "year": year, "midi_filename": name,
                     "audio_filename": name[:-5] + ".wav", "duration": round(duration, 6)})
    columns = {c: {str(i): r[c] for i, r in enumerate(rows)} for c in COLUMNS}
    with open(os.path.join(release, "maestro-v3.0.0.json"), "w", encoding="utf-8") as f:
        json.dump(columns, f, indent=4)
    with open(os.path.join(release, "maestro-v3.0.0.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    return root
