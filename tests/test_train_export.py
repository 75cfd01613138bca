"""The exported RTNeural JSON runs like the torch model, with the real activations, and TorchScript loads."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from train import export
from train.models import SPECS


def _trained_looking(spec, seed=0):
    """A model with non-trivial weights and biases (fresh biases are small; make every term matter)."""
    torch.manual_seed(seed)
    model = spec.model()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model.eval()


def _module_activations(model):
    """What the model computes after each Linear, read from its modules, independently of export.py."""
    names = {nn.ReLU: "relu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid", nn.Softmax: "softmax", nn.Identity: ""}
    mods = list(model.body) + [model.out]
    return [names[type(m)] for m in mods if not isinstance(m, nn.Linear)]


@pytest.mark.parametrize("key", list(SPECS))
def test_rtneural_json_matches_torch(key, tmp_path):
    spec = SPECS[key]
    model = _trained_looking(spec)
    path = tmp_path / f"{spec.filename}.json"
    export.write_rtneural(model, path)
    text = path.read_text()
    doc = json.loads(text)
    sizes = spec.model.SIZES
    assert doc["in_shape"] == [None, sizes[0]] and '"in_shape": [null, ' in text
    assert [layer["type"] for layer in doc["layers"]] == ["dense"] * (len(sizes) - 1)
    for layer, n_in, n_out in zip(doc["layers"], sizes[:-1], sizes[1:]):
        kernel, bias = layer["weights"]
        assert layer["shape"] == [None, n_out]
        assert np.shape(kernel) == (n_in, n_out) and np.shape(bias) == (n_out,)
    # every layer's activation is the module the model really applies (hidden ReLU, then the output one)
    assert [layer["activation"] for layer in doc["layers"]] == _module_activations(model)
    assert doc["layers"][-1]["activation"] == spec.model.OUTPUT
    x = np.random.default_rng(1).uniform(-1, 1, size=(32, sizes[0])).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).double().numpy()
    got = export.numpy_forward(doc, x)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


def test_activation_comes_from_the_module():
    model = _trained_looking(SPECS["groove"])
    model.body[1] = nn.Tanh()            # a different hidden activation ...
    model.out = nn.Sigmoid()             # ... and output activation are what gets written
    acts = [layer["activation"] for layer in export.rtneural_dict(model)["layers"]]
    assert acts == ["tanh", "relu", "sigmoid"]
    x = torch.rand(4, 64)
    np.testing.assert_allclose(export.numpy_forward(export.rtneural_dict(model), x.numpy()),
                               model(x).detach().double().numpy(), atol=1e-5)
    model.out = nn.GELU()                # no RTNeural equivalent: an error, never a guess
    with pytest.raises(ValueError, match="GELU"):
        export.rtneural_dict(model)


def test_softmax_models_train_on_logits_and_export_probabilities():
    model = _trained_looking(SPECS["harmony"])
    x = torch.rand(3, 128)
    probs = model(x)
    assert torch.allclose(probs.sum(-1), torch.ones(3))
    assert torch.allclose(torch.softmax(model(x, logits=True), -1), probs)


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("key", ["emotion", "melody"])
def test_torchscript_round_trip(key, tmp_path):
    spec = SPECS[key]
    model = _trained_looking(spec)
    path = tmp_path / f"{spec.filename}.pt"
    export.write_torchscript(model, path)
    loaded = torch.jit.load(str(path))
    x = torch.rand(5, spec.model.SIZES[0])
    assert torch.allclose(loaded(x), model(x), atol=1e-6)


ONNX_NAMES = {"emotionrecognizer": ("audio_features", "emotion_embedding"),
              "melodytransformer": ("emotion_embedding", "midi_notes"),
              "harmonypredictor": ("context", "chord_probs"),
              "dynamicsengine": ("context", "expression_params"),
              "groovepredictor": ("emotion_embedding", "groove_params")}


@pytest.mark.parametrize("key", list(SPECS))
def test_onnx_runs_in_onnxruntime_like_torch(key, tmp_path):
    import onnx
    import onnxruntime

    spec = SPECS[key]
    model = _trained_looking(spec, seed=2)
    path = tmp_path / f"{spec.filename}.onnx"
    export.write_onnx(model, path)
    proto = onnx.load(str(path))
    assert {o.domain: o.version for o in proto.opset_import}[""] == 14
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    assert (inp.name, out.name) == ONNX_NAMES[spec.filename]
    assert inp.shape[1:] == [spec.model.SIZES[0]] and out.shape[1:] == [spec.model.SIZES[-1]]
    assert isinstance(inp.shape[0], str) and inp.shape[0] == out.shape[0]       # one symbolic batch axis
    rng = np.random.default_rng(3)
    for batch in (1, 5, 33):
        x = rng.uniform(-1, 1, size=(batch, spec.model.SIZES[0])).astype(np.float32)
        (got,) = session.run(None, {inp.name: x})
        with torch.no_grad():
            expected = model(torch.from_numpy(x)).numpy()
        assert got.shape == expected.shape == (batch, spec.model.SIZES[-1])
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


def test_onnx_contract_is_checked_not_assumed():
    import onnx

    model = _trained_looking(SPECS["groove"])
    proto = export.onnx_model(model)
    assert export.onnx_model(model).SerializeToString() == proto.SerializeToString()   # same weights, same bytes
    export.check_onnx(proto, "emotion_embedding", "groove_params")
    with pytest.raises(ValueError, match="names"):
        export.check_onnx(proto, "context", "groove_params")
    with pytest.raises(ValueError, match="opset"):
        export.check_onnx(proto, "emotion_embedding", "groove_params", opset=18)
    fixed = onnx.ModelProto()
    fixed.CopyFrom(proto)
    fixed.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 4     # a fixed batch is refused
    with pytest.raises(ValueError, match="fixed batch size 4"):
        export.check_onnx(fixed, "emotion_embedding", "groove_params")
