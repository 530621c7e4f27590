"""SiamRPN training targets (anchor labels by IoU, box deltas) and the loss.

Layouts (``spec.py``): anchors are anchor-major (row ``a*S*S + y*S + x``); class logits are
class-major (channels bg 0..4, fg 5..9), so ``cls.view(B, 2, A*S*S)`` lines up with the anchor rows;
deltas are coordinate-major (channel ``coord*5 + a``), so ``delta.view(B, 4, A*S*S)`` does too.
Delta targets are the normalised coordinates of SiamRPN:
``((gx - ax) / aw, (gy - ay) / ah, log(gw / aw), log(gh / ah))``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError
from .geometry import iou_cxcywh

IGNORE, NEGATIVE, POSITIVE = -1, 0, 1


@dataclass(frozen=True)
class LabelConfig:
    """Anchor sampling (SiamRPN).

    Attributes:
        pos_iou: anchors with IoU above this are positives.
        neg_iou: anchors with IoU below this are negatives.
        anchors_per_pair: anchors sampled per pair (positives + negatives).
        max_positives: at most this many positives among them.
        hard_negative_fraction: in a negative pair, this share of the sampled anchors is drawn from
            anchors overlapping the distractor object (IoU > neg_iou), the rest from all anchors.
        hard_negatives: in a positive pair, this many more negatives per pair are chosen online: the
            anchors *away from the target* (no overlap with its box, :func:`far_from_target`) that the
            network currently scores most foreground-like. They are the look-alikes and background
            clutter of the search crop that a random draw of 48 among ~1,400 anchors rarely picks
            (online hard-negative mining; 0 = off, the random sampling alone).
    """

    pos_iou: float = 0.6
    neg_iou: float = 0.3
    anchors_per_pair: int = 64
    max_positives: int = 16
    hard_negative_fraction: float = 0.5
    hard_negatives: int = 0

    def __post_init__(self) -> None:
        k = self.hard_negatives
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise ConfigError(f"labels.hard_negatives must be a whole number >= 0 (0 = off), not {k!r}")


def delta_targets(anchors: npt.NDArray[np.float32], box: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """(4, N) normalised regression targets of ``box`` (cx, cy, w, h) against every anchor (N, 4)."""
    gx, gy, gw, gh = (float(v) for v in np.asarray(box))
    ax, ay, aw, ah = anchors[:, 0], anchors[:, 1], anchors[:, 2], anchors[:, 3]
    return np.stack([(gx - ax) / aw, (gy - ay) / ah, np.log(gw / aw), np.log(gh / ah)]).astype(np.float32)


def _choose(rng: np.random.Generator, idx: npt.NDArray[np.int64], n: int) -> npt.NDArray[np.int64]:
    if n <= 0 or idx.size == 0:
        return idx[:0]
    return rng.choice(idx, size=min(n, idx.size), replace=False)


def far_from_target(anchors: npt.NDArray[np.float32], box: Optional[npt.ArrayLike]) -> npt.NDArray[np.bool_]:
    """(N,) bool: anchors that do not overlap ``box`` (cx, cy, w, h) at all; all False when ``box`` is None.

    The candidates of online hard-negative mining: whatever scores high there is not the target, so
    the anchors just beside the target (partly on it, IoU 0..neg_iou) are left to the random draw.
    """
    if box is None:
        return np.zeros(anchors.shape[0], dtype=bool)
    far: npt.NDArray[np.bool_] = iou_cxcywh(anchors, box) <= 0.0
    return far


def anchor_targets(
    anchors: npt.NDArray[np.float32],
    box: Optional[npt.ArrayLike],
    rng: np.random.Generator,
    cfg: LabelConfig,
    negative_box: Optional[npt.ArrayLike] = None,
) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Labels and delta targets for one pair.

    Args:
        anchors: (N, 4) anchors (cx, cy, w, h), crop pixels from the crop centre.
        box: the target in the search crop (cx, cy, w, h), or None for a negative pair.
        rng: sampling generator.
        cfg: thresholds and counts.
        negative_box: for a negative pair, the (other) object the search crop is centred on; anchors
            overlapping it are the hard negatives the paper's semantic negative pairs are about.

    Returns:
        labels (N,) int64 in {-1 ignore, 0 negative, 1 positive}; deltas (4, N) float32 (zeros for
        a negative pair; only positives use them).
    """
    n = anchors.shape[0]
    labels = np.full(n, IGNORE, dtype=np.int64)
    if box is None:
        budget = cfg.anchors_per_pair
        hard = np.zeros(0, dtype=np.int64)
        if negative_box is not None:
            overlap = np.flatnonzero(iou_cxcywh(anchors, negative_box) > cfg.neg_iou)
            hard = _choose(rng, overlap, int(round(budget * cfg.hard_negative_fraction)))
        labels[hard] = NEGATIVE
        rest = np.flatnonzero(labels == IGNORE)
        labels[_choose(rng, rest, budget - hard.size)] = NEGATIVE
        return labels, np.zeros((4, n), dtype=np.float32)
    iou = iou_cxcywh(anchors, box)
    pos = _choose(rng, np.flatnonzero(iou > cfg.pos_iou), cfg.max_positives)
    neg = _choose(rng, np.flatnonzero(iou < cfg.neg_iou), cfg.anchors_per_pair - pos.size)
    labels[pos] = POSITIVE
    labels[neg] = NEGATIVE
    return labels, delta_targets(anchors, box)


