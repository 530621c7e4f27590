"""Tracking metrics, each following one published toolkit (named per function).

One-pass evaluation (OTB, UAV123/UAV20L, LaSOT, synthetic), :func:`ope_sequence`:
    The OTB/UAV MATLAB toolkits' ``calcSeqErrRobust`` (also pysot's ``success_overlap``):
    * frame 0 is the initialisation: its prediction is replaced by the ground truth;
    * a prediction with a NaN, or a width or height <= 0, repeats the previous frame's box (where the
      ground truth is not NaN);
    * success: share of frames with IoU strictly above each of 21 thresholds 0, 0.05, .., 1;
      the score (AUC) is the mean of the 21 values; per sequence, then averaged over sequences;
    * precision: share of frames whose centre error is <= each of 0..50 px; the score is at 20 px;
      normalised precision divides the error by the ground-truth width/height per axis
      (thresholds 0..0.5 in steps of 0.01; score at 0.2, as pysot/pytracking, and the mean over
      0..0.5, as the LaSOT toolkit's AUC);
    * frames whose ground truth is invalid (NaN rows of UAV123 out-of-view frames, or w/h <= 0)
      stay in the denominator, count as failures for success and -- the toolkits' quirk, kept on
      purpose -- as hits for precision (their error is -1);
    * ``absent`` frames (LaSOT: full occlusion or out of view) are removed from the numerators only,
      the denominator stays the sequence length (LaSOT toolkit ``eval_tracker.m``).
    got10k's ``ExperimentUAV123`` instead drops NaN frames from numerator and denominator; on
    sequences without invalid or absent frames all these variants agree exactly.

GOT-10k, :func:`got10k_ious` / :func:`got10k_summary`:
    The GOT-10k toolkit: boxes clipped to the image, IoU of every frame but the first, frames with
    ``cover == 0`` (absent) dropped, IoUs pooled over all sequences (and repetitions); AO = mean IoU,
    SR0.5 / SR0.75 = share above 0.5 / 0.75; success curve over 101 thresholds (strict ``>``).

VOT2016-2019 baseline (reset-based), :func:`vot_accuracy_robustness` / :func:`vot_eao`:
    As pysot-toolkit's ``ar_benchmark`` / ``eao_benchmark``: a trajectory holds per frame a region,
    or a code: 1 = initialised, 2 = failure (overlap with the ground truth == 0), 0 = skipped (the 4
    frames after a failure; re-initialisation 5 frames after it). Accuracy: mean overlap of the
    frames that are not codes and not among the 10 frames starting at each initialisation, pooled
    over all frames of all sequences. Robustness: failures per 100 frames (VOT2018/pysot "R"), plus
    the raw failure count. EAO: fragments from each (re)initialisation, zero-padded after a failure,
    expected average overlap over lengths, averaged on the edition's interval.
    Overlaps are exact polygon areas bounded by the image; the VOT toolkit rasterises regions.
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from . import boxes

OVERLAP_THRESHOLDS = np.linspace(0.0, 1.0, 21)
ERROR_THRESHOLDS = np.arange(0, 51, dtype=np.float64)
NORM_ERROR_THRESHOLDS = np.arange(0, 51, dtype=np.float64) / 100.0
GOT10K_THRESHOLDS = np.linspace(0.0, 1.0, 101)
#: VOT short-term EAO intervals [low, high] of sequence lengths (pysot-toolkit; VOT reports).
EAO_INTERVALS: Dict[int, Tuple[int, int]] = {2016: (108, 371), 2017: (100, 356), 2018: (100, 356), 2019: (46, 291)}
VOT_INIT, VOT_FAILURE, VOT_SKIP = 1, 2, 0
VOT_BURNIN, VOT_SKIPPING = 10, 5


def _carry_forward(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """The toolkits' repair: an invalid prediction repeats the previous one where the ground truth is valid."""
    out = np.array(pred, dtype=np.float64, copy=True)
    for t in range(1, len(out)):
        invalid = np.isnan(out[t]).any() or out[t, 2] <= 0 or out[t, 3] <= 0
        if invalid and not np.isnan(gt[t]).any():
            out[t] = out[t - 1]
    return out


