"""Train the five Kelly models from the Kelly corpora and export them for the engine.

    python -m train.train_all_models --datasets-dir ./datasets --output ./trained_models --epochs 50
    torchrun --nproc_per_node=2 -m train.train_all_models ...       # data-parallel, CPU (gloo) or GPUs (nccl)

For each model (see train.models.SPECS): load its corpus from
``<datasets-dir>/<folder>`` through kelly_hf.load_dataset (or the synthetic
corpus when it is missing, fails or has no row, with a warning; skipped when its
builder is not installed). A small real corpus stays real: an empty train split
or a too small validation / test split is re-split by a hash of the row id
(train.data.resplit, reported in the warning and in metrics.json). Train on
``train``, keep the best weights by ``validation`` loss (the training loss when
there is no validation row), score ``test`` against a predict-the-mean baseline
(null and a reason when there is no test row), then write to ``--output``:
``<model>.json`` (RTNeural), ``<model>.onnx`` (ONNX opset 14), ``<model>.pt``
(TorchScript), ``<model>_loss.png``, and for all models ``metrics.json`` and
``history.csv``.
Only rank 0 writes; the same command with the same ``--seed`` writes the same
metrics.json.

Set ``KELLY_TRAIN_DEBUG_DIR`` to have every rank write the row ids it read per
split (``<model>-rank<r>.json``), for checking that ranks read disjoint data.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time

import numpy as np
import torch

from train import data, distributed, export, loop
from train.models import SPECS

DEBUG_ENV = "KELLY_TRAIN_DEBUG_DIR"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m train.train_all_models",
        description="Train the five Kelly models (emotion, melody, harmony, dynamics, groove) from the Kelly "
                    "corpora and export them for RTNeural. Run under torchrun for data-parallel training.")
    p.add_argument("--datasets-dir", default="./datasets",
                   help="folder holding the corpora as deam/, lakh_midi/, maestro/, groove/, harmony/, each in "
                        "any layout its builder reads; a missing or failing one, or one without rows, is replaced "
                        "by its synthetic corpus, with a warning; a small one is re-split from train by a hash of "
                        "the row id, with a warning (default ./datasets)")
    p.add_argument("--output", default="./trained_models",
                   help="where <model>.json (RTNeural), <model>.onnx (ONNX), <model>.pt (TorchScript), "
                        "<model>_loss.png, "
                        "metrics.json, history.csv and the synthetic/ corpora go (default ./trained_models)")
    p.add_argument("--epochs", type=int, default=50, help="training epochs per model, at least 1 (default 50)")
    p.add_argument("--models", default=",".join(SPECS),
                   help=f"comma-separated subset of {','.join(SPECS)} (default all)")
    p.add_argument("--use-synthetic", action="store_true",
                   help="train every model on its synthetic corpus (written to <output>/synthetic) even where "
                        "a real corpus exists")
    p.add_argument("--batch-size", type=int, default=64, help="rows per batch, per process under torchrun (default 64)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 0.001)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed for weights and shuffles: the same command gives the same metrics.json (default 0)")
    p.add_argument("--device", choices=("cpu", "cuda", "mps"), default="cpu",
                   help="where to train; under torchrun cuda uses one GPU per process and nccl, cpu uses gloo "
                        "(default cpu)")
    p.add_argument("--max-files", type=int, default=None,
                   help="Lakh subset: read at most this many MIDI files (the lakh config's max_files; default all)")
    p.add_argument("--num-workers", type=int, default=2,
                   help="DataLoader worker processes for the streaming Lakh corpus (default 2)")
    p.add_argument("--cache-dir", default=None,
                   help="datasets cache for the prepared builds (default: HF_DATASETS_CACHE)")
    p.add_argument("--synthetic-n", type=_sizes, default={},
                   help="sizes of the synthetic corpora (each writer's n) as name=n,...; the others use "
                        + ",".join(f"{k}={v}" for k, v in data.SYNTHETIC_N.items()))
    p.add_argument("--no-progress", action="store_true", help="no tqdm progress bars")
    return p


def _sizes(text: str) -> dict:
    try:
        sizes = {k.strip(): int(v) for k, v in (item.split("=") for item in text.split(",") if item.strip())}
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected name=n,... got {text!r}") from None
    unknown = set(sizes) - set(data.SYNTHETIC_N)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown corpus {sorted(unknown)}; have {', '.join(data.SYNTHETIC_N)}")
    return sizes


def main(argv=None) -> int:
    """Train the selected models (see the module docstring); returns the exit status."""
    args = build_parser().parse_args(argv)
    keys = [k.strip() for k in args.models.split(",") if k.strip()]
    unknown = [k for k in keys if k not in SPECS]
    if unknown or not keys:
        raise SystemExit(f"error: unknown model(s) {unknown or args.models!r}; choose from {','.join(SPECS)}")
    if args.epochs < 1:
        raise SystemExit("error: --epochs must be at least 1")
    dist = distributed.init(args.device)
    was_deterministic, threads = torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()
    torch.use_deterministic_algorithms(True)
    if dist.device.type == "cpu" and "OMP_NUM_THREADS" not in os.environ:
        # The models are tiny: intra-op threads gain nothing, and on a busy machine their
        # OpenMP spin-waits made an epoch ~10x slower. Scale out with torchrun instead.
        torch.set_num_threads(1)
    output = os.path.abspath(args.output)
    if dist.is_main:
        os.makedirs(output, exist_ok=True)
    dist.barrier()
    results, history = {}, []
    try:
        for key in keys:
            started = time.perf_counter()
            results[key], rows = _train_one(key, args, output, dist)
            results[key]["_seconds"] = time.perf_counter() - started
            history += [{"model": SPECS[key].filename, **r} for r in rows]
        if dist.is_main:
            _write_reports(output, args, dist, results, history)
            print(summary_table(results))
            print(f"\noutputs in {output}")
        dist.barrier()  # the other ranks wait until rank 0 has written everything
    finally:
        torch.use_deterministic_algorithms(was_deterministic)
        torch.set_num_threads(threads)
        dist.close()
    return 0 if any(r["status"] == "trained" for r in results.values()) else 1


def _train_one(key: str, args, output: str, dist) -> tuple[dict, list]:
    spec = SPECS[key]
    info = {"model": spec.filename, "corpus": spec.corpus}
    try:
        corpus = data.open_corpus(spec, datasets_dir=args.datasets_dir, output=output,
                                  use_synthetic=args.use_synthetic, cache_dir=args.cache_dir,
                                  max_files=args.max_files, dist=dist,
                                  synthetic_n=args.synthetic_n,
                                  warn=lambda m: print(m, file=sys.stderr, flush=True))
    except data.Skipped as exc:
        if dist.is_main:
            print(f"SKIPPED {key}: {exc}", file=sys.stderr, flush=True)
        return {**info, "status": "skipped", "reason": str(exc)}, []
    debug_dir = os.environ.get(DEBUG_ENV)
    batches = data.readers(corpus, args.batch_size, args.seed, dist, args.num_workers, keep_ids=bool(debug_dir))
    torch.manual_seed(args.seed)  # per model, so a subset of --models trains each one identically
    model = spec.model().to(dist.device)
    fit = loop.fit(spec, model, batches, epochs=args.epochs, lr=args.lr, dist=dist,
                   progress=not args.no_progress, record_ids=bool(debug_dir))
    files = {"rtneural": f"{spec.filename}.json", "onnx": f"{spec.filename}.onnx",
             "torchscript": f"{spec.filename}.pt", "loss_curve": f"{spec.filename}_loss.png"}
    if dist.is_main:
        model.cpu()
        export.write_rtneural(model, os.path.join(output, files["rtneural"]))
        export.write_onnx(model, os.path.join(output, files["onnx"]))
        export.write_torchscript(model, os.path.join(output, files["torchscript"]))
        plot_history(fit.history, fit.best_epoch, fit.selected_on, spec.filename,
                     os.path.join(output, files["loss_curve"]))
    if debug_dir:
        os.makedirs(debug_dir, exist_ok=True)
        with open(os.path.join(debug_dir, f"{key}-rank{dist.rank}.json"), "w", encoding="utf-8") as f:
            json.dump({"rank": dist.rank, "world": dist.world, "wrote_outputs": dist.is_main,
                       "seen": {s: sorted(v) for s, v in fit.seen.items()}}, f)
    metrics = {
        **info, "status": "trained", "config": corpus.config, "data_source": corpus.source,
        "data_dir": corpus.data_dir, "loss": spec.loss, "input": spec.input, "target": spec.target,
        "epochs": args.epochs, "best_epoch": fit.best_epoch, "selected_on": fit.selected_on,
        "best_validation_loss": fit.best_validation_loss,
        "test_loss": fit.test["loss"], "mean_baseline_test_loss": fit.baseline_test["loss"],
        "rows": fit.rows, "rows_seen": fit.rows_seen, "resplit": corpus.resplit, "files": files,
    }
    if not fit.rows["validation"]:
        metrics["validation_note"] = "no validation rows: the best epoch is the one with the lowest training loss"
    if not fit.rows["test"]:
        metrics["test_note"] = (f"no test rows: the corpus has {sum(fit.rows.values())} row(s) in all and train "
                                f"keeps at least {data.MIN_TRAIN_ROWS}, so the model is not scored")
    if spec.target == "emotion":
        metrics["decoded_mae"] = {k: fit.test[f"{k}_mae"] for k in ("valence", "arousal")}
        metrics["mean_baseline_decoded_mae"] = {k: fit.baseline_test[f"{k}_mae"] for k in ("valence", "arousal")}
    return metrics, [{**h, "validation_loss": h["validation_loss"] if fit.rows["validation"] else None}
                     for h in fit.history]


def _clean(value):
    """JSON-safe: numpy scalars to Python, NaN/inf to null."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _write_reports(output: str, args, dist, results: dict, history: list) -> None:
    run_info = {"seed": args.seed, "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
                "world_size": dist.world, "use_synthetic": bool(args.use_synthetic), "max_files": args.max_files,
                "synthetic_n": {**data.SYNTHETIC_N, **args.synthetic_n}}
    models = {k: {n: v for n, v in r.items() if not n.startswith("_")} for k, r in results.items()}
    with open(os.path.join(output, "metrics.json"), "w", encoding="utf-8") as f:
        json.dump(_clean({"run": run_info, "models": models}), f, indent=2)
        f.write("\n")
    with open(os.path.join(output, "history.csv"), "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["model", "epoch", "train_loss", "validation_loss"])
        writer.writeheader()
        writer.writerows(history)


def plot_history(history: list[dict], best_epoch: int, selected_on: str, title: str, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(epochs, [h["train_loss"] for h in history], label="train")
    if selected_on == "validation":
        ax.plot(epochs, [h["validation_loss"] for h in history], label="validation")
    ax.axvline(best_epoch, color="grey", linestyle=":", label=f"best (epoch {best_epoch}, {selected_on} loss)")
    ax.set(xlabel="epoch", ylabel="loss", title=title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def summary_table(results: dict) -> str:
    """The end-of-run table: one line per model."""
    head = (f"{'model':<18} {'data':<9} {'rows seen':>9} {'ep':>3} {'best val':>9} {'test':>9} "
            f"{'mean base':>9} {'vs base':>8} {'V/A MAE':>11} {'time':>6}")
    lines = ["", head, "-" * len(head)]
    for r in results.values():
        if r["status"] != "trained":
            lines.append(f"{r['model']:<18} skipped: {r['reason']}")
            continue
        test, base = r["test_loss"], r["mean_baseline_test_loss"]
        scored = r["rows"]["test"] > 0
        gain = f"{1 - test / base:>+8.1%}" if scored and base else f"{'-':>8}"
        va = (f"{r['decoded_mae']['valence']:.3f}/{r['decoded_mae']['arousal']:.3f}"
              if "decoded_mae" in r and scored else "")
        val = f"{r['best_validation_loss']:>9.4f}" if r["rows"]["validation"] else f"{'-':>9}"
        tests = f"{test:>9.4f} {base:>9.4f}" if scored else f"{'-':>9} {'-':>9}"
        lines.append(f"{r['model']:<18} {r['data_source']:<9} {r['rows_seen']:>9} {r['epochs']:>3} "
                     f"{val} {tests} {gain} {va:>11} {r['_seconds']:>5.0f}s")
    lines.append("(vs base: test loss reduction relative to predicting the mean train target; "
                 "V/A MAE: decoded valence/arousal error; -: the split has no row, see metrics.json)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
