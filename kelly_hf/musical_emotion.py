"""Emotion estimated from musical content, for corpora without emotion labels (kelly-emotion-v2).

A documented, deterministic function of the notes (DESIGN §2: labels are never
random; a corpus without labels says ``emotion_source = "estimated"``),
calibrated against people: two logistic regressions fitted by
``scripts/fit_emotion.py`` on the human quadrant labels of EMOPIA's *train + val*
clips (never its test split; ``benchmarks/bench_emotion.py`` measures it there,
figures in docs/BENCHMARKS.md). The fitted numbers are written below.

Features (per window ``[start, end)``, over the notes whose onset is in it)
---------------------------------------------------------------------------
Notes whose onsets follow each other within :data:`CLUSTER_S` = 30 ms form one
*onset*; an onset's IOI is the time to the next one in the window (IOIs over
:data:`MAX_IOI_S` = 2 s are pauses, not used).

==============  =================================================================================
``mode``        pitch-class counts correlated (Pearson) with the Temperley-Kostka-Payne key
                profiles (Temperley 2007) in 12 transpositions: best major r - best minor r
``clarity``     the best of those 24 correlations (how clearly one key is heard)
``triads``      ``(M - m) / (M + m + 1)``: in frames of :data:`FRAME_S` = 2 s, the pitch classes
                struck; a frame holds a triad when all three tones of a major or minor triad are
                there (the one rooted on the frame's lowest note first, else the first of C..B
                major, C..B minor); ``M`` / ``m`` = frames holding a major / minor one
``note_rate``   log2(1 + notes per second)
``onset_rate``  log2(1 + onsets per second)
``ioi``         log2(median IOI in s), 2 s (1.0) without one
``spread``      standard deviation of the pitches (semitones)
``velocity``    mean MIDI velocity
``register``    mean pitch (MIDI number, each note once)
``entropy``     Shannon entropy (bits) of the pitch-class counts: 0 one pitch class .. 3.58 all twelve
                equally (chromaticism)
``dissonance``  over the onsets, the pairs of distinct pitch classes struck together: the share of
                minor seconds / major sevenths and tritones among them (0 without any pair)
``thirds``      ``(M - m) / (M + m + 1)`` over the triads' frames: ``M`` / ``m`` = frames whose pitch
                classes hold the major / minor third above the frame's lowest note, not the other
``top_step``    the top line (highest note of each onset): mean absolute interval between successive
                ones (semitones; 0 with fewer than two onsets)
``top_descent`` share of the top line's moves that go down, among those that change pitch (0.5 without)
``duration``    log2(median note duration in s) (performed MIDI only: a performance's articulation)
``mode_x_rate`` ``mode * note_rate`` (the mode counts more in busy music: an arousal-aware valence term)
==============  =================================================================================

Features beyond those the heads below use are candidates the fit script chose among
(``scripts/fit_emotion.py``: its pools and its declared selection rule).

The estimate (a *variant* uses only the features its corpus can give)
--------------------------------------------------------------------
``s = b + sum(w_i (x_i - mean_i) / scale_i)`` per head; ``valence = tanh(s_v / 2)``
(= 2 P(high valence) - 1, in [-1, 1]) and ``arousal = 1 / (1 + exp(-s_a))`` (=
P(high arousal), in [0, 1]): continuous, and the quadrant is the signs
``valence > 0``, ``arousal > 0.5``. A variant without a head gives that head's
neutral value (valence 0, arousal 0.5), as does a window without notes.

===============  ========================  =====================  ===================================
variant          valence head              arousal head           used by
===============  ========================  =====================  ===================================
``performance``  mode, triads              velocity, note_rate    :func:`estimate_file` (performed
                                                                  MIDI, as EMOPIA's piano)
``content``      mode, triads              note_rate, spread      MAESTRO windows (velocity, durations
                                                                  and pedal are their target)
``arrangement``  mode, triads              onset_rate, ioi        Lakh half-songs
``rhythm``       none (neutral)            onset_rate, ioi        Groove takes (drums)
``chords``       mode, triads              none (neutral)         Harmony (chord ids only)
===============  ========================  =====================  ===================================

Why each variant, with the EMOPIA figures, is in docs/EMOTION.md. In short: the
valence head reads pitch classes only, so every pitched corpus shares it (the
fit script's declared rule chose mode and triads from each variant's pool of
candidates: register, velocity, dissonance ... added no more than noise); no
tempo term (an onset-based beat tempo tells nothing about EMOPIA's arousal, and a
MIDI tempo could not be calibrated: EMOPIA's is always 120); Lakh's arousal
leaves out velocity (a sequencer's, not a performer's: 127 on every note in
some files) and the note rate and spread (they grow with the number of
instruments); a drum take's onsets carry arousal but not valence.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from kelly_hf.midi import read_pitched
from kelly_hf.windows import window_mean, window_pairs, window_quantile, window_std

VERSION = "kelly-emotion-v2"
CLUSTER_S = 0.03
MAX_IOI_S = 2.0
FRAME_S = 2.0
FEATURES = ("mode", "clarity", "triads", "note_rate", "onset_rate", "ioi", "spread", "velocity",
            "register", "entropy", "dissonance", "thirds", "top_step", "top_descent", "duration", "mode_x_rate")
_PITCH_FEATURES = {"mode", "clarity", "triads", "spread", "register", "entropy", "dissonance", "thirds",
                   "top_step", "top_descent", "mode_x_rate"}

# Temperley (2007), Music and Probability, the Kostka-Payne corpus profiles, tonic first.
MAJOR_PROFILE = np.array([0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057, 0.400])
MINOR_PROFILE = np.array([0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133, 0.330])


def _unit_rows(m: np.ndarray) -> np.ndarray:
    """Rows centred and scaled to unit length (all-zero rows stay zero): dot products of such rows are
    Pearson correlations."""
    centred = m - m.mean(1, keepdims=True)
    norm = np.sqrt((centred * centred).sum(1, keepdims=True))
    return centred / np.where(norm > 0, norm, 1.0)


# (24, 12) key profiles: rows 0..11 major on C..B, 12..23 minor
_KEY_PROFILES = _unit_rows(np.array([np.roll(MAJOR_PROFILE, k) for k in range(12)]
                                    + [np.roll(MINOR_PROFILE, k) for k in range(12)]))
# the 24 triads as 12-bit pitch-class sets (bit i = pitch class i): 0..11 major on C..B, 12..23 minor
_TRIADS = np.array([sum(1 << (root + i) % 12 for i in third) for third in ((0, 4, 7), (0, 3, 7))
                    for root in range(12)])
_TRIAD_ROOTS = np.tile(np.arange(12), 2)


def _triad_table() -> np.ndarray:
    """(4096, 12) int8: the triad (0..11 major on C..B, 12..23 minor, -1 none) a frame with this
    pitch-class set and bass pitch class holds, the bass-rooted one first (then the lowest index)."""
    complete = (np.arange(4096)[:, None] & _TRIADS) == _TRIADS                        # (sets, 24)
    choice = complete[:, None, :] * (1 + (_TRIAD_ROOTS == np.arange(12)[:, None]))    # (sets, bass, 24)
    return np.where(choice.max(2) > 0, choice.argmax(2), -1).astype(np.int8)


_TRIAD_TABLE = _triad_table()  # a lookup per frame instead of 24 subset tests


def _interval_classes() -> np.ndarray:
    """(4096, 7): for each 12-bit pitch-class set, its pairs of pitch classes by interval class 0..6
    (column 0 unused): pairs ``i``, ``i + ic`` (mod 12), a tritone's pair seen from both ends."""
    sets = (np.arange(4096)[:, None] >> np.arange(12)) & 1
    return np.stack([np.zeros(4096, np.int64)] + [(sets * np.roll(sets, -ic, axis=1)).sum(1) // (2 if ic == 6 else 1)
                                                   for ic in range(1, 7)], axis=1)