def ope_sequence(pred_xywh: np.ndarray, gt_xywh: np.ndarray, absent: Optional[np.ndarray] = None
                 ) -> Dict[str, np.ndarray]:
    """Success and precision curves of one sequence (OTB/UAV toolkit conventions, see module doc).

    Args:
        pred_xywh: (T, 4) predicted boxes, same coordinate frame as ``gt_xywh``.
        gt_xywh: (T, 4) ground truth; NaN rows allowed.
        absent: (T,) bool, frames to remove from the numerators (LaSOT), or None.

    Returns:
        {"success": (21,), "precision": (51,), "norm_precision": (51,), "iou": (T,), "error": (T,)};
        the per-frame iou/error hold -1 where the ground truth is invalid.
    """
    gt = np.asarray(gt_xywh, dtype=np.float64)
    pred = np.asarray(pred_xywh, dtype=np.float64)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction shape {pred.shape} != ground truth shape {gt.shape}")
    pred = _carry_forward(pred, gt)
    pred[0] = gt[0]
    valid = np.isfinite(gt).all(axis=1) & (gt[:, 2] > 0) & (gt[:, 3] > 0)
    iou = np.full(len(gt), -1.0)
    err = np.full(len(gt), -1.0)
    nerr = np.full(len(gt), -1.0)
    iou[valid] = np.nan_to_num(boxes.iou_xywh(pred[valid], gt[valid]), nan=0.0)
    err[valid] = np.nan_to_num(boxes.center_error(pred[valid], gt[valid]), nan=np.inf)
    nerr[valid] = np.nan_to_num(boxes.normalized_center_error(pred[valid], gt[valid]), nan=np.inf)
    keep = np.ones(len(gt), dtype=bool) if absent is None else ~np.asarray(absent, dtype=bool)
    n = float(len(gt))
    return {
        "success": (iou[keep, None] > OVERLAP_THRESHOLDS[None, :]).sum(axis=0) / n,
        "precision": (err[keep, None] <= ERROR_THRESHOLDS[None, :]).sum(axis=0) / n,
        "norm_precision": (nerr[keep, None] <= NORM_ERROR_THRESHOLDS[None, :]).sum(axis=0) / n,
        "iou": iou, "error": err,
    }


def ope_summary(per_sequence: Sequence[Dict[str, np.ndarray]]) -> Dict[str, object]:
    """Average curves over sequences (each sequence weighs the same) and the published scores.

    Returns:
        {"success_curve", "precision_curve", "norm_precision_curve" (lists), "auc" (mean of the
        21-point success curve), "success_rate_50" (success at IoU > 0.5), "precision_20" (at 20 px),
        "norm_precision_20" (at 0.2), "norm_precision_auc" (mean over 0..0.5), "sequences"}.
    """
    if not per_sequence:
        raise ValueError("no sequence to summarise")
    succ = np.mean([c["success"] for c in per_sequence], axis=0)
    prec = np.mean([c["precision"] for c in per_sequence], axis=0)
    norm = np.mean([c["norm_precision"] for c in per_sequence], axis=0)
    return {
        "auc": float(np.mean(succ)), "success_rate_50": float(succ[10]), "precision_20": float(prec[20]),
        "norm_precision_20": float(norm[20]), "norm_precision_auc": float(np.mean(norm)),
        "success_curve": succ.tolist(), "precision_curve": prec.tolist(), "norm_precision_curve": norm.tolist(),
        "sequences": len(per_sequence),
    }


def got10k_ious(pred_xywh: np.ndarray, gt_xywh: np.ndarray, absent: Optional[np.ndarray] = None,
                bound_wh: Optional[Tuple[float, float]] = None) -> np.ndarray:
    """Per-frame IoUs that GOT-10k's AO/SR pool: first frame and absent frames dropped, boxes clipped.

    Args:
        pred_xywh, gt_xywh: (T, 4) boxes.
        absent: (T,) bool (``cover == 0`` or ``absence``), or None.
        bound_wh: image (W, H) to clip both boxes to, or None.

    Returns:
        (K,) IoUs of the kept frames (NaN predictions count as 0).
    """
    keep = np.ones(len(gt_xywh), dtype=bool) if absent is None else ~np.asarray(absent, dtype=bool)
    keep[0] = False
    keep &= np.isfinite(np.asarray(gt_xywh, dtype=np.float64)).all(axis=1)
    ious = boxes.iou_xywh(np.asarray(pred_xywh)[keep], np.asarray(gt_xywh)[keep], bound_wh)
    return np.nan_to_num(ious, nan=0.0)


def got10k_summary(ious: Iterable[np.ndarray]) -> Dict[str, object]:
    """AO, SR0.5, SR0.75 and the 101-point success curve of pooled IoUs (GOT-10k toolkit)."""
    pooled = np.concatenate([np.asarray(i, dtype=np.float64) for i in ious])
    if pooled.size == 0:
        raise ValueError("no frame to score")
    curve = (pooled[:, None] > GOT10K_THRESHOLDS[None, :]).mean(axis=0)
    return {"ao": float(pooled.mean()), "sr_50": float((pooled > 0.5).mean()),
            "sr_75": float((pooled > 0.75).mean()), "success_curve": curve.tolist(), "frames": int(pooled.size)}


# ------------------------------------------------------------------------------------------------ VOT
def is_code(region: np.ndarray, code: Optional[int] = None) -> bool:
    """True when a trajectory entry is a VOT code (one number), optionally a given one."""
    return len(region) == 1 and (code is None or int(region[0]) == code)


