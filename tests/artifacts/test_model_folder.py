"""The model folder's one owner: uniform variants, the pre-variant fp16 key still read (issue 15, move 1)."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from dasiamrt.artifacts.model_folder import ModelFolder
from dasiamrt.assets import BUNDLED_MODEL

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def test_bundled_model_loads():
    folder = ModelFolder.open(BUNDLED_MODEL, verify=True)
    assert set(folder.graphs) == {"template", "search", "kernel_update"} and folder.precision == "fp32"


def test_fp16_is_a_variant_and_the_old_top_level_key_still_reads(tiny_model_dir, tmp_path):
    from dasiamrt.export.fp16 import write_fp16_variants
    from dasiamrt.runtime.backends.ort import OrtBackend

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    written = write_fp16_variants(model)
    manifest = json.loads((model / "model.json").read_text())
    variant = manifest["variants"]["fp16"]["graphs"]
    assert {role: model / entry["file"] for role, entry in variant.items()} == written
    assert manifest["fp16_graphs"] == variant  # mirrored for older readers
    # a folder exported before fp16 became a variant has only the top-level key
    del manifest["variants"]
    (model / "model.json").write_text(json.dumps(manifest))
    folder = ModelFolder.open(model)
    assert folder.has_variant("fp16") and folder.graphs_for("fp16") == written
    crops = np.random.default_rng(0).uniform(0, 255, (1, 3, 127, 127)).astype(np.float32)
    direct = ort.InferenceSession(str(written["template"]), providers=["CPUExecutionProvider"])
    want = direct.run(["cls_kernel"], {"template": crops})[0]
    with OrtBackend(folder, precision="fp16") as backend:  # the runtime runs the fp16 graph of the old key
        np.testing.assert_array_equal(backend.template(crops)[0], want)


def test_variants_record_sha256_and_refuse_files_outside_the_folder(tiny_model_dir, tmp_path):
    from dasiamrt.errors import ModelError
    from dasiamrt.fileio import sha256_file

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    shutil.copy(model / "search.onnx", model / "search.x.onnx")
    folder = ModelFolder.open(model).with_variants({"x": {"graphs": {"search": "search.x.onnx"}, "note": 1}})
    assert folder.variants["x"] == {"graphs": {"search": {"file": "search.x.onnx",
                                                          "sha256": sha256_file(model / "search.x.onnx")}}, "note": 1}
    assert folder.graphs_for("x")["search"] == model / "search.x.onnx"
    assert folder.graphs_for("x")["template"] == model / "template.onnx"  # roles it lacks run the fp32 graph
    with pytest.raises(ModelError, match="points outside"):
        folder.with_variants({"y": {"graphs": {"search": "../search.onnx"}}})


def test_total_stride_of_older_folders_is_read_and_checked():
    """``total_stride`` is the networks' (spec.TOTAL_STRIDE), no longer a setting: older model.json files that
    store it still load when it is 8, and a different value is refused as before."""
    from dasiamrt.config import TrackerConfig
    from dasiamrt.errors import ConfigError

    stored = TrackerConfig().to_dict()
    assert "total_stride" not in stored
    assert TrackerConfig.from_dict({**stored, "total_stride": 8}) == TrackerConfig.from_dict(stored)
    with pytest.raises(ConfigError, match="fixed by the networks: 127 and 8, got 127 and 16"):
        TrackerConfig.from_dict({**stored, "total_stride": 16})
