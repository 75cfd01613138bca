"""DEAM: song excerpts with valence/arousal labels -> the emotion recognizer's (mel, emotion) pairs.

Reads the official layout (MEMD_audio/<id>.mp3 + the song-level and 2 Hz dynamic
annotation CSVs), the distributed zips (DEAM_audio.zip, DEAM_Annotations.zip)
without extracting them, and the seed layout (audio/*.wav + annotations.csv),
found recursively under data_dir. Parsing, pairing, the static vs dynamic check
and the column maths live in kelly_hf.deam; column semantics are in this folder's
README.md.
"""

from dataclasses import dataclass

import datasets

from kelly_hf import deam, splits
from kelly_hf.builder import KellyBuilder, KellyConfig, logger

_CITATION = """\
@article{aljanaki2017deam,
  title={Developing a benchmark for emotional analysis of music},
  author={Aljanaki, Anna and Yang, Yi-Hsuan and Soleymani, Mohammad},
  journal={PLoS ONE}, volume={12}, number={3}, pages={e0173392}, year={2017},
  doi={10.1371/journal.pone.0173392}}
"""


@dataclass
class DeamConfig(KellyConfig):
    """``labels`` (song config): "static" the song-level CSVs, "dynamic" the means of the
    2 Hz labels, "auto" the song-level values except in an id block whose static valence
    and arousal disagree with the 2 Hz ones (swapped): there the 2 Hz means."""

    labels: str = "static"


class Deam(KellyBuilder):
    """DEAM for the Kelly emotion recognizer (kelly-mel-v1 -> kelly-v1 emotion)."""

    VERSION = datasets.Version("1.0.0")
    BUILDER_CONFIG_CLASS = DeamConfig
    #: notes that say the labels themselves may be wrong: logged, and shown first by `kelly-hf check`
    HEADLINE_NOTES = (deam.DISAGREE,)
    LOOKS_FOR = f"audio ({deam.AUDIO_LOOKED_FOR}) and annotation CSVs ({deam.STATIC_LOOKED_FOR})"
    ID_COLUMN = "song_id"
    RANGES = {"mel": (-1.0, 1.0), "emotion": (-1.0, 1.0), "valence": (-1.0, 1.0), "arousal": (0.0, 1.0),
              "valence_std": (0.0, 1.0), "arousal_std": (0.0, 0.5), "duration_s": (deam.MIN_SONG_S, 1e5)}
    DISTRIBUTIONS = ()
    BUILDER_CONFIGS = [
        DeamConfig(name="song", version=VERSION,
                   description="One row per song: mel over the clip, emotion from the song-level labels."),
        DeamConfig(name="frames", version=VERSION,
                   description="One row per song: the 2 Hz dynamic labels and a mel per 500 ms label window."),
    ]
    DEFAULT_CONFIG_NAME = "song"

    def _info(self):
        features = deam.frames_features() if self.config.name == "frames" else deam.song_features()
        return datasets.DatasetInfo(description=__doc__, features=features, citation=_CITATION,
                                    homepage="https://cvml.unige.ch/databases/DEAM/",
                                    license="DEAM: non-commercial research use (audio under Creative Commons licences)")

    def _split_generators(self, dl_manager):
        by_split, problems = deam.catalog(self.config.data_dir, self.config.name, self.config.labels)
        for p in problems:
            self.report(p)
            if p.reason.startswith(self.HEADLINE_NOTES) and self._skip_dir is not None:  # streaming logs all
                logger.warning("deam/%s: %s: %s", self.config.name, p.source, p.reason)
        # songs is the one list in gen_kwargs, so num_proc shards it
        return [datasets.SplitGenerator(name=s, gen_kwargs={"songs": by_split[s]}) for s in splits.SPLITS]

    def _generate_examples(self, songs):
        for item in deam.rows(songs, self.config.name, self.config.data_dir):
            if isinstance(item, deam.Problem):
                self.report(item)
            else:
                yield item
