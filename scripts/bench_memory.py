#!/usr/bin/env python
"""Bounded memory (issue 8): peak RSS of real builds over big inputs, and whether it
grows with the size of the corpus.

    python scripts/bench_memory.py                 # the full run (see the table below), ~20-40 min
    python scripts/bench_memory.py --scale quick   # the CI-sized run (tests/test_reliability_memory.py)
    python scripts/bench_memory.py --only chords --out /tmp/mem.json

Every build runs in a fresh subprocess (``--child``) that imports the package,
warms up (symusic, the mel filterbank), records its RSS (the *baseline*), then
builds into an empty cache while a thread samples RSS every 20 ms; it reports
the peak RSS (the kernel's VmHWM), the growth over the baseline - for the build
itself (``download_and_prepare``) and with the load ``load_dataset`` does after
it - the wall and CPU time and the row count.

Scenarios (``full`` scale; ``quick`` in brackets):

* **midi**: one generated MIDI file of 50 MB [2 MB] (16 tracks, ~7.5 M notes,
  sustain pedal) built by MAESTRO (segments and piece configs) and Lakh (an
  ``lmd_full/<h>/<md5>.mid`` file) - the builders that read single big MIDI
  files; also 12.5 / 25 MB files (growth follows one file's size) and 4 files
  of 12.5 MB [1 MB vs 4 x 1 MB] (the corpus grows, the peak must not);
* **audio**: DEAM ``song`` and ``frames`` over one 10-minute MP3 [30 s]; 5
  minutes; three 10-minute files [4 x 30 s];
* **chords**: harmony over a chord JSONL of 100,000 / 300,000 / 1,000,000 rows of
  synthetic progressions (each rendered and run through the mel front end,
  cached by heard chords) [5,000 vs 20,000 rows over 200 distinct progressions].
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


# ============================================================================ inputs


def make_midi(path: Path, size_bytes: int, seed: int = 0, tracks: int = 16) -> Path:
    """A format-1 MIDI file of about ``size_bytes``: ``tracks`` piano tracks of notes
    (7 bytes a note: on with status, off as running-status velocity 0), a sustain
    pedal every 4 s, tempo 120 bpm, 480 ticks per quarter."""
    rng = np.random.default_rng(seed)
    per_track = max(1, size_bytes // tracks // 7)
    chunks = [b"MThd" + (6).to_bytes(4, "big") + (1).to_bytes(2, "big") + (tracks + 1).to_bytes(2, "big")
              + (480).to_bytes(2, "big")]
    conductor = b"\x00\xff\x51\x03\x07\xa1\x20\x00\xff\x58\x04\x04\x02\x18\x08\x00\xff\x2f\x00"
    chunks.append(b"MTrk" + len(conductor).to_bytes(4, "big") + conductor)
    for k in range(tracks):
        ch = k % 9   # never channel 9 (drums)
        notes = np.empty((per_track, 7), np.uint8)
        notes[:, 0] = 24                                  # delta before the note on
        notes[:, 1] = 0x90 | ch
        notes[:, 2] = rng.integers(36, 96, per_track)     # pitch
        notes[:, 3] = rng.integers(30, 110, per_track)    # velocity
        notes[:, 4] = 96                                  # note length in ticks
        notes[:, 5] = notes[:, 2]
        notes[:, 6] = 0                                   # velocity 0 = note off
        body = notes.tobytes()
        # a sustain pedal down/up pair every 32 notes (4 s) on this channel
        step = 32 * 7
        pedal = bytes([0, 0xB0 | ch, 64, 127, 0, 0xB0 | ch, 64, 0])
        body = b"".join(body[i:i + step] + pedal for i in range(0, len(body), step))
        body += b"\x00\xff\x2f\x00"
        chunks.append(b"MTrk" + len(body).to_bytes(4, "big") + body)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(chunks))
    return path


def midi_corpus(root: Path, builder: str, sizes: list[int]) -> Path:
    """A data_dir with one generated MIDI file per size, in ``builder``'s layout."""
    data = root / "data"
    for i, size in enumerate(sizes):
        tmp = make_midi(root / f"tmp{i}.mid", size, seed=i)
        if builder == "lakh":
            md5 = hashlib.md5(tmp.read_bytes()).hexdigest()
            target = data / "lmd_full" / md5[0] / f"{md5}.mid"
        else:
            target = data / builder / f"big_{i}.midi"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)
    return data


