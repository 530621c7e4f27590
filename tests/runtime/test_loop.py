"""One tracking loop and one crop recipe (issue 15, move 3)."""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from dasiamrt.assets import DEMO_INIT_XYWH
from dasiamrt.config import PRESETS
from dasiamrt.errors import BoxError
from dasiamrt.runtime.loop import track_boxes, track_frames
from dasiamrt.runtime.tracker import Tracker
from tests.fakes import ScriptedBackend

PACKAGE = Path(__file__).resolve().parents[2] / "dasiamrt"
#: drivers whose target is set from outside at any frame: they call the tracker's own per-frame step
OWN_DRIVERS = {
    "runtime/loop.py",  # the loop itself
    "live/loop.py",  # newest frame; init from control messages, keys, size changes
    "integrations/trax_server.py",  # the TraX client sends initialize/frame requests
    "integrations/got10k.py",  # got10k's experiments own the loop and call init/update
    "calib/compare.py",  # one-step agreement: the candidate tracks from the reference's state
}


def _calls(name):
    """module -> line numbers of calls ``<anything>.name(...)`` in the package."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == name:
                out.setdefault(path.relative_to(PACKAGE).as_posix(), []).append(node.lineno)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name:
                out.setdefault(path.relative_to(PACKAGE).as_posix(), []).append(node.lineno)
    return out


def test_only_the_loop_and_the_outside_driven_drivers_call_track():
    assert set(_calls("track")) <= OWN_DRIVERS, _calls("track")


def test_only_the_crop_recipe_cuts_sub_windows():
    assert set(_calls("get_subwindow")) == {"runtime/crop.py"}, _calls("get_subwindow")


def test_track_frames_equals_init_then_track(tiny_model_dir, clip_frames):
    from dasiamrt.artifacts.model_folder import read_model_dir

    info = read_model_dir(tiny_model_dir)
    frames = clip_frames[:8]
    manual = Tracker.from_model(tiny_model_dir, config=info.tracker)
    manual.init(frames[0], DEMO_INIT_XYWH)
    want = [tuple(float(v) for v in DEMO_INIT_XYWH)] + [manual.track(f).bbox_xywh for f in frames[1:]]
    steps = list(track_frames(Tracker.from_model(tiny_model_dir, config=info.tracker), iter(frames), DEMO_INIT_XYWH))
    assert [s.index for s in steps] == list(range(8)) and all(s.seconds > 0 for s in steps)
    assert [s.result.bbox_xywh for s in steps] == want
    assert steps[0].result.score == 1.0 and steps[0].result.state == "tracking"
    assert all(s.frame is f for s, f in zip(steps, frames))
    boxes = track_boxes(Tracker.from_model(tiny_model_dir, config=info.tracker), frames, DEMO_INIT_XYWH, 5)
    np.testing.assert_array_equal(boxes, np.asarray(want[:5]))


def test_track_frames_reads_lazily_and_checks_the_init_box():
    read = []

    def frames():
        for i in range(10):
            read.append(i)
            yield np.full((120, 160, 3), 100, np.uint8)

    tracker = Tracker(ScriptedBackend([0.9] * 10), PRESETS["tiny"].tracker)
    assert len(list(track_frames(tracker, frames(), (50, 40, 30, 30), max_frames=3))) == 3
    assert read == [0, 1, 2, 3]  # the frame after the last step is read, never tracked
    with pytest.raises(BoxError, match="outside"):
        next(track_frames(tracker, frames(), (500, 40, 30, 30)))
