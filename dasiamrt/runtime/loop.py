"""The one per-frame tracking loop: ``init`` on the first frame, ``track`` on every later one.

:func:`track_frames` is what every driver that runs a tracker over a sequence of frames iterates: the
``track`` command (:mod:`dasiamrt.tracking.run`), evaluation (:mod:`dasiamrt.eval.runner`, one pass and VOT's
reset-based protocol in segments), calibration trajectories (:mod:`dasiamrt.calib.trajectories`), accuracy
comparisons (:mod:`dasiamrt.calib.compare`), training validation (:mod:`dasiamrt.train.validate`), the benchmark
(:mod:`dasiamrt.bench`) and the benchmark
scripts (:func:`track_boxes`). Drivers whose target is set from outside at any frame (the live loop's control
messages and keys, a TraX client's ``initialize`` requests) call the same per-frame step, the tracker's
``init``/``track``, themselves.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np
from numpy.typing import NDArray

from .geometry import check_init_box
from .tracker import TrackResult


@dataclass(frozen=True)
class Step:
    """One frame of a run.

    Attributes:
        index: 0-based frame number in the run (0: the init frame).
        frame: (H, W, 3) uint8 BGR image.
        result: the tracker's result; for frame 0 the init box itself, score 1, state "tracking".
        seconds: wall time of this frame's ``init`` or ``track`` call.
    """

    index: int
    frame: NDArray[np.uint8]
    result: TrackResult
    seconds: float


def track_frames(tracker: Any, frames: Iterable[NDArray[np.uint8]], init_xywh: Sequence[float],
                 max_frames: Optional[int] = None) -> Iterator[Step]:
    """Initialise ``tracker`` on the first of ``frames`` and track through the rest, one :class:`Step` each.

    Args:
        tracker: ``init(frame, bbox_xywh)`` and ``track(frame) -> TrackResult``
            (:class:`~dasiamrt.runtime.tracker.Tracker`, or a test double).
        frames: (H, W, 3) uint8 BGR images, read lazily.
        init_xywh: 0-based x, y, w, h on the first frame (checked against it).
        max_frames: stop after this many steps (init frame included); None: to the end.

    Raises:
        BoxError: ``init_xywh`` does not fit the first frame.
    """
    for index, frame in enumerate(frames):
        if max_frames is not None and index >= max_frames:
            return
        start = time.perf_counter()
        if index == 0:
            box = check_init_box(init_xywh, frame.shape)
            tracker.init(frame, box)
            result = TrackResult(box, 1.0, "tracking", 0, 0)
        else:
            result = tracker.track(frame)
        yield Step(index, frame, result, time.perf_counter() - start)


def track_boxes(tracker: Any, frames: Iterable[NDArray[np.uint8]], init_xywh: Sequence[float],
                max_frames: Optional[int] = None) -> NDArray[np.float64]:
    """(T, 4) boxes of ``tracker`` on ``frames`` (row 0 = the init box), at most ``max_frames`` rows."""
    boxes: List[Tuple[float, ...]] = [step.result.bbox_xywh for step in track_frames(tracker, frames, init_xywh,
                                                                                     max_frames)]
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
