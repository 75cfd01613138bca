"""Harmony: chord progressions -> the harmony model's (context, chords) pairs.

Reads chord_progressions.json (any of the shapes users have), JSON Lines, McGill
Billboard salami_chords.txt, POP909 chord_midi.txt, JAMS chord annotations and
Harte .lab files, found recursively under data_dir. Column semantics and the
rendering are documented in kelly_hf.harmony and in this folder's README.md.
"""

import datasets

from kelly_hf import chords, harmony, splits
from kelly_hf.builder import DataDirError, KellyBuilder, KellyConfig

_CITATION = """\
@inproceedings{burgoyne2011billboard,
  title={An Expert Ground Truth Set for Audio Chord Recognition and Music Analysis},
  author={Burgoyne, John Ashley and Wild, Jonathan and Fujinaga, Ichiro},
  booktitle={ISMIR}, year={2011}}
@inproceedings{wang2020pop909,
  title={POP909: A Pop-song Dataset for Music Arrangement Generation},
  author={Wang, Ziyu and others}, booktitle={ISMIR}, year={2020}}
"""


class Harmony(KellyBuilder):
    """Chord progressions for the Kelly harmony model (kelly-chords-v1, kelly-mel-v1)."""

    VERSION = datasets.Version("1.0.0")
    LOOKS_FOR = ("chord_progressions.json / *.json / *.jsonl, Billboard salami_chords.txt, "
                 "POP909 chord_midi.txt, *.jams or Harte *.lab files")
    ID_COLUMN = "name"
    RANGES = {"context": (-1.0, 1.0), "chords": (0.0, 1.0), "valence": (-1.0, 1.0), "arousal": (0.0, 1.0)}
    DISTRIBUTIONS = ("chords",)
    BUILDER_CONFIGS = [KellyConfig(name="default", version=VERSION,
                                 description="One row per progression.")]

    def _info(self):
        return datasets.DatasetInfo(
            description=__doc__,
            features=datasets.Features({
                "name": datasets.Value("string"),
                "key": datasets.Value("string"),
                "chord_ids": datasets.List(datasets.ClassLabel(names=list(chords.VOCAB))),
                "num_heard": datasets.Value("int32"),
                "context": datasets.List(datasets.Value("float32"), length=128),
                "chords": datasets.List(datasets.Value("float32"), length=64),
                "valence": datasets.Value("float32"),
                "arousal": datasets.Value("float32"),
                "emotion_source": datasets.Value("string"),
            }),
            citation=_CITATION,
            license="Billboard: CC0; POP909: MIT; user progressions: their own",
        )

    def _split_generators(self, dl_manager):
        files = harmony.find_inputs(self.config.data_dir)
        if not files:
            raise DataDirError(f"harmony: no chord inputs under {self.config.data_dir}; looked for {self.LOOKS_FOR}")
        return [datasets.SplitGenerator(name=s, gen_kwargs={"files": files, "split": s}) for s in splits.SPLITS]

    def _generate_examples(self, files, split):
        for rel in files:
            path = self.data_path(rel)
            try:
                for item in harmony.reader_for(path)(path, rel):
                    if isinstance(item, harmony.ProgressionError):
                        self.skip("*", rel, str(item))  # belongs to no split; recorded once
                        continue
                    if splits.hash_split(item.id) != split:
                        continue
                    ids, unknown = harmony.parse_progression(item)
                    if not ids:
                        self.skip(split, item.key, "empty progression: no chords after removing no-chord marks")
                        continue
                    if unknown:
                        self.note(split, item.key, f"unknown chord symbols mapped to OTHER: {len(unknown)} "
                                                   f"({', '.join(sorted(set(unknown))[:10])})")
                    yield item.key, harmony.example(item, ids)
            except harmony.ProgressionError as exc:
                self.skip("*", rel, str(exc))
            except (OSError, ValueError, RecursionError, KeyError, TypeError, AttributeError) as exc:
                # a file no reader can make sense of (bad encoding, nesting, JAMS structure)
                self.skip("*", rel, f"unreadable file: {type(exc).__name__}: {exc}"[:500])
