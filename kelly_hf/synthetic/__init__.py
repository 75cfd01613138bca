"""Synthetic corpora in the official layouts, with a known emotion -> content relation.

Each corpus has a module here with ``write(out_dir, n=..., seed=0) -> path``
that writes files exactly as the real corpus ships them (so the same builder
reads them) and whose content follows a known emotion, so a model can learn
from them and tests know the truth. Randomness lives only here, always from a
seeded generator: the same call writes the same bytes.
"""

from __future__ import annotations

import importlib

WRITERS = {"harmony": "harmony", "lakh": "lakh", "maestro": "maestro", "groove": "groove", "deam": "deam"}


def write(name: str, out_dir, **kwargs):
    """Write the synthetic ``name`` corpus into ``out_dir``; returns its data_dir."""
    if name not in WRITERS:
        raise ValueError(f"no synthetic writer for {name!r}; have {', '.join(WRITERS)}")
    module = importlib.import_module(f"kelly_hf.synthetic.{WRITERS[name]}")
    return module.write(out_dir, **kwargs)
