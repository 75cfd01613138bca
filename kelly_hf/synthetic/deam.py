"""Synthetic DEAM in the official layout: short tone clips whose sound follows a known emotion.

Writes ``<out_dir>/deam/``::

    MEMD_audio/<song_id>.mp3                       (.wav when libsndfile has no MP3 encoder)
    annotations/annotations averaged per song/song_level/
        static_annotations_averaged_songs_1_2000.csv      ids <= 2000, the real 5-column header
        static_annotations_averaged_songs_2000_2058.csv   ids > 2000, the real 13-column header (typo kept)
    annotations/annotations averaged per song/dynamic (per second annotations)/
        valence.csv, arousal.csv                   2 Hz, wide, NaN-padded and ragged rows like the real files

Song ids are 2, 3, ... like DEAM's, and the last ~3% (at least one) are 2001, 2002, ...
so both song-level files are exercised. Each song has a slowly varying emotion
trajectory ``(v(t), a(t))`` (canonical scales) and its audio follows it, note by note:

* arousal -> tempo (1 + 5a notes per second), loudness (amplitude 0.05 + 0.3a),
  shorter decays and a noise burst at each onset (0.25a): more, louder, brighter frames;
* valence -> register (fundamental 220 * 2**v Hz), brightness (harmonic roll-off
  0.2 .. 0.8 per harmonic) and mode (major scale for v >= 0, minor below).

Labels: the dynamic value at ``sample_<T>ms`` is the trajectory at the window's
centre ``T + 250 ms`` (v, and ``2a - 1``); labels start at 1 s (real DEAM: 15 s;
these clips are only 6-10 s long). The song-level means are the mean trajectory
on DEAM's 1..9 scale (``5 + 4v``, ``1 + 8a``, two decimals, integer-looking
values written like "3"), the std its spread plus a seeded rater spread.
"""

from __future__ import annotations

import os

import numpy as np
import soundfile as sf

SR = 44100                 # DEAM's MP3s are 44.1 kHz; the builder resamples
FIRST_LABEL_S = 1.0
STEP_S = 0.5
SONG_LEVEL_DIR = os.path.join("annotations", "annotations averaged per song", "song_level")
DYNAMIC_DIR = os.path.join("annotations", "annotations averaged per song", "dynamic (per second annotations)")
HEADER_1_2000 = "song_id, valence_mean, valence_std, arousal_mean, arousal_std"
HEADER_2000_2058 = ("song_id, valence_mean, valence_std, valence_ max_mean, valence_max_std, valence_min_mean, "
                    "valence_min_std, arousal_mean, arousal_std, arousal_max_mean, arousal_max_std, "
                    "arousal_min_mean, arousal_min_std")
TABLE = 4096               # wavetable length (samples per period)
MAJOR = (0, 2, 4, 5, 7, 9, 11, 12)
MINOR = (0, 2, 3, 5, 7, 8, 10, 12)


def song_ids(n: int) -> list[int]:
    late = max(1, round(n * 58 / 1802)) if n > 1 else 0
    return list(range(2, 2 + n - late)) + list(range(2001, 2001 + late))


def trajectory(rng: np.random.Generator):
    """(v(t), a(t)) as functions of time: a centre plus a slow sine, inside the scales."""
    v0, a0 = rng.uniform(-0.8, 0.8), rng.uniform(0.1, 0.9)
    period, phase_v, phase_a = rng.uniform(4.0, 8.0), rng.uniform(0, 2 * np.pi), rng.uniform(0, 2 * np.pi)

    def at(t):
        t = np.asarray(t, dtype=np.float64)
        v = np.clip(v0 + 0.12 * np.sin(2 * np.pi * t / period + phase_v), -0.95, 0.95)
        a = np.clip(a0 + 0.08 * np.sin(2 * np.pi * t / period + phase_a), 0.02, 0.98)
        return v, a
    return at


