"""Export: RTNeural ``json_parser::parseJson`` JSON (the engine), ONNX (ONNX Runtime) and TorchScript (libtorch).

RTNeural JSON: ``{"in_shape": [null, N], "layers": [...]}`` with one entry per
dense layer, ``{"type": "dense", "activation": ..., "shape": [null, out],
"weights": [kernel [in][out], bias [out]]}``. The activation written for a layer
is read from the module that follows its Linear (never assumed), so the file
says exactly what the trained model computes. :func:`numpy_forward` runs a file
the way the engine does; the tests check it against torch.

ONNX: opset :data:`ONNX_OPSET` (the original Kelly pipeline's), the model's
``IO_NAMES`` as input / output names, a dynamic ``batch`` axis. torch 2.13's
default (dynamo) exporter is used: the legacy TorchScript-based one is
deprecated ("will be removed"). The dynamo exporter translates to opset 18 at
the lowest, so the graph is exported at 18 and converted to 14 with
``onnx.version_converter`` (for these Gemm / activation graphs the conversion
only relabels the opset), then checked: opset, names and a dynamic batch are
asserted, not assumed.
"""

from __future__ import annotations

import json
import logging
import warnings

import numpy as np
import onnx
import onnx.version_converter
import torch
from torch import nn

ONNX_OPSET = 14
_DYNAMO_MIN_OPSET = 18   # the lowest opset torch 2.13's dynamo exporter translates to

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
    """TorchScript of the model as the engine sees it (``forward(x)`` -> activated output).

    ``torch.jit.script`` emits a DeprecationWarning in torch 2.13 (see the README);
    the ``.pt`` is kept while libtorch consumers load it.
    """
    was_training = model.training
    model.eval()
    torch.jit.script(model).save(str(path))
    model.train(was_training)


def onnx_model(model: nn.Module, opset: int = ONNX_OPSET) -> onnx.ModelProto:
    """The model as ONNX (``forward(x)`` -> activated output), named by ``IO_NAMES``, batch axis dynamic."""
    in_name, out_name = model.IO_NAMES
    was_training = model.training
    model.eval()
    example = torch.zeros(2, model.SIZES[0])
    # Each export logs that torchvision's operators are not registered: true, and irrelevant here.
    registration_log = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registration_log.level
    registration_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            # the exporter trips a deprecation inside torch itself (LeafSpec): nothing a user can act on
            warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)", category=FutureWarning)
            program = torch.onnx.export(model, (example,), dynamo=True, opset_version=max(opset, _DYNAMO_MIN_OPSET),
                                        input_names=[in_name], output_names=[out_name],
                                        dynamic_shapes=({0: torch.export.Dim("batch")},), verbose=False)
    finally:
        registration_log.setLevel(level)
        model.train(was_training)
    proto = onnx.version_converter.convert_version(program.model_proto, opset)
    onnx.checker.check_model(proto, full_check=True)
    check_onnx(proto, in_name, out_name, opset)
    return proto


def check_onnx(proto: onnx.ModelProto, in_name: str, out_name: str, opset: int = ONNX_OPSET) -> None:
    """The file's contract: one input and one output with these names, a symbolic batch axis, the opset."""
    opsets = {o.domain: o.version for o in proto.opset_import}
    if opsets.get("", opsets.get("ai.onnx")) != opset:
        raise ValueError(f"ONNX opset {opsets} is not {opset}")
    for values, name in ((proto.graph.input, in_name), (proto.graph.output, out_name)):
        if [v.name for v in values] != [name]:
            raise ValueError(f"ONNX graph names {[v.name for v in values]}, expected [{name!r}]")
        batch = values[0].type.tensor_type.shape.dim[0]
        if not batch.dim_param:
            raise ValueError(f"ONNX {name!r} has a fixed batch size {batch.dim_value}, expected a dynamic one")


def write_onnx(model: nn.Module, path, opset: int = ONNX_OPSET) -> None:
    onnx.save(onnx_model(model, opset), str(path))


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
