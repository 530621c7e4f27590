"""Profiles from the model contract, the build flow on fake TensorRT modules, trtexec lines, no-GPU errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from dasiamrt.artifacts.engine_manifest import read_manifest
from dasiamrt.config import get_preset
from dasiamrt.engine.builder import BuildOptions, build_engines, trtexec_lines
from dasiamrt.engine.profiles import engine_profiles, read_model_info, search_sizes
from dasiamrt.trt import compat
from dasiamrt.trt.cuda_device import GpuInfo
from tests.engine.fake_trt import make_fake_trt


def test_search_sizes_include_lost_size():
    assert search_sizes(get_preset("paper").tracker) == (255, 767)
    assert search_sizes(get_preset("big").tracker) == (271, 287, 767)
    assert search_sizes(get_preset("vot").tracker, (287, 271)) == (271, 287, 767)


def test_profiles_follow_the_contract(tiny_model):
    info = read_model_info(tiny_model[0])
    f, c = info.network.feature_out, info.network.feature_channels
    n_max = info.tracker.distractor.n_max
    profiles = engine_profiles(info)
    (tpl,) = profiles["template"]
    assert tpl.inputs["template"].min == (1, 3, 127, 127) and tpl.inputs["template"].max == (n_max + 1, 3, 127, 127)
    assert tpl.outputs["cls_kernel"] == (n_max + 1, 10, f, 4, 4)
    keys = [p.key for p in profiles["search"]]
    assert keys == [255, 767]  # tiny preset: 255 search + the long-term 767
    for p in profiles["search"]:
        s = (p.key - 127) // 8 + 1
        assert p.inputs["search"].min == p.inputs["search"].max == (1, 3, p.key, p.key)  # static: one context each
        assert p.outputs["cls"] == (1, 10, s, s) and p.outputs["delta"] == (1, 20, s, s)
        assert p.outputs["search_features"] == (1, c, s + 5, s + 5)
    assert [p.key for p in profiles["kernel_update"]] == [17, 81]
    ku = profiles["kernel_update"][1]
    assert ku.inputs["search_features"].opt == (1, c, 86, 86)
    assert ku.inputs["window_index"].min == (36,) and ku.inputs["window_index"].max == (36 * (n_max + 1),)
    assert ku.inputs["window_weight"].max == (n_max + 1,) and ku.outputs["fused"] == (10, f, 4, 4)


@pytest.fixture()
def fake_env(monkeypatch):
    def install(version):
        trt = make_fake_trt(version)
        monkeypatch.setattr(compat, "import_tensorrt", lambda *a: trt)
        monkeypatch.setattr(
            "dasiamrt.trt.cuda_device.query_gpu", lambda *a, **k: GpuInfo("Orin", "8.7", "12.2", "12.2", 8000)
        )
        return trt

    return install


@pytest.mark.parametrize(
    "version, precision, typed",
    [
        ("8.5.2.2", "fp16", False),
        ("10.3.0.30", "fp16", True),
        ("11.0.0.114", "fp16", False),
        ("10.3.0.30", "fp32", False),
    ],
)
def test_build_with_fake_tensorrt(tiny_model, tmp_path, fake_env, version, precision, typed):
    fake_env(version)
    cache = tmp_path / "timing.cache"
    cache.write_bytes(b"old")
    out = tmp_path / "engines"
    plans = build_engines(
        tiny_model[0], BuildOptions(precision, workspace_mb=256, timing_cache=cache, strongly_typed=typed, out_dir=out)
    )
    assert [p.name for p in plans] == ["template.plan", "search.plan", "kernel_update.plan"]
    search = json.loads((out / "search.plan").read_bytes())
    assert len(search["profiles"]) == 2
    # only the dynamic input (search H) gets profile shapes; the kernels are static in the graph
    assert set(search["profiles"][0]) == {"search"} and search["profiles"][1]["search"][0] == [1, 3, 767, 767]
    assert search["pools"] == {"WORKSPACE": 256 << 20}
    fp16_graph = precision == "fp16" and (version.startswith("11") or typed)
    want_flags = ["-TF32"] if precision == "fp32" else ([] if fp16_graph else ["FP16"])
    assert search["builder_flags"] == want_flags
    assert (out / "search.fp16.onnx").is_file() == fp16_graph
    # the timing cache is threaded through the three builds and written back
    assert cache.read_bytes() == b"old+++"
    m = read_manifest(out, "search")
    assert m.device.gpu_name == "Orin" and m.device.tensorrt_version == version and m.precision == precision
    assert [p.key for p in m.profiles] == [255, 767]
    assert m.build_options["graph"] == ("fp16" if fp16_graph else "fp32")
    assert m.build_options["cleared_flags"] == (["TF32"] if precision == "fp32" else [])
    assert len(m.onnx_sha256) == 64 and not [f for f in os.listdir(out) if f.startswith(".")]  # no temp files left


def test_int8_without_qdq_graph_is_refused_before_writing(tiny_model, tmp_path, fake_env):
    from dasiamrt.errors import ModelError

    fake_env("10.3.0.30")
    with pytest.raises(ModelError, match="dasiamrt calibrate"):
        build_engines(tiny_model[0], BuildOptions("int8", out_dir=tmp_path / "e"))
    assert not (tmp_path / "e").exists()


@pytest.mark.parametrize(
    "version, want, unwanted",
    [
        ("8.5.2", ["--fp16"], ["--stronglyTyped"]),
        ("10.3", ["--fp16"], ["--stronglyTyped"]),
        ("11.0", ["--stronglyTyped"], ["--fp16"]),
    ],
)
def test_trtexec_lines(tiny_model, tmp_path, version, want, unwanted):
    lines = trtexec_lines(tiny_model[0], BuildOptions("fp16", workspace_mb=512, out_dir=tmp_path), trt_version=version)
    assert len(lines) == 1 + 2 + 2  # template, search x2 sizes, kernel_update x2 sizes (one profile per trtexec engine)
    search_767 = [ln for ln in lines if "search_767.plan" in ln][0]
    assert "--minShapes=search:1x3x767x767" in search_767 and "--maxShapes=search:1x3x767x767" in search_767
    assert "cls_kernel" not in search_767  # static inputs need no shapes
    assert "--memPoolSize=workspace:512" in search_767
    tpl = lines[0]
    assert "--minShapes=template:1x3x127x127" in tpl and "--maxShapes=template:9x3x127x127" in tpl
    for flag in want:
        assert all(flag in ln for ln in lines)
    for flag in unwanted:
        assert not any(flag in ln for ln in lines)
    onnx_of = {ln.split("--onnx=")[1].split()[0] for ln in lines}
    assert all(p.endswith(".fp16.onnx") for p in onnx_of) == version.startswith("11")


def test_trtexec_fp32_turns_tf32_off(tiny_model, tmp_path):
    lines = trtexec_lines(tiny_model[0], BuildOptions("fp32", out_dir=tmp_path), trt_version="8.6.2")
    assert all("--noTF32" in ln and "--fp16" not in ln for ln in lines)


def _run_cli(*args, cwd):
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    return subprocess.run(
        [sys.executable, "-m", "dasiamrt.cli", *args], capture_output=True, text=True, cwd=cwd, env=env
    )


def _tree(path):
    return sorted((r, tuple(sorted(f))) for r, _, f in os.walk(path))


def test_build_cli_without_tensorrt_or_gpu_fails_cleanly(tiny_model, tmp_path):
    try:
        import tensorrt  # noqa: F401

        pytest.skip("TensorRT is installed here")
    except ImportError:
        pass
    before = _tree(tiny_model[0])
    result = _run_cli(
        "build",
        "--model",
        str(tiny_model[0]),
        "--precision",
        "fp16",
        "--timing-cache",
        str(tmp_path / "c"),
        cwd=tmp_path,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "tensorrt" in lines[0].lower() and "Traceback" not in result.stderr
    assert _tree(tiny_model[0]) == before and not os.listdir(tmp_path)


def test_exported_fp16_graphs_are_listed_and_used(tiny_model, tmp_path, fake_env):
    import shutil

    from dasiamrt.export.fp16 import write_fp16_variants

    model = tmp_path / "model"
    shutil.copytree(tiny_model[0], model)
    written = write_fp16_variants(model)
    assert sorted(p.name for p in written.values()) == [
        "kernel_update.fp16.onnx",
        "search.fp16.onnx",
        "template.fp16.onnx",
    ]
    manifest = json.loads((model / "model.json").read_text())
    assert (
        manifest["fp16_graphs"]["search"]["file"] == "search.fp16.onnx"
        and len(manifest["fp16_graphs"]["search"]["sha256"]) == 64
    )
    read_model_info(model)  # the runtime's reader still accepts the folder
    fake_env("11.0.0.114")
    out = tmp_path / "engines"
    build_engines(model, BuildOptions("fp16", out_dir=out))
    assert read_manifest(out, "search").onnx_file == str(model / "search.fp16.onnx")
    assert not (out / "search.fp16.onnx").exists()  # nothing converted again


# -- legacy INT8 route: the builder calibrates with an entropy calibrator (TensorRT <= 10) ----------


@pytest.fixture(scope="session")
def calibrated_tiny(tiny_model, tmp_path_factory):
    """A copy of the tiny model folder with a calibration set (8 crops per input), no Q/DQ graphs."""
    import shutil

    from dasiamrt.assets import DEMO_CLIP, DEMO_INIT_XYWH
    from dasiamrt.calib.api import calibrate
    from dasiamrt.calib.collect import CollectConfig

    folder = tmp_path_factory.mktemp("calibrated") / "tiny"
    shutil.copytree(tiny_model[0], folder)
    calibrate(str(folder), [str(DEMO_CLIP)], [DEMO_INIT_XYWH], cfg=CollectConfig(per_input=8, seed=3,
              search_sizes=(255, 767)), quantize=False, max_frames=16)
    return folder


@pytest.fixture()
def fake_cuda(monkeypatch):
    from dasiamrt.engine import builder
    from tests.calib.test_trt_calibrator import FakeDevice

    class ClosingDevice(FakeDevice):
        closed = False

        def close(self):
            self.closed = True

    device = ClosingDevice()
    monkeypatch.setattr(builder, "_open_device", lambda: device)
    return device


@pytest.mark.parametrize("version", ["8.5.2.2", "10.3.0.30"])
def test_entropy_calibrator_route_calibrates_template_and_search(calibrated_tiny, tmp_path, fake_env, fake_cuda,
                                                                version):
    fake_env(version)
    out = tmp_path / "engines"
    build_engines(calibrated_tiny, BuildOptions("int8", calibrator="entropy", out_dir=out))
    plans = {name: json.loads((out / f"{name}.plan").read_bytes()) for name in ("template", "search", "kernel_update")}
    profiles = engine_profiles(read_model_info(calibrated_tiny))
    opt_batch = profiles["template"][0].inputs["template"].opt[0]
    # every complete template batch and every 255 search crop went through the calibrator, at the
    # OPT shapes of the engine's first profile
    assert plans["template"]["calibration"] == {"from_cache": None, "batches": 8 // opt_batch}
    assert plans["search"]["calibration"] == {"from_cache": None, "batches": 8}
    assert plans["search"]["calibration_profile"]["search"][1] == [1, 3, 255, 255]
    want = ["INT8", "FP16", "PREFER_PRECISION_CONSTRAINTS"]  # heads/correlation prefer FP16 (finding 7)
    assert plans["template"]["builder_flags"] == plans["search"]["builder_flags"] == want
    assert plans["kernel_update"]["calibration"] is None
    assert plans["kernel_update"]["builder_flags"] == ["FP16", "OBEY_PRECISION_CONSTRAINTS"]
    assert (out / "search.calib").read_bytes() == b"fake-calibration 8"
    assert fake_cuda.closed and fake_cuda.syncs == 8 // opt_batch + 8
    sha = json.loads((calibrated_tiny / "calibration.json").read_text())["npz_sha256"]
    assert read_manifest(out, "search").build_options["calibration_sha256"] == sha
    # a second build reuses the caches instead of calibrating again
    build_engines(calibrated_tiny, BuildOptions("int8", calibrator="entropy", out_dir=out))
    assert json.loads((out / "search.plan").read_bytes())["calibration"]["from_cache"] == "fake-calibration 8"


@pytest.mark.parametrize("version, precision, match", [
    ("11.0.0.114", "int8", "no INT8 calibrators"),
    ("10.3.0.30", "fp16", "--calibrator is for --precision int8"),
])
def test_entropy_calibrator_refused_where_it_does_not_apply(calibrated_tiny, tmp_path, fake_env, version, precision,
                                                           match):
    from dasiamrt.errors import ConfigError

    fake_env(version)
    with pytest.raises(ConfigError, match=match):
        build_engines(calibrated_tiny, BuildOptions(precision, calibrator="entropy", out_dir=tmp_path / "e"))
    assert not (tmp_path / "e").exists()


def test_entropy_calibrator_without_a_calibration_set_is_refused_before_writing(tiny_model, tmp_path, fake_env):
    from dasiamrt.errors import CalibrationError

    fake_env("10.3.0.30")
    with pytest.raises(CalibrationError, match="dasiamrt calibrate"):
        build_engines(tiny_model[0], BuildOptions("int8", calibrator="entropy", out_dir=tmp_path / "e"))
    assert not (tmp_path / "e").exists()


def test_trtexec_lines_of_the_calibrator_route_read_the_caches(calibrated_tiny, tmp_path):
    lines = trtexec_lines(calibrated_tiny, BuildOptions("int8", calibrator="entropy", out_dir=tmp_path), "8.5.2")
    template = [ln for ln in lines if "template.onnx" in ln]
    kernel_update = [ln for ln in lines if "kernel_update" in ln]
    assert template and all("--int8" in ln and f"--calib={tmp_path / 'template.calib'}" in ln for ln in template)
    assert kernel_update and all("--fp16" in ln and "--int8" not in ln and "--calib" not in ln for ln in kernel_update)


def test_entropy_calibrator_reads_a_set_kept_elsewhere(calibrated_tiny, tmp_path, fake_env, fake_cuda):
    import shutil

    from dasiamrt.errors import ConfigError

    model = tmp_path / "model"
    shutil.copytree(calibrated_tiny, model, ignore=shutil.ignore_patterns("calibration.*", "engines"))
    sets = tmp_path / "sets"
    sets.mkdir()
    for name in ("calibration.npz", "calibration.json"):
        shutil.copy(calibrated_tiny / name, sets / name)
    fake_env("10.3.0.30")
    out = tmp_path / "engines"
    build_engines(model, BuildOptions("int8", calibrator="entropy", calibration=sets / "calibration.npz", out_dir=out))
    assert json.loads((out / "search.plan").read_bytes())["calibration"]["batches"] == 8
    with pytest.raises(ConfigError, match="--calibrator entropy"):
        BuildOptions("int8", calibration=sets)


def test_calibrator_route_reads_the_sets_kernels_and_runs_no_onnx_runtime(calibrated_tiny, tmp_path, fake_env,
                                                                          fake_cuda, monkeypatch):
    """Issue 15, move 1: ``dasiamrt calibrate`` stores the fp32 search kernels in the set; the build reads them
    and never imports ONNX Runtime."""
    import sys

    import numpy as np
    import onnxruntime

    from dasiamrt.artifacts.calibset import load_calibration

    calib = load_calibration(calibrated_tiny)
    session = onnxruntime.InferenceSession(str(calibrated_tiny / "template.onnx"), providers=["CPUExecutionProvider"])
    want = session.run(["cls_kernel", "reg_kernel"], {"template": calib.blobs("kernel_template")})
    got = calib.search_kernels()
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    fake_env("10.3.0.30")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # any 'import onnxruntime' now fails
    out = tmp_path / "engines"
    build_engines(calibrated_tiny, BuildOptions("int8", calibrator="entropy", out_dir=out))
    assert json.loads((out / "search.plan").read_bytes())["calibration"]["batches"] == 8


def test_a_set_without_kernels_is_refused_by_the_build_and_completed_by_calibrate(calibrated_tiny, tmp_path,
                                                                                 fake_env, fake_cuda):
    import shutil

    from dasiamrt.artifacts.calibset import KERNEL_CLS, KERNEL_REG, load_calibration, save_calibration
    from dasiamrt.calib.api import calibrate
    from dasiamrt.errors import CalibrationError

    model = tmp_path / "model"
    shutil.copytree(calibrated_tiny, model, ignore=shutil.ignore_patterns("engines"))
    old = load_calibration(model)
    kernels = old.arrays.pop(KERNEL_CLS), old.arrays.pop(KERNEL_REG)
    save_calibration(old, model)  # as an older dasiamrt wrote it
    fake_env("10.3.0.30")
    out = tmp_path / "engines"
    with pytest.raises(CalibrationError, match="dasiamrt calibrate .*--from-set"):
        build_engines(model, BuildOptions("int8", calibrator="entropy", out_dir=out))
    assert not out.exists()
    calibrate(str(model), [], [], from_set=str(model / "calibration.npz"), quantize=False)
    import numpy as np

    completed = load_calibration(model)
    np.testing.assert_array_equal(completed.search_kernels()[0], kernels[0])
    np.testing.assert_array_equal(completed.search_kernels()[1], kernels[1])
    build_engines(model, BuildOptions("int8", calibrator="entropy", out_dir=out))
    assert json.loads((out / "search.plan").read_bytes())["calibration"]["batches"] == 8


# -- per-engine precision rules on weakly typed builds (issue 13, findings 5-7) -----------------------


@pytest.mark.parametrize("version", ["8.5.2.2", "10.3.0.30"])
def test_fp16_flag_route_keeps_the_fusion_sum_in_fp32(tiny_model, tmp_path, fake_env, version):
    """Under the FP16 flag TensorRT may run kernel_update's running sum in fp16: its layers (fed by
    acc / inv_total) are constrained to FP32 and obeyed; the other engines are left to TensorRT."""
    trt = fake_env(version)
    out = tmp_path / "engines"
    build_engines(tiny_model[0], BuildOptions("fp16", out_dir=out))
    plans = {name: json.loads((out / f"{name}.plan").read_bytes()) for name in ("template", "search", "kernel_update")}
    ku = plans["kernel_update"]
    assert ku["layer_precisions"] == {"/Add": "FLOAT", "/Mul_2": "FLOAT"}
    assert ku["output_types"] == {"/Add": {"0": "FLOAT"}, "/Mul_2": {"0": "FLOAT"}}
    assert ku["builder_flags"] == ["FP16", "OBEY_PRECISION_CONSTRAINTS"]
    assert not plans["search"]["layer_precisions"] and not plans["template"]["layer_precisions"]
    assert len(trt.calls) == 3


def test_strongly_typed_builds_set_no_layer_precision(tiny_model, tmp_path, fake_env):
    """Strongly typed networks take their types from the graph (the fake refuses layer precisions)."""
    fake_env("11.0.0.114")
    out = tmp_path / "engines"
    build_engines(tiny_model[0], BuildOptions("fp16", out_dir=out))
    assert not json.loads((out / "kernel_update.plan").read_bytes())["layer_precisions"]


def test_entropy_route_keeps_heads_and_correlation_out_of_int8(calibrated_tiny, tmp_path, fake_env, fake_cuda):
    fake_env("10.3.0.30")
    out = tmp_path / "engines"
    build_engines(calibrated_tiny, BuildOptions("int8", calibrator="entropy", out_dir=out))
    search = json.loads((out / "search.plan").read_bytes())
    constrained = search["layer_precisions"]
    assert constrained and set(constrained.values()) == {"HALF"}
    assert not [n for n in constrained if "featureExtract" in n]  # the calibrated backbone stays INT8
    assert {"/conv_cls2/Conv", "/conv_r2/Conv", "/regress_adjust/Conv"} <= set(constrained)
    assert "PREFER_PRECISION_CONSTRAINTS" in search["builder_flags"]
    ku = json.loads((out / "kernel_update.plan").read_bytes())
    assert "INT8" not in ku["builder_flags"] and ku["layer_precisions"] == {"/Add": "FLOAT", "/Mul_2": "FLOAT"}


def test_trtexec_lines_carry_the_layer_precision_rules(calibrated_tiny, tmp_path):
    lines = trtexec_lines(calibrated_tiny, BuildOptions("int8", calibrator="entropy", out_dir=tmp_path), "10.3")
    search = [ln for ln in lines if "search.onnx" in ln]
    assert search and all("--precisionConstraints=prefer" in ln and "/conv_cls2/Conv:fp16" in ln
                          and "featureExtract" not in ln.split("--layerPrecisions=")[1] for ln in search)
    fp16 = trtexec_lines(calibrated_tiny, BuildOptions("fp16", out_dir=tmp_path), "8.5.2")
    ku = [ln for ln in fp16 if "kernel_update" in ln]
    assert ku and all("--precisionConstraints=obey" in ln and "--layerPrecisions=/Add:fp32,/Mul_2:fp32" in ln
                      for ln in ku)
    assert not [ln for ln in fp16 if "kernel_update" not in ln and "layerPrecisions" in ln]
