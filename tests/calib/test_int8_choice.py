"""``--precision int8`` runs the form for this CPU (feature detection faked) and says which and why."""
from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest

from dasiamrt.artifacts.model_folder import read_model_dir
from dasiamrt.assets import DEMO_CLIP, DEMO_INIT_XYWH
from dasiamrt.runtime.backends.ort import OrtBackend
from tests.test_int8_forms import AVX2_ONLY, EPYC_VNNI, ORIN


def _search_outputs(backend, crop, kernels):
    backend.set_kernels(*kernels)
    out = backend.search(crop)
    return out.cls, out.delta


@pytest.mark.parametrize("cpu, form", [(EPYC_VNNI, "int8-cpu"), (ORIN, "int8-cpu"), (AVX2_ONLY, "int8")])
def test_ort_int8_runs_the_form_of_the_cpu(int8_model, clip_frames, caplog, cpu, form):
    info = read_model_dir(int8_model)
    with caplog.at_level(logging.INFO):
        backend = OrtBackend(info, precision="int8", cpu=cpu)
    assert backend.int8_form == form and backend.precision == "int8"
    assert f"INT8 form {form}:" in caplog.text
    slower = [r for r in caplog.records if "will not be faster" in r.getMessage()]
    assert bool(slower) == (form == "int8") and (not slower or slower[0].levelno == logging.WARNING)
    # it really runs that form's graphs: same outputs as the form opened by name
    crop = np.ascontiguousarray(np.transpose(clip_frames[1][:255, :255], (2, 0, 1))[None], dtype=np.float32)
    by_name = OrtBackend(info, precision="int8", int8_form=form)
    kernels = tuple(k[0] for k in by_name.template(crop[:, :, :127, :127].copy()))
    for a, b in zip(_search_outputs(backend, crop, kernels), _search_outputs(by_name, crop, kernels)):
        np.testing.assert_array_equal(a, b)
    other = "int8" if form == "int8-cpu" else "int8-cpu"
    assert not np.array_equal(_search_outputs(OrtBackend(info, precision="int8", int8_form=other), crop, kernels)[0],
                              _search_outputs(backend, crop, kernels)[0])


def test_a_folder_without_the_cpu_form_runs_int8_and_says_how_to_add_it(int8_model, tmp_path, caplog):
    folder = tmp_path / "old"
    shutil.copytree(int8_model, folder)
    manifest = json.loads((folder / "model.json").read_text())
    del manifest["variants"]["int8-cpu"]
    (folder / "model.json").write_text(json.dumps(manifest))
    with caplog.at_level(logging.INFO):
        backend = OrtBackend(read_model_dir(folder), precision="int8", cpu=EPYC_VNNI)
    assert backend.int8_form == "int8"
    assert "--target cpu" in caplog.text and "in place of int8-cpu" in caplog.text


def test_track_cli_logs_the_form(int8_model, tmp_path, monkeypatch, caplog):
    import dasiamrt.cpu_features as cpu_features
    from dasiamrt.cli import main

    monkeypatch.setattr(cpu_features, "detect", lambda *a: AVX2_ONLY)
    with caplog.at_level(logging.INFO):
        assert main(["track", str(DEMO_CLIP), "--init", ",".join(map(str, DEMO_INIT_XYWH)), "--model",
                     str(int8_model), "--precision", "int8", "--max-frames", "2", "--out", str(tmp_path / "b.csv"),
                     "--quiet"]) == 0
    assert "INT8 form int8:" in caplog.text and "INT8 will not be faster than fp32 here" in caplog.text
