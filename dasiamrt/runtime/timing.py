"""Seconds per stage of one tracker call, for benchmarks: a lap timer that costs a perf_counter() per stage.

    timer.start()
    ...crop...
    timer.lap("crop")
    ...search...
    timer.lap("search")
    timer.seconds -> {"crop": 0.002, "search": 0.031}
"""
from __future__ import annotations

import time
from typing import Dict


class StageTimer:
    """Laps of one call: :meth:`start`, then :meth:`lap` after each stage.

    Attributes:
        seconds: stage name -> seconds of the last call (a new dict per :meth:`start`).
    """

    def __init__(self) -> None:
        self.seconds: Dict[str, float] = {}
        self._mark = time.perf_counter()

    def start(self) -> "StageTimer":
        """Begin a call: forget the previous laps."""
        self.seconds = {}
        self._mark = time.perf_counter()
        return self

    def lap(self, stage: str) -> None:
        """The time since the previous lap (or :meth:`start`) is ``stage``'s."""
        now = time.perf_counter()
        self.seconds[stage] = now - self._mark
        self._mark = now