def render(rng: np.random.Generator, emotion_at, duration_s: float) -> np.ndarray:
    """Mono float32 at SR: notes whose tempo, level, register and brightness follow the emotion."""
    n = int(round(duration_s * SR))
    y = np.zeros(n + SR, dtype=np.float64)   # room for the last note's tail
    tonic = int(rng.integers(0, 12))
    t = 0.0
    while t < duration_s:
        v, a = (float(x) for x in emotion_at(t))
        rate = 1.0 + 5.0 * a
        length = min(0.6, 1.5 / rate)
        m = int(length * SR)
        tt = np.arange(m) / SR
        degree = (MAJOR if v >= 0 else MINOR)[int(rng.integers(0, 8))]
        f0 = 220.0 * 2.0 ** v * 2.0 ** ((tonic + degree) / 12.0 - 0.5)
        rolloff = 0.2 + 0.3 * (v + 1.0)
        harmonics = np.array([k for k in range(1, 9) if k * f0 < 0.45 * SR])
        weights = rolloff ** (harmonics - 1.0)
        # one period of the harmonic mix as a wavetable, read at the note's phase (cheaper than k sines)
        table = (weights / weights.sum()) @ np.sin(2 * np.pi * np.outer(harmonics, np.arange(TABLE) / TABLE))
        note = table[(np.arange(m) * (f0 * TABLE / SR)).astype(np.int64) % TABLE]
        note *= (0.05 + 0.3 * a) * np.exp(-tt / (0.08 + 0.25 * (1.0 - a)))
        burst = min(m, int(0.03 * SR))
        note[:burst] += 0.25 * a * rng.standard_normal(burst) * np.exp(-tt[:burst] / 0.008)
        start = int(t * SR)
        y[start:start + m] += note
        t += 1.0 / rate
    return np.clip(y[:n], -0.99, 0.99).astype(np.float32)


def _num(x: float, digits: int) -> str:
    """Like the real CSVs: "3" for an integer value, else up to ``digits`` decimals."""
    text = f"{x:.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def write(out_dir, n: int = 200, seed: int = 0, clip_s: tuple[float, float] = (6.0, 10.0)) -> str:
    rng = np.random.default_rng(seed)
    root = os.path.join(os.fspath(out_dir), "deam")
    audio_dir = os.path.join(root, "MEMD_audio")
    for d in (audio_dir, os.path.join(root, SONG_LEVEL_DIR), os.path.join(root, DYNAMIC_DIR)):
        os.makedirs(d, exist_ok=True)
    mp3 = "MP3" in sf.available_formats()
    static, dynamic = [], []
    for song_id in song_ids(n):
        emotion_at = trajectory(rng)
        duration = float(np.round(rng.uniform(*clip_s), 2))
        y = render(rng, emotion_at, duration)
        path = os.path.join(audio_dir, f"{song_id}.{'mp3' if mp3 else 'wav'}")
        if mp3:
            sf.write(path, y, SR, format="MP3", subtype="MPEG_LAYER_III")
        else:
            sf.write(path, y, SR, subtype="PCM_16")
        times = np.arange(FIRST_LABEL_S, duration - STEP_S + 1e-9, STEP_S)
        v, a = emotion_at(times + STEP_S / 2)
        static.append((song_id, v, a, rng.uniform(0.5, 1.5, size=2)))
        dynamic.append((song_id, times, v, 2.0 * a - 1.0))
    _write_static(root, static, rng)
    _write_dynamic(root, dynamic)
    return root


def _write_static(root, static, rng):
    first, late = [HEADER_1_2000], [HEADER_2000_2058]
    for song_id, v, a, rater in static:
        vm, am = 5.0 + 4.0 * v.mean(), 1.0 + 8.0 * a.mean()
        vs, as_ = 4.0 * v.std() + rater[0], 8.0 * a.std() + rater[1]
        if song_id <= 2000:
            first.append(",".join([str(song_id), _num(vm, 1), _num(vs, 2), _num(am, 1), _num(as_, 2)]))
        else:
            spread = rng.uniform(1.0, 2.5, size=4)
            cells = [vm, vs, min(9.0, vm + spread[0]), 1.0, max(1.0, vm - spread[1]), 1.0,
                     am, as_, min(9.0, am + spread[2]), 1.0, max(1.0, am - spread[3]), 1.0]
            late.append(",".join([str(song_id)] + [_num(x, 2) for x in cells]))
    for name, lines in (("static_annotations_averaged_songs_1_2000.csv", first),
                        ("static_annotations_averaged_songs_2000_2058.csv", late)):
        with open(os.path.join(root, SONG_LEVEL_DIR, name), "w", newline="", encoding="ascii") as f:
            f.write("\r\n".join(lines) + "\r\n")   # the real files have CRLF line ends


def _write_dynamic(root, dynamic):
    longest = max((len(t) for _, t, _, _ in dynamic), default=0)
    header = "song_id," + ",".join(f"sample_{int(round((FIRST_LABEL_S + i * STEP_S) * 1000))}ms"
                                   for i in range(longest))
    for name, column in (("valence.csv", 2), ("arousal.csv", 3)):
        lines = [header]
        for k, row in enumerate(dynamic):
            cells = [f"{x:.15g}" for x in row[column]]
            if k % 2:   # like the real files: some rows padded with NaN, others simply shorter
                cells += ["NaN"] * (longest - len(cells))
            lines.append(",".join([str(row[0])] + cells))
        with open(os.path.join(root, DYNAMIC_DIR, name), "w", newline="", encoding="ascii") as f:
            f.write("\n".join(lines) + "\n")
