"""Groove MIDI: drum performances -> the groove model's (emotion, groove) pairs.

Reads the Groove MIDI Dataset as released (``groove/info.csv`` +
``drummer*/session*/*.mid``), ``groove-v1.0.0-midionly.zip`` without extracting
it, and the seed layout (``groove/*.mid``, metadata from the file names, hash
splits), found recursively under data_dir, with an optional emotion labels file.
Metadata, bars and the vector maths live in kelly_hf.groove; column semantics are
in this folder's README.md.

A config is its two knobs: ``window`` ("full", "2bar", "4bar") and ``bar_policy``
("kelly", "tfds": TFDS's bar rule, for counts comparable with published ones); the
named configs are ``2bar``, ``2bar-tfds`` and so on, and a knob given as a keyword
(``load_dataset("groove", "2bar", bar_policy="tfds", ...)``) overrides the name's.
"""

from dataclasses import dataclass

import datasets

from kelly_hf import groove, splits
from kelly_hf.builder import KellyBuilder, KellyConfig
from kelly_hf.inputs import Problem

_CITATION = """\
@inproceedings{gillick2019learning,
  title={Learning to Groove with Inverse Sequence Transformations},
  author={Jon Gillick and Adam Roberts and Jesse Engel and Douglas Eck and David Bamman},
  booktitle={International Conference on Machine Learning (ICML)}, pages={2269--2279}, year={2019}}
"""
_VERSION = datasets.Version("1.0.0")


@dataclass
class GrooveConfig(KellyConfig):
    """``window``: "full" (one row per take), "2bar" or "4bar" (windows, hop one bar);
    ``bar_policy``: "kelly" (real bar lengths, length = last note) or "tfds" (TFDS's rule)."""

    window: str = "full"
    bar_policy: str = "kelly"


def _config(window: str, bar_policy: str, description: str) -> GrooveConfig:
    return GrooveConfig(name=groove.config_name(window, bar_policy), version=_VERSION, window=window,
                        bar_policy=bar_policy, description=description)


_TFDS = " with TFDS's bar rule (quarter-note bars, pretty_midi end time, empty windows kept)"


class Groove(KellyBuilder):
    """Groove MIDI for the Kelly groove model (emotion 64 -> groove 32)."""

    VERSION = _VERSION
    BUILDER_CONFIG_CLASS = GrooveConfig
    LOOKS_FOR = groove.LOOKED_FOR
    ID_COLUMN = "id"
    RANGES = {"groove": (-1.0, 1.0), "emotion": (-1.0, 1.0), "valence": (-1.0, 1.0), "arousal": (0.0, 1.0),
              "segment_start": (0.0, 1e5), "segment_end": (0.0, 1e5), "duration": (0.0, 1e5)}
    DISTRIBUTIONS = ()
    BUILDER_CONFIGS = [
        _config("full", "kelly", "One row per take."),
        _config("2bar", "kelly", "One row per 2-bar window, hop one bar."),
        _config("4bar", "kelly", "One row per 4-bar window, hop one bar."),
        _config("2bar", "tfds", "One row per 2-bar window, hop one bar" + _TFDS + "."),
        _config("4bar", "tfds", "One row per 4-bar window, hop one bar" + _TFDS + "."),
    ]
    DEFAULT_CONFIG_NAME = "full"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        groove.check_config(self.config.window, self.config.bar_policy)   # a bad knob fails before any work

    def _info(self):
        return datasets.DatasetInfo(description=__doc__, features=groove.features(), citation=_CITATION,
                                    homepage="https://magenta.tensorflow.org/datasets/groove", license="CC BY 4.0")

    def _split_generators(self, dl_manager):
        by_split, problems = groove.catalog(self.config.data_dir)
        for p in problems:
            self.report(p)
        # takes is the one list in gen_kwargs, so num_proc shards it
        return [datasets.SplitGenerator(name=s, gen_kwargs={"takes": by_split[s]}) for s in splits.SPLITS]

    def _generate_examples(self, takes):
        for item in groove.rows(takes, self.config.window, self.config.bar_policy):
            if isinstance(item, Problem):
                self.report(item)
            else:
                yield item
