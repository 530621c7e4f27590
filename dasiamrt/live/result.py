"""One processed frame as seen by result listeners (the MAVLink component, tests).

The JSON record (``outputs.make_record``) is for other programs; a :class:`LiveResult` is for code in
this process: it also carries the frame size (to normalise the box) and the monotonic capture time
(to measure capture-to-message latency with the clock the loop uses).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Protocol, Tuple


@dataclass(frozen=True)
class LiveResult:
    """The tracker's answer for one processed frame.

    Attributes:
        frame_id: capture sequence number (as in the JSON record's ``frame``).
        t_capture: wall-clock capture time, Unix seconds.
        t_mono: ``time.perf_counter()`` at capture.
        t_result: ``time.perf_counter()`` when the result was known.
        frame_wh: (width, height) of the frame, pixels.
        state: ``init``, ``tracking``, ``lost`` or ``waiting``.
        bbox_xywh: 0-based top-left x, y, w, h in frame pixels; ``None`` while waiting.
        score: foreground score (1.0 on init); ``None`` while waiting.
    """

    frame_id: int
    t_capture: float
    t_mono: float
    t_result: float
    frame_wh: Tuple[int, int]
    state: str
    bbox_xywh: Optional[Tuple[float, float, float, float]]
    score: Optional[float]


class ResultListener(Protocol):
    """Gets every result on the tracking thread, right after it is known: must return at once (no I/O)."""

    def on_result(self, result: LiveResult) -> None:
        ...
