"""kelly-mel-v1 (DESIGN §3): decoding, the fixed dB reference and the feature's invariances."""

import io
import logging
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf

from kelly_hf import audio
from kelly_hf.audio import HOP, N_FFT, N_MELS, SR, AudioError

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
DEAM_MP3 = FIXTURES / "deam" / "MEMD_audio" / "3.mp3"
# audioread (the fallback decoder) imports stdlib modules deprecated in 3.11
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:audioread")

HALF_STEP = 20 * np.log10(2) / 40   # halving the amplitude, in mapped units (~0.1505)
PEAK_BAND_1K = 38                    # mel band holding 1 kHz


def need(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"fixture missing: {path} (CI clones the repo with shared/ beside it)")
    return path


def maestro_wav() -> Path:
    wavs = sorted((FIXTURES / "maestro" / "maestro-v2.0.0" / "2018").glob("*.wav"))
    if not wavs:
        pytest.fail(f"no MAESTRO wav fixture under {FIXTURES}")
    return wavs[0]


def tone(sr, freqs=((1000.0, 1.0),), dur=2.0, noise=0.0, seed=0):
    """Sum of sines [(Hz, amplitude)] plus optional white noise, float32 at ``sr``."""
    t = np.arange(int(round(dur * sr))) / sr
    y = sum(a * np.sin(2 * np.pi * f * t + 0.1 * k) for k, (f, a) in enumerate(freqs))
    if noise:
        y = y + noise * np.random.default_rng(seed).standard_normal(t.size)
    return np.asarray(y, dtype=np.float32)


def reference_frames(y, sr):
    """kelly-mel frames via the librosa reference path, independent of kelly_hf's STFT."""
    z = librosa.resample(np.asarray(y, np.float32), orig_sr=sr, target_sr=SR, res_type="soxr_hq") if sr != SR else y
    mel = librosa.feature.melspectrogram(y=z, sr=SR, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS).T
    db = 10 * np.log10(np.maximum(mel, 1e-30) / audio.REF_POWER)
    return np.clip(db / 40 + 1, -1, 1)


# -- the reference constant ---------------------------------------------------


def test_reference_constant_from_window_dtft():
    # REF = sum_k M[38, k] * |W(f_k - 1 kHz)|^2 / 4, W = DTFT of the periodic Hann window
    fb = librosa.filters.mel(sr=SR, n_fft=N_FFT, n_mels=N_MELS).astype(np.float64)
    window = librosa.filters.get_window("hann", N_FFT, fftbins=True)
    fk = np.arange(N_FFT // 2 + 1) * SR / N_FFT
    W = np.exp(-2j * np.pi * np.outer(fk - 1000.0, np.arange(N_FFT)) / SR) @ window
    bands = fb @ (np.abs(W) ** 2 / 4)
    assert window.sum() == pytest.approx(N_FFT / 2)
    assert int(bands.argmax()) == PEAK_BAND_1K
    assert bands.max() == pytest.approx(audio.REF_POWER, rel=1e-7)


def test_reference_constant_from_librosa_stft():
    y = tone(SR, dur=4.0).astype(np.float64)
    power = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP, window="hann", dtype=np.complex128)) ** 2
    mel = librosa.filters.mel(sr=SR, n_fft=N_FFT, n_mels=N_MELS) @ power
    steady = mel[:, 10:-10]   # away from the zero-padded edges
    assert int(steady.mean(axis=1).argmax()) == PEAK_BAND_1K
    assert steady[PEAK_BAND_1K].mean() == pytest.approx(audio.REF_POWER, rel=1e-6)


# -- required properties ------------------------------------------------------


def test_full_scale_1k_sine_peaks_at_plus_one():
    frames = audio.mel_db_frames(tone(SR), SR)
    feat = audio.mel_features(tone(SR), SR)
    assert feat.dtype == np.float32 and feat.shape == (N_MELS,)
    assert int(feat.argmax()) == PEAK_BAND_1K
    assert feat[PEAK_BAND_1K] > 0.95
    assert np.abs(frames[4:-4, PEAK_BAND_1K] - 1).max() < 1e-4   # steady state: 0 dB
    # at 44.1 kHz as well (the file's native rate does not matter)
    assert audio.mel_features(tone(44100), 44100)[PEAK_BAND_1K] > 0.95


