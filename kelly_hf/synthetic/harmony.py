"""Synthetic harmony corpus: ``chord_progressions.json`` with emotion labels.

The chords follow the labelled emotion: the share of minor and diminished
chords falls with valence, dominant sevenths and chord changes rise with
arousal. A model predicting the chord distribution from the emotion can beat
the mean.
"""

from __future__ import annotations

import json
import os

import numpy as np

from kelly_hf import chords


def progression(rng: np.random.Generator, valence: float, arousal: float, length: int) -> list[str]:
    tonic = int(rng.integers(0, 12))
    p_minor = 0.75 - 0.6 * (valence + 1) / 2          # 0.75 at v=-1 .. 0.15 at v=+1
    p_dim = 0.15 * max(0.0, -valence)
    p_seventh = 0.1 + 0.5 * arousal
    p_change = 0.3 + 0.6 * arousal
    degrees = (0, 5, 7, 9, 2, 4)  # I IV V vi ii iii
    out, current = [], None
    for _ in range(length):
        if current is None or rng.random() < p_change:
            root = (tonic + degrees[int(rng.integers(0, len(degrees)))]) % 12
            r = rng.random()
            if r < p_dim:
                quality = "dim"
            elif r < p_dim + p_minor:
                quality = "min7" if rng.random() < p_seventh else "min"
            else:
                quality = "7" if rng.random() < p_seventh else "maj"
            current = chords.ROOT_NAMES[root] + {"maj": "", "min": "m", "7": "7", "min7": "m7", "dim": "dim"}[quality]
        out.append(current)
    return out


def write(out_dir, n: int = 400, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    root = os.path.join(os.fspath(out_dir), "harmony")
    os.makedirs(root, exist_ok=True)
    items = []
    for i in range(n):
        valence = float(np.round(rng.uniform(-1, 1), 3))
        arousal = float(np.round(rng.uniform(0, 1), 3))
        items.append({
            "name": f"synthetic_{i:05d}",
            "chords": progression(rng, valence, arousal, int(rng.integers(4, 13))),
            "emotion": {"valence": valence, "arousal": arousal},
        })
    with open(os.path.join(root, "chord_progressions.json"), "w", encoding="utf-8") as f:
        json.dump({"progressions": items}, f, indent=1)
    return root