_INTERVAL_CLASSES = _interval_classes()


@dataclass(frozen=True)
class Estimate:
    valence: float      # [-1, 1]
    arousal: float      # [0, 1]


@dataclass(frozen=True)
class Head:
    """One fitted logistic regression on standardised features."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    c: float            # the L2 regularisation the fit chose by cross-validation (provenance)

    @cached_property
    def _weights(self) -> tuple[list[int], np.ndarray, float]:
        """Columns of FEATURES, weights per raw feature unit and the constant of the logit."""
        w = np.array(self.coef) / np.array(self.scale)
        return [FEATURES.index(f) for f in self.features], w, self.intercept - float(w @ np.array(self.mean))

    def score(self, x: np.ndarray) -> np.ndarray:
        """The logit of each row of ``x`` (K, len(FEATURES))."""
        cols, w, b = self._weights
        return b + x[:, cols] @ w


# -- features -----------------------------------------------------------------------


def key_correlations(profiles: np.ndarray) -> np.ndarray:
    """(K, 24) Pearson r of (K, 12) pitch-class profiles with the 24 keys (0 for a flat profile)."""
    return _unit_rows(np.asarray(profiles, np.float64)) @ _KEY_PROFILES.T


def window_features(pitch, start, starts, ends, velocity=None, close_last: bool = True,
                    features=FEATURES, duration=None) -> np.ndarray:
    """(K, len(FEATURES)) features of the windows ``[starts[i], ends[i])`` (see the module
    docstring): a note belongs to the windows holding its onset; with ``close_last`` the last
    window is ``[start, inf)``. Columns not in ``features``, the pitch columns when ``pitch`` is
    None (drums), the velocity column when ``velocity`` is None and the duration column when
    ``duration`` (of each note, s) is None are NaN."""
    start = np.asarray(start, np.float64)
    order = np.argsort(start, kind="stable")
    start = start[order]
    starts, ends = np.asarray(starts, np.float64), np.asarray(ends, np.float64)
    k = len(starts)
    span = np.maximum(ends - starts, 1e-3)
    win, idx, count = window_pairs(start, starts, ends, close_last)
    out = np.full((k, len(FEATURES)), np.nan)
    column = {f: FEATURES.index(f) for f in features}

    new_onset = np.concatenate(([True], np.diff(start) > CLUSTER_S)) if len(start) else np.zeros(0, bool)
    on_time = start[new_onset]                                                  # onsets
    owin, oidx, on_count = window_pairs(on_time, starts, ends, close_last)
    gaps = np.diff(on_time[oidx])
    ioi = (owin[1:] == owin[:-1]) & (gaps <= MAX_IOI_S)       # IOIs between onsets of one window, no pauses
    out[:, FEATURES.index("note_rate")] = np.log2(1.0 + count / span)
    out[:, FEATURES.index("onset_rate")] = np.log2(1.0 + on_count / span)
    out[:, FEATURES.index("ioi")] = np.log2(window_quantile(owin[1:][ioi], gaps[ioi], k, 0.5, MAX_IOI_S))

    if pitch is not None:
        p = np.asarray(pitch, np.int64)[order][idx]
        if column.keys() & {"mode", "clarity", "entropy", "mode_x_rate"}:
            pcs = np.bincount(win * 12 + p % 12, minlength=k * 12).reshape(k, 12)
            r = key_correlations(pcs)
            out[:, FEATURES.index("mode")] = r[:, :12].max(1) - r[:, 12:].max(1)
            out[:, FEATURES.index("clarity")] = r.max(1)
            if "entropy" in column:
                share = pcs / np.maximum(pcs.sum(1, keepdims=True), 1)
                out[:, column["entropy"]] = -(share * np.log2(np.where(share > 0, share, 1.0))).sum(1)
            if "mode_x_rate" in column:
                out[:, column["mode_x_rate"]] = out[:, FEATURES.index("mode")] * out[:, FEATURES.index("note_rate")]
        if column.keys() & {"triads", "thirds"}:
            frame_window, struck, bass = _frames(win, p, ((start[idx] - starts[win]) / FRAME_S).astype(np.int64))
            out[:, FEATURES.index("triads")] = _share(frame_window, _frame_triad(struck, bass), k, 12)
            if "thirds" in column:
                above_bass = (struck >> bass | struck << (12 - bass)) & 0xFFF        # the set transposed to the bass
                third = (above_bass & 0b11000) >> 3               # 0b10: major third above the bass, 0b01: minor
                out[:, column["thirds"]] = _share(frame_window, np.select([third == 0b10, third == 0b01], [0, 1], -1),
                                                  k, 1)
        if "spread" in column:
            out[:, column["spread"]] = window_std(win, p.astype(np.float64), k)
        if "register" in column:
            out[:, column["register"]] = window_mean(win, p.astype(np.float64), k, 60.0)
        if column.keys() & {"dissonance", "top_step", "top_descent"}:
            _simultaneities(out, win, p, np.cumsum(new_onset)[idx], k)
    if velocity is not None and "velocity" in column:
        out[:, column["velocity"]] = window_mean(win, np.asarray(velocity, np.float64)[order][idx], k, np.nan)
    if duration is not None and "duration" in column:
        held = np.maximum(np.asarray(duration, np.float64)[order][idx], 1e-3)
        out[:, column["duration"]] = np.log2(window_quantile(win, held, k, 0.5, FRAME_S))
    return out


def _frames(win: np.ndarray, pitch: np.ndarray, frame_in_window: np.ndarray):
    """(window, pitch-class set as 12 bits, bass pitch class) of every frame that holds notes;
    ``frame_in_window`` is each note's frame number in its window, notes in (window, frame) order."""
    if not len(pitch):
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    key = win * (int(frame_in_window.max()) + 1) + frame_in_window
    first = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    return win[first], np.bitwise_or.reduceat(1 << pitch % 12, first), np.minimum.reduceat(pitch, first) % 12