def siamrpn_loss(cls, delta, labels, deltas, reg_weight: float = 1.0, beta: float = 1.0 / 9.0,  # type: ignore[no-untyped-def]
                 far=None, hard_negatives: int = 0):
    """Cross-entropy over the sampled anchors + smooth-L1 over the positives' normalised deltas.

    Args:
        cls: (B, 10, S, S) logits, class-major.
        delta: (B, 20, S, S) deltas, coordinate-major.
        labels: (B, A*S*S) int64 in {-1, 0, 1}.
        deltas: (B, 4, A*S*S) regression targets.
        reg_weight: weight of the box term.
        beta: smooth-L1 transition point (1/9: sigma 3, as in Faster R-CNN's RPN).
        far: (B, A*S*S) bool, the hard-negative candidates of each pair (:func:`far_from_target`).
        hard_negatives: per pair, the ``hard_negatives`` candidates with the highest foreground-minus-
            background logit join the sampled anchors as negatives (fewer where a pair has fewer
            candidates; one the random draw also took counts twice); 0 or ``far`` None: off.

    Returns:
        (total, cls_loss, reg_loss) scalar tensors. The class term is the mean over sampled (and
        mined) anchors of the batch; the box term sums the four coordinates and averages over
        positive anchors (zero when the batch has none, e.g. a batch of negative pairs).
    """
    import torch
    import torch.nn.functional as F

    b = cls.shape[0]
    logits = cls.reshape(b, 2, -1)
    pred = delta.reshape(b, 4, -1)
    sampled = labels >= 0
    ce = F.cross_entropy(logits, labels.clamp(min=0), reduction="none")
    ce_sum, count = (ce * sampled).sum(), sampled.sum()
    if hard_negatives > 0 and far is not None:
        margin = (logits[:, 1] - logits[:, 0]).detach().masked_fill(~far, float("-inf"))
        top = margin.topk(min(hard_negatives, margin.shape[1]), dim=1).indices  # (B, k)
        mined = torch.gather(far, 1, top)
        hard_logits = torch.gather(logits, 2, top.unsqueeze(1).expand(-1, 2, -1))  # (B, 2, k)
        hard_ce = F.cross_entropy(hard_logits, torch.zeros_like(top), reduction="none")
        ce_sum, count = ce_sum + (hard_ce * mined).sum(), count + mined.sum()
    cls_loss = ce_sum / count.clamp(min=1)
    positive = (labels == POSITIVE).to(pred.dtype)
    reg = F.smooth_l1_loss(pred, deltas, beta=beta, reduction="none").sum(1)
    reg_loss = (reg * positive).sum() / positive.sum().clamp(min=1)
    total = cls_loss + reg_weight * reg_loss
    return total, cls_loss, reg_loss + torch.zeros((), dtype=pred.dtype)