def vot_overlaps(trajectory: Sequence[np.ndarray], polygons: np.ndarray,
                 bound_wh: Optional[Tuple[float, float]] = None) -> np.ndarray:
    """(T,) overlap of each predicted region with the ground truth; NaN on code frames."""
    out = np.full(len(trajectory), np.nan)
    for t, region in enumerate(trajectory[:len(polygons)]):
        if not is_code(region):
            out[t] = boxes.region_overlap(region, polygons[t], bound_wh)
    return out


def vot_burnin_overlaps(trajectory: Sequence[np.ndarray], polygons: np.ndarray,
                        bound_wh: Optional[Tuple[float, float]] = None, burnin: int = VOT_BURNIN) -> np.ndarray:
    """(T,) overlaps that count for accuracy: NaN on code frames and on the ``burnin`` frames from each init."""
    masked = list(trajectory)
    for t, region in enumerate(trajectory):
        if is_code(region, VOT_INIT):
            for k in range(t, min(t + burnin, len(masked))):
                masked[k] = np.array([VOT_SKIP], dtype=np.float64)
    return vot_overlaps(masked, polygons, bound_wh)


def vot_accuracy_robustness(trajectories: Sequence[Sequence[np.ndarray]], polygons: Sequence[np.ndarray],
                            bounds: Sequence[Optional[Tuple[float, float]]], burnin: int = VOT_BURNIN
                            ) -> Dict[str, object]:
    """VOT accuracy and robustness over sequences (pysot ``ar_benchmark`` conventions).

    Args:
        trajectories: per sequence, per frame a region (4 or 8 numbers) or a code (1, 2, 0).
        polygons: per sequence (T, 8) ground truth.
        bounds: per sequence image (W, H) or None.
        burnin: frames left out of accuracy from each initialisation on (the init frame included).

    Returns:
        {"accuracy", "failures", "robustness" (failures per 100 frames), "frames",
        "per_sequence": {index: {"accuracy", "failures"}}}.
    """
    pooled: List[np.ndarray] = []
    failures, frames, per_seq = 0, 0, {}
    for i, (traj, poly, bound) in enumerate(zip(trajectories, polygons, bounds)):
        overlaps = vot_burnin_overlaps(traj, poly, bound, burnin)
        n_fail = sum(1 for region in traj if is_code(region, VOT_FAILURE))
        pooled.append(overlaps)
        failures += n_fail
        frames += len(poly)
        valid = overlaps[~np.isnan(overlaps)]
        per_seq[i] = {"accuracy": float(valid.mean()) if valid.size else float("nan"), "failures": n_fail}
    allo = np.concatenate(pooled) if pooled else np.zeros(0)
    accuracy = float(np.nanmean(allo)) if np.isfinite(allo).any() else float("nan")
    return {"accuracy": accuracy, "failures": int(failures), "frames": int(frames),
            "robustness": 100.0 * failures / max(frames, 1), "per_sequence": per_seq}


def vot_expected_overlaps(trajectories: Sequence[Sequence[np.ndarray]], polygons: Sequence[np.ndarray],
                          bounds: Sequence[Optional[Tuple[float, float]]], skipping: int = VOT_SKIPPING
                          ) -> np.ndarray:
    """Expected average overlap as a function of sequence length (index i: lengths 1..i, init excluded).

    Returns:
        (L,) float64, L = the longest sequence; entry 0 is 1 by definition.
    """
    overlaps = [vot_overlaps(t, p, b) for t, p, b in zip(trajectories, polygons, bounds)]
    max_len = max(len(o) for o in overlaps)
    rows: List[np.ndarray] = []
    for traj, over in zip(trajectories, overlaps):
        fails = [t for t, region in enumerate(traj) if is_code(region, VOT_FAILURE)]
        starts = [0] + [f + skipping for f in fails if f + skipping <= len(over)]
        for k, start in enumerate(starts):
            row = np.full(max_len, np.nan)
            if k < len(starts) - 1:  # ended by a failure: counts as zero overlap ever after
                seg = over[start:starts[k + 1] + 1]
                row[:] = 0.0
            else:
                seg = over[start:]
            row[:len(seg)] = np.nan_to_num(seg, nan=0.0)
            rows.append(row)
    fragments = np.array(rows)
    expected = np.zeros(max_len)
    expected[0] = 1.0
    for i in range(1, max_len):
        mask = ~np.isnan(fragments[:, i])
        if mask.any():
            expected[i] = fragments[mask, 1:i + 1].mean(axis=1).mean()
    return expected


def vot_eao(expected: np.ndarray, edition: int) -> float:
    """Mean of the expected-overlap curve over the edition's interval [low, high] (1-based lengths)."""
    low, high = EAO_INTERVALS[edition]
    window = expected[low - 1:high]
    return float(np.mean(window)) if window.size else float("nan")