def _frame_triad(struck: np.ndarray, bass: np.ndarray) -> np.ndarray:
    """The triad (0..11 major on C..B, 12..23 minor, -1 none) each frame holds, the bass-rooted one first."""
    return _TRIAD_TABLE[struck, bass].astype(np.int64)


def _share(frame_window: np.ndarray, kind: np.ndarray, k: int, split: int) -> np.ndarray:
    """``(M - m) / (M + m + 1)`` per window: ``M`` frames with ``0 <= kind < split``, ``m`` with
    ``kind >= split`` (``kind`` -1: neither)."""
    major = np.bincount(frame_window, (kind >= 0) & (kind < split), k)
    minor = np.bincount(frame_window, kind >= split, k)
    return (major - minor) / (major + minor + 1.0)


def _simultaneities(out: np.ndarray, win: np.ndarray, pitch: np.ndarray, onset: np.ndarray, k: int) -> None:
    """The ``dissonance``, ``top_step`` and ``top_descent`` columns from the notes struck together
    (``onset``: each note's onset number, notes in (window, onset) order)."""
    if not len(pitch):
        out[:, FEATURES.index("dissonance")], out[:, FEATURES.index("top_step")] = 0.0, 0.0
        out[:, FEATURES.index("top_descent")] = 0.5
        return
    first = np.flatnonzero(np.concatenate(([True], (win[1:] != win[:-1]) | (onset[1:] != onset[:-1]))))
    group_window = win[first]
    intervals = _INTERVAL_CLASSES[np.bitwise_or.reduceat(1 << pitch % 12, first)]     # (onsets, 7)
    pairs = np.bincount(group_window, intervals.sum(1), k)
    harsh = np.bincount(group_window, intervals[:, 1] + intervals[:, 6], k)
    out[:, FEATURES.index("dissonance")] = harsh / np.maximum(pairs, 1)
    top = np.maximum.reduceat(pitch, first)
    move = np.diff(top)[group_window[1:] == group_window[:-1]]
    move_window = group_window[1:][group_window[1:] == group_window[:-1]]
    out[:, FEATURES.index("top_step")] = window_mean(move_window, np.abs(move).astype(np.float64), k, 0.0)
    changed = move != 0
    out[:, FEATURES.index("top_descent")] = window_mean(move_window[changed], (move[changed] < 0) * 1.0, k, 0.5)


