import math

import numpy as np
import pytest

from kelly_hf import emotion


def engine_decode(e):
    """The engine's decoder, written out from DESIGN §2 independently of kelly_hf."""
    v = math.tanh(sum(float(x) for x in e[0:16]) / 8)
    a = (math.tanh(sum(float(x) for x in e[16:32]) / 8) + 1) / 2
    d = (math.tanh(sum(float(x) for x in e[32:48]) / 8) + 1) / 2
    c = sum(abs(float(x)) for x in e[48:64]) / 16
    return v, a, d, c


@pytest.mark.parametrize("v", np.linspace(-0.96, 0.96, 25))
@pytest.mark.parametrize("a", np.linspace(0.02, 0.98, 25))
def test_round_trip_through_engine_decoder(v, a):
    e = emotion.encode(v, a)
    assert e.dtype == np.float32 and e.shape == (64,)
    dv, da, dd, dc = engine_decode(e)
    assert abs(dv - v) < 1e-5 and abs(da - a) < 1e-5 and abs(dd - 0.5) < 1e-6
    assert abs(dc - emotion.intensity(v, a)) < 1e-6
    assert emotion.decode(e) == pytest.approx((dv, da, dd, dc), abs=1e-9)


@pytest.mark.parametrize("v,a,d", [(-1, 0, 0), (1, 1, 1), (0, 0.5, 0.5), (-1, 1, 0.2), (0.999, 0.001, 0.9)])
def test_every_dim_inside_open_interval(v, a, d):
    e = emotion.encode(v, a, d)
    assert np.all(np.abs(e) < 1.0)


def test_clipped_extremes_decode_to_the_clip_edge():
    assert emotion.decode(emotion.encode(1.0, 1.0))[0] == pytest.approx(0.96, abs=1e-5)
    assert emotion.decode(emotion.encode(-1.0, 0.0))[1] == pytest.approx(0.02, abs=1e-5)


def test_dominance_round_trip_and_unknown_is_zero():
    assert np.all(emotion.encode(0.3, 0.4)[32:48] == 0)
    assert emotion.decode(emotion.encode(0.3, 0.4, 0.8))[2] == pytest.approx(0.8, abs=1e-5)


def test_intensity_is_distance_from_neutral():
    assert emotion.intensity(0, 0.5) == 0
    assert emotion.intensity(1, 1) == pytest.approx(0.96)
    assert emotion.intensity(0.5, 0.5) < emotion.intensity(0.5, 0.9)


@pytest.mark.parametrize("bad", [(1.5, 0.5), (0, -0.1), (float("nan"), 0.5), (0, float("inf"))])
def test_out_of_range_raises(bad):
    with pytest.raises(ValueError, match="outside"):
        emotion.encode(*bad)


def test_deam_scale_conversions():
    assert emotion.from_deam_static(5, 1) == (0.0, 0.0)
    assert emotion.from_deam_static(9, 9) == (1.0, 1.0)
    assert emotion.from_deam_static(1, 5) == (-1.0, 0.5)
    assert emotion.from_deam_dynamic(-0.5, 0.0) == (-0.5, 0.5)
    with pytest.raises(ValueError):
        emotion.from_deam_static(0.5, 5)


def test_decode_batch_matches_decode():
    grid = np.stack([emotion.encode(v, a) for v in (-0.5, 0, 0.7) for a in (0.1, 0.6)])
    batch = emotion.decode_batch(grid)
    for row, e in zip(batch, grid):
        assert row == pytest.approx(emotion.decode(e), abs=1e-12)
