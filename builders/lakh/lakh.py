"""Lakh MIDI: 176,581 MIDI files -> the melody model's (emotion, notes) pairs.

Reads lmd_full, lmd_matched, lmd_aligned, clean_midi and the seed layout
(midi_files/*.mid), as folders or as the official .tar.gz archives (never
extracted), with an optional emotion_labels.json; found recursively under
data_dir. Layouts, ids, shards and the row maths live in kelly_hf.lakh; the
fast MIDI reading in kelly_hf.midi.read_pitched; column semantics are in this
folder's README.md.
"""

from dataclasses import dataclass

import datasets

from kelly_hf import lakh, splits
from kelly_hf.builder import KellyBuilder, KellyConfig

_CITATION = """\
@phdthesis{raffel2016learning,
  title={Learning-Based Methods for Comparing Sequences, with Applications to Audio-to-MIDI Alignment and Matching},
  author={Raffel, Colin}, school={Columbia University}, year={2016}}
"""


@dataclass
class LakhConfig(KellyConfig):
    """``max_files``: the N files with the smallest subset hash (deterministic, every split);
    ``subsets``: md5 first hex digits to keep (lmd_full's folders), e.g. ["0", "1"];
    ``archive_passes``: stripes a tar archive is read in (one decompression each, per split)."""

    max_files: int | None = None
    subsets: list | None = None
    archive_passes: int = 2


class Lakh(KellyBuilder):
    """Lakh MIDI for the Kelly melody model (emotion 64 -> note distribution 128)."""

    VERSION = datasets.Version("1.0.0")
    BUILDER_CONFIG_CLASS = LakhConfig
    LOOKS_FOR = lakh.LOOKED_FOR
    ID_COLUMN = "md5"
    RANGES = {"emotion": (-1.0, 1.0), "notes": (0.0, 1.0), "valence": (-1.0, 1.0), "arousal": (0.0, 1.0),
              "num_notes": (1, 2**31 - 1), "num_tracks": (1, 65535), "duration_s": (0.0, 1e6),
              "tempo_bpm": (0.0, 60e6), "notes_from_s": (0.0, 1e6)}
    DISTRIBUTIONS = ("notes",)
    BUILDER_CONFIGS = [
        LakhConfig(name="auto", version=VERSION, description="The first layout present: lmd_full, lmd_matched, "
                                                             "lmd_aligned, clean_midi, seed."),
        LakhConfig(name="lmd_full", version=VERSION, description="lmd_full/<h>/<md5>.mid (176,581 files)."),
        LakhConfig(name="lmd_matched", version=VERSION, description="lmd_matched/A/B/C/<MSD id>/<md5>.mid."),
        LakhConfig(name="lmd_aligned", version=VERSION, description="lmd_aligned/A/B/C/<MSD id>/<md5>.mid."),
        LakhConfig(name="clean_midi", version=VERSION, description="clean_midi/<Artist>/<Title>.mid."),
        LakhConfig(name="seed", version=VERSION, description="midi_files/*.mid (+ emotion_labels.json)."),
    ]
    DEFAULT_CONFIG_NAME = "auto"

    def _info(self):
        return datasets.DatasetInfo(description=__doc__, features=lakh.features(), citation=_CITATION,
                                    homepage="https://colinraffel.com/projects/lmd/", license="CC BY 4.0")

    def _split_generators(self, dl_manager):
        c = self.config
        plan = lakh.plan(c.data_dir, c.name, max_files=c.max_files, subsets=c.subsets,
                         archive_passes=c.archive_passes)
        for p in plan.problems:
            self.report(p)
        # shards is the one list in gen_kwargs: num_proc, DataLoader workers and ranks divide it
        return [datasets.SplitGenerator(name=s, gen_kwargs={"shards": plan.shards[s], "split": s,
                                                            "context": plan.context}) for s in splits.SPLITS]

    def _generate_examples(self, shards, split, context):
        for item in lakh.rows(shards, split, context):
            if isinstance(item, lakh.Problem):
                self.report(item)
            else:
                yield item
