"""Score-map post-processing: softmax, box decoding, scale/ratio penalty, window, selection.

Shapes (A anchors, S score-map side, N = A * S * S proposals, anchor-major order):
    cls logits (1, 2A, S, S), class-major: channels 0..A-1 background, A..2A-1 foreground.
    deltas     (1, 4A, S, S), coordinate-major: channel coord * A + a, coord in (dx, dy, dw, dh).
    boxes      (4, N) float32 (cx, cy, w, h) in crop pixels relative to the crop centre.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .geometry import Coords


def foreground_scores(cls_logits: NDArray[np.float32]) -> NDArray[np.float32]:
    """Two-way softmax of each anchor's (bg, fg) logits -> (N,) foreground probabilities."""
    logits = np.asarray(cls_logits, dtype=np.float32).reshape(2, -1)
    top = logits.max(axis=0)
    e = np.exp(logits - top)
    fg: NDArray[np.float32] = (e[1] / (e[0] + e[1])).astype(np.float32)
    return fg


def decode(delta: NDArray[np.float32], anchors: NDArray[np.float32]) -> NDArray[np.float32]:
    """Apply deltas to anchors (N, 4) -> boxes (4, N): x = dx aw + ax, w = exp(dw) aw (crop pixels)."""
    d = np.asarray(delta, dtype=np.float32).reshape(4, -1)
    boxes = np.empty_like(d)
    boxes[0] = d[0] * anchors[:, 2] + anchors[:, 0]
    boxes[1] = d[1] * anchors[:, 3] + anchors[:, 1]
    boxes[2] = np.exp(d[2]) * anchors[:, 2]
    boxes[3] = np.exp(d[3]) * anchors[:, 3]
    return boxes


def _padded_size(w: NDArray[np.float64] | float, h: NDArray[np.float64] | float) -> NDArray[np.float64]:
    pad = (w + h) * 0.5
    return np.sqrt((w + pad) * (h + pad))


def _change(r: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.maximum(r, 1.0 / r)


def size_penalty(
    boxes: NDArray[np.float32], target_size_crop: Coords, penalty_k: float
) -> NDArray[np.float64]:
    """exp(-(r_c * s_c - 1) * penalty_k): penalise change of scale s_c and aspect ratio r_c.

    Args:
        boxes: (4, N) decoded proposals, crop pixels.
        target_size_crop: (w, h) of the current target, crop pixels (image size * scale_z).
        penalty_k: penalty strength.
    """
    tw, th = float(target_size_crop[0]), float(target_size_crop[1])
    w = boxes[2].astype(np.float64)
    h = boxes[3].astype(np.float64)
    s_c = _change(_padded_size(w, h) / _padded_size(tw, th))
    r_c = _change((tw / th) / (w / h))
    return np.exp(-(r_c * s_c - 1.0) * penalty_k)


@dataclass(frozen=True)
class Selection:
    """The winning proposal of one search.

    Attributes:
        index: proposal index (anchor-major).
        box_crop: (cx, cy, w, h) of the winner, crop pixels from the crop centre.
        score: its raw foreground probability.
        penalty: its size penalty.
        pscore: (N,) final scores of every anchor (penalised, windowed); ``index`` is their argmax. Distractors
            are picked from the raw scores, not from these.
    """

    index: int
    box_crop: NDArray[np.float32]
    score: float
    penalty: float
    pscore: NDArray[np.float64]


def select(
    scores: NDArray[np.float32],
    boxes: NDArray[np.float32],
    window: NDArray[np.float64],
    target_size_crop: Coords,
    penalty_k: float,
    window_influence: float,
) -> Selection:
    """Penalise, blend with the motion window, and take the first maximum.

    pscore = penalty * score * (1 - window_influence) + window * window_influence.
    """
    penalty = size_penalty(boxes, target_size_crop, penalty_k)
    pscore = penalty * scores * (1.0 - window_influence) + window * window_influence
    best = int(np.argmax(pscore))
    return Selection(best, boxes[:, best].copy(), float(scores[best]), float(penalty[best]), pscore)
