"""The emotion estimate against people: accuracy on EMOPIA's test split, in one run.

EMOPIA (../shared/fixtures/emopia): piano MIDI clips with human quadrant labels;
the split is the one the EMOPIA paper measured its classifiers on (86 test clips,
32 songs, none in train or val). Decisions: high valence = ``valence > 0``, high
arousal = ``arousal > 0.5``; the quadrant is the pair. Rows:

* **v1**: the hand-weighted rule kelly_hf used before kelly-emotion-v2 (kept
  here only, as :func:`estimate_v1`), over the whole file with its MIDI tempo;
* **v2** (:func:`kelly_hf.musical_emotion.estimate_file`: the ``performance``
  variant) and every variant the builders use, each through the builder's own
  code where it has one: ``content`` on whole clips and per 15 s window cut as
  MAESTRO cuts them (``maestro.analyse``; each window counted against its
  clip's label), ``arrangement`` on the first half of each clip as Lakh splits
  a song (``lakh.summarize``), ``rhythm`` (Groove: arousal only), ``chords``
  (Harmony: valence only; each clip reduced to the triad the ``triads``
  feature finds in each 2 s frame, through ``harmony.estimate_emotion``);
* the majority class of train + val, and the paper's published rows (Hung et
  al., ISMIR 2021, Table 4: symbolic domain);
* where v1 and v2 disagree on the test clips (exact McNemar test), and both on
  the 965 train + val clips: v1 as is (it was never fitted), v2 out-of-fold
  (grouped 5-fold cross-validation by song, ``scripts/fit_emotion.py``).

Also the cost of the estimate where it is hottest, Lakh's builder (one per file): v1
and v2 per half-song, CPU time, side by side.

Writes a PNG (``--plot``, default docs/emotion_emopia_test.png): v2's valence and
arousal of every test clip, coloured by its human quadrant.

    python benchmarks/bench_emotion.py [--emopia DIR] [--plot PNG]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import time
from collections import Counter
from pathlib import Path

import numpy as np
from scipy.stats import binomtest

from kelly_hf import chords, emopia, harmony, lakh, maestro, musical_emotion
from kelly_hf.midi import read_notes, read_pitched

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures"
EMOPIA = FIXTURES / "emopia"
PAPER = [("EMOPIA paper: logistic regression, hand features", (0.581, 0.849, 0.651)),
         ("EMOPIA paper: LSTM-Attn + MIDI-like", (0.684, 0.882, 0.833))]
# Krumhansl & Kessler (1982) probe-tone profiles, tonic first (v1's key finder)
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
V1_KEYS = np.array([np.roll(KK_MAJOR, k) for k in range(12)] + [np.roll(KK_MINOR, k) for k in range(12)])
V1_KEYS = (V1_KEYS - V1_KEYS.mean(1, keepdims=True)) / V1_KEYS.std(1, keepdims=True)


def estimate_v1(pitch, velocity, start, end, tempo_bpm: float, duration_s: float) -> tuple[float, float]:
    """The v1 rule (kelly_hf.musical_emotion before kelly-emotion-v2), for comparison only."""
    if not len(pitch) or duration_s <= 0:
        return 0.0, 0.5
    durations = np.maximum(end - start, 1e-3)
    profile = np.bincount(pitch % 12, weights=durations, minlength=12)
    r = V1_KEYS @ ((profile - profile.mean()) / profile.std()) / 12.0 if profile.std() else np.zeros(24)
    mode_score = r[:12].max() - r[12:].max()
    tempo_term = np.clip((tempo_bpm - 100.0) / 60.0, -1.0, 1.0)
    register_term = np.clip((np.average(pitch, weights=durations) - 60.0) / 24.0, -1.0, 1.0)
    valence = np.clip(0.6 * np.tanh(4.0 * mode_score) + 0.25 * tempo_term + 0.15 * register_term, -1.0, 1.0)
    density = np.clip(np.unique(np.round(start, 2)).size / duration_s / 12.0, 0.0, 1.0)
    arousal = np.clip(0.35 * np.clip((tempo_bpm - 50.0) / 130.0, 0.0, 1.0) + 0.35 * density
                      + 0.3 * np.mean(velocity) / 127.0, 0.0, 1.0)
    return float(valence), float(arousal)


def _fit_script():
    """scripts/fit_emotion.py as a module (its grouped cross-validation)."""
    spec = importlib.util.spec_from_file_location("fit_emotion", REPO / "scripts" / "fit_emotion.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def chord_ids(notes) -> list[int]:
    """The clip as kelly-chords-v1 ids: the triad found in each 2 s frame that holds one."""
    found = musical_emotion.triads(notes.pitch, notes.start)
    return [chords.class_index(t % 12, "min" if t >= 12 else "maj") for t in found if t >= 0]


def windows_of(clip: emopia.Clip, root: Path) -> tuple[np.ndarray, np.ndarray]:
    """(valence, arousal) of each 15 s window MAESTRO's builder cuts from the clip."""
    midi = read_notes(root / "midis" / f"{clip.name}.mid")
    notes = midi.pitched
    length = float(notes["end"].max())
    starts, ends = maestro.windows(length, "segments")
    found = maestro.analyse(notes, midi.controls, starts, ends)
    keep = found["num_notes"] > 0
    return found["valence"][keep], found["arousal"][keep]