def write_audio(path: Path, seconds: float, seed: int = 0, sr: int = 44100) -> Path:
    """A stereo piece of ``seconds``: chords of decaying partials over noise, written as MP3
    (DEAM's format) when libsndfile can, else FLAC. Written in blocks: bounded memory."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    fmt = ("MP3", "MPEG_LAYER_III") if "MP3" in sf.available_formats() else ("FLAC", "PCM_16")
    path = path.with_suffix(".mp3" if fmt[0] == "MP3" else ".flac")
    path.parent.mkdir(parents=True, exist_ok=True)
    block = sr * 2
    with sf.SoundFile(path, "w", samplerate=sr, channels=2, format=fmt[0], subtype=fmt[1]) as f:
        t0 = 0
        total = int(seconds * sr)
        while t0 < total:
            n = min(block, total - t0)
            t = (t0 + np.arange(n)) / sr
            freqs = 110.0 * 2 ** (rng.integers(0, 24, 3) / 12)
            y = sum(np.sin(2 * np.pi * f0 * t) for f0 in freqs) * np.exp(-((t - t0 / sr) % 2.0))
            y = 0.15 * y + 0.01 * rng.standard_normal(n)
            f.write(np.stack([y, np.roll(y, 7)], axis=1).astype(np.float32))
            t0 += n
    return path


def audio_corpus(root: Path, lengths: list[float]) -> Path:
    data = root / "data"
    ids = [str(2000 + i) for i in range(len(lengths))]
    for song, seconds in zip(ids, lengths):
        write_audio(data / "MEMD_audio" / f"{song}.mp3", seconds, seed=int(song))
    ann = data / "annotations" / "annotations averaged per song"
    (ann / "song_level").mkdir(parents=True, exist_ok=True)
    (ann / "song_level" / "static_annotations_averaged_songs_2000_2058.csv").write_text(
        "song_id, valence_mean, valence_std, arousal_mean, arousal_std\n"
        + "".join(f"{s},{4 + i % 3},1.0,{5 - i % 2},1.2\n" for i, s in enumerate(ids)))
    dyn = ann / "dynamic (per second annotations)"
    dyn.mkdir(parents=True, exist_ok=True)
    longest = max(lengths)
    times = np.arange(15000, int(longest * 1000) - 500, 500)
    header = "song_id," + ",".join(f"sample_{t}ms" for t in times) + "\n"
    for name, base in (("valence.csv", 0.1), ("arousal.csv", -0.2)):
        rows = []
        for i, (song, seconds) in enumerate(zip(ids, lengths)):
            n = int(((times + 500) <= seconds * 1000).sum())
            values = base + 0.3 * np.sin(np.arange(n) / 20 + i)
            rows.append(song + "," + ",".join(f"{v:.4f}" for v in values) + "\n")
        (dyn / name).write_text(header + "".join(rows))
    return data


def chords_corpus(root: Path, rows: int, distinct: int | None = None, seed: int = 0) -> Path:
    """A JSONL of ``rows`` synthetic progressions (the synthetic harmony writer's generator);
    ``distinct``: cycle through that many (rendering cached), else all different."""
    from kelly_hf.synthetic.harmony import progression

    rng = np.random.default_rng(seed)
    data = root / "data" / "harmony"
    data.mkdir(parents=True, exist_ok=True)
    pool = None
    if distinct:
        pool = [progression(rng, float(rng.uniform(-1, 1)), float(rng.uniform(0, 1)), int(rng.integers(4, 13)))
                for _ in range(distinct)]
    with open(data / "progressions.jsonl", "w", encoding="utf-8") as f:
        for i in range(rows):
            v, a = round(float(rng.uniform(-1, 1)), 3), round(float(rng.uniform(0, 1)), 3)
            chords = pool[i % distinct] if pool else progression(rng, v, a, int(rng.integers(4, 13)))
            f.write(json.dumps({"name": f"p{i:07d}", "chords": chords, "valence": v, "arousal": a}) + "\n")
    return data


# ============================================================================ measuring (child)


def _rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def child(builder: str, config: str | None, data_dir: str, cache_dir: str) -> dict:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import datasets

    import kelly_hf
    from kelly_hf import audio, harmony, loading
    from kelly_hf.midi import read_notes

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    read_notes((REPO.parent / "shared/fixtures/groove/groove/drummer1/session1/29_latin-samba_116_fill_4-4.mid")
               .read_bytes())
    harmony.heard_mel((0, 7))
    audio.mel_features(np.zeros(4096, np.float32), audio.SR)
    baseline = _rss_kb()
    samples, stop = [], threading.Event()

    def sample():
        while not stop.is_set():
            samples.append((time.time(), _rss_kb()))
            stop.wait(0.02)

    thread = threading.Thread(target=sample, daemon=True)
    t0, c0 = time.time(), time.process_time()
    thread.start()
    # the build (download_and_prepare: parse, compute, write Arrow), then the load that
    # load_dataset does after it (memory-mapping the Arrow files): peaks of each
    loading.load_builder(builder, config, data_dir=data_dir, cache_dir=cache_dir).download_and_prepare()
    prepare_peak = _status_kb("VmHWM")
    ds = kelly_hf.load_dataset(builder, config, data_dir=data_dir, cache_dir=cache_dir)
    stop.set()
    thread.join()
    wall, cpu = time.time() - t0, time.process_time() - c0
    b = loading.load_builder(builder, config, data_dir=data_dir, cache_dir=cache_dir)
    skips = loading.summarize(loading.skip_records(b))
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork and exec, so under a large
    # parent (a pytest-xdist worker) ru_maxrss reports the parent's peak, not this build's.
    peak = _status_kb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # RSS at 25 / 50 / 75 / 100 % of the build time: flat or growing?
    quart = []
    for q in (0.25, 0.5, 0.75, 1.0):
        upto = [r for t, r in samples if t <= t0 + q * wall]
        quart.append(round(max(upto) / 1024, 1) if upto else None)
    size = sum(p.stat().st_size for p in Path(data_dir).rglob("*") if p.is_file())
    return {"builder": builder, "config": config, "rows": sum(len(d) for d in ds.values()), "skips": skips,
            "input_mb": round(size / 2**20, 1), "baseline_mb": round(baseline / 1024, 1),
            "peak_mb": round(peak / 1024, 1), "growth_mb": round((peak - baseline) / 1024, 1),
            "build_growth_mb": round((prepare_peak - baseline) / 1024, 1) if prepare_peak else None,
            "peak_by_quarter_mb": quart, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1)}


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def measure(builder: str, config: str | None, data_dir: Path, timeout: float = 7200) -> dict:
    """Run one build in a fresh subprocess and return its measurements."""
    cache = Path(tempfile.mkdtemp(prefix="kelly-mem-cache-"))
    try:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", builder, "--data-dir", str(data_dir),
               "--cache-dir", str(cache)] + (["--config", config] if config else [])
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_CACHE": str(cache / "hf")}
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        if run.returncode:
            raise RuntimeError(f"{builder}/{config} over {data_dir} failed:\n{run.stderr[-3000:]}")
        return json.loads(run.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(cache, ignore_errors=True)


# ============================================================================ scenarios

MB = 1 << 20
SCALES = {
    "full": {
        "midi": [("maestro", "segments", [50 * MB]), ("maestro", "piece", [50 * MB]), ("lakh", None, [50 * MB]),
                 ("maestro", "segments", [int(12.5 * MB)]), ("maestro", "segments", [25 * MB]),
                 ("maestro", "segments", [int(12.5 * MB)] * 4), ("lakh", None, [int(12.5 * MB)] * 4)],
        "audio": [("deam", "song", [600.0]), ("deam", "frames", [600.0]), ("deam", "song", [300.0]),
                  ("deam", "song", [600.0] * 3), ("deam", "frames", [600.0] * 3)],
        "chords": [("harmony", None, 100_000, None), ("harmony", None, 300_000, None),
                   ("harmony", None, 1_000_000, None)],
    },
    "quick": {
        "midi": [("maestro", "segments", [1 * MB]), ("maestro", "segments", [1 * MB] * 4)],
        "audio": [("deam", "song", [30.0]), ("deam", "song", [30.0] * 4)],
        "chords": [("harmony", None, 5_000, 200), ("harmony", None, 20_000, 200)],
    },
}


def run_scenarios(scale: str, only: set[str], work: Path, log=print) -> list[dict]:
    from kelly_hf import loading

    have = set(loading.available())
    results, corpora = [], {}   # corpora are reused between scenarios over the same inputs
    try:
        for kind in ("midi", "audio", "chords"):
            if kind not in only:
                continue
            for spec in SCALES[scale][kind]:
                builder, config = spec[0], spec[1]
                if builder not in have:
                    log(f"skip {builder}: not installed")
                    continue
                key = (kind, builder if kind == "midi" else "",
                       tuple(tuple(x) if isinstance(x, list) else x for x in spec[2:]))
                t = time.time()
                if key not in corpora:
                    root = Path(tempfile.mkdtemp(prefix=f"kelly-mem-{kind}-", dir=work))
                    if kind == "midi":
                        data = midi_corpus(root, builder, spec[2])
                    elif kind == "audio":
                        data = audio_corpus(root, spec[2])
                    else:
                        data = chords_corpus(root, spec[2], spec[3])
                    corpora[key] = (root, data)
                root, data = corpora[key]
                if kind == "midi":
                    label = f"{len(spec[2])} x {spec[2][0] / MB:g} MB MIDI"
                elif kind == "audio":
                    label = f"{len(spec[2])} x {spec[2][0] / 60:g} min audio"
                else:
                    label = f"{spec[2]:,} chord rows" + (f" ({spec[3]} distinct)" if spec[3] else "")
                made = time.time() - t
                result = {"kind": kind, "corpus": label, "inputs_written_s": round(made, 1),
                          **measure(builder, config, data)}
                results.append(result)
                log(json.dumps(result))
    finally:
        for root, _ in corpora.values():
            shutil.rmtree(root, ignore_errors=True)
    return results


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", choices=sorted(SCALES), default="full")
    p.add_argument("--only", default="midi,audio,chords")
    p.add_argument("--out")
    p.add_argument("--work", default=tempfile.gettempdir(), help="where the generated corpora go")
    p.add_argument("--child", metavar="BUILDER", help=argparse.SUPPRESS)
    p.add_argument("--config", help=argparse.SUPPRESS)
    p.add_argument("--data-dir", help=argparse.SUPPRESS)
    p.add_argument("--cache-dir", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.config, args.data_dir, args.cache_dir)))
        return 0
    results = run_scenarios(args.scale, set(args.only.split(",")), Path(args.work))
    print("\n| corpus | builder/config | rows | input MB | baseline MB | peak MB | growth MB | "
          "peak at 25/50/75/100 % | wall s | CPU s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['corpus']} | {r['builder']}/{r['config'] or 'default'} | {r['rows']:,} | {r['input_mb']} | "
              f"{r['baseline_mb']} | {r['peak_mb']} | {r['growth_mb']} | {r['peak_by_quarter_mb']} | "
              f"{r['wall_s']} | {r['cpu_s']} |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
