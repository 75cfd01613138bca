"""The five Kelly models and what each trains on (DESIGN §1, §4).

Every model is a dense MLP: the engine (RTNeural) feeds one vector at a time and
keeps no state between calls, so there is nothing for a recurrent layer to carry.
A model is ``body`` (Linear + hidden activation, ..., last Linear) followed by
``out``, the output activation the engine applies. ``forward(x, logits=True)``
stops before ``out``: the softmax models train on logits (a stable log-softmax
cross-entropy) while the engine, the export and TorchScript see probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

HIDDEN_ACTIVATION = nn.ReLU
_OUTPUT = {"tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "softmax": lambda: nn.Softmax(dim=-1), "": nn.Identity}


class KellyMLP(nn.Module):
    """Dense stack ``SIZES[0] -> ... -> SIZES[-1]``; subclasses set SIZES and OUTPUT."""

    SIZES: tuple[int, ...] = ()
    OUTPUT: str = ""
    IO_NAMES: tuple[str, str] = ("", "")   # ONNX input and output names (the original Kelly pipeline's)

    def __init__(self):
        super().__init__()
        layers: list[nn.Module] = []
        pairs = list(zip(self.SIZES[:-1], self.SIZES[1:]))
        for i, (n_in, n_out) in enumerate(pairs):
            layers.append(nn.Linear(n_in, n_out))
            if i < len(pairs) - 1:
                layers.append(HIDDEN_ACTIVATION())
        self.body = nn.Sequential(*layers)
        self.out = _OUTPUT[self.OUTPUT]()

    def forward(self, x: torch.Tensor, logits: bool = False) -> torch.Tensor:
        z = self.body(x)
        return z if logits else self.out(z)


class EmotionRecognizer(KellyMLP):
    """mel (128) -> emotion embedding (64)."""
    SIZES = (128, 512, 256, 128, 64)
    OUTPUT = "tanh"
    IO_NAMES = ("audio_features", "emotion_embedding")


class MelodyTransformer(KellyMLP):
    """emotion (64) -> note probabilities (128). A dense model despite the name (the engine's file name)."""
    SIZES = (64, 256, 256, 256, 128)
    OUTPUT = "softmax"
    IO_NAMES = ("emotion_embedding", "midi_notes")


class HarmonyPredictor(KellyMLP):
    """context (128) = [emotion, mel[0:64]] -> chord probabilities (64)."""
    SIZES = (128, 256, 128, 64)
    OUTPUT = "softmax"
    IO_NAMES = ("context", "chord_probs")


class DynamicsEngine(KellyMLP):
    """context (32) = emotion[0:32] -> expression (16) in [0, 1]."""
    SIZES = (32, 128, 64, 16)
    OUTPUT = "sigmoid"
    IO_NAMES = ("context", "expression_params")


class GroovePredictor(KellyMLP):
    """emotion (64) -> groove (32) in [-1, 1]."""
    SIZES = (64, 128, 64, 32)
    OUTPUT = "tanh"
    IO_NAMES = ("emotion_embedding", "groove_params")


@dataclass(frozen=True)
class ModelSpec:
    """One model and the corpus columns it learns from."""

    key: str                       # the --models name
    model: type[KellyMLP]
    corpus: str                    # builder name (kelly_hf.loading.CORPORA)
    folder: str                    # folder under --datasets-dir
    configs: tuple[str, ...]       # preferred builder configs, first that exists wins (else the default)
    input: str
    target: str
    loss: str                      # "mse" on the output, or "soft_ce" on the logits
    streaming: bool = False

    @property
    def filename(self) -> str:
        return self.model.__name__.lower()


SPECS: dict[str, ModelSpec] = {s.key: s for s in (
    ModelSpec("emotion", EmotionRecognizer, "deam", "deam", ("song",), "mel", "emotion", "mse"),
    ModelSpec("melody", MelodyTransformer, "lakh", "lakh_midi", (), "emotion", "notes", "soft_ce", streaming=True),
    ModelSpec("harmony", HarmonyPredictor, "harmony", "harmony", (), "context", "chords", "soft_ce"),
    ModelSpec("dynamics", DynamicsEngine, "maestro", "maestro", ("segments",), "context", "expression", "mse"),
    ModelSpec("groove", GroovePredictor, "groove", "groove", ("full",), "emotion", "groove", "mse"),
)}


def row_losses(spec: ModelSpec, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Loss of each row (shape [B]); the training loss is their mean."""
    if spec.loss == "soft_ce":
        return -(y * torch.log_softmax(model(x, logits=True), dim=-1)).sum(-1)
    return ((model(x) - y) ** 2).mean(-1)


def constant_row_losses(spec: ModelSpec, prediction: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-row loss of predicting ``prediction`` (the train mean) for every row: the baseline."""
    if spec.loss == "soft_ce":
        return -(y * torch.log(prediction.clamp_min(1e-12))).sum(-1)
    return ((prediction - y) ** 2).mean(-1)
