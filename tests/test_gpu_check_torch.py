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
