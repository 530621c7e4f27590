"""The split graphs: names and shapes of the contract, ONNX Runtime equal to torch, atomic folder."""
from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from dasiamrt import spec
from dasiamrt.artifacts.model_folder import read_model_dir
from dasiamrt.fileio import sha256_file


def test_manifest_and_graph_io(tiny_model_dir, tiny_net):
    info = read_model_dir(tiny_model_dir, verify=True)
    manifest = json.loads((tiny_model_dir / "model.json").read_text())
    assert manifest["preset"] == "tiny" and manifest["opset"] == spec.OPSET
    assert manifest["check"]["max_rel_error"] <= 1e-4 and manifest["check"]["sizes"] == [255, 271, 767]
    assert info.tracker.instance_size == 255
    search = onnx.load(str(info.graph("search")))
    assert [i.name for i in search.graph.input] == [spec.SEARCH_INPUT, spec.CLS_KERNEL, spec.REG_KERNEL]
    assert [o.name for o in search.graph.output] == [spec.CLS_OUTPUT, spec.REG_OUTPUT, spec.FEATURE_OUTPUT]
    template = onnx.load(str(info.graph("template")))
    assert [o.name for o in template.graph.output] == [spec.CLS_KERNEL, spec.REG_KERNEL]
    assert manifest["graphs"]["search"]["sha256"] == sha256_file(info.graph("search"))


@pytest.mark.parametrize("size", [255, 271, 287, 767])
def test_search_graph_dynamic_size_matches_torch(tiny_model_dir, tiny_net, size):
    sess = ort.InferenceSession(str(tiny_model_dir / "search.onnx"), providers=["CPUExecutionProvider"])
    gen = torch.Generator().manual_seed(size)
    x = torch.rand((1, 3, size, size), generator=gen) * 255
    z = torch.rand((3, 3, 127, 127), generator=gen) * 255
    with torch.no_grad():
        cls_k, reg_k = tiny_net.template(z)
        expected = tiny_net.search(x, cls_k[1], reg_k[1])
    got = sess.run(None, {"search": x.numpy(), "cls_kernel": cls_k[1].numpy(), "reg_kernel": reg_k[1].numpy()})
    s = spec.score_size(size)
    assert got[0].shape == (1, 10, s, s) and got[1].shape == (1, 20, s, s) and got[2].shape[2] == s + 5
    for g, e in zip(got, expected):
        e = e.numpy()
        assert np.abs(g - e).max() <= 1e-4 * np.abs(e).max()


def test_template_graph_batches_exemplars(tiny_model_dir, tiny_net):
    sess = ort.InferenceSession(str(tiny_model_dir / "template.onnx"), providers=["CPUExecutionProvider"])
    z = np.random.default_rng(0).uniform(0, 255, (4, 3, 127, 127)).astype(np.float32)
    cls_all, _ = sess.run(None, {"template": z})
    cls_one, _ = sess.run(None, {"template": z[2:3]})
    assert cls_all.shape == (4, 10, 64, 4, 4)
    np.testing.assert_allclose(cls_all[2], cls_one[0], rtol=1e-5, atol=1e-6)


def test_failed_export_leaves_no_folder(tmp_path, tiny_net, monkeypatch):
    from dasiamrt.config import PRESETS
    from dasiamrt.export import onnx_export

    def broken(*args, **kwargs):
        raise RuntimeError("exporter exploded")

    monkeypatch.setattr(onnx_export, "_export_one", broken)
    with pytest.raises(RuntimeError):
        onnx_export.export_model(tiny_net, PRESETS["tiny"], tmp_path / "out")
    assert not (tmp_path / "out").exists() and list(tmp_path.iterdir()) == []


def test_export_works_with_a_torch_whose_exporter_has_no_dynamo_keyword(monkeypatch, tmp_path, tiny_net):
    """torch < 2.5 (e.g. 2.4.1, the newest for Python 3.8) rejects ``dynamo=``: pass it only where it exists."""
    from dasiamrt.export import onnx_export
    from dasiamrt.model import TemplateBranch

    real = torch.onnx.export
    seen = {}

    def export_2_4(model, args, f, export_params=True, verbose=False, training=None, input_names=None,
                   output_names=None, operator_export_type=None, opset_version=None, do_constant_folding=True,
                   dynamic_axes=None, keep_initializers_as_inputs=None, custom_opsets=None,
                   export_modules_as_functions=False, autograd_inlining=True):
        seen["called"] = True
        return real(model, args, f, training=training, input_names=input_names, output_names=output_names,
                    opset_version=opset_version, do_constant_folding=do_constant_folding, dynamic_axes=dynamic_axes,
                    **({"dynamo": False} if "dynamo" in __import__("inspect").signature(real).parameters else {}))

    monkeypatch.setattr(torch.onnx, "export", export_2_4)
    io = {"inputs": {spec.TEMPLATE_INPUT: None}, "outputs": {spec.CLS_KERNEL: None, spec.REG_KERNEL: None}}
    path = tmp_path / "template.onnx"
    onnx_export._export_one(TemplateBranch(tiny_net).eval(), (torch.rand(1, 3, 127, 127) * 255,), path, io,
                            {spec.TEMPLATE_INPUT: {0: "N"}})
    assert seen["called"] and [i.name for i in onnx.load(str(path)).graph.input] == [spec.TEMPLATE_INPUT]


def test_mobilenet_model_exports_records_its_backbone_and_tracks_like_torch(tmp_path, clip_frames):
    """The MobileNetV2 layout through the whole chain: export (checked against torch), model.json's
    ``network.backbone``, then ONNX Runtime tracking (distractor-aware, so the kernel-update graph runs too)
    equal to torch on a real clip."""
    from dasiamrt.config import PRESETS
    from dasiamrt.export import export_model
    from dasiamrt.model import build_network
    from dasiamrt.runtime.backends.ort import OrtBackend
    from dasiamrt.runtime.backends.torch_backend import TorchBackend
    from dasiamrt.runtime.tracker import Tracker

    net = build_network(PRESETS["mobile"].network, seed=2)
    export_model(net, PRESETS["mobile"], tmp_path / "mobile")
    info = read_model_dir(tmp_path / "mobile", verify=True)
    assert info.network == PRESETS["mobile"].network and info.network.backbone == "mobilenetv2"
    cfg = info.tracker.replace(distractor={"enabled": True, "threshold": 0.3})
    boxes = []
    for backend in (OrtBackend(info), TorchBackend(net)):
        tracker = Tracker(backend, cfg)
        tracker.init(clip_frames[0], (221.0, 11.0, 225.0, 169.0))
        boxes.append(np.array([tracker.track(f).bbox_xywh for f in clip_frames[1:15]]))
    assert np.ptp(boxes[1][:, 0]) > 1.0  # the box moves
    assert np.abs(boxes[0] - boxes[1]).max() <= 0.5


def test_model_json_backbone_must_be_known(tiny_model_dir, tmp_path):
    import shutil

    from dasiamrt.errors import ModelError

    folder = tmp_path / "m"
    shutil.copytree(tiny_model_dir, folder)
    manifest = json.loads((folder / "model.json").read_text())
    assert manifest["network"]["backbone"] == "alexnet"
    manifest["network"]["backbone"] = "resnet50"
    (folder / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="network.backbone must be one of alexnet, mobilenetv2, found 'resnet50'"):
        read_model_dir(folder)
    del manifest["network"]["backbone"]  # folders written before the field: AlexNet
    (folder / "model.json").write_text(json.dumps(manifest))
    assert read_model_dir(folder).network.backbone == "alexnet"
