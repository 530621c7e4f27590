"""``dasiamrt doctor`` on faked machines: one line per item, a verdict and the fix."""
from __future__ import annotations

import types

import pytest

from dasiamrt.cpu_features import parse_cpuinfo
from dasiamrt.doctor import FAIL, INFO, OK, WARN, Environment, run_checks
from dasiamrt.errors import MissingDependencyError
from dasiamrt.trt.cuda_device import GpuInfo

GST_YES = "General configuration\n  Video I/O:\n    GStreamer:                   YES (1.20.3)\n"
GST_NO = "General configuration\n  Video I/O:\n    GStreamer:                   NO\n"


class _Device:
    binding = "cuda-python"

    def __init__(self, gpu):
        self.gpu = gpu

    def info(self):
        return self.gpu

    def close(self):
        pass


def _env(modules=None, dists=None, gpu=None, jetson=False, cpu="flags: avx2 avx512f avx512_vnni"):
    modules = dict(modules or {})
    modules.setdefault("numpy", types.SimpleNamespace(__version__="1.24.4"))

    def import_module(name):
        if modules.get(name) is None:
            raise ImportError(name)
        return modules[name]

    def open_device():
        if gpu is None:
            raise MissingDependencyError("cuda-python", "the TensorRT backend", "pip install cuda-python")
        return _Device(gpu)

    return Environment(import_module=import_module, distributions=lambda: dict(dists or {}), open_device=open_device,
                       cpu=lambda: parse_cpuinfo("model name: Test CPU\n" + cpu, "x86_64"), jetson=lambda: jetson)


def _by_item(checks):
    return {c.item: c for c in checks}


def _cv2(build):
    return types.SimpleNamespace(__version__="4.8.0", getBuildInformation=lambda: build)


def _ort(version="1.18.0", providers=("CPUExecutionProvider",)):
    return types.SimpleNamespace(__version__=version, get_available_providers=lambda: list(providers))


def test_every_line_has_a_verdict_and_single_line_text():
    checks = run_checks(env=_env({"cv2": _cv2(GST_YES), "onnxruntime": _ort()}, {"onnxruntime": "1.18.0"}))
    assert [c.item for c in checks] == ["python", "numpy", "opencv", "onnxruntime", "tensorrt", "cuda", "cpu",
                                        "backends"]
    for c in checks:
        assert c.verdict in (OK, WARN, FAIL, INFO) and "\n" not in c.line()


def test_no_tensorrt_and_no_gpu_name_the_installs():
    on_jetson = _by_item(run_checks(env=_env({"cv2": _cv2(GST_YES), "onnxruntime": _ort()}, jetson=True)))
    assert on_jetson["tensorrt"].verdict == INFO and "apt install python3-libnvinfer" in on_jetson["tensorrt"].fix
    assert on_jetson["cuda"].verdict == INFO and "pip install cuda-python" in on_jetson["cuda"].detail
    assert on_jetson["backends"].verdict == OK and "trt" not in on_jetson["backends"].detail


def test_both_onnxruntime_packages_installed_is_a_failure_with_the_fix():
    dists = {"onnxruntime": "1.18.0", "onnxruntime-gpu": "1.18.0"}
    ort = _by_item(run_checks(env=_env({"cv2": _cv2(GST_YES), "onnxruntime": _ort()}, dists)))["onnxruntime"]
    assert ort.verdict == FAIL
    assert ort.fix == "pip uninstall -y onnxruntime onnxruntime-gpu && pip install onnxruntime-gpu"


def test_pip_opencv_without_gstreamer_on_a_jetson_is_a_failure():
    dists = {"opencv-python": "4.9.0.80", "onnxruntime": "1.18.0"}
    cv = _by_item(run_checks(env=_env({"cv2": _cv2(GST_NO), "onnxruntime": _ort()}, dists, jetson=True)))["opencv"]
    assert cv.verdict == FAIL and "GStreamer NO" in cv.detail and cv.fix.startswith("pip uninstall -y opencv-python")
    desktop = _by_item(run_checks(env=_env({"cv2": _cv2(GST_NO), "onnxruntime": _ort()}, dists)))["opencv"]
    assert desktop.verdict == WARN
    good = _by_item(run_checks(env=_env({"cv2": _cv2(GST_YES), "onnxruntime": _ort()})))["opencv"]
    assert good.verdict == OK and "GStreamer YES" in good.detail


def test_tensorrt_gpu_and_cpu_features():
    trt = types.SimpleNamespace(__version__="8.5.2.2", IBuilderConfig=type("C", (), {"int8_calibrator": None}))
    gpu = GpuInfo("Orin", "8.7", "11.4", "11.4", 30000)
    checks = _by_item(run_checks(env=_env({"cv2": _cv2(GST_YES), "onnxruntime": _ort(), "tensorrt": trt}, gpu=gpu,
                                          cpu="Features: fp asimd asimddp")))
    assert checks["tensorrt"].verdict == OK and "Conv with tensor weights" in checks["tensorrt"].detail
    assert checks["cuda"].verdict == OK and "Orin, sm 8.7, 30000 MiB" in checks["cuda"].detail
    assert "asimddp" in checks["cpu"].detail and "run fast" in checks["cpu"].detail
    assert "trt fp32/fp16/int8 (Q/DQ or --calibrator entropy)" in checks["backends"].detail
    old = types.SimpleNamespace(__version__="8.2.1")
    assert _by_item(run_checks(env=_env({"tensorrt": old})))["tensorrt"].verdict == FAIL


@pytest.mark.parametrize("flags, says", [("flags: avx2 avx512f avx512_vnni", "run fast"),
                                         ("flags: sse4_1 avx avx2", "int8-cpu-w7"),
                                         ("Features: fp asimd", "no faster than fp32")])
def test_cpu_line_names_what_int8_does_on_this_cpu(flags, says):
    cpu = _by_item(run_checks(env=_env({"onnxruntime": _ort()}, cpu=flags)))["cpu"]
    assert says in cpu.detail


def test_engines_built_for_another_gpu_fail_with_the_rebuild_command(tmp_path):
    from dasiamrt.artifacts.engine_manifest import DeviceInfo, EngineManifest, write_manifest

    model = tmp_path / "vot"
    for precision, gpu_name in (("fp16", "NVIDIA GeForce RTX 3090"), ("fp32", "Orin")):
        write_manifest(model / "engines" / precision, EngineManifest(
            "search", "search.plan", "0" * 64, precision, DeviceInfo("10.3.0.30", gpu_name, "8.7"), "s.onnx", "",
            []))
    trt = types.SimpleNamespace(__version__="10.3.0.30")
    env = _env({"onnxruntime": _ort(), "tensorrt": trt}, gpu=GpuInfo("Orin", "8.7", "12.2", "12.2", 8000))
    checks = _by_item(run_checks(model, env))
    assert checks["engines/fp32"].verdict == OK
    bad = checks["engines/fp16"]
    assert bad.verdict == FAIL and "RTX 3090" in bad.detail
    assert bad.fix == f"rebuild it with `dasiamrt build --model {model} --precision fp16`"


@pytest.mark.parametrize("strict, code", [(False, 0), (True, 1)])
def test_cli_exit_status(monkeypatch, capsys, strict, code):
    from dasiamrt import cli, doctor

    monkeypatch.setattr(doctor, "run_checks", lambda model=None: [doctor.Check("opencv", FAIL, "x", "fix it")])
    assert cli.main(["doctor"] + (["--strict"] if strict else [])) == code
    assert "[FAIL] opencv" in capsys.readouterr().out