@pytest.mark.parametrize("n", [1, 100, 2048, 22050 * 3])
@pytest.mark.parametrize("sr", [SR, 44100, 8000])
def test_silence_is_exactly_minus_one(n, sr):
    y = np.zeros(n, np.float32)
    assert np.all(audio.mel_db_frames(y, sr) == -1.0)
    assert np.all(audio.mel_features(y, sr) == -1.0)


SIGNALS = {
    "sine_1k": dict(freqs=((1000.0, 0.8),)),
    "sine_440": dict(freqs=((440.0, 0.6),)),
    "sine_5k": dict(freqs=((5000.0, 0.9),)),
    "chord_plus_noise": dict(freqs=((261.6, 0.3), (329.6, 0.25), (392.0, 0.2), (3000.0, 0.1)), noise=0.02),
}


@pytest.mark.parametrize("kind", sorted(SIGNALS))
@pytest.mark.parametrize("sr", [SR, 44100, 48000])
def test_halving_amplitude_lowers_by_6db(kind, sr):
    y = tone(sr, **SIGNALS[kind])
    full, half = audio.mel_db_frames(y, sr), audio.mel_db_frames(y * np.float32(0.5), sr)
    # every cell that is not clipped at either end moves by exactly -6.02 dB
    free = (full < 1.0) & (half > -1.0)
    ff, fh = audio.mel_features(y, sr), audio.mel_features(y * np.float32(0.5), sr)
    peak = int(ff.argmax())
    assert free[:, peak].all() and free.sum() >= 3 * full.shape[0]
    np.testing.assert_allclose(full[free] - half[free], HALF_STEP, atol=2e-5)
    assert ff[peak] - fh[peak] == pytest.approx(HALF_STEP, abs=1e-4)


def test_halving_one_sound_among_others():
    # the 440 Hz tone is halved while a 6 kHz tone and a noise bed stay: its band drops 0.1505
    loud = tone(SR, ((440.0, 0.5), (6000.0, 0.5)), noise=0.001)
    quiet = tone(SR, ((440.0, 0.25), (6000.0, 0.5)), noise=0.001)
    fl, fq = audio.mel_features(loud, SR), audio.mel_features(quiet, SR)
    band_440 = int(np.abs(librosa.mel_frequencies(N_MELS + 2, fmax=SR / 2)[1:-1] - 440).argmin())
    assert fl[band_440] - fq[band_440] == pytest.approx(HALF_STEP, abs=2e-3)
    band_6k = int(np.abs(librosa.mel_frequencies(N_MELS + 2, fmax=SR / 2)[1:-1] - 6000).argmin())
    assert fl[band_6k] == pytest.approx(fq[band_6k], abs=1e-3)


@pytest.mark.parametrize("sr", [44100, 48000, 32000, 96000])
def test_same_sound_any_sample_rate(sr):
    freqs = ((200.0, 0.1), (1000.0, 0.5), (3000.0, 0.25))
    base = audio.mel_features(tone(SR, freqs, dur=3.0), SR)
    other = audio.mel_features(tone(sr, freqs, dur=3.0), sr)
    np.testing.assert_allclose(other, base, atol=5e-3)
    np.testing.assert_allclose(other[base > -0.5], base[base > -0.5], atol=1e-3)


@pytest.mark.parametrize("sr", [44100, 48000, 96000, 22050])
def test_same_sound_any_file_rate(tmp_path, sr):
    """Through files too: load_resampled -> mel_features agrees across native rates."""
    freqs = ((500.0, 0.4), (2500.0, 0.2))
    path = tmp_path / f"t{sr}.wav"
    sf.write(path, tone(sr, freqs, dur=2.0), sr, subtype="FLOAT")
    got = audio.mel_features(audio.load_resampled(path), SR)
    want = audio.mel_features(tone(SR, freqs, dur=2.0), SR)
    np.testing.assert_allclose(got, want, atol=5e-3)


def test_stereo_identical_channels_equals_mono(tmp_path):
    y = tone(44100, ((700.0, 0.5),), noise=0.05)
    sf.write(tmp_path / "mono.wav", y, 44100, subtype="FLOAT")
    sf.write(tmp_path / "stereo.wav", np.stack([y, y], axis=1), 44100, subtype="FLOAT")
    mono, sr_m = audio.load(tmp_path / "mono.wav")
    stereo, sr_s = audio.load(tmp_path / "stereo.wav")
    assert sr_m == sr_s == 44100
    assert np.array_equal(mono, stereo) and np.array_equal(mono, y)
    assert audio.mel_features(stereo, sr_s).tobytes() == audio.mel_features(mono, sr_m).tobytes()


