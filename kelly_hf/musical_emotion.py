"""Emotion estimated from musical content, for corpora without emotion labels.

A documented, deterministic rule (DESIGN §2: labels are never random; a
corpus without labels says ``emotion_source = "estimated"``). From the pitched
notes of a piece or window:

* **mode**: the duration-weighted pitch-class profile is correlated with the
  Krumhansl-Kessler major and minor key profiles in all 12 transpositions; the
  best key gives tonic and mode, and ``mode_score = best major r - best minor r``
  (positive = major-sounding).
* **valence** = ``0.6 * tanh(4 * mode_score) + 0.25 * tempo_term + 0.15 * register_term``,
  clipped to [-1, 1]; ``tempo_term = clip((bpm - 100) / 60, -1, 1)``,
  ``register_term = clip((mean pitch - 60) / 24, -1, 1)`` (bright and fast reads happier).
* **arousal** = ``0.35 * tempo_norm + 0.35 * density_norm + 0.3 * velocity_norm``,
  clipped to [0, 1]; ``tempo_norm = clip((bpm - 50) / 130, 0, 1)``,
  ``density_norm = clip(onsets per second / 12, 0, 1)``, ``velocity_norm = mean velocity / 127``.

No notes give the neutral (0, 0.5) with tonic -1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Krumhansl & Kessler (1982) probe-tone profiles, tonic first.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


@dataclass(frozen=True)
class Estimate:
    valence: float
    arousal: float
    tonic: int          # pitch class of the best key, -1 when there are no notes
    minor: bool
    mode_score: float


def _profiles() -> np.ndarray:
    """(24, 12) z-scored key profiles: rows 0..11 major on C..B, 12..23 minor."""
    rows = [np.roll(MAJOR_PROFILE, k) for k in range(12)] + [np.roll(MINOR_PROFILE, k) for k in range(12)]
    m = np.array(rows)
    return (m - m.mean(1, keepdims=True)) / m.std(1, keepdims=True)


_KEY_PROFILES = _profiles()


def pitch_class_profile(pitch: np.ndarray, weight: np.ndarray) -> np.ndarray:
    return np.bincount(np.asarray(pitch, np.int64) % 12, weights=np.asarray(weight, np.float64), minlength=12)


def mode_scores(profiles: np.ndarray) -> np.ndarray:
    """The ``mode_score`` of :func:`key_of` for each row of a (K, 12) pitch-class profile."""
    std = profiles.std(1)
    z = (profiles - profiles.mean(1, keepdims=True)) / np.where(std > 0, std, 1.0)[:, None]
    r = z @ _KEY_PROFILES.T / 12.0
    return np.where(std > 0, r[:, :12].max(1) - r[:, 12:].max(1), 0.0)


def key_of(profile: np.ndarray) -> tuple[int, bool, float]:
    """(tonic, minor, mode_score) of a pitch-class profile."""
    if profile.std() == 0:
        return -1, False, 0.0
    z = (profile - profile.mean()) / profile.std()
    r = _KEY_PROFILES @ z / 12.0
    best = int(np.argmax(r))
    return best % 12, best >= 12, float(r[:12].max() - r[12:].max())


def estimate(pitch, velocity, start, end, tempo_bpm: float, duration_s: float) -> Estimate:
    """The rule in the module docstring over pitched notes (arrays of equal length)."""
    pitch = np.asarray(pitch)
    if pitch.size == 0 or duration_s <= 0:
        return Estimate(0.0, 0.5, -1, False, 0.0)
    start, end = np.asarray(start, np.float64), np.asarray(end, np.float64)
    durations = np.maximum(end - start, 1e-3)
    tonic, minor, mode_score = key_of(pitch_class_profile(pitch, durations))
    tempo_term = np.clip((tempo_bpm - 100.0) / 60.0, -1.0, 1.0)
    register_term = np.clip((float(np.average(pitch, weights=durations)) - 60.0) / 24.0, -1.0, 1.0)
    valence = np.clip(0.6 * np.tanh(4.0 * mode_score) + 0.25 * tempo_term + 0.15 * register_term, -1.0, 1.0)
    onsets = np.unique(np.round(start, 2)).size
    tempo_norm = np.clip((tempo_bpm - 50.0) / 130.0, 0.0, 1.0)
    density_norm = np.clip(onsets / duration_s / 12.0, 0.0, 1.0)
    velocity_norm = float(np.mean(velocity)) / 127.0
    arousal = np.clip(0.35 * tempo_norm + 0.35 * density_norm + 0.3 * velocity_norm, 0.0, 1.0)
    return Estimate(float(valence), float(arousal), tonic, minor, mode_score)
