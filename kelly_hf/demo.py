"""The README's main job on the embedded default: every corpus the package has a
builder for is written synthetically in its official layout, built through its
builder, and summarised like ``kelly-hf check``."""

from __future__ import annotations

import os

from kelly_hf import loading, synthetic


def main(args) -> int:
    from kelly_hf.cli import main as cli_main

    out = os.path.abspath(args.out)
    status = 0
    for name in loading.available():
        data_dir = synthetic.write(name, os.path.join(out, "datasets"))
        print(f"\n=== {name}: synthetic corpus at {data_dir}")
        status |= cli_main(["check", name, data_dir, "--cache-dir", os.path.join(out, "hf_cache")])
    return status
