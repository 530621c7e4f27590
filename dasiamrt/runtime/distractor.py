"""Distractor-aware inference (paper Sec. 3.3, Eq. 2-4) as ONE fused correlation kernel.

Eq. 2 re-ranks proposals p by f(z, p) - a_hat * sum_i a_i f(d_i, p) / sum_i a_i. The score f is
linear in the correlation kernel, so the whole sum is one correlation with the fused kernel

    K = sum_t b_t [K(z_t) - a_hat * sum_i a_i K(d_i,t) / sum_i a_i] / sum_t b_t      (Eq. 3-4)

where K(.) is the cls-kernel head (conv_cls1) applied to the 6x6 embedding of a target z_t or
distractor d_i,t. Because the backbone is fully convolutional (stride 8, no padding), the embedding
of a 127 crop centred on score cell (i, j) of a search crop IS the 6x6 window at (i, j) of the
search features: no extra backbone pass. The per-frame term is therefore a list of score cells with
weights (b_t at the target's cell, -b_t a_hat a_i / sum a at each distractor's), which the
backend's ``kernel_update`` graph gathers and folds into the running sum. The regression kernel
stays the target's. The sums are kept in "difference form" (:func:`difference_form`), which
scores identically at half the cost.

b_t follows the paper: b_t = sum_{i=0}^{t-1} (eta / (1 - eta))^i, t = 1 at initialisation.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence, Tuple

import numpy as np
from numpy.typing import NDArray

from ..config import DistractorConfig
from .geometry import Coords, iou_xywh


def difference_form(cls_kernel: NDArray[np.float32]) -> NDArray[np.float32]:
    """(10, F, 4, 4) cls kernel -> the same-scoring kernel with background rows 0 and fg rows fg - bg.

    softmax(bg, fg) depends only on fg - bg, and the correlation is linear in the kernel, so both
    kernels give identical foreground probabilities. The running sums of Eq. 4 are kept in this form
    (see :class:`dasiamrt.model.siamrpn.KernelUpdate`).
    """
    half = cls_kernel.shape[0] // 2
    out = np.zeros_like(cls_kernel, dtype=np.float32)
    out[half:] = cls_kernel[half:] - cls_kernel[:half]
    return out


def beta(t: int, eta: float) -> float:
    """b_t = sum_{i=0}^{t-1} r^i with r = eta / (1 - eta); b_1 = 1."""
    r = eta / (1.0 - eta)
    return float(sum(r**i for i in range(t))) if r != 1.0 else float(t)


def nms(boxes: NDArray[np.float32], order: NDArray[np.int64], iou: float, limit: int) -> List[int]:
    """Greedy NMS over ``order`` (proposal indices, best first); keeps at most ``limit``.

    Args:
        boxes: (4, N) cx, cy, w, h.
        order: candidate indices, best first.
        iou: suppression threshold (IoU above it is suppressed).
        limit: maximum number kept.
    """
    xywh = np.stack([boxes[0] - boxes[2] / 2, boxes[1] - boxes[3] / 2, boxes[2], boxes[3]], axis=1)[order]
    keep: List[int] = []
    alive = np.ones(len(order), dtype=bool)
    for k in range(len(order)):
        if not alive[k]:
            continue
        keep.append(int(order[k]))
        if len(keep) >= limit:
            break
        alive[k + 1 :] &= iou_xywh(xywh[k + 1 :].astype(np.float64), xywh[k].astype(np.float64)) <= iou
    return keep


def box_cell(box_crop: Coords, score_size: int, stride: int) -> Tuple[int, int]:
    """Score cell (row, col) whose 127-px window is centred nearest to a crop-pixel box centre."""
    ori = -(score_size // 2) * stride
    col = int(np.clip(np.rint((float(box_crop[0]) - ori) / stride), 0, score_size - 1))
    row = int(np.clip(np.rint((float(box_crop[1]) - ori) / stride), 0, score_size - 1))
    return row, col


def find_distractors(
    scores: NDArray[np.float32], boxes: NDArray[np.float32], target_index: int, config: DistractorConfig
) -> List[int]:
    """Proposals, after NMS, scoring above ``threshold`` that are not the target (at most ``n_max``)."""
    candidates = np.flatnonzero(scores > config.threshold)
    if candidates.size == 0:
        return []
    order = candidates[np.argsort(-scores[candidates], kind="stable")]
    order = np.concatenate([[target_index], order[order != target_index]]).astype(np.int64)
    kept = nms(boxes, order, config.nms_iou, config.n_max + 1)
    return [k for k in kept if k != target_index]


def frame_terms(
    target_cell: Tuple[int, int], distractor_cells: Sequence[Tuple[int, int]], beta_t: float, config: DistractorConfig
) -> Tuple[List[Tuple[int, int]], NDArray[np.float32]]:
    """One frame's term of Eq. 4 as (cells, weights): b_t for the target, -b_t a_hat a_i / sum a per distractor."""
    cells = [tuple(target_cell)] + [tuple(c) for c in distractor_cells]
    weights = np.empty(len(cells), dtype=np.float32)
    weights[0] = beta_t
    if distractor_cells:
        weights[1:] = -beta_t * config.alpha_hat * config.alpha_i / (config.alpha_i * len(distractor_cells))
    return cells, weights  # type: ignore[return-value]


@dataclass
class FusionState:
    """Book-keeping of the incremental sums (the kernels themselves live in the backend).

    Attributes:
        t: frames folded in so far (1 after initialisation).
        total: sum of b_t so far.
    """

    t: int = 0
    total: float = 0.0
