"""The README's main job on the embedded default, end to end.

1. Every corpus the package has a builder for is written synthetically in its
   official layout and built through its builder (with the config its model
   trains on), then summarised like ``kelly-hf check``.
2. The five Kelly models train on those corpora for a few epochs
   (``python -m train.train_all_models --use-synthetic``; models whose builder
   is not installed are reported as skipped), are exported for the engine
   (RTNeural JSON, ONNX, TorchScript) and summarised in a table.

Sized to finish in a few minutes on two CPU cores. Everything lands in
``--out``: ``trained_models/`` (models, metrics.json, history.csv, loss curves,
``synthetic/`` corpora) and ``hf_cache/`` (the builds).
"""

from __future__ import annotations

import os
import time

from kelly_hf import loading

#: Synthetic corpus sizes (each writer's n) and epochs of the demo.
DEMO_N = {"harmony": 1500, "lakh": 200, "maestro": 60, "groove": 480, "deam": 300}
DEMO_EPOCHS = 40


def main(args) -> int:
    from kelly_hf.cli import main as cli_main

    try:
        from train import data, train_all_models
        from train.models import SPECS
    except ImportError as exc:  # torch is the optional `train` extra
        print(f"the training half of the demo needs torch (pip install -e '.[train]'): {exc}")
        return 1

    started = time.perf_counter()
    out = os.path.abspath(args.out)
    output, cache = os.path.join(out, "trained_models"), os.path.join(out, "hf_cache")
    by_corpus = {spec.corpus: spec for spec in SPECS.values()}
    status = 0
    for name in loading.available():
        # the same files and builds the trainer uses (write_synthetic keeps them; same cache)
        try:
            data_dir = data.write_synthetic(name, output, n=DEMO_N[name])
        except Exception as exc:  # noqa: BLE001 - e.g. a builder whose synthetic writer has not landed
            print(f"\n=== {name}: no synthetic corpus ({type(exc).__name__}: {exc}); its model will be skipped")
            status = 1
            continue
        config = data.config_name(by_corpus[name])
        print(f"\n=== {name}: synthetic corpus at {data_dir}")
        status |= cli_main(["check", name, data_dir, "--cache-dir", cache] + (["--config", config] if config else []))

    print(f"\n=== training the five Kelly models ({DEMO_EPOCHS} epochs each, synthetic corpora)")
    sizes = ",".join(f"{k}={v}" for k, v in DEMO_N.items())
    status |= train_all_models.main(["--use-synthetic", "--output", output, "--cache-dir", cache,
                                     "--epochs", str(DEMO_EPOCHS), "--synthetic-n", sizes])
    print(f"\ndemo finished in {time.perf_counter() - started:.0f} s")
    return status
