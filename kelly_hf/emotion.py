"""The emotion embedding the Kelly engine decodes (kelly-v1, DESIGN §2).

This module is the only place that builds embeddings. Canonical scales:
valence ``v`` in [-1, 1], arousal ``a`` in [0, 1], dominance ``d`` in [0, 1].

Layout of the 64 dims (every dim lies strictly inside (-1, 1), so a tanh
output layer can reach it):

=========  ===============================================================
dims       content
=========  ===============================================================
0..15      ``atanh(clip(v, -0.96, 0.96)) / 2``          (valence)
16..31     ``atanh(clip(2a - 1, -0.96, 0.96)) / 2``     (arousal)
32..47     ``atanh(clip(2d - 1, -0.96, 0.96)) / 2``     (dominance; 0.5 -> 0)
48..63     ``intensity(v, a)``                           (engine: complexity)
=========  ===============================================================

``intensity(v, a) = min(1, sqrt(v**2 + (2a - 1)**2) / sqrt(2)) * 0.96``: the
distance of (v, a) from the neutral centre of the circumplex, so a calm
neutral state is 0 and an extreme corner is 0.96 (kept below 1 like the
other dims). The engine reads it back as ``mean(|e[48:64]|)``.
"""

from __future__ import annotations

import math

import numpy as np

DIM = 64
CLIP = 0.96
_BLOCK = 16


def _check(name: str, value: float, lo: float, hi: float) -> float:
    value = float(value)
    if not math.isfinite(value) or not lo <= value <= hi:
        raise ValueError(f"{name}={value!r} is outside [{lo}, {hi}]")
    return value


def intensity(valence: float, arousal: float) -> float:
    """Documented intensity of an emotion (distance from neutral), in [0, 0.96]."""
    radius = math.hypot(valence, 2.0 * arousal - 1.0) / math.sqrt(2.0)
    return min(1.0, radius) * CLIP


def encode(valence: float, arousal: float, dominance: float = 0.5) -> np.ndarray:
    """Encode (v in [-1,1], a in [0,1], d in [0,1]) as the engine's float32[64] embedding."""
    v = _check("valence", valence, -1.0, 1.0)
    a = _check("arousal", arousal, 0.0, 1.0)
    d = _check("dominance", dominance, 0.0, 1.0)
    e = np.empty(DIM, dtype=np.float32)
    for block, x in enumerate((v, 2.0 * a - 1.0, 2.0 * d - 1.0)):
        e[block * _BLOCK:(block + 1) * _BLOCK] = math.atanh(min(CLIP, max(-CLIP, x))) / 2.0
    e[48:64] = intensity(v, a)
    return e


def decode(e) -> tuple[float, float, float, float]:
    """Decode an embedding exactly as the engine does: (valence, arousal, dominance, complexity)."""
    e = np.asarray(e, dtype=np.float64)
    if e.shape[-1] != DIM:
        raise ValueError(f"an emotion embedding has {DIM} dims, got shape {e.shape}")
    v = math.tanh(e[0:16].sum() / 8.0)
    a = (math.tanh(e[16:32].sum() / 8.0) + 1.0) / 2.0
    d = (math.tanh(e[32:48].sum() / 8.0) + 1.0) / 2.0
    c = float(np.abs(e[48:64]).mean())
    return v, a, d, c


def decode_batch(e) -> np.ndarray:
    """Vectorised :func:`decode` over rows of ``e`` -> array (N, 4) of (v, a, d, c)."""
    e = np.asarray(e, dtype=np.float64)
    v = np.tanh(e[:, 0:16].sum(1) / 8.0)
    a = (np.tanh(e[:, 16:32].sum(1) / 8.0) + 1.0) / 2.0
    d = (np.tanh(e[:, 32:48].sum(1) / 8.0) + 1.0) / 2.0
    c = np.abs(e[:, 48:64]).mean(1)
    return np.stack([v, a, d, c], axis=1)


# --- scale conversions -------------------------------------------------------

def from_deam_static(valence_1_9: float, arousal_1_9: float) -> tuple[float, float]:
    """DEAM song-level scale 1..9 -> canonical (v in [-1,1], a in [0,1])."""
    v = _check("valence (1..9)", valence_1_9, 1.0, 9.0)
    a = _check("arousal (1..9)", arousal_1_9, 1.0, 9.0)
    return (v - 5.0) / 4.0, (a - 1.0) / 8.0


def from_deam_dynamic(valence_pm1: float, arousal_pm1: float) -> tuple[float, float]:
    """DEAM dynamic (2 Hz) scale [-1,1] -> canonical (v in [-1,1], a in [0,1])."""
    v = _check("valence (-1..1)", valence_pm1, -1.0, 1.0)
    a = _check("arousal (-1..1)", arousal_pm1, -1.0, 1.0)
    return v, (a + 1.0) / 2.0


def std_from_deam_static(valence_std: float, arousal_std: float) -> tuple[float, float]:
    """Standard deviations on the 1..9 scale -> canonical scales (v: /4, a: /8)."""
    return float(valence_std) / 4.0, float(arousal_std) / 8.0


def validate(valence: float, arousal: float, where: str) -> tuple[float, float]:
    """Check canonical (v, a); the error names ``where`` (an item or a file)."""
    try:
        return _check("valence", valence, -1.0, 1.0), _check("arousal", arousal, 0.0, 1.0)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc} (canonical scales: valence in [-1, 1], arousal in [0, 1])") from None
