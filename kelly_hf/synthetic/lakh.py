"""Synthetic Lakh MIDI in the lmd_full layout: pop-like songs played the way a known emotion asks.

Writes ``<out_dir>/lakh/``::

    lmd_full/<h>/<md5>.mid        (or, with archive=True, only lmd_full.tar.gz holding them)
    emotion_labels.json           {"<md5>": {"valence": v, "arousal": a}} - the truth, canonical scales

Each file is named by the md5 of its bytes, like Lakh's. Format 1 at 480 ticks
per quarter (every 7th file format 0, all channels in one track): a conductor
track (tempo, 4/4), a melody (channel 1), a bass (channel 2), a chord pad
(channel 3) and drums on channel 10 (kick, snare, hi-hat), 8 to 16 bars.

The emotion ``(v, a)`` of a song decides its content:

* valence -> mode and register: C major when v >= 0, C natural minor below (the
  tonic is always C, so the mode is visible in absolute pitches, which is what
  the melody model predicts); the melody moves within a few scale degrees of MIDI 60 + 10 v;
* arousal -> tempo (70 + 100 a bpm), melodic density (a note every quarter, 8th
  or 16th with probability rising with a), loudness (velocity 45 + 70 a) and
  melodic leaps (steps of up to 1 + 3 a scale degrees).

Everything comes from one seeded ``numpy`` Generator, and the archive is written
with fixed times: the same call writes the same bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile

import numpy as np

TPQ = 480
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
KICK, SNARE, HAT = 36, 38, 42


def _vlq(x: int) -> bytes:
    out = [x & 0x7F]
    x >>= 7
    while x:
        out.append(0x80 | (x & 0x7F))
        x >>= 7
    return bytes(reversed(out))


def _track(events: list[tuple[int, int, bytes]]) -> bytes:
    """An MTrk chunk from (tick, order, message bytes); note-offs (order 0) sort before note-ons."""
    body, now = [], 0
    for tick, _, msg in sorted(events):
        body.append(_vlq(tick - now) + msg)
        now = tick
    body.append(b"\x00\xff\x2f\x00")
    data = b"".join(body)
    return b"MTrk" + len(data).to_bytes(4, "big") + data


def _note(events, channel: int, pitch: int, velocity: int, start: int, length: int) -> None:
    events.append((start, 1, bytes((0x90 | channel, pitch, velocity))))
    events.append((start + length, 0, bytes((0x80 | channel, pitch, 0))))


def song(rng: np.random.Generator, valence: float, arousal: float, fmt0: bool) -> bytes:
    """The bytes of one song following (valence, arousal) (see the module docstring)."""
    scale = MAJOR if valence >= 0 else MINOR
    bpm = 70.0 + 100.0 * arousal
    bars = int(rng.integers(8, 17))
    beats = 4 * bars
    conductor = [(0, 0, b"\xff\x51\x03" + round(60e6 / bpm).to_bytes(3, "big")),
                 (0, 0, b"\xff\x58\x04\x04\x02\x18\x08")]
    parts = {0: [(0, 0, b"\xc0\x00")], 1: [(0, 0, b"\xc1\x21")], 2: [(0, 0, b"\xc2\x30")], 9: []}
    velocity = 45 + 70 * arousal

    def vel(extra=0.0):
        return int(np.clip(velocity + extra + rng.normal(0, 6), 1, 127))

    # melody: a walk on the scale, kept within a few degrees of a centre 60 + 10 v
    step = 4 if arousal > 0.66 else 2 if arousal > 0.33 else 1    # notes per beat at most
    centre = 7 * 5 + int(round(10 * valence / 12 * 7))            # a scale-degree index; 7 * 5 is MIDI 60
    leap, reach, offset = 1 + int(3 * arousal), 4 + int(3 * arousal), 0
    unit = TPQ // step
    for i in range(beats * step):
        if rng.random() < 0.35 + 0.5 * arousal or i == 0:
            offset = int(np.clip(offset + rng.integers(-leap, leap + 1), -reach, reach))
            degree = centre + offset
            pitch = 12 * (degree // 7) + scale[degree % 7]
            _note(parts[0], 0, pitch, vel(), i * unit, int(unit * rng.uniform(0.5, 1.0)))
    # bass: the chord root each beat, chords: a triad per bar (I, IV or VI, V)
    roots = (0, 3, 5, 4)
    for bar in range(bars):
        root = roots[int(rng.integers(0, 4))]
        triad = [12 * 4 + scale[(root + k) % 7] + 12 * ((root + k) // 7) for k in (0, 2, 4)]
        for p in triad:
            _note(parts[2], 2, p, vel(-15), bar * 4 * TPQ, 4 * TPQ - 10)
        for b in range(4):
            _note(parts[1], 1, 12 * 3 + scale[root], vel(-5), (bar * 4 + b) * TPQ, TPQ - 20)
        # drums: kick on 1 and 3, snare on 2 and 4, hats in 8ths (16ths when excited)
        for b in range(4):
            t = (bar * 4 + b) * TPQ
            _note(parts[9], 9, KICK if b % 2 == 0 else SNARE, vel(10), t, 60)
            hats = 4 if arousal > 0.5 else 2
            for h in range(hats):
                _note(parts[9], 9, HAT, vel(-20), t + h * TPQ // hats, 30)
    if fmt0:
        merged = conductor + [e for ch in (0, 1, 2, 9) for e in parts[ch]]
        tracks = [_track(merged)]
    else:
        tracks = [_track(conductor)] + [_track(parts[ch]) for ch in (0, 1, 2, 9)]
    header = b"MThd" + (6).to_bytes(4, "big") + (0 if fmt0 else 1).to_bytes(2, "big") \
        + len(tracks).to_bytes(2, "big") + TPQ.to_bytes(2, "big")
    return header + b"".join(tracks)


def write(out_dir, n: int = 300, seed: int = 0, archive: bool = False) -> str:
    rng = np.random.default_rng(seed)
    root = os.path.join(os.fspath(out_dir), "lakh")
    os.makedirs(root, exist_ok=True)
    files, labels = {}, {}
    for i in range(n):
        valence = float(np.round(rng.uniform(-0.9, 0.9), 3))
        arousal = float(np.round(rng.uniform(0.05, 0.95), 3))
        data = song(rng, valence, arousal, fmt0=i % 7 == 6)
        md5 = hashlib.md5(data).hexdigest()
        files[f"lmd_full/{md5[0]}/{md5}.mid"] = data
        labels[md5] = {"valence": valence, "arousal": arousal}
    if archive:
        with open(os.path.join(root, "lmd_full.tar.gz"), "wb") as raw, \
                gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tf:
            for name in sorted(files):
                info = tarfile.TarInfo(name)
                info.size, info.mtime, info.mode = len(files[name]), 0, 0o644
                tf.addfile(info, io.BytesIO(files[name]))
    else:
        for name, data in files.items():
            path = os.path.join(root, *name.split("/"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
    with open(os.path.join(root, "emotion_labels.json"), "w", encoding="utf-8") as f:
        json.dump(dict(sorted(labels.items())), f, indent=1)
    return root
