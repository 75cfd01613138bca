"""The same invariants over every builder (mirdata-style generic loader test).

Each builder declares ``ID_COLUMN`` (the id splits are assigned by), ``RANGES``
(column -> (lo, hi)) and ``DISTRIBUTIONS`` (vector columns that sum to 1). The
corpus is the synthetic one the package writes in the official layout.
"""

import math

import datasets
import numpy as np
import pytest

import kelly_hf
from kelly_hf import loading, synthetic

BUILDERS = loading.available()
SMALL = {"harmony": 60, "lakh": 40, "maestro": 6, "groove": 24, "deam": 12}


@pytest.fixture(scope="module", params=BUILDERS)
def built(request, tmp_path_factory):
    name = request.param
    root = tmp_path_factory.mktemp(name)
    data_dir = synthetic.write(name, root / "data", n=SMALL[name])
    cls = loading.builder_class(name)
    first = kelly_hf.load_dataset(name, data_dir=data_dir, cache_dir=str(root / "cache1"))
    second = kelly_hf.load_dataset(name, data_dir=data_dir, cache_dir=str(root / "cache2"))
    return name, cls, first, second, data_dir


def _is_float(feature):
    return isinstance(feature, datasets.Value) and feature.dtype.startswith("float")


def test_declared_features_match_rows(built):
    name, cls, ds, _, data_dir = built
    declared = cls(data_dir=data_dir).info.features
    for split, d in ds.items():
        assert d.features == declared, split
        for row in d.select(range(min(len(d), 20))):
            assert set(row) == set(declared)
            declared.encode_example(row)  # raises if a value does not fit its feature


def test_vector_lengths_ranges_and_no_nan(built):
    name, cls, ds, _, data_dir = built
    for split, d in ds.items():
        if not len(d):
            continue
        table = d.with_format("numpy")[:]
        for column, feature in d.features.items():
            if isinstance(feature, datasets.List) and _is_float(feature.feature):
                values = table[column]
                if feature.length in (None, -1):
                    values = np.concatenate([np.asarray(v, np.float64).ravel() for v in values] or [np.zeros(0)])
                if feature.length not in (None, -1):
                    assert values.shape == (len(d), feature.length), (split, column)
            elif _is_float(feature):
                values = table[column]
            else:
                continue
            values = np.asarray(values, dtype=np.float64)
            assert not np.isnan(values).any(), (split, column)
            if column in cls.RANGES:
                lo, hi = cls.RANGES[column]
                assert values.min() >= lo - 1e-6 and values.max() <= hi + 1e-6, (split, column, values.min(), values.max())
        for column in cls.DISTRIBUTIONS:
            sums = np.asarray(table[column], dtype=np.float64).sum(axis=-1)
            assert np.allclose(sums, 1.0, atol=1e-4), (split, column)


def test_every_declared_range_column_exists(built):
    name, cls, ds, _, data_dir = built
    features = next(iter(ds.values())).features
    assert set(cls.RANGES) <= set(features) and set(cls.DISTRIBUTIONS) <= set(features)


def test_splits_disjoint_and_all_present(built):
    name, cls, ds, _, data_dir = built
    assert set(ds) == {"train", "validation", "test"}
    ids = {split: set(d[cls.ID_COLUMN]) for split, d in ds.items()}
    assert ids["train"] and not ids["train"] & ids["validation"]
    assert not ids["train"] & ids["test"] and not ids["validation"] & ids["test"]


def test_deterministic_across_builds(built):
    name, cls, first, second, _ = built
    for split in first:
        assert first[split].data.table.equals(second[split].data.table), split


def test_emotion_columns_decode_to_scalar_labels(built):
    from kelly_hf import emotion

    name, cls, ds, _, data_dir = built
    d = ds["train"]
    column = "emotion" if "emotion" in d.features else "context"
    if "valence" not in d.features or d.features[column].length < 64:
        pytest.skip("no 64-dim emotion and scalar labels to compare")
    for row in d.select(range(min(len(d), 20))):
        v, a, _, _ = emotion.decode(row[column][:64])
        if abs(row["valence"]) <= 0.96 and 0.02 <= row["arousal"] <= 0.98:
            assert math.isclose(v, row["valence"], abs_tol=1e-4) and math.isclose(a, row["arousal"], abs_tol=1e-4)


@pytest.mark.parametrize("name", BUILDERS)
def test_dataset_card_matches_the_builder(name):
    from kelly_hf import cards

    text = cards.card_path(name).read_text(encoding="utf-8")
    assert text == cards.render(name), f"run: python -m kelly_hf.cards {name}"
    header, body = cards.split_card(text)
    assert header.get("license") and header["configs"] and "## " in body and "itation" in body
    cls = loading.builder_class(name)
    for info in header["dataset_info"]:
        config = next(c for c in cls.BUILDER_CONFIGS if c.name == info["config_name"])
        assert datasets.DatasetInfo._from_yaml_dict(info).features == cards.builder_features(cls, config)
