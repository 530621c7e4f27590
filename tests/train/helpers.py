"""Hand-made tracks with known pixels for the training tests (no files, no photos)."""
from __future__ import annotations

from typing import List, Tuple

import numpy as np

from dasiamrt.train.datasets import Track

GRAY = 128
COLOURS = {"red": (0, 0, 255), "blue": (255, 0, 0), "green": (0, 255, 0)}


def moving_video(name: str, objects: List[Tuple[str, str, Tuple[float, float]]], frames: int = 20,
                 size: int = 400, side: float = 40.0) -> List[Track]:
    """A gray video with solid squares moving apart; objects are (colour, category, start xy)."""
    boxes = {}
    for k, (_colour, _, (x0, y0)) in enumerate(objects):
        t = np.arange(frames, dtype=np.float32)[:, None]
        xy = np.array([x0, y0], np.float32) + t * np.array([3.0, 1.5 * (k - 0.5)], np.float32)
        boxes[k] = np.concatenate([xy, np.full((frames, 2), side, np.float32)], 1)

    def load(i: int) -> np.ndarray:
        frame = np.full((size, size, 3), GRAY, np.uint8)
        for k, (colour, _, _) in enumerate(objects):
            x, y, w, h = (int(round(v)) for v in boxes[k][i])
            frame[y:y + h, x:x + w] = COLOURS[colour]
        return frame

    return [Track(cat, boxes[k], load, np.ones(frames, bool), name, aligned=True)
            for k, (_, cat, _) in enumerate(objects)]


def colour_box(crop: np.ndarray, colour: str) -> Tuple[np.ndarray, int]:
    """(x0, y0, x1, y1) pixel extent of the clearly ``colour`` pixels of a crop, and their count."""
    b, g, r = (crop[..., c].astype(int) for c in range(3))
    want = COLOURS[colour]
    mask = np.ones(crop.shape[:2], bool)
    for chan, value in zip((b, g, r), want):
        mask &= (chan > 200) if value == 255 else (chan < 60)
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return np.zeros(4), 0
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], float), int(xs.size)
