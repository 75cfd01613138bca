"""End to end: train_all_models on the synthetic corpora beats the mean, reproducibly, and reports skips."""

import csv
import json

import numpy as np
import pytest
import torch

from kelly_hf import loading
from train import export, train_all_models
from train.models import SPECS

BY_CORPUS = {spec.corpus: spec for spec in SPECS.values()}
# Synthetic corpus sizes and epochs for the tests: small, but enough to learn the emotion -> content relation.
TEST_N = {"harmony": 600, "lakh": 150, "maestro": 24, "groove": 120, "deam": 100}
EPOCHS = 40


def _run(tmp_path, *args):
    return train_all_models.main(["--output", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"),
                                  "--datasets-dir", str(tmp_path / "datasets"), "--no-progress", *args])


@pytest.mark.parametrize("corpus", loading.available())
def test_model_beats_the_mean_on_its_synthetic_corpus(corpus, tmp_path):
    spec = BY_CORPUS[corpus]
    assert _run(tmp_path, "--models", spec.key, "--use-synthetic", "--epochs", str(EPOCHS), "--num-workers", "1",
                "--synthetic-n", f"{corpus}={TEST_N[corpus]}") == 0
    out = tmp_path / "out"
    m = json.loads((out / "metrics.json").read_text())["models"][spec.key]
    assert m["status"] == "trained" and m["data_source"] == "synthetic"
    assert m["test_loss"] < m["mean_baseline_test_loss"], m
    assert m["rows_seen"] > 0 and 1 <= m["best_epoch"] <= EPOCHS
    if spec.target == "emotion":
        assert m["decoded_mae"]["valence"] < m["mean_baseline_decoded_mae"]["valence"]
    for name in (f"{spec.filename}.json", f"{spec.filename}.onnx", f"{spec.filename}.pt", f"{spec.filename}_loss.png",
                 "history.csv"):
        assert (out / name).is_file(), name
    # the exported files are the best model: the JSON, the ONNX and the TorchScript agree
    doc = json.loads((out / f"{spec.filename}.json").read_text())
    x = np.random.default_rng(0).uniform(-1, 1, (8, spec.model.SIZES[0])).astype(np.float32)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.load(str(out / f"{spec.filename}.pt"))
    np.testing.assert_allclose(export.numpy_forward(doc, x), scripted(torch.from_numpy(x)).detach().double().numpy(),
                               atol=1e-5)
    import onnxruntime

    session = onnxruntime.InferenceSession(str(out / f"{spec.filename}.onnx"), providers=["CPUExecutionProvider"])
    (onnx_out,) = session.run(None, {spec.model.IO_NAMES[0]: x})
    np.testing.assert_allclose(onnx_out, export.numpy_forward(doc, x), atol=1e-5)


def test_same_seed_same_metrics_and_skips_reported(tmp_path, monkeypatch, capsys):
    # groove's builder hidden: the model is reported as skipped, the run still trains the rest
    monkeypatch.setattr(loading, "available", lambda: ["harmony"])
    args = ["--models", "harmony,groove", "--epochs", "3", "--seed", "7", "--synthetic-n", "harmony=200"]
    assert _run(tmp_path, *args) == 0
    first = (tmp_path / "out" / "metrics.json").read_text()
    history = (tmp_path / "out" / "history.csv").read_text()
    assert _run(tmp_path, *args) == 0
    assert (tmp_path / "out" / "metrics.json").read_text() == first
    assert (tmp_path / "out" / "history.csv").read_text() == history
    metrics = json.loads(first)["models"]
    assert metrics["groove"] == {"model": "groovepredictor", "corpus": "groove", "status": "skipped",
                                 "reason": "the groove builder is not installed yet"}
    assert metrics["harmony"]["data_source"] == "synthetic"   # --datasets-dir has no harmony/: fallback
    rows = list(csv.DictReader(history.splitlines()))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"] and rows[0]["model"] == "harmonypredictor"
    out = capsys.readouterr()
    assert "no corpus folder" in out.err and "skipped: the groove builder is not installed yet" in out.out
    # another seed is another run
    assert _run(tmp_path, *args[:-4], "--seed", "8", *args[-2:]) == 0
    assert (tmp_path / "out" / "metrics.json").read_text() != first