def test_multichannel_downmix_is_channel_mean(tmp_path):
    rng = np.random.default_rng(1)
    data = (rng.standard_normal((4000, 4)) * 0.1).astype(np.float32)
    sf.write(tmp_path / "quad.wav", data, 16000, subtype="FLOAT")
    y, sr = audio.load(tmp_path / "quad.wav")
    assert sr == 16000 and y.dtype == np.float32 and y.shape == (4000,)
    np.testing.assert_allclose(y, data.mean(axis=1), atol=1e-7)


@pytest.mark.parametrize("n", [1, 2, 511, 512, 2047])
@pytest.mark.parametrize("sr", [SR, 44100, 48000, 96000, 8000])
def test_shorter_than_one_window(n, sr):
    y = np.full(n, 0.5, np.float32)
    frames = audio.mel_db_frames(y, sr)
    n_res = audio.resample(y, sr).size
    assert n_res >= 1
    assert frames.shape == (1 + n_res // HOP, N_MELS) and frames.dtype == np.float32
    assert np.isfinite(frames).all() and frames.min() >= -1 and frames.max() <= 1
    feat = audio.mel_features(y, sr)
    assert feat.shape == (N_MELS,) and np.isfinite(feat).all()


def test_one_sample_file_and_empty_file(tmp_path):
    sf.write(tmp_path / "one.wav", np.array([0.25], np.float32), 48000)
    y, sr = audio.load(tmp_path / "one.wav")
    assert y.shape == (1,) and sr == 48000
    assert audio.mel_features(y, sr).shape == (N_MELS,)
    assert audio.mel_features(audio.load_resampled(tmp_path / "one.wav"), SR).shape == (N_MELS,)

    sf.write(tmp_path / "empty.wav", np.zeros(0, np.float32), 22050)
    with pytest.raises(AudioError, match="empty.wav.*zero-length"):
        audio.load(tmp_path / "empty.wav")
    with pytest.raises(AudioError, match="empty.wav"):
        audio.load_resampled(tmp_path / "empty.wav")
    with pytest.raises(AudioError, match="zero-length"):
        audio.mel_features(np.zeros(0, np.float32), SR)


def test_unreadable_audio_names_the_file(tmp_path):
    bad = tmp_path / "not_audio.mp3"
    bad.write_bytes(b"this is not audio " * 100)
    with pytest.raises(AudioError, match="not_audio.mp3.*cannot decode"):
        audio.load(bad)
    with pytest.raises(AudioError, match="missing.wav"):
        audio.load(tmp_path / "missing.wav")
    with pytest.raises(AudioError, match="track 7"):
        audio.load(b"garbage" * 50, name="track 7")
    with pytest.raises(AudioError, match="<bytes>"):
        audio.load(b"")


def test_non_finite_samples_are_an_error(tmp_path):
    y = np.zeros(1000, np.float32)
    y[10] = np.nan
    sf.write(tmp_path / "nan.wav", y, 22050, subtype="FLOAT")
    with pytest.raises(AudioError, match="nan.wav.*NaN"):
        audio.load(tmp_path / "nan.wav")
    with pytest.raises(ValueError):
        audio.mel_features(y, SR)


def test_deterministic_bytes():
    y = tone(44100, ((300.0, 0.3), (2000.0, 0.2)), noise=0.01)
    a = audio.mel_db_frames(y, 44100)
    b = audio.mel_db_frames(y.copy(), 44100)
    assert a.tobytes() == b.tobytes()
    assert audio.mel_features(y, 44100).tobytes() == audio.mel_features(y.copy(), 44100).tobytes()


def test_matches_librosa_reference_path():
    y = tone(44100, ((220.0, 0.3), (1500.0, 0.2)), noise=0.02, dur=3.0)
    np.testing.assert_allclose(audio.mel_db_frames(y, 44100), reference_frames(y, 44100), atol=1e-4)


# -- formats and real fixtures ------------------------------------------------


@pytest.mark.parametrize("fmt,subtype,tol", [("WAV", "PCM_16", 1e-3), ("FLAC", "PCM_24", 1e-3), ("OGG", "VORBIS", 0.03)])
@pytest.mark.parametrize("sr", [8000, 11025, 32000, 44100, 48000, 96000])
def test_formats_and_rates(tmp_path, fmt, subtype, tol, sr):
    y = tone(sr, ((440.0, 0.5), (1000.0, 0.25)), dur=1.5)
    path = tmp_path / f"t.{fmt.lower()}"
    sf.write(path, y, sr, format=fmt, subtype=subtype)
    got, got_sr = audio.load(path)
    assert got_sr == sr and got.dtype == np.float32 and got.ndim == 1
    assert abs(got.size - y.size) <= 0.01 * sr   # vorbis may pad a little
    feat = audio.mel_features(got, got_sr)
    want = audio.mel_features(y, sr)
    for band in (int(want.argmax()), PEAK_BAND_1K):
        assert feat[band] == pytest.approx(want[band], abs=tol)


def test_deam_mp3_fixture():
    path = need(DEAM_MP3)
    y, sr = audio.load(path)
    assert sr == 44100 and y.dtype == np.float32
    assert y.size / sr == pytest.approx(45.0, abs=0.1)
    z = audio.load_resampled(path)
    assert z.dtype == np.float32 and z.size == pytest.approx(y.size * SR / sr, abs=1)
    feat = audio.mel_features(z, SR)
    assert feat.shape == (N_MELS,) and feat.dtype == np.float32
    assert -1 <= feat.min() and feat.max() <= 1 and feat.std() > 0.05   # real music, not a constant
    # librosa's reference path (librosa.load + melspectrogram) gives the same numbers
    ref_y, _ = librosa.load(path, sr=SR)
    np.testing.assert_allclose(audio.mel_db_frames(z, SR), reference_frames(ref_y, SR), atol=1e-4)
    # bytes and file objects decode identically to the path
    data = path.read_bytes()
    assert np.array_equal(audio.load(data)[0], y)
    with open(path, "rb") as fh:
        assert np.array_equal(audio.load(fh)[0], y)

    class Pipe(io.RawIOBase):   # a non-seekable stream (e.g. a pipe or an HTTP body)
        def __init__(self):
            self._buf = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, b):
            return self._buf.readinto(b)

    assert np.array_equal(audio.load(Pipe())[0], y)
    assert audio.mel_features(audio.load_resampled(data), SR).tobytes() == feat.tobytes()


