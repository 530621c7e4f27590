"""gpu_check.py section 3 (the torch tracking loop on the GPU), its code run on the CPU.

The script runs once, later, on a machine with a GPU and little time: its section-3 code paths are
exercised here with the CPU torch backend standing in for ``--device cuda`` (tiny network, few frames).
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def gpu_check(monkeypatch):
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "gpu_check", module)
    spec.loader.exec_module(module)
    from dasiamrt.runtime.backends.torch_backend import TorchBackend
    from dasiamrt.runtime.tracker import Tracker
    from tests.runtime.test_torch_backend import FrozenCapture

    def cpu_tracker(net, config, precision, graph):
        return Tracker(TorchBackend(net, precision=precision, capture=FrozenCapture() if graph else None), config)

    monkeypatch.setattr(module, "_gpu_tracker", cpu_tracker)
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda *a: None)
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda *a: 3 * 2**20)
    return module


def test_section_3_cases_and_boxes_run(gpu_check, tiny_net, clip_frames):
    from dasiamrt.bench.run import BenchReport

    report = BenchReport("m", {})
    ctx = {"out": ".", "left": lambda: 1000.0}
    line = gpu_check._guarded(ctx, 40, gpu_check._time_case, tiny_net, 255, "fp16", True, True, clip_frames[:8],
                              report)
    assert "FPS" in line and "fusion" in line and "peak 3 MiB" in line and "CUDA graphs at 255" in line, line
    assert "| torch graph | fp16 | 255 | on |" in report.table()
    boxes = gpu_check._boxes_vs_cpu(tiny_net, clip_frames[:3], ctx)
    assert len(boxes) == 6 and all(v.startswith("max ") for v in boxes.values()), boxes
    # fp32 through the (fake) graph is the CPU tracker itself
    assert all(v.startswith("max 0.000 px") for k, v in boxes.items() if "fp32 graph" in k), boxes


def test_a_failing_case_is_recorded_and_the_budget_is_kept(gpu_check):
    ctx = {"out": ".", "left": lambda: 1000.0}

    def broken() -> None:
        raise RuntimeError("CUDA error: out of memory")

    assert gpu_check._guarded(ctx, 40, broken) == "error: RuntimeError: CUDA error: out of memory"
    assert gpu_check._guarded({"left": lambda: 10.0}, 40, broken) == "skipped: time budget spent"


def test_a_refused_capture_is_labelled_eager_in_the_table(gpu_check, tiny_net, clip_frames, monkeypatch):
    from dasiamrt.bench.run import BenchReport
    from dasiamrt.runtime.backends.torch_backend import TorchBackend
    from dasiamrt.runtime.tracker import Tracker
    from tests.runtime.test_torch_backend import RefusingCapture

    monkeypatch.setattr(gpu_check, "_gpu_tracker", lambda net, config, precision, graph: Tracker(
        TorchBackend(net, precision=precision, capture=RefusingCapture() if graph else None), config))
    report = BenchReport("m", {})
    line = gpu_check._time_case(tiny_net, 255, "fp32", True, False, clip_frames[:8], report)
    assert "eager at 255" in line, line
    assert "| torch eager (capture refused) | fp32 | 255 |" in report.table()
    assert "torch graph" not in report.table()


def test_the_report_on_disk_holds_a_running_sections_results_before_it_ends(gpu_check, tmp_path, monkeypatch):
    """A run killed mid-section (the device tool's limit) keeps what was measured: the files are rewritten after
    each case, the section marked running; a section that fails after some cases keeps them beside the error."""
    import json

    seen = {}

    def measuring(ctx):
        ctx["partial"]["case 1"] = "12 FPS"
        gpu_check._save(ctx)
        seen.update(json.loads((tmp_path / "gpu_check.json").read_text())["sections"][-1])
        seen["md"] = (tmp_path / "gpu_check.md").read_text()
        return ctx["partial"]

    def failing(ctx):
        ctx["partial"]["case 1"] = "9 FPS"
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    monkeypatch.setattr(gpu_check, "SECTIONS", [("speed", measuring), ("broken", failing)])
    report = gpu_check.run(tmp_path, 100.0)
    assert seen["status"] == "running" and seen["result"] == {"case 1": "12 FPS"}
    assert "| speed | running | case 1: 12 FPS |" in seen["md"]
    on_disk = json.loads((tmp_path / "gpu_check.json").read_text())
    assert on_disk["sections"] == json.loads(json.dumps(report["sections"]))
    broken = on_disk["sections"][1]
    assert broken["status"] == "error" and broken["result"]["case 1"] == "9 FPS"
    assert "illegal memory access" in broken["result"]["error"]


@pytest.mark.parametrize("error, gpu, expected", [("missing", True, "skipped"), ("backend", False, "skipped"),
                                                   ("backend", True, "error")])
def test_a_device_layer_failure_is_a_skip_only_without_a_gpu_or_its_library(gpu_check, monkeypatch, tmp_path, error,
                                                                           gpu, expected):
    import dasiamrt.trt.cuda_device as cuda_device
    from dasiamrt.errors import BackendError, MissingDependencyError

    def open_device(*args, **kwargs):
        if error == "missing":
            raise MissingDependencyError("cuda-python", "the CUDA device layer", "pip install cuda-python")
        raise BackendError("CUDA call cudaSetDevice failed: cudaErrorDevicesUnavailable")

    monkeypatch.setattr(cuda_device, "open_device", open_device)
    monkeypatch.setattr(gpu_check, "_gpu_visible", lambda: gpu)
    monkeypatch.setattr(gpu_check, "SECTIONS", [("device layer", gpu_check.device_layer)])
    section = gpu_check.run(tmp_path, 100.0)["sections"][0]
    assert section["status"] == expected and "cuda" in str(section["result"]).lower(), section


def test_tensorrt_section_keeps_each_steps_outcome_and_builds_outside_the_report_folder(gpu_check, tmp_path,
                                                                                       monkeypatch):
    """Section 4 with a stand-in TensorRT: a step that times out is recorded and the next ones run; the model
    copy and engines live in a temporary folder that is removed; timeouts stay inside the budget."""
    import subprocess
    import types

    monkeypatch.setitem(sys.modules, "tensorrt", types.ModuleType("tensorrt"))
    calls = []

    def fake_run(args, timeout, **kwargs):
        calls.append((args, timeout))
        if "build" in args and "int8" in args:
            raise subprocess.TimeoutExpired(args, timeout)
        if "--model" in args:
            assert Path(args[args.index("--model") + 1]).is_dir()  # the copy exists while the steps run
        return subprocess.CompletedProcess(args, 0, stdout="12 passed\n", stderr="")

    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.setattr(gpu_check, "_boxes_vs_ort", lambda model: 0.25)
    ctx = {"out": str(tmp_path), "left": lambda: 300.0, "partial": {}}
    results = gpu_check.tensorrt(ctx)
    assert results["pytest -m 'gpu or trt'"] == "12 passed"
    assert results["build fp32"] == "ok" and results["build fp16"] == "ok"
    assert results["build int8"] == "timed out after 300 s"
    assert results["bench --backend trt fp16"] == "12 passed" and results["fp16 boxes vs ort (max px)"] == 0.25
    assert all(timeout <= 300 for _, timeout in calls) and calls[0][1] == 180  # the tests leave 120 s for the rest
    models = {Path(args[args.index("--model") + 1]) for args, _ in calls if "--model" in args}
    assert len(models) == 1 and tmp_path not in next(iter(models)).parents and not next(iter(models)).exists()
    assert list(tmp_path.iterdir()) == []  # bench_trt.json would be the fake bench's to write
