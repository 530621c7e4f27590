"""How train_logs/real/motion/*.md were made: benchmarks/real_validation.py with a constant-velocity
search centre patched in for the run (not a product feature). Each frame is searched around c + v,
where c is the last centre and v the motion estimate; after the frame, v <- M v + (1 - M) d with d the
centre's move, when the frame's score >= 0.5356 (the bundled model's enter threshold), else v <- v / 2.
Usage:

    python train_logs/real/motion/motion_variant.py M [real_validation.py options]
"""
import runpy
import sys
from pathlib import Path

import numpy as np

from dasiamrt.runtime import tracker as T

M = float(sys.argv.pop(1))
CONFIDENT = 0.5356
_track = T.Tracker.track


def track(self, frame):
    state = self._state_for(frame)
    if getattr(self, "_motion_state", None) is not state:  # a new init: no motion yet
        self._motion_state, self._v = state, np.zeros(2)
    previous = state.center_xy.copy()
    width, height = state.image_wh
    state.center_xy = np.clip(previous + self._v, [0, 0], [width, height])
    result = _track(self, frame)
    moved = state.center_xy - previous
    self._v = M * self._v + (1 - M) * moved if result.score >= CONFIDENT else 0.5 * self._v
    return result


T.Tracker.track = track
sys.argv = ["real_validation.py"] + sys.argv[1:]
runpy.run_path(str(Path(__file__).resolve().parents[3] / "benchmarks" / "real_validation.py"), run_name="__main__")
