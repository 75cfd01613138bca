"""Deterministic hash splits (train / validation / test).

An example's split depends only on its id: ``sha1(id)`` read as a number in
[0, 1) is compared with cumulative fractions. Adding or removing other items
never moves an existing one, and the assignment is the same on every machine.
Used for corpora without official splits (Lakh, DEAM, Harmony, and seed layouts
of MAESTRO / Groove).
"""

from __future__ import annotations

import hashlib

SPLITS = ("train", "validation", "test")
FRACTIONS = (0.8, 0.1, 0.1)


def hash_fraction(example_id: str) -> float:
    """Map an id to a stable number in [0, 1)."""
    digest = hashlib.sha1(example_id.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def hash_split(example_id: str, fractions: tuple[float, float, float] = FRACTIONS) -> str:
    """The split of ``example_id``: 'train', 'validation' or 'test'."""
    x = hash_fraction(example_id)
    edge = 0.0
    for name, fraction in zip(SPLITS, fractions):
        edge += fraction
        if x < edge:
            return name
    return SPLITS[-1]


def normalize_split(name: str) -> str:
    """Official split names as the corpora spell them -> 'train' / 'validation' / 'test'."""
    key = name.strip().lower()
    aliases = {"train": "train", "training": "train", "validation": "validation", "valid": "validation",
               "val": "validation", "dev": "validation", "test": "test", "eval": "test", "evaluation": "test"}
    if key not in aliases:
        raise ValueError(f"unknown split name {name!r} (expected one of {sorted(aliases)})")
    return aliases[key]
