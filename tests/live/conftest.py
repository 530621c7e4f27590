"""Scripted cameras and a fake slow tracker for the live tests.

Each scripted frame carries its own capture id in its first pixel (id % 256, id // 256), so a test
can tell which frame the tracker really received without trusting the loop's bookkeeping.
"""
from __future__ import annotations

import threading
import time
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import pytest

from dasiamrt.errors import SourceError
from dasiamrt.runtime.tracker import TrackResult
from dasiamrt.videoio.frames import FrameSource


def frame_id(frame: np.ndarray) -> int:
    return int(frame[0, 0, 0]) + 256 * int(frame[0, 0, 1])


class Clock:
    """Shared state of one scripted camera across reconnects: the id of the newest frame produced."""

    def __init__(self) -> None:
        self.latest = -1
        self.next_id = 0
        self.lock = threading.Lock()


class ScriptedCamera(FrameSource):
    """``n_frames`` frames of ``size_wh`` at ``rate_hz``, then ``read()`` gives None (a disconnect)."""

    def __init__(self, clock: Clock, n_frames: int, rate_hz: float, size_wh: Tuple[int, int] = (64, 48),
                 unplug_error: bool = False) -> None:
        self.description = "scripted camera"
        self.clock, self.n_frames, self.period, self.size_wh = clock, n_frames, 1.0 / rate_hz, size_wh
        self.unplug_error = unplug_error
        self.count = 0
        self.start = time.perf_counter()
        self.closed = False

    @property
    def fps(self) -> Optional[float]:
        return 1.0 / self.period

    def read(self) -> Optional[np.ndarray]:
        if self.count >= self.n_frames:
            if self.unplug_error:  # what some drivers do when the device disappears
                raise OSError("[Errno 19] No such device")
            return None
        delay = self.start + (self.count + 1) * self.period - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        width, height = self.size_wh
        frame = np.full((height, width, 3), 80, np.uint8)
        with self.clock.lock:
            fid = self.clock.next_id
            self.clock.next_id += 1
            self.clock.latest = fid
        frame[0, 0, 0], frame[0, 0, 1] = fid % 256, fid // 256
        self.count += 1
        return frame

    def close(self) -> None:
        self.closed = True


class ScriptedOpener:
    """Opens the scripted sessions in order: ``(n_frames, size_wh[, unplug_error])`` or an exception to raise.

    Once the script is used up, every open fails (the camera stays away).
    """

    def __init__(self, sessions: Sequence[Union[tuple, Exception]], rate_hz: float) -> None:
        self.sessions = list(sessions)
        self.rate_hz = rate_hz
        self.clock = Clock()
        self.calls = 0
        self.opened: List[ScriptedCamera] = []

    def __call__(self) -> ScriptedCamera:
        self.calls += 1
        if not self.sessions:
            raise SourceError("scripted camera unplugged for good")
        item = self.sessions.pop(0)
        if isinstance(item, Exception):
            raise item
        camera = ScriptedCamera(self.clock, item[0], self.rate_hz, item[1], *item[2:])
        self.opened.append(camera)
        return camera


class SlowTracker:
    """Fake tracker: ``track`` takes ``delay`` seconds and moves the box 1 px right per call.

    Records, per call, the id of the frame it got and the newest id the camera had produced then.
    State is "lost" on frames whose id is a multiple of 7 (a rule a test can recompute).
    """

    def __init__(self, delay: float, clock: Optional[Clock] = None) -> None:
        self.delay, self.clock = delay, clock
        self.box: Tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
        self.inits: List[Tuple[int, Tuple[float, ...], Tuple[int, int]]] = []
        self.calls: List[Tuple[int, int]] = []

    def init(self, frame: np.ndarray, bbox_xywh: Sequence[float]) -> None:
        self.box = tuple(float(v) for v in bbox_xywh)  # type: ignore[assignment]
        self.inits.append((frame_id(frame), self.box, (frame.shape[1], frame.shape[0])))

    def track(self, frame: np.ndarray) -> TrackResult:
        latest = self.clock.latest if self.clock is not None else -1
        fid = frame_id(frame)
        self.calls.append((fid, latest))
        time.sleep(self.delay)
        x, y, w, h = self.box
        self.box = (x + 1.0, y, w, h)
        return TrackResult(self.box, 0.5, "lost" if fid % 7 == 0 else "tracking")


class ListSink:
    """JSON sink keeping the records in memory."""

    description = "list"

    def __init__(self) -> None:
        self.records: List[dict] = []
        self.closed = False

    def write(self, record: dict) -> None:
        self.records.append(record)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def scripted():
    """The helper classes, for tests to build their own scripts."""
    class Namespace:
        pass

    ns = Namespace()
    ns.ScriptedOpener, ns.SlowTracker, ns.ListSink, ns.frame_id = ScriptedOpener, SlowTracker, ListSink, frame_id
    return ns
