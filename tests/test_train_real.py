"""The seed layout with ONE real file per corpus trains all five models on real data (issue 13)."""

import json
import math

import pytest

import seed_layout  # tests/seed_layout.py (pytest puts tests/ on sys.path)
from kelly_hf import loading
from train import train_all_models
from train.models import SPECS


@pytest.mark.skipif(set(loading.available()) != {s.corpus for s in SPECS.values()}, reason="needs all five builders")
def test_one_real_file_per_corpus_trains_five_real_models(fixtures, tmp_path, capsys):
    datasets_dir = seed_layout.write(tmp_path / "datasets")
    out = tmp_path / "out"
    assert train_all_models.main(["--datasets-dir", str(datasets_dir), "--output", str(out), "--epochs", "2",
                                  "--batch-size", "8", "--num-workers", "0", "--no-progress",
                                  "--cache-dir", str(tmp_path / "cache")]) == 0
    text = (out / "metrics.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    models = json.loads(text)["models"]
    assert {k: m["data_source"] for k, m in models.items()} == {k: "real" for k in SPECS}
    assert not (out / "synthetic").exists()                        # nothing fell back
    err = capsys.readouterr().err
    assert "synthetic" not in err
    for key, m in models.items():
        rows = m["rows"]
        assert m["status"] == "trained" and rows["train"] >= 1, key
        assert m["rows_seen"] == 2 * rows["train"], key
        if m["resplit"]:                                            # every change is reported ...
            before = m["resplit"]["builder_rows"]
            assert sum(before.values()) == sum(rows.values()), key
            assert rows["test"] == before["test"] + m["resplit"]["carved"].get("test", 0) or \
                m["resplit"]["pooled_into_train"], key
            assert f"WARNING: {m['corpus']} ({key} model)" in err, key
        if rows["test"]:                                            # ... and a split without rows is null + why
            assert math.isfinite(m["test_loss"]) and "test_note" not in m, key
        else:
            assert m["test_loss"] is None and m["mean_baseline_test_loss"] is None, key
            assert m["test_note"].startswith("no test rows"), key
        if not rows["validation"]:
            assert m["selected_on"] == "train" and m["best_validation_loss"] is None, key
        for name in m["files"].values():
            assert (out / name).is_file(), name
    # DEAM: one song, one row: it trains, nothing is left to score
    assert models["emotion"]["rows"] == {"train": 1, "validation": 0, "test": 0}
    assert models["emotion"]["decoded_mae"] == {"valence": None, "arousal": None}
    # MAESTRO: one performance, 91 segments: validation and test carved (ceil(5% of 91) = 5 each), said to share the file
    assert models["dynamics"]["resplit"]["carved"] == {"test": 5, "validation": 5}
    assert models["dynamics"]["resplit"]["ids_in_two_splits"] == 1