def measure(clips: list[emopia.Clip], root: Path):
    """{row name: (valence or None, arousal or None, the clips they score)}."""
    rows = {}
    n = [c.notes for c in clips]
    v1 = np.array([estimate_v1(p.pitch, p.velocity, p.start, p.end, p.tempo_bpm, p.duration_s) for p in n])
    rows["v1 (hand-weighted rule)"] = (v1[:, 0], v1[:, 1], clips)
    v2 = [musical_emotion.estimate_file(root / "midis" / f"{c.name}.mid") for c in clips]
    rows[f"{musical_emotion.VERSION} (estimate_file: performance)"] = (
        np.array([e.valence for e in v2]), np.array([e.arousal for e in v2]), clips)
    content = [musical_emotion.estimate(p.pitch, p.start, float(p.end.max()), variant="content") for p in n]
    rows["v2 content (MAESTRO), whole clips"] = (
        np.array([e.valence for e in content]), np.array([e.arousal for e in content]), clips)
    per_window = [windows_of(c, root) for c in clips]
    rows["v2 content (MAESTRO), 15 s windows"] = (
        np.concatenate([w[0] for w in per_window]), np.concatenate([w[1] for w in per_window]),
        [c for c, w in zip(clips, per_window) for _ in w[0]])
    halves = [lakh.summarize(p) for p in n]
    rows["v2 arrangement (Lakh), first halves"] = (
        np.array([h["valence"] for h in halves]), np.array([h["arousal"] for h in halves]), clips)
    rhythm = [musical_emotion.estimate(p.pitch, p.start, float(p.end.max()), variant="rhythm") for p in n]
    rows["v2 rhythm (Groove): arousal only"] = (None, np.array([e.arousal for e in rhythm]), clips)
    heard = [harmony.estimate_emotion(chord_ids(p)) for p in n]
    rows["v2 chords (Harmony): valence only"] = (np.array([h[0] for h in heard]), None, clips)
    return rows


