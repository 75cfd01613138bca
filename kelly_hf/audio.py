"""Audio front end: decoding and the kelly-mel-v1 feature (DESIGN §3).

kelly-mel-v1 turns any audio into a float32[128] vector in [-1, 1]:

1. decode (wav / mp3 / flac / ogg / anything libsndfile reads), downmix to mono
   as the mean of the channels, resample to ``SR`` = 22,050 Hz with soxr (HQ);
2. STFT: ``N_FFT`` = 2048, ``HOP`` = 512, periodic Hann window, unscaled
   (``X[k] = sum_n w[n] x[n] exp(-2j pi k n / N)``, as numpy / librosa), with
   ``center=True`` and *zero* padding of ``N_FFT // 2`` on both sides (librosa's
   default since 0.10). Frame ``i`` is centred on sample ``i * HOP``; a signal of
   ``n >= 1`` samples has ``1 + n // HOP`` frames, so even one sample yields one
   (zero-padded) frame. Zero-length audio is an :class:`AudioError`;
3. power spectrum ``|X|**2`` -> 128 mel bands with ``librosa.filters.mel``
   (fmin 0, fmax SR/2, Slaney mel scale and area normalisation, i.e. librosa's
   defaults), so before the dB step this is ``librosa.feature.melspectrogram``;
4. dB against the fixed absolute reference :data:`REF_POWER`:
   ``db = 10 * log10(P / REF_POWER)``, floored at -80 dB and mapped linearly
   (-80 dB -> -1, 0 dB -> +1), clipped to [-1, 1], per frame
   (:func:`mel_db_frames`);
5. the feature of a signal is the mean of those frames (:func:`mel_features`);
   :func:`window_features` averages the frames whose centre lies in each window.

There is no per-file normalisation, so the same sound at the same level gives
the same vector in any file, and halving the amplitude lowers every band that
is between the floor and the ceiling by ``20 * log10(2) / 40 ~= 0.1505``.

``REF_POWER`` is the mel power of the peak band (band 38) of a steady
full-scale (amplitude 1.0) 1 kHz sine, so such a sine maps to ~+1 in that band.
For a sine ``A sin(2 pi f0 t)`` the positive-frequency STFT power is
``(A / 2)**2 |W(f_k - f0)|**2``, where ``W`` is the DTFT of the Hann window (its
peak is ``sum(w) = N_FFT / 2 = 1024``; the negative-frequency image is
negligible at 1 kHz), so::

    REF_POWER = sum_k M[38, k] * |W(f_k - 1000 Hz)|**2 / 4 ~= 10554.08

with ``M`` the float32 librosa filterbank and ``f_k = k * SR / N_FFT``.
``tests/test_audio.py`` recomputes it both from this formula and from
``librosa.stft`` of a sine. Because of the Slaney area normalisation a
full-scale sine reads ~0 dB (within +-0.6 dB) up to 1 kHz and progressively
less above (about -2.5 dB at 2 kHz, -5 dB at 4 kHz, -8 dB at 8 kHz): the scale
measures level per unit of bandwidth, not per sinusoid.

Speed: decoding is libsndfile (which reads MP3 here via mpg123); if libsndfile
cannot open a source we fall back to audioread (logged). The STFT is computed
in float32 on blocks of a strided frame view with ``scipy.fft.rfft``
(``workers=1``; numpy's float32 rfft is ~3x slower here), and the mel product
uses the filterbank's banded structure (groups of bands times the bins they
touch), about 7x fewer multiplies than a dense product.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import math
import os
import tempfile

import numpy as np
import scipy.fft
import soundfile as sf
import soxr

__all__ = [
    "SR", "N_FFT", "HOP", "N_MELS", "REF_POWER", "FLOOR_DB", "AudioError",
    "load", "load_resampled", "resample",
    "mel_db_frames", "mel_features", "window_features",
]

SR = 22050
N_FFT = 2048
HOP = 512
N_MELS = 128
#: Mel power of the peak band of a full-scale 1 kHz sine (see module docstring).
REF_POWER = 10554.0815
FLOOR_DB = -80.0

_RESAMPLE_QUALITY = "HQ"   # librosa's default ("soxr_hq")
_BLOCK_FRAMES = 256        # frames per FFT block: bounded memory, cache friendly
_BANDS_PER_GROUP = 16      # mel bands per dense sub-product (see _mel_groups)

log = logging.getLogger(__name__)


class AudioError(Exception):
    """Audio that cannot be decoded or holds no samples; ``str()`` names the source."""


# ----------------------------------------------------------------------------
# Decoding


def _describe(source, name):
    """Return (object soundfile can open, display name, path or None)."""
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        return path, name or path, path
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source)), name or "<bytes>", None
    if hasattr(source, "read"):
        label = name or str(getattr(source, "name", None) or "<stream>")
        seekable = getattr(source, "seekable", None)
        if seekable is None or not seekable():
            source = io.BytesIO(source.read())   # libsndfile needs to seek
        return source, label, None
    raise TypeError(f"cannot read audio from {type(source).__name__}; "
                    "pass a path, bytes or a binary file object")


def _downmix(data: np.ndarray) -> np.ndarray:
    """(frames, channels) float32 -> mono float32 (mean of channels)."""
    channels = data.shape[1]
    if channels == 1:
        return np.ascontiguousarray(data[:, 0])
    y = data[:, 0].copy()
    for c in range(1, channels):
        y += data[:, c]
    # for stereo the scale is 0.5, so identical channels give the mono signal exactly
    y *= np.float32(1.0 / channels)
    return y


def _span(sr, offset_s, duration_s):
    start = int(round(offset_s * sr))
    frames = -1 if duration_s is None else int(round(duration_s * sr))
    return start, frames


def _decode_audioread(source, path, label, offset_s, duration_s, sf_error):
    """Fallback decoder (ffmpeg / gstreamer / ... via audioread); needs a real file."""
    log.warning("soundfile cannot decode %s (%s); falling back to audioread", label, sf_error)
    tmp = None
    try:
        import audioread

        if path is None:
            source.seek(0)
            with tempfile.NamedTemporaryFile(delete=False) as fh:
                fh.write(source.read())
            path = tmp = fh.name
        with audioread.audio_open(path) as f:
            sr, channels = int(f.samplerate), int(f.channels)
            pcm = b"".join(f)   # 16-bit signed little-endian, interleaved
    except Exception as exc:   # audioread raises many unrelated types
        raise AudioError(f"{label}: cannot decode audio "
                         f"(soundfile: {sf_error}; audioread: {exc!r})") from exc
    finally:
        if tmp is not None:
            os.unlink(tmp)
    data = np.frombuffer(pcm, dtype="<i2").astype(np.float32) * np.float32(1 / 32768)
    data = data[: data.size - data.size % channels].reshape(-1, channels)
    start, frames = _span(sr, offset_s, duration_s)
    data = data[start:] if frames < 0 else data[start:start + frames]
    return data, sr


def _decode(source, name, offset_s=0.0, duration_s=None):
    if not (math.isfinite(offset_s) and offset_s >= 0):
        raise ValueError(f"offset_s must be >= 0, got {offset_s!r}")
    if duration_s is not None and not (math.isfinite(duration_s) and duration_s > 0):
        raise ValueError(f"duration_s must be > 0 or None, got {duration_s!r}")
    src, label, path = _describe(source, name)
    try:
        f = sf.SoundFile(src)
    except (sf.SoundFileError, RuntimeError) as exc:
        data, sr = _decode_audioread(src, path, label, offset_s, duration_s, exc)
    else:
        with f:
            sr = f.samplerate
            start, frames = _span(sr, offset_s, duration_s)
            # the frame count of an MP3 is an estimate, so an offset just past the
            # real end may still fail to seek or read nothing: both end as "no audio"
            try:
                if start:
                    if start >= f.frames:
                        raise AudioError(f"{label}: offset {offset_s} s is at or beyond "
                                         f"the end ({f.frames / sr:.3f} s)")
                    f.seek(start)
                data = f.read(frames, dtype="float32", always_2d=True)
            except sf.SoundFileError as exc:
                raise AudioError(f"{label}: cannot read audio ({exc})") from exc
    if data.shape[0] == 0:
        where = f" at offset {offset_s} s" if offset_s else ""
        raise AudioError(f"{label}: zero-length audio{where}")
    y = _downmix(data)
    if not np.isfinite(y).all():
        raise AudioError(f"{label}: audio contains NaN or infinite samples")
    return y, int(sr)


def load(source, *, name=None) -> tuple[np.ndarray, int]:
    """Decode ``source`` (path, bytes or binary file object) to ``(mono float32, native sr)``.

    ``name`` labels the source in error messages (default: the path or the
    file object's ``name``). Raises :class:`AudioError` for undecodable or
    zero-length audio.
    """
    return _decode(source, name)


def load_resampled(source, *, name=None, offset_s=0.0, duration_s=None) -> np.ndarray:
    """Decode ``[offset_s, offset_s + duration_s)`` of ``source`` as mono float32 at ``SR``.

    Only the requested span is decoded (libsndfile seeks, also in MP3), so part
    of a long file is cheap. ``duration_s=None`` reads to the end; a span past
    the end raises :class:`AudioError`.
    """
    y, sr = _decode(source, name, float(offset_s), None if duration_s is None else float(duration_s))
    return resample(y, sr)


def resample(y, sr) -> np.ndarray:
    """Resample a mono signal from ``sr`` to ``SR`` with soxr (HQ); float32, deterministic.

    A non-empty input always gives at least one output sample (very short
    inputs are zero-padded first, soxr would otherwise return nothing).
    """
    y = np.ascontiguousarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"expected a mono (1-D) signal, got shape {y.shape}")
    sr = int(sr)
    if sr <= 0:
        raise ValueError(f"sample rate must be positive, got {sr}")
    if sr == SR or y.size == 0:
        return y
    min_len = -(-sr // SR) + 1
    if y.size < min_len:
        y = np.pad(y, (0, min_len - y.size))
    return soxr.resample(y, sr, SR, quality=_RESAMPLE_QUALITY)


# ----------------------------------------------------------------------------
# kelly-mel-v1


@functools.lru_cache(maxsize=1)
def _window() -> np.ndarray:
    n = np.arange(N_FFT)
    return (0.5 - 0.5 * np.cos(2 * np.pi * n / N_FFT)).astype(np.float32)   # periodic Hann


@functools.lru_cache(maxsize=1)
def _filterbank() -> np.ndarray:
    """The (N_MELS, 1 + N_FFT // 2) float32 librosa mel filterbank (computed once)."""
    import librosa   # imported lazily: slow to import and only needed here

    fb = librosa.filters.mel(sr=SR, n_fft=N_FFT, n_mels=N_MELS, fmin=0.0, fmax=SR / 2,
                             htk=False, norm="slaney", dtype=np.float32)
    fb.setflags(write=False)
    return fb


@functools.lru_cache(maxsize=1)
def _mel_groups() -> tuple:
    """Split the filterbank into (band slice, first bin, last bin + 1, weights^T) groups.

    Each band touches a contiguous run of bins, and neighbouring bands neighbouring
    runs, so 16 bands at a time against just their bins skips only zero weights
    and does ~7x fewer multiplies than the dense (1025 x 128) product.
    """
    fb = _filterbank()
    groups = []
    for b0 in range(0, N_MELS, _BANDS_PER_GROUP):
        bands = slice(b0, min(b0 + _BANDS_PER_GROUP, N_MELS))
        nz = np.flatnonzero(fb[bands].any(axis=0))
        lo, hi = (int(nz[0]), int(nz[-1]) + 1) if nz.size else (0, 0)
        groups.append((bands, lo, hi, np.ascontiguousarray(fb[bands, lo:hi].T)))
    return tuple(groups)


def _signal_at_sr(y, sr) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"expected a mono (1-D) signal, got shape {y.shape}")
    if y.size == 0:
        raise AudioError("<signal>: zero-length audio")
    y = resample(y, sr)
    if not np.isfinite(y).all():
        raise ValueError("signal contains NaN or infinite samples")
    return y


@functools.lru_cache(maxsize=1)
def _blas():
    """threadpoolctl handle on the BLAS libraries (None if threadpoolctl is missing)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:   # pragma: no cover - librosa -> scikit-learn brings it
        return None
    return ThreadpoolController().select(user_api="blas")


def _mel_power(y: np.ndarray) -> np.ndarray:
    """(n_frames, N_MELS) float32 mel power of a float32 signal at SR (steps 2-3)."""
    pad = N_FFT // 2
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(y, pad), N_FFT)[::HOP]
    window, groups = _window(), _mel_groups()
    out = np.empty((frames.shape[0], N_MELS), dtype=np.float32)
    # The small products below are big enough for OpenBLAS to split them over
    # threads, whose idle spinning during the FFTs then doubles the CPU time of
    # the whole loop; one thread is faster per CPU-second (and with one worker
    # per core it is also faster in wall time).
    blas = _blas()
    with blas.limit(limits=1) if blas is not None else contextlib.nullcontext():
        for i in range(0, frames.shape[0], _BLOCK_FRAMES):
            spec = scipy.fft.rfft(frames[i:i + _BLOCK_FRAMES] * window, axis=1,
                                  workers=1, overwrite_x=True)
            power = np.square(spec.real)
            power += np.square(spec.imag)
            block = out[i:i + _BLOCK_FRAMES]
            for bands, lo, hi, weights in groups:
                block[:, bands] = power[:, lo:hi] @ weights
    return out


def _to_mapped(power: np.ndarray) -> np.ndarray:
    """Mel power -> dB re REF_POWER, floor -80, mapped to [-1, 1] (in place, step 4)."""
    power *= np.float32(1.0 / REF_POWER)
    np.maximum(power, np.float32(1e-10), out=power)   # avoid log(0); -100 dB clips to -1
    np.log10(power, out=power)
    power *= np.float32(20.0 / -FLOOR_DB)              # 10 * log10 / 40 ...
    power += np.float32(1.0)                           # ... + 1: -80 dB -> -1, 0 dB -> +1
    np.clip(power, -1.0, 1.0, out=power)
    return power


def mel_db_frames(y, sr) -> np.ndarray:
    """Per-frame kelly-mel: (n_frames, 128) float32 in [-1, 1].

    ``y`` is a mono float signal at ``sr`` (full scale = +-1, as :func:`load`
    returns); it is resampled to ``SR`` first. Frame ``i`` is centred on
    ``i * HOP / SR`` seconds; there are ``1 + len(y_at_SR) // HOP`` frames.
    """
    return _to_mapped(_mel_power(_signal_at_sr(y, sr)))


def mel_features(y, sr) -> np.ndarray:
    """kelly-mel-v1 of a whole mono signal: float32[128], the mean of :func:`mel_db_frames`."""
    return mel_db_frames(y, sr).mean(axis=0, dtype=np.float64).astype(np.float32)


def window_features(y, sr, starts_s, duration_s) -> np.ndarray:
    """kelly-mel of each window ``[start, start + duration_s)``: (len(starts_s), 128) float32.

    The spectrogram is computed once; each row is the mean of the frames whose
    centre (``i * HOP / SR`` seconds) falls in the window, or the frame nearest
    the window's midpoint when none does (e.g. a window past the end).
    """
    starts = np.asarray(starts_s, dtype=np.float64).reshape(-1)
    duration_s = float(duration_s)
    if not (math.isfinite(duration_s) and duration_s > 0):
        raise ValueError(f"duration_s must be > 0, got {duration_s!r}")
    if not np.isfinite(starts).all():
        raise ValueError("starts_s must be finite")
    frames = mel_db_frames(y, sr)
    n = frames.shape[0]
    centres = np.arange(n) * (HOP / SR)
    lo = np.searchsorted(centres, starts, side="left")
    hi = np.searchsorted(centres, starts + duration_s, side="left")
    # window sums from a float64 prefix sum: one pass for any number of windows
    prefix = np.zeros((n + 1, N_MELS), dtype=np.float64)
    np.cumsum(frames, axis=0, dtype=np.float64, out=prefix[1:])
    count = hi - lo
    empty = count == 0
    nearest = np.clip(np.rint((starts + duration_s / 2) * (SR / HOP)), 0, n - 1).astype(np.intp)
    lo = np.where(empty, nearest, lo)
    hi = np.where(empty, nearest + 1, hi)
    out = (prefix[hi] - prefix[lo]) / (hi - lo)[:, None]
    return out.astype(np.float32)