def triads(pitch, start) -> np.ndarray:
    """The triad (0..11 major on C..B, 12..23 minor, -1 none) the ``triads`` feature finds in each
    :data:`FRAME_S` frame from time 0 that holds notes, in time order."""
    order = np.argsort(np.asarray(start, np.float64), kind="stable")
    pitch, start = np.asarray(pitch, np.int64)[order], np.asarray(start, np.float64)[order]
    _, struck, bass = _frames(np.zeros(len(pitch), np.int64), pitch, (start / FRAME_S).astype(np.int64))
    return _frame_triad(struck, bass)


# -- the estimate ---------------------------------------------------------------------

# BEGIN FITTED: written by `python scripts/fit_emotion.py --write`; do not edit by hand
HEADS: dict[str, Head] = {
    "valence": Head(
        features=('mode', 'triads'),
        mean=(0.0825531, 0.297474,),
        scale=(0.209681, 0.374572,),
        coef=(1.04461, 0.629686,),
        intercept=0.0389515, c=1.0),
    "arousal/performance": Head(
        features=('velocity', 'note_rate'),
        mean=(65.0602, 2.8215,),
        scale=(16.303, 0.653388,),
        coef=(2.48001, 1.59929,),
        intercept=-0.0108037, c=1.0),
    "arousal/content": Head(
        features=('note_rate', 'spread'),
        mean=(2.8215, 11.5465,),
        scale=(0.653388, 2.95943,),
        coef=(0.931604, 0.532236,),
        intercept=-0.118793, c=0.01),
    "arousal/rhythm": Head(
        features=('onset_rate', 'ioi'),
        mean=(2.10871, -1.98023,),
        scale=(0.462734, 0.62985,),
        coef=(0.736395, -0.786064,),
        intercept=-0.186031, c=10.0),
}
# END FITTED

