"""On-screen output of ``dasiamrt live``: overlay, window, keys, drawing the target.

Keys in the window: ``s`` (or ``r``) draws a new target on the current frame, ``c`` clears it,
``q`` or Esc ends the run.
"""
from __future__ import annotations

import os
import sys
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np
from numpy.typing import NDArray

from ..errors import ConfigError
from ..videoio.writers import draw_result

WINDOW = "dasiamrt live"
KEY_SELECT = (ord("s"), ord("r"))
KEY_CLEAR = (ord("c"),)
KEY_QUIT = (ord("q"), 27)


def overlay(frame: NDArray[np.uint8], bbox_xywh: Optional[Sequence[float]], score: Optional[float], state: str,
            fps: float, latency_ms: float, dropped: int) -> NDArray[np.uint8]:
    """A copy of ``frame`` with the box (when there is one), score, state, FPS, latency and drop count."""
    text = f"{fps:4.1f} FPS {latency_ms:4.0f} ms drop {dropped}"
    if bbox_xywh is None:
        out = frame.copy()
        cv2.putText(out, f"waiting for a target  {text}", (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                    (0, 255, 255), 2, cv2.LINE_AA)
        return out
    return draw_result(frame, bbox_xywh, 1.0 if score is None else score, state, text)


def display_problem() -> Optional[str]:
    """Why no window can be opened here (one line), or ``None`` when one can."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "no display (DISPLAY is not set)"
    try:
        cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL)
    except cv2.error:
        return "this OpenCV has no GUI support (opencv-python-headless?)"
    return None


def require_display(flag: str) -> None:
    """Raise a one-line error when ``flag`` (``--show``/``--select``) cannot work here.

    Raises:
        ConfigError: no display or a headless OpenCV.
    """
    problem = display_problem()
    if problem:
        hint = "give --init x,y,w,h or --control" if flag == "--select" else "use --save FILE to record the overlay"
        raise ConfigError(f"{flag} needs a window but {problem}: {hint}")


class Display:
    """The live window (create only after :func:`require_display`)."""

    def __init__(self) -> None:
        cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL)

    def show(self, image: NDArray[np.uint8]) -> int:
        """Show ``image``; the key pressed meanwhile (``-1``: none)."""
        cv2.imshow(WINDOW, image)
        key = cv2.waitKey(1)
        return -1 if key < 0 else key & 0xFF

    def select(self, frame: NDArray[np.uint8]) -> Optional[Tuple[float, float, float, float]]:
        """Let the user drag a box on ``frame``; ``None`` when cancelled (empty box)."""
        x, y, w, h = cv2.selectROI(WINDOW, frame, showCrosshair=True, fromCenter=False)
        return (float(x), float(y), float(w), float(h)) if w > 0 and h > 0 else None

    def close(self) -> None:
        cv2.destroyWindow(WINDOW)
