"""MAESTRO: piano performances -> the dynamics model's (context, expression) pairs.

Reads MAESTRO v1/v2/v3 as released (``maestro-vX.0.0/<year>/*.midi`` with the
metadata JSON or CSV), ``maestro-v3.0.0-midi.zip`` without extracting it, and the
seed layout (``maestro/*.midi``, hash splits), found recursively under data_dir.
Metadata, windows and the vector maths live in kelly_hf.maestro; column
semantics are in this folder's README.md.
"""

import datasets

from kelly_hf import maestro, splits
from kelly_hf.builder import KellyBuilder, KellyConfig
from kelly_hf.inputs import Problem

_CITATION = """\
@inproceedings{hawthorne2019enabling,
  title={Enabling Factorized Piano Music Modeling and Generation with the {MAESTRO} Dataset},
  author={Curtis Hawthorne and Andriy Stasyuk and Adam Roberts and Ian Simon and Cheng-Zhi Anna Huang
          and Sander Dieleman and Erich Elsen and Jesse Engel and Douglas Eck},
  booktitle={International Conference on Learning Representations (ICLR)}, year={2019},
  url={https://openreview.net/forum?id=r1lYRjC9F7}}
"""


class Maestro(KellyBuilder):
    """MAESTRO for the Kelly dynamics model (context = emotion[0:32] -> expression 16)."""

    VERSION = datasets.Version("1.0.0")
    LOOKS_FOR = maestro.LOOKED_FOR
    ID_COLUMN = "midi_filename"
    RANGES = {"context": (-1.0, 1.0), "expression": (0.0, 1.0), "valence": (-1.0, 1.0), "arousal": (0.0, 1.0),
              "segment_start": (0.0, 1e5), "segment_end": (0.0, 1e5), "duration": (0.0, 1e5)}
    DISTRIBUTIONS = ()
    BUILDER_CONFIGS = [
        KellyConfig(name="segments", version=VERSION,
                    description=f"One row per {maestro.WINDOW_S:g} s window, every {maestro.HOP_S:g} s."),
        KellyConfig(name="piece", version=VERSION, description="One row per performance."),
    ]
    DEFAULT_CONFIG_NAME = "segments"

    def _info(self):
        return datasets.DatasetInfo(description=__doc__, features=maestro.features(), citation=_CITATION,
                                    homepage="https://magenta.tensorflow.org/datasets/maestro",
                                    license="CC BY-NC-SA 4.0")

    def _split_generators(self, dl_manager):
        by_split, problems = maestro.catalog(self.config.data_dir)
        for p in problems:
            self.report(p)
        # performances is the one list in gen_kwargs, so num_proc shards it
        return [datasets.SplitGenerator(name=s, gen_kwargs={"performances": by_split[s]}) for s in splits.SPLITS]

    def _generate_examples(self, performances):
        for item in maestro.rows(performances, self.config.name):
            if isinstance(item, Problem):
                self.report(item)
            else:
                yield item
