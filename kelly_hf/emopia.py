"""EMOPIA (Hung et al., ISMIR 2021): piano MIDI clips with human quadrant labels, the
yardstick of the emotion estimate (``kelly_hf.musical_emotion``).

Reads ``midis/<name>.mid`` and the split of the paper's classification table,
``EMOPIA_cls_split/{train,val,test}.csv`` (``fname,label``; label ``Q1``..``Q4``,
Russell quadrants: Q1 high valence / high arousal, Q2 low / high, Q3 low / low,
Q4 high / low). A clip's song is the YouTube id in its name
(``Q1_0vLPYiPN7qY_2`` -> ``0vLPYiPN7qY``): the paper's split keeps a song's clips
in one split, and cross-validation on train + val must group by it too.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass

import numpy as np

from kelly_hf.midi import Pitched, read_pitched

SPLITS = ("train", "val", "test")


@dataclass(frozen=True, eq=False)
class Clip:
    name: str
    quadrant: int       # 1..4
    song: str
    split: str
    notes: Pitched

    @property
    def high_valence(self) -> bool:
        return self.quadrant in (1, 4)

    @property
    def high_arousal(self) -> bool:
        return self.quadrant in (1, 2)


def load(root: str | os.PathLike, splits=SPLITS) -> list[Clip]:
    """The clips of ``splits`` in file order of the split CSVs, their notes read with kelly_hf.midi."""
    clips = []
    for split in splits:
        table = os.path.join(root, "EMOPIA_cls_split", f"{split}.csv")
        if not os.path.isfile(table):
            raise FileNotFoundError(f"EMOPIA: no {table} (looked for EMOPIA_cls_split/{{train,val,test}}.csv "
                                    f"and midis/ under {root})")
        with open(table, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                name = row["fname"]
                clips.append(Clip(name, int(row["label"].lstrip("Q")), name.split("_", 1)[1].rsplit("_", 1)[0],
                                  split, read_pitched(os.path.join(root, "midis", f"{name}.mid"))))
    return clips


def quadrants(high_valence, high_arousal) -> np.ndarray:
    """Quadrant 1..4 of boolean valence / arousal decisions."""
    v, a = np.asarray(high_valence, bool), np.asarray(high_arousal, bool)
    return np.where(a, np.where(v, 1, 2), np.where(v, 4, 3))


def accuracy(clips: list[Clip], high_valence, high_arousal) -> tuple[float, float, float]:
    """(4-quadrant, arousal, valence) accuracy of decisions against the clips' labels."""
    v, a = np.asarray(high_valence, bool), np.asarray(high_arousal, bool)
    return (float(np.mean(quadrants(v, a) == [c.quadrant for c in clips])),
            float(np.mean(a == [c.high_arousal for c in clips])), float(np.mean(v == [c.high_valence for c in clips])))