def test_maestro_stereo_48k_wav():
    path = maestro_wav()
    raw, raw_sr = sf.read(path, dtype="float32", always_2d=True)
    assert raw.shape[1] == 2 and raw_sr == 48000
    y, sr = audio.load(path)
    assert sr == 48000
    np.testing.assert_allclose(y, raw.mean(axis=1), atol=1e-7)
    z = audio.load_resampled(path)
    assert z.size == round(raw.shape[0] * SR / 48000)
    feat = audio.mel_features(z, SR)
    assert feat.shape == (N_MELS,) and feat.max() > -0.7   # a quiet piano (peak 0.03), well above the floor


def test_offset_and_duration_read_a_part():
    path = need(DEAM_MP3)
    full = audio.load_resampled(path)
    part = audio.load_resampled(path, offset_s=10.0, duration_s=5.0)
    assert part.size == 5 * SR
    # equal to the same span of the whole file, away from the resampler's edge transients
    np.testing.assert_allclose(part[2000:-2000], full[10 * SR + 2000:15 * SR - 2000], atol=1e-4)
    tail = audio.load_resampled(path, offset_s=40.0)
    assert tail.size / SR == pytest.approx(5.02, abs=0.05)
    with pytest.raises(AudioError, match="3.mp3.*beyond the end"):
        audio.load_resampled(path, offset_s=60.0, duration_s=1.0)
    with pytest.raises(ValueError):
        audio.load_resampled(path, offset_s=-1.0)


def test_offset_in_generated_wav(tmp_path):
    y = tone(32000, ((600.0, 0.3),), dur=4.0)
    y[2 * 32000:] = 0.0
    sf.write(tmp_path / "a.wav", y, 32000, subtype="FLOAT")
    loud = audio.mel_features(audio.load_resampled(tmp_path / "a.wav", duration_s=1.5), SR)
    silent = audio.mel_features(audio.load_resampled(tmp_path / "a.wav", offset_s=2.5), SR)
    assert loud.max() > 0.5 and np.all(silent == -1.0)


