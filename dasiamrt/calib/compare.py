"""How far an INT8 model is from its fp32 model: score maps on crops, and boxes along whole tracks.

Used by the tests and by ``benchmarks/int8_accuracy.py``. Score-map error compares the
foreground probability maps (softmax over each anchor's bg/fg logit pair, as the tracker uses
them). Tracking agreement comes in two forms:

* free-running (:func:`dasiamrt.runtime.loop.track_boxes` twice, then :func:`box_agreement`): two trackers run side by
  side, each on its own trajectory. Differences compound: once the boxes differ, the crops differ,
  so this measures the tracker's sensitivity to *any* perturbation as much as the quantisation (the
  fp16 graphs, ~5e-4 relative error, diverge from fp32 as much as INT8 on a jittery model).
* one-step (:func:`step_agreement`): before every frame the candidate tracker is given the
  reference tracker's state, so both see the same crop and the per-frame IoU measures only what
  the candidate network changes in one update.
"""
from __future__ import annotations

import copy
from typing import Any, Dict, Iterable, List, Sequence, Tuple, cast

import numpy as np
from numpy.typing import NDArray

from ..artifacts.calibset import KERNEL_TEMPLATE, CalibrationSet, kernel_key, search_key
from ..runtime.backends.base import Backend
from ..runtime.geometry import iou_xywh
from ..runtime.loop import track_frames
from ..runtime.postprocess import foreground_scores


def score_map_errors(reference: Backend, candidate: Backend, calib: CalibrationSet) -> Dict[int, Dict[str, float]]:
    """Per search size: errors of ``candidate``'s score maps against ``reference``'s on the set's crops.

    Each backend makes its own kernels from the set's first-frame templates (so template-graph
    errors count too), then scores every search crop of that size.

    Returns:
        size -> {"max_abs": max |p_c - p_r| of foreground probabilities, "mean_abs": its mean,
        "rel_l2_logits": ||l_c - l_r|| / ||l_r|| of the cls logits, "argmax_agree": share of crops
        whose best anchor/cell is the same, "crops": count}.
    """
    templates = calib.blobs(KERNEL_TEMPLATE)
    kernels = [backend.template(templates) for backend in (reference, candidate)]
    out: Dict[int, Dict[str, float]] = {}
    for size in calib.search_sizes:
        crops, owners = calib.arrays[search_key(size)], calib.arrays[kernel_key(size)]
        diffs: List[float] = []
        peaks: List[float] = []
        rel: List[float] = []
        agree = 0
        for crop, k in zip(crops, owners):
            blob = crop[None].astype(np.float32)
            logits = []
            for backend, (cls_k, reg_k) in zip((reference, candidate), kernels):
                backend.set_kernels(cls_k[k], reg_k[k])
                logits.append(backend.search(blob).cls)
            p_ref, p_cand = (foreground_scores(logit) for logit in logits)
            diffs.append(float(np.abs(p_cand - p_ref).mean()))
            peaks.append(float(np.abs(p_cand - p_ref).max()))
            ref_norm = cast(float, np.linalg.norm(logits[0]))  # a numpy float scalar; max() needs one orderable type
            rel.append(float(np.linalg.norm(logits[1] - logits[0]) / max(ref_norm, 1e-12)))
            agree += int(np.argmax(p_ref) == np.argmax(p_cand))
        out[size] = {"max_abs": max(peaks), "mean_abs": float(np.mean(diffs)), "rel_l2_logits": float(np.mean(rel)),
                     "argmax_agree": agree / len(crops), "crops": float(len(crops))}
    return out


def box_agreement(boxes_a: NDArray[np.float64], boxes_b: NDArray[np.float64]) -> Dict[str, float]:
    """Per-frame IoU of two trackers' boxes (frame 0, the shared init, excluded).

    Returns:
        {"mean_iou", "min_iou", "share_above_0.5", "frames"}.

    Raises:
        ValueError: fewer than two rows (no tracked frame to compare).
    """
    if min(len(boxes_a), len(boxes_b)) < 2:
        raise ValueError("box agreement needs at least one tracked frame after the init frame")
    iou = iou_xywh(boxes_a[1:], boxes_b[1:])
    return {"mean_iou": float(iou.mean()), "min_iou": float(iou.min()),
            "share_above_0.5": float((iou > 0.5).mean()), "frames": float(len(iou))}


def step_agreement(reference: Any, candidate: Any, frames: Iterable[NDArray[np.uint8]], init_xywh: Sequence[float],
                   max_frames: int) -> Dict[str, float]:
    """Per-frame IoU of the boxes two trackers produce from the same state (one-step agreement).

    Both trackers are initialised on the first frame; before each later frame the candidate gets a
    copy of the reference's :class:`~dasiamrt.runtime.tracker.TrackState` (centre, size, long-term
    mode), then both track that frame. Distractor-aware kernels are each tracker's own (they start
    equal); use trackers with distractor-awareness off for a pure one-step measure.

    Args:
        reference, candidate: :class:`~dasiamrt.runtime.tracker.Tracker` objects.
        frames: (H, W, 3) uint8 BGR frames; the first is the init frame.
        init_xywh: first-frame box (0-based x, y, w, h, image pixels).
        max_frames: frames used at most (init frame included).

    Returns:
        :func:`box_agreement`'s dict over the tracked frames.
    """
    ref_boxes: List[Tuple[float, ...]] = []
    cand_boxes: List[Tuple[float, ...]] = []
    ref_state = None
    for step in track_frames(reference, frames, init_xywh, max_frames):
        if step.index == 0:
            candidate.init(step.frame, init_xywh)
            cand_boxes.append(step.result.bbox_xywh)
        else:
            candidate.state = ref_state  # the reference's state before this frame
            cand_boxes.append(candidate.track(step.frame).bbox_xywh)
        ref_boxes.append(step.result.bbox_xywh)
        ref_state = copy.deepcopy(reference.state)
    return box_agreement(np.asarray(ref_boxes, dtype=np.float64), np.asarray(cand_boxes, dtype=np.float64))
