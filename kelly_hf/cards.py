"""Dataset cards: the YAML header of ``builders/<name>/README.md`` from the builder.

The header's ``configs`` and ``dataset_info`` (features per config) are generated
from the builder class, so the card cannot drift from the code; the rest of the
header (license, tags, pretty name) and the prose are written by hand.
``python -m kelly_hf.cards NAME`` rewrites the generated part; a test checks it.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import datasets
import yaml

from kelly_hf import loading


def builder_features(cls, config) -> datasets.Features:
    """The features a builder declares for ``config`` (``_info`` reads only ``self.config``)."""
    obj = cls.__new__(cls)
    obj.config = config
    return obj._info().features


def generated_header(cls) -> dict:
    configs = cls.BUILDER_CONFIGS
    default = cls.DEFAULT_CONFIG_NAME or configs[0].name
    return {
        "configs": [{"config_name": c.name, **({"default": True} if c.name == default else {})} for c in configs],
        "dataset_info": [{"config_name": c.name, **datasets.DatasetInfo(features=builder_features(cls, c))._to_yaml_dict()}
                         for c in configs],
    }


def split_card(text: str) -> tuple[dict, str]:
    """(YAML header, prose) of a card."""
    if not text.startswith("---\n"):
        return {}, text
    head, _, body = text[4:].partition("\n---\n")
    return yaml.safe_load(head) or {}, body


def card_path(name: str) -> Path:
    return Path(inspect.getfile(loading.builder_class(name))).with_name("README.md")


def render(name: str) -> str:
    header, body = split_card(card_path(name).read_text(encoding="utf-8"))
    header.update(generated_header(loading.builder_class(name)))
    return "---\n" + yaml.safe_dump(header, sort_keys=False, allow_unicode=True, width=100) + "---\n" + body


if __name__ == "__main__":
    for corpus in sys.argv[1:] or loading.available():
        card_path(corpus).write_text(render(corpus), encoding="utf-8")
        print(f"updated {card_path(corpus)}")