def test_audioread_fallback(tmp_path, monkeypatch, caplog):
    """When libsndfile cannot open a source, audioread decodes it (a PCM wav here)."""
    y = tone(16000, ((500.0, 0.5),), dur=0.5)
    path = tmp_path / "pcm.wav"
    sf.write(path, y, 16000, subtype="PCM_16")
    want, _ = audio.load(path)

    def refuse(*args, **kwargs):
        raise RuntimeError("forced failure")

    monkeypatch.setattr(audio.sf, "SoundFile", refuse)
    with caplog.at_level(logging.WARNING, logger="kelly_hf.audio"):
        got, sr = audio.load(path)
    assert sr == 16000 and np.array_equal(got, want)
    assert "audioread" in caplog.text and "pcm.wav" in caplog.text
    got_bytes, _ = audio.load(path.read_bytes())
    assert np.array_equal(got_bytes, want)
    assert audio.load_resampled(path, offset_s=0.25).size == pytest.approx(0.25 * SR, abs=1)


# -- windows -----------------------------------------------------------------


def brute_force_windows(frames, starts, duration):
    centres = np.arange(frames.shape[0]) * HOP / SR
    rows = []
    for s in starts:
        inside = (centres >= s) & (centres < s + duration)
        if inside.any():
            rows.append(frames[inside].mean(axis=0))
        else:
            rows.append(frames[int(np.abs(centres - (s + duration / 2)).argmin())])
    return np.array(rows)


def test_window_features_match_brute_force():
    sr = 44100
    y = np.concatenate([tone(sr, ((1000.0, 0.5),), dur=3.0), np.zeros(3 * sr, np.float32),
                        tone(sr, ((300.0, 0.2),), noise=0.01, dur=3.0)])
    starts = np.arange(0, 9.0, 0.5)   # DEAM: 2 Hz labels, 500 ms windows
    got = audio.window_features(y, sr, starts, 0.5)
    assert got.shape == (starts.size, N_MELS) and got.dtype == np.float32
    frames = audio.mel_db_frames(y, sr)
    np.testing.assert_allclose(got, brute_force_windows(frames, starts, 0.5), atol=1e-6)
    assert got[1, PEAK_BAND_1K] > 0.84 and np.all(got[9] == -1.0) and got[14].max() > 0
    # one window over everything is the whole-signal feature
    whole = audio.window_features(y, sr, [0.0], 100.0)[0]
    np.testing.assert_allclose(whole, audio.mel_features(y, sr), atol=1e-6)


def test_window_without_frames_takes_nearest():
    y = tone(SR, ((1000.0, 0.5),), noise=0.01, dur=2.0)
    frames = audio.mel_db_frames(y, SR)
    hop_s = HOP / SR
    # 1 ms windows between frame centres; a window past the end; one before the start
    starts = [5.2 * hop_s, 7.7 * hop_s, 100.0, -5.0]
    got = audio.window_features(y, SR, starts, 0.001)
    np.testing.assert_array_equal(got[0], frames[5])
    np.testing.assert_array_equal(got[1], frames[8])
    np.testing.assert_array_equal(got[2], frames[-1])
    np.testing.assert_array_equal(got[3], frames[0])
    np.testing.assert_allclose(got, brute_force_windows(frames, starts, 0.001), atol=1e-6)
    assert audio.window_features(y, SR, [], 0.5).shape == (0, N_MELS)
    with pytest.raises(ValueError):
        audio.window_features(y, SR, [0.0], 0.0)


def test_window_features_on_deam_mp3():
    z = audio.load_resampled(need(DEAM_MP3))
    starts = np.arange(15.0, 45.0, 0.5)   # DEAM's dynamic labels start at 15 s
    got = audio.window_features(z, SR, starts, 0.5)
    frames = audio.mel_db_frames(z, SR)
    np.testing.assert_allclose(got, brute_force_windows(frames, starts, 0.5), atol=1e-6)


def test_resample_api():
    y = tone(48000, dur=1.0)
    z = audio.resample(y, 48000)
    assert z.dtype == np.float32 and z.size == SR
    assert audio.resample(z, SR) is z or np.array_equal(audio.resample(z, SR), z)
    assert audio.resample(y.astype(np.float64), 48000).tobytes() == z.tobytes()
    with pytest.raises(ValueError):
        audio.resample(np.zeros((2, 10), np.float32), 48000)
    with pytest.raises(ValueError):
        audio.resample(y, 0)
