"""The tracker's score on target vs off target, and the model's own long-term / distractor thresholds.

Per tracked frame (frame 0, the initialisation, excluded) the tracker reports the best proposal's
score. With the ground truth a frame is *on target* when the box overlaps it with IoU >= ``on_iou``
(0.5) and *off target* when IoU < ``off_iou`` (0.1) or the target is absent (NaN ground truth);
frames in between are left out. A model whose score means something has on-target scores high and
off-target scores low; the histograms show it, and the thresholds follow from them. The costs
are not symmetric: entering ``lost`` while on target freezes the box and opens a global search in
which a look-alike can win, while staying in ``tracking`` when already off target costs little.
Off-target frames are also of two kinds: the tracker sits on background (scores near 0) or on a
look-alike (scores as high as the target's), and no threshold separates the second kind. Hence:

* ``enter`` (enter ``lost`` when the score is below it): the ``enter_quantile`` (2%) quantile of
  on-target scores, so that at most 2% of on-target frames would enter ``lost``;
* ``leave`` (leave ``lost`` only above it): the ``leave_quantile`` (95%) quantile of off-target
  scores, so that at most 5% of off-target frames would count as found; never below ``enter``;
* ``distractor`` (h: a proposal other than the winner scoring above it is a distractor): ``enter``,
  the score above which a proposal would keep the tracker in ``tracking`` had it won.

The score is the one the tracker runs on, so it depends on the mode: with distractor-aware tracking
the winner's score comes from the fused kernel (Eq. 4), which subtracts the look-alikes' responses and
gives on-target frames a longer low tail (the bundled model of issue #18: 2% quantile 0.63 with
``--da``, 0.80 without). Long-term tracking can run on either, so :func:`combine_thresholds` takes thresholds derived
in each mode (without long-term tracking: its global search changes what is tracked) and returns ones
that hold in all: the lowest ``enter`` and ``distractor``, the highest ``leave``.

``balanced_error`` (the least ``(P(on < t) + P(off >= t)) / 2`` over t) says how well the score
separates the two sets at all: 0 is perfect, 0.5 is chance.

The official presets keep the paper's 0.8 / 0.95: these thresholds belong to a model trained here.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

ON_IOU, OFF_IOU = 0.5, 0.1
BINS = np.linspace(0.0, 1.0, 21)


def on_off_scores(scores: np.ndarray, ious: np.ndarray, absent: Optional[np.ndarray] = None,
                  on_iou: float = ON_IOU, off_iou: float = OFF_IOU) -> Tuple[np.ndarray, np.ndarray]:
    """Scores of on-target and off-target frames (frame 0 and frames of unknown, NaN, score excluded).

    Args:
        scores: (T,) the tracker's score per frame (NaN where unknown: counted on neither side).
        ious: (T,) IoU of the box with the ground truth; negative or NaN where the ground truth is
            invalid (``eval.metrics.ope_sequence`` writes -1 there).
        absent: (T,) bool, frames without the target (counted off target), or None: invalid ground
            truth is taken as absent.
    """
    scores = np.asarray(scores, dtype=np.float64)
    ious = np.asarray(ious, dtype=np.float64)
    invalid = ~np.isfinite(ious) | (ious < 0)
    gone = invalid if absent is None else np.asarray(absent, dtype=bool) | invalid
    known = np.isfinite(scores)
    on = known & ~gone & (ious >= on_iou)
    off = known & (gone | (ious < off_iou))
    on[0] = off[0] = False
    return scores[on], scores[off]


def histogram(on: np.ndarray, off: np.ndarray, bins: np.ndarray = BINS) -> Dict[str, Any]:
    """Counts of on/off-target scores in ``bins`` (edges), with medians and frame counts."""
    on_counts = np.histogram(np.clip(on, 0, 1), bins)[0]
    off_counts = np.histogram(np.clip(off, 0, 1), bins)[0]

    def median(values: np.ndarray) -> Optional[float]:
        return float(np.median(values)) if len(values) else None

    return {"bins": [float(b) for b in bins], "on": on_counts.tolist(), "off": off_counts.tolist(),
            "on_frames": int(len(on)), "off_frames": int(len(off)), "on_median": median(on),
            "off_median": median(off)}


def derive_thresholds(on: Union[Sequence[float], np.ndarray], off: Union[Sequence[float], np.ndarray],
                      enter_quantile: float = 0.02, leave_quantile: float = 0.95) -> Dict[str, float]:
    """``enter``, ``leave`` and ``distractor`` thresholds from on/off-target scores (see module doc); NaN
    (unknown) scores are left out.

    Raises:
        ValueError: either set has no known score (nothing to separate).
    """
    on_a, off_a = (np.asarray(v, dtype=np.float64) for v in (on, off))
    on_a, off_a = np.sort(on_a[np.isfinite(on_a)]), np.sort(off_a[np.isfinite(off_a)])
    if not len(on_a) or not len(off_a):
        raise ValueError("thresholds need on-target and off-target frames: track more validation sequences")
    enter = float(np.quantile(on_a, enter_quantile))
    leave = max(enter, float(np.quantile(off_a, leave_quantile)))
    candidates = np.unique(np.concatenate([on_a, off_a, [0.0, 1.0]]))
    below_on = np.searchsorted(on_a, candidates, side="left") / len(on_a)          # P(on < t)
    above_off = 1.0 - np.searchsorted(off_a, candidates, side="left") / len(off_a)  # P(off >= t)
    return {"enter": round(enter, 4), "leave": round(leave, 4), "distractor": round(enter, 4),
            "balanced_error": round(float(np.min((below_on + above_off) / 2)), 4)}


def combine_thresholds(per_mode: Sequence[Mapping[str, float]]) -> Dict[str, float]:
    """Thresholds that hold in every mode of ``per_mode`` (each a :func:`derive_thresholds` result): no mode
    enters ``lost`` on more of its on-target frames, or counts more of its off-target frames as found, than
    its own thresholds allow. ``balanced_error`` is the worst mode's.

    Raises:
        ValueError: ``per_mode`` is empty.
    """
    if not per_mode:
        raise ValueError("combine_thresholds needs the thresholds of at least one mode")
    enter = min(t["enter"] for t in per_mode)
    return {"enter": enter, "leave": max(enter, max(t["leave"] for t in per_mode)),
            "distractor": min(t["distractor"] for t in per_mode),
            "balanced_error": max(t["balanced_error"] for t in per_mode)}


__all__ = ["BINS", "OFF_IOU", "ON_IOU", "combine_thresholds", "derive_thresholds", "histogram", "on_off_scores"]