def cost_per_half_song(repeat: int = 200) -> tuple[float, float, int]:
    """CPU seconds of one estimate, v1 vs v2 (``arrangement``, what Lakh's builder calls), over the
    first halves of the Lakh-like fixtures bench_lakh.py builds from; the best of 3 rounds each."""
    halves = []
    for path in sorted(FIXTURES.glob("lakh/**/*.mid")) + sorted(FIXTURES.glob("multitrack_pop/**/*.mid")):
        p = read_pitched(path)
        t = float(np.partition(p.start, len(p.start) // 2)[len(p.start) // 2])
        c = p.start < t
        halves.append((p.pitch[c], p.velocity[c], p.start[c], p.end[c], p.tempo_bpm, t))
    best = {"v1": np.inf, "v2": np.inf}
    for _ in range(3):
        for name in best:
            t0 = time.process_time()
            for _ in range(repeat):
                for pitch, velocity, start, end, tempo, t in halves:
                    if name == "v1":
                        estimate_v1(pitch, velocity, start, end, tempo, t)
                    else:
                        musical_emotion.estimate(pitch, start, t, variant="arrangement")
            best[name] = min(best[name], (time.process_time() - t0) / (repeat * len(halves)))
    return best["v1"], best["v2"], len(halves)


def plot(path: str, clips: list[emopia.Clip], valence, arousal) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    q = np.array([c.quadrant for c in clips])
    fig, ax = plt.subplots(figsize=(6.4, 5.2), dpi=120)
    colours = {1: "tab:orange", 2: "tab:red", 3: "tab:blue", 4: "tab:green"}
    names = {1: "Q1 happy", 2: "Q2 tense", 3: "Q3 sad", 4: "Q4 calm"}
    for k in (1, 2, 3, 4):
        ax.scatter(valence[q == k], arousal[q == k], s=22, c=colours[k], label=f"{names[k]} ({int((q == k).sum())})",
                   edgecolors="none", alpha=0.85)
    ax.axvline(0.0, color="grey", lw=0.8)
    ax.axhline(0.5, color="grey", lw=0.8)
    ax.set(xlim=(-1, 1), ylim=(0, 1), xlabel="estimated valence", ylabel="estimated arousal",
           title=f"{musical_emotion.VERSION} on EMOPIA test clips (human quadrant = colour)")
    ax.legend(loc="center left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--emopia", default=str(EMOPIA), help="EMOPIA root (midis/, EMOPIA_cls_split/)")
    ap.add_argument("--plot", default=str(REPO / "docs" / "emotion_emopia_test.png"), help="PNG to write")
    args = ap.parse_args(argv)
    root = Path(args.emopia)
    t0 = time.process_time()
    fitted_on = emopia.load(root, splits=("train", "val"))
    test = emopia.load(root, splits=("test",))
    rows = measure(test, root)

    print(f"EMOPIA test split: {len(test)} clips, {len({c.song for c in test})} songs "
          f"({dict(sorted(Counter(f'Q{c.quadrant}' for c in test).items()))}); "
          f"v2 fitted on train + val: {len(fitted_on)} clips")
    print(f"{'estimate':52s} {'n':>5s} {'4Q':>6s} {'arousal':>8s} {'valence':>8s}")

    def line(name, n, acc):
        print(f"{name:52s} {n:5d} " + " ".join(f"{a:{w}.3f}" if a is not None else f"{'-':>{w}s}"
                                                for a, w in zip(acc, (6, 8, 8))))

    for name, (v, a, scored) in rows.items():
        four, acc_a, acc_v = emopia.accuracy(scored, v > 0 if v is not None else np.zeros(len(scored), bool),
                                             a > 0.5 if a is not None else np.zeros(len(scored), bool))
        line(name, len(scored), (four if v is not None and a is not None else None,
                                 acc_a if a is not None else None, acc_v if v is not None else None))
    top = Counter(c.quadrant for c in fitted_on).most_common(1)[0][0]
    high_v = Counter(c.high_valence for c in fitted_on).most_common(1)[0][0]
    high_a = Counter(c.high_arousal for c in fitted_on).most_common(1)[0][0]
    _, acc_a, acc_v = emopia.accuracy(test, np.full(len(test), high_v), np.full(len(test), high_a))
    line(f"majority class of train + val (Q{top}, {'high' if high_a else 'low'} A, {'high' if high_v else 'low'} V)",
         len(test), (float(np.mean([c.quadrant == top for c in test])), acc_a, acc_v))
    for name, acc in PAPER:
        line(name, len(test), acc)

    # the test split is small: where do v1 and v2 disagree, and how do they compare on the 965 other clips?
    v1_v, v1_a, _ = rows["v1 (hand-weighted rule)"]
    v2_v, v2_a, _ = rows[f"{musical_emotion.VERSION} (estimate_file: performance)"]
    for name, one, two, truth in (("valence", v1_v > 0, v2_v > 0, [c.high_valence for c in test]),
                                  ("arousal", v1_a > 0.5, v2_a > 0.5, [c.high_arousal for c in test])):
        only_v2, only_v1 = int(np.sum((two == truth) & (one != truth))), int(np.sum((one == truth) & (two != truth)))
        p = binomtest(only_v2, only_v2 + only_v1).pvalue if only_v2 + only_v1 else 1.0
        print(f"test {name}: v2 right where v1 is wrong on {only_v2} clips, the reverse on {only_v1} "
              f"(exact McNemar p = {p:.2f})")
    fit = _fit_script()
    heads = {name: musical_emotion.HEADS[name] for name in ("valence", "arousal/performance")}
    v1_fitted_on = np.array([estimate_v1(c.notes.pitch, c.notes.velocity, c.notes.start, c.notes.end, c.notes.tempo_bpm,
                                         c.notes.duration_s) for c in fitted_on])
    print(f"train + val ({len(fitted_on)} clips; v1 was never fitted, v2 out-of-fold: grouped 5-fold by song):")
    line("  v1", len(fitted_on), emopia.accuracy(fitted_on, v1_fitted_on[:, 0] > 0, v1_fitted_on[:, 1] > 0.5))
    line(f"  {musical_emotion.VERSION} (performance)", len(fitted_on),
         emopia.accuracy(fitted_on, *fit.cross_validated(fitted_on, heads)))
    print(f"(CPU {time.process_time() - t0:.2f} s for reading {len(fitted_on) + len(test)} files and every estimate)")

    v1_s, v2_s, n = cost_per_half_song()
    print(f"cost in Lakh's builder (first halves of the {n} Lakh-like fixtures, CPU per half-song): "
          f"v1 {v1_s * 1e6:.0f} us, v2 {v2_s * 1e6:.0f} us (+{(v2_s - v1_s) * 1e6:.0f} us, {v2_s / v1_s:.2f}x)")

    v, a, _ = rows[f"{musical_emotion.VERSION} (estimate_file: performance)"]
    os.makedirs(os.path.dirname(os.path.abspath(args.plot)), exist_ok=True)
    plot(args.plot, test, v, a)
    print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
