"""The backend protocol owns its checks and its state (issue 15, move 2): public methods check arguments and
state and call ``_impl`` methods; capabilities are declared attributes; the tracker reads them."""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from dasiamrt.config import PRESETS
from dasiamrt.errors import BackendError
from dasiamrt.runtime import timing
from dasiamrt.runtime.timing import StageTimer
from dasiamrt.runtime.tracker import Tracker
from tests.fakes import ScriptedBackend

FRAME = np.full((240, 320, 3), 90, np.uint8)
BOX = (140.0, 100.0, 40.0, 40.0)
K = (np.zeros((10, 4, 4, 4), np.float32), np.zeros((20, 4, 4, 4), np.float32))


class FusingFake(ScriptedBackend):
    """A scripted backend whose fusion is recorded; where the features live is the test's choice."""

    supports_fusion = True

    def __init__(self, scores, on_device):
        super().__init__(scores)
        self.fuses_on_device = on_device
        self.wanted, self.fused = [], 0

    def _search_impl(self, crop, want_features=False):
        self.wanted.append(want_features)
        return super()._search_impl(crop, want_features)

    def _reset_fusion_impl(self, cls_kernel, weight):
        pass

    def _fuse_impl(self, window_index, window_weight, inv_total):
        self.fused += 1


@pytest.mark.parametrize("on_device", [False, True])
def test_the_tracker_asks_for_features_only_where_the_fusion_runs_on_the_host(on_device):
    backend = FusingFake([0.9] * 4, on_device)
    tracker = Tracker(backend, PRESETS["tiny"].tracker.replace(distractor={"enabled": True}))
    tracker.init(FRAME, BOX)
    for _ in range(4):
        tracker.track(FRAME)
    assert backend.wanted == [not on_device] * 4 and backend.fused == 4


def test_public_methods_check_arguments_and_state_for_every_backend():
    backend = ScriptedBackend([0.5])
    with pytest.raises(RuntimeError, match="before set_kernels"):
        backend.search(np.zeros((1, 3, 255, 255), np.float32))
    with pytest.raises(BackendError, match=r"template crops must be \(N, 3, 127, 127\)"):
        backend.template(np.zeros((3, 127, 127), np.float32))
    with pytest.raises(BackendError, match="kernels must be cls"):
        backend.set_kernels(K[0], K[1][:, :2])
    backend.set_kernels(*K)
    with pytest.raises(BackendError, match=r"search crops must be \(1, 3, H, H\)"):
        backend.search(np.zeros((1, 3, 255, 271), np.float32))
    with pytest.raises(BackendError, match="cannot fuse kernels"):  # declared: supports_fusion = False
        backend.reset_fusion(K[0], 1.0)
    fusing = FusingFake([0.5], on_device=True)
    fusing.set_kernels(*K)
    with pytest.raises(BackendError, match="36 N window indices"):
        fusing.fuse(np.zeros(35, np.int64), np.ones(1, np.float32), 1.0)
    with pytest.raises(RuntimeError, match="needs reset_fusion"):
        fusing.fuse(np.zeros(36, np.int64), np.ones(1, np.float32), 1.0)
    fusing.close()
    fusing.close()  # idempotent
    for call in (lambda: fusing.template(np.zeros((1, 3, 127, 127), np.float32)), lambda: fusing.set_kernels(*K),
                 lambda: fusing.search(np.zeros((1, 3, 255, 255), np.float32)),
                 lambda: fusing.reset_fusion(K[0], 1.0)):
        with pytest.raises(RuntimeError, match="closed"):
            call()
    assert fusing.describe() == "scripted fp32 (closed)"


def test_stage_timer_laps(monkeypatch):
    ticks = iter([10.0, 10.5, 11.25, 11.5])
    monkeypatch.setattr(timing.time, "perf_counter", lambda: next(ticks))
    timer = StageTimer()  # 10.0
    timer.start()  # 10.5
    timer.lap("crop")  # 11.25
    timer.lap("search")  # 11.5
    assert timer.seconds == {"crop": 0.75, "search": 0.25}


def test_tracker_reports_its_stages():
    tracker = Tracker(ScriptedBackend([0.9]), PRESETS["tiny"].tracker)
    tracker.init(FRAME, BOX)
    assert list(tracker.stage_seconds) == ["crop", "template"]
    tracker.track(FRAME)
    assert list(tracker.stage_seconds) == ["crop", "search", "post", "fusion"]
    assert all(v >= 0 for v in tracker.stage_seconds.values())


def test_nothing_probes_a_backend_with_getattr_or_hasattr():
    package = Path(__file__).resolve().parents[2] / "dasiamrt"
    found = []
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("getattr", "hasattr") and node.args
                    and "backend" in ast.unparse(node.args[0]).lower()):
                found.append(f"{path.relative_to(package)}:{node.lineno} {ast.unparse(node)}")
    assert not found, "\n".join(found)


def test_new_kernels_end_the_fusion_and_fuse_needs_a_search_of_them():
    """A fused sum belongs to the kernels it started from: after set_kernels (a new target) fuse() must not fold
    windows into the previous target's sum, nor read features of a search made before those kernels."""
    crop = np.zeros((1, 3, 255, 255), np.float32)
    window = (np.zeros(36, np.int64), np.ones(1, np.float32), 1.0)
    backend = FusingFake([0.5] * 3, on_device=True)
    backend.set_kernels(*K)
    backend.reset_fusion(K[0], 1.0)
    with pytest.raises(RuntimeError, match="needs reset_fusion"):
        backend.fuse(*window)  # no search with these kernels yet
    backend.search(crop)
    backend.fuse(*window)
    assert backend.fused == 1
    backend.set_kernels(*K)  # a new target
    backend.search(crop)
    with pytest.raises(RuntimeError, match="needs reset_fusion"):
        backend.fuse(*window)
    backend.reset_fusion(K[0], 1.0)
    backend.search(crop)
    backend.fuse(*window)
    assert backend.fused == 2
