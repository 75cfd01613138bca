"""torchrun with two CPU processes (gloo): disjoint data per rank, one set of outputs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kelly_hf import loading

REPO = Path(__file__).resolve().parents[1]
EPOCHS = 2


@pytest.mark.skipif("harmony" not in loading.available(), reason="needs the harmony builder")
def test_two_ranks_read_disjoint_data_and_rank0_writes(tmp_path):
    out, debug = tmp_path / "out", tmp_path / "debug"
    env = {**os.environ, "KELLY_TRAIN_DEBUG_DIR": str(debug), "OMP_NUM_THREADS": "1",
           "HF_DATASETS_CACHE": str(tmp_path / "hf_cache")}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "train.train_all_models", "--models", "harmony", "--use-synthetic", "--synthetic-n", "harmony=200",
           "--epochs", str(EPOCHS), "--batch-size", "16", "--output", str(out), "--no-progress"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    ranks = [json.loads((debug / f"harmony-rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2]
    assert [r["wrote_outputs"] for r in ranks] == [True, False]
    metrics = json.loads((out / "metrics.json").read_text())
    rows = metrics["models"]["harmony"]["rows"]
    assert metrics["run"]["world_size"] == 2
    keys = [f"train/{e}" for e in range(1, EPOCHS + 1)] + ["validation", "test"]
    for key in keys:
        a, b = (set(r["seen"][key]) for r in ranks)
        assert a and b and not a & b, key                                   # disjoint, both worked
        assert len(a | b) == rows[key.split("/")[0]], key                   # together: the whole split
    assert metrics["models"]["harmony"]["rows_seen"] == EPOCHS * rows["train"]
    # one set of outputs, written by rank 0
    assert sorted(p.name for p in out.iterdir()) == sorted([
        "harmonypredictor.json", "harmonypredictor.onnx", "harmonypredictor.pt", "harmonypredictor_loss.png", "history.csv",
        "metrics.json", "synthetic"])
    assert proc.stdout.count("harmonypredictor   synthetic") == 1          # one summary table
