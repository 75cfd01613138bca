"""Synthetic Groove MIDI in the official layout: drum takes played the way a known emotion asks.

Writes ``<out_dir>/groove/``::

    info.csv                                          the official header and conventions
    drummer<d>/session<s>/<k>_<style>_<bpm>_<beat|fill>_<num>-<den>.mid
    emotion_labels.csv                                midi_filename,valence,arousal (the truth)

The MIDI is written like Groove's: format 0, 480 ticks per quarter, tempo and
time signature at time 0, every hit on channel 10 (9 zero-based) with GM drum
pitches of the Roland TD-11 mapping. Splits are official info.csv values: of
every 8 takes the 7th is validation and the 8th test (so 24 takes fill all
three). Time signatures cycle through the five official ones (4-4 most often);
every 5th take is a one- or two-bar fill, the rest 8-bar beats.

Each take has one emotion ``(v, a)``:

* arousal -> tempo (70 + 110a bpm), density (hi-hat in 8ths, 16ths from a = 0.5,
  more extra kicks and ghost notes) and loudness (velocity 50 + 60a), and
  timing (behind the beat when calm, ahead when excited: 0.08 - 0.16a of a 16th);
* valence -> swing (odd 16ths late by 0.05 + 0.15 (v + 1) of a 16th) and style
  (the primary style whose prior valence in ``kelly_hf.groove.STYLE_VALENCE`` is
  nearest, among the three nearest at random).

Everything comes from one seeded ``numpy`` Generator: the same call writes the same bytes.
"""

from __future__ import annotations

import csv
import os

import mido
import numpy as np

from kelly_hf.groove import STYLE_VALENCE

TPQ = 480
METERS = ("4-4", "4-4", "3-4", "4-4", "6-8", "4-4", "5-4", "4-4", "5-8", "4-4")
KICK, SNARE, CLOSED, OPEN, LOW, MID, HIGH, CRASH, RIDE = 36, 38, 42, 46, 43, 47, 50, 49, 51
HEADER = ("drummer", "session", "id", "style", "bpm", "beat_type", "time_signature", "midi_filename",
          "audio_filename", "duration", "split")


def split_of(i: int) -> str:
    return {6: "validation", 7: "test"}.get(i % 8, "train")


def style_for(rng: np.random.Generator, valence: float) -> str:
    nearest = sorted(STYLE_VALENCE, key=lambda s: (abs(STYLE_VALENCE[s] - valence), s))[:3]
    return nearest[int(rng.integers(0, 3))]


def play(rng: np.random.Generator, v: float, a: float, num: int, den: int, bars: int, fill: bool, jazz: bool):
    """Hits [(step, pitch, velocity, offset in steps)] of a take on a 16th grid."""
    steps = num * 16 // den
    beat = 4 if den == 4 else 6 if num % 3 == 0 else 4       # 6-8: dotted quarters
    hits = []
    base = 50.0 + 60.0 * a
    for bar in range(bars):
        for s in range(steps):
            at = bar * steps + s
            on_beat = s % beat == 0
            if fill:   # a tom run down the kit, snare at the end
                pitch = (HIGH, MID, LOW, SNARE)[min(3, 4 * s // steps)]
                hits.append((at, pitch, base + 10 * on_beat, 0.0))
                continue
            if s % 2 == 0 or a >= 0.5:
                cymbal = RIDE if jazz else (OPEN if s == steps - 2 and rng.random() < 0.5 else CLOSED)
                hits.append((at, cymbal, base - 10 + 12 * on_beat, 0.0))
            if s == 0 or (s % (2 * beat) == 0) or (s % 2 == 0 and rng.random() < 0.1 + 0.2 * a):
                hits.append((at, KICK, base + 10, 0.0))
            if s % (2 * beat) == beat:
                hits.append((at, SNARE, base + 15, 0.0))
            elif s % 2 == 1 and rng.random() < 0.1 + 0.2 * a:
                hits.append((at, SNARE, 30.0 + rng.normal(0, 4), 0.0))   # ghost note
        if bar == 0 and not fill:
            hits.append((bar * steps, CRASH, base + 20, 0.0))
    swing = 0.05 + 0.15 * (v + 1.0)
    push = 0.08 - 0.16 * a
    out = []
    for at, pitch, velocity, _ in hits:
        offset = push + (swing if at % 2 == 1 else 0.0) + rng.normal(0, 0.04 + 0.04 * (1 - a))
        out.append((at, pitch, int(np.clip(round(velocity + rng.normal(0, 6)), 1, 127)), offset))
    return out, bars * steps


def write_midi(path: str, hits, bpm: int, num: int, den: int) -> float:
    """A Groove-style file; returns the end of the last note (s)."""
    step_ticks = TPQ / 4
    events = []
    for at, pitch, velocity, offset in hits:
        tick = max(0, int(round((at + offset) * step_ticks)))
        events.append((tick, 1, mido.Message("note_on", channel=9, note=pitch, velocity=velocity)))
        events.append((tick + TPQ // 8, 0, mido.Message("note_off", channel=9, note=pitch, velocity=64)))
    events.sort(key=lambda e: (e[0], e[1], e[2].note))
    track = mido.MidiTrack([mido.MetaMessage("time_signature", numerator=num, denominator=den, time=0),
                            mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0)])
    now = 0
    for tick, _, msg in events:
        track.append(msg.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    midi = mido.MidiFile(type=0, ticks_per_beat=TPQ)
    midi.tracks.append(track)
    midi.save(path)
    return now / TPQ * 60.0 / bpm


def write(out_dir, n: int = 240, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    root = os.path.join(os.fspath(out_dir), "groove")
    os.makedirs(root, exist_ok=True)
    info, labels = [], []
    for i in range(n):
        v, a = float(rng.uniform(-0.9, 0.9)), float(rng.uniform(0.05, 0.95))
        meter = METERS[i % len(METERS)]
        num, den = (int(x) for x in meter.split("-"))
        fill = i % 5 == 4
        style = style_for(rng, v)
        secondary = "" if i % 3 else f"groove{i % 7 + 1}"
        bpm = int(round(70 + 110 * a))
        drummer, session = f"drummer{i % 5 + 1}", f"session{(i // 5) % 3 + 1}"
        kind = "fill" if fill else "beat"
        name = f"{i + 1}_{style}{'-' + secondary if secondary else ''}_{bpm}_{kind}_{meter}.mid"
        midi_filename = f"{drummer}/{session}/{name}"
        os.makedirs(os.path.join(root, drummer, session), exist_ok=True)
        hits, _ = play(rng, v, a, num, den, int(rng.integers(1, 3)) if fill else 8, fill, style == "jazz")
        duration = write_midi(os.path.join(root, midi_filename), hits, bpm, num, den)
        info.append({"drummer": drummer, "session": f"{drummer}/{session}", "id": f"{drummer}/{session}/{i + 1}",
                     "style": f"{style}/{secondary}" if secondary else style, "bpm": bpm, "beat_type": kind,
                     "time_signature": meter, "midi_filename": midi_filename, "audio_filename": "",
                     "duration": f"{duration:.6f}", "split": split_of(i)})
        labels.append({"midi_filename": midi_filename, "valence": f"{v:.4f}", "arousal": f"{a:.4f}"})
    for name, fields, rows in (("info.csv", HEADER, info), ("emotion_labels.csv", ("midi_filename", "valence",
                                                                                   "arousal"), labels)):
        with open(os.path.join(root, name), "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
    return root
