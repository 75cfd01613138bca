"""Export to the engine: RTNeural ``json_parser::parseJson`` JSON and TorchScript.

RTNeural JSON: ``{"in_shape": [null, N], "layers": [...]}`` with one entry per
dense layer, ``{"type": "dense", "activation": ..., "shape": [null, out],
"weights": [kernel [in][out], bias [out]]}``. The activation written for a layer
is read from the module that follows its Linear (never assumed), so the file
says exactly what the trained model computes. :func:`numpy_forward` runs a file
the way the engine does; the tests check it against torch.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import torch
from torch import nn

# Module type -> RTNeural activation name ("" = linear).
ACTIVATIONS = {nn.Tanh: "tanh", nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Softmax: "softmax", nn.Identity: ""}


def activation_name(module: nn.Module) -> str:
    """The RTNeural name of an activation module; an unsupported one is an error, not a guess."""
    for cls, name in ACTIVATIONS.items():
        if type(module) is cls:
            if isinstance(module, nn.Softmax) and module.dim not in (-1, 1):
                raise ValueError(f"softmax over dim {module.dim}: the engine applies it over the features")
            return name
    raise ValueError(f"no RTNeural activation for {type(module).__name__}")


def _dense_layers(model: nn.Module) -> list[tuple[nn.Linear, nn.Module]]:
    """(Linear, its activation) pairs in order: the body's modules, then ``model.out``."""
    modules = list(model.body) + [model.out]
    pairs, i = [], 0
    while i < len(modules):
        linear = modules[i]
        if not isinstance(linear, nn.Linear):
            raise ValueError(f"expected a Linear at position {i}, found {type(linear).__name__}")
        follower = modules[i + 1] if i + 1 < len(modules) else nn.Identity()
        if isinstance(follower, nn.Linear):      # two Linears in a row: a linear layer
            pairs.append((linear, nn.Identity()))
            i += 1
        else:
            pairs.append((linear, follower))
            i += 2
    return pairs


def rtneural_dict(model: nn.Module) -> dict:
    """The model as an RTNeural JSON document (a dict)."""
    layers = []
    pairs = _dense_layers(model)
    for linear, act in pairs:
        weight = linear.weight.detach().cpu().double().numpy()
        bias = (linear.bias.detach().cpu().double().numpy() if linear.bias is not None
                else np.zeros(linear.out_features))
        layers.append({
            "type": "dense",
            "activation": activation_name(act),
            "shape": [None, linear.out_features],
            "weights": [weight.T.tolist(), bias.tolist()],   # kernel is [in][out]
        })
    return {"in_shape": [None, pairs[0][0].in_features], "layers": layers}


def write_rtneural(model: nn.Module, path) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(rtneural_dict(model), f)


def write_torchscript(model: nn.Module, path) -> None:
    """TorchScript of the model as the engine sees it (``forward(x)`` -> activated output)."""
    was_training = model.training
    model.eval()
    with warnings.catch_warnings():  # torch.jit is deprecated in torch 2.x but still the .pt C++ loads
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(model).save(str(path))
    model.train(was_training)


def numpy_forward(doc: dict, x) -> np.ndarray:
    """Run an RTNeural JSON document on rows ``x`` [B, in] in float64, like the engine."""
    h = np.asarray(x, dtype=np.float64)
    assert h.shape[-1] == doc["in_shape"][1], (h.shape, doc["in_shape"])
    for layer in doc["layers"]:
        if layer["type"] != "dense":
            raise ValueError(f"numpy_forward only runs dense layers, got {layer['type']}")
        kernel, bias = (np.asarray(w, dtype=np.float64) for w in layer["weights"])
        h = h @ kernel + bias
        act = layer["activation"]
        if act == "tanh":
            h = np.tanh(h)
        elif act == "relu":
            h = np.maximum(h, 0.0)
        elif act == "sigmoid":
            h = 1.0 / (1.0 + np.exp(-h))
        elif act == "softmax":
            h = np.exp(h - h.max(-1, keepdims=True))
            h /= h.sum(-1, keepdims=True)
        elif act != "":
            raise ValueError(f"unknown activation {act!r}")
    return h