#: variant -> (valence head, arousal head); None is the neutral value
VARIANTS = {
    "performance": ("valence", "arousal/performance"),
    "content": ("valence", "arousal/content"),
    "arrangement": ("valence", "arousal/rhythm"),
    "rhythm": (None, "arousal/rhythm"),
    "chords": ("valence", None),
}


def estimate_windows(pitch, start, starts, ends, variant: str, velocity=None,
                     close_last: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(valence, arousal) of each window ``[starts[i], ends[i])`` by ``variant`` (module docstring)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; have {', '.join(VARIANTS)}")
    if variant == "performance" and velocity is None:
        raise ValueError("the performance variant needs velocities")
    valence_head, arousal_head = VARIANTS[variant]
    needed = {f for head in (valence_head, arousal_head) if head for f in HEADS[head].features}
    x = window_features(pitch if needed & _PITCH_FEATURES else None, start, starts, ends,
                        velocity if "velocity" in needed else None, close_last, tuple(needed))
    empty = x[:, FEATURES.index("note_rate")] == 0
    valence = np.zeros(len(x)) if valence_head is None else np.tanh(HEADS[valence_head].score(x) / 2.0)
    arousal = np.full(len(x), 0.5) if arousal_head is None else 1.0 / (1.0 + np.exp(-HEADS[arousal_head].score(x)))
    return np.where(empty, 0.0, valence), np.where(empty, 0.5, arousal)


def estimate(pitch, start, duration_s: float, velocity=None, variant: str = "performance") -> Estimate:
    """The estimate of notes played in ``[0, duration_s)`` (later onsets count too)."""
    (valence,), (arousal,) = estimate_windows(pitch, start, [0.0], [duration_s], variant, velocity)
    return Estimate(float(valence), float(arousal))


def estimate_file(source: str | os.PathLike | bytes, variant: str = "performance", name: str | None = None) -> Estimate:
    """The estimate of a whole MIDI file's pitched notes (a path or bytes; ``name`` labels bytes in
    errors) over the span of its notes. An unreadable file raises :class:`kelly_hf.midi.MidiError`
    naming it; a file without pitched notes is the neutral (0, 0.5)."""
    p = read_pitched(source, name=name)
    return estimate(p.pitch, p.start, float(p.end.max(initial=0.0)), p.velocity, variant)
