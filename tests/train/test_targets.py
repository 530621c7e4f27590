from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dasiamrt.train.geometry import generate_anchors
from dasiamrt.train.targets import LabelConfig, anchor_targets, delta_targets, siamrpn_loss


def _iou_loop(a, b):
    """Plain-Python IoU of two (cx, cy, w, h) boxes: an independent second implementation."""
    ax0, ay0, ax1, ay1 = a[0] - a[2] / 2, a[1] - a[3] / 2, a[0] + a[2] / 2, a[1] + a[3] / 2
    bx0, by0, bx1, by1 = b[0] - b[2] / 2, b[1] - b[3] / 2, b[0] + b[2] / 2, b[1] + b[3] / 2
    iw, ih = min(ax1, bx1) - max(ax0, bx0), min(ay1, by1) - max(ay0, by0)
    inter = max(iw, 0) * max(ih, 0)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def test_delta_targets_by_hand():
    d = delta_targets(np.array([[0, 0, 64, 64]], np.float32), (8, -16, 128, 32))
    np.testing.assert_allclose(d[:, 0], [0.125, -0.25, math.log(2), math.log(0.5)], rtol=1e-6)


def test_positive_pair_labels_follow_iou_and_counts():
    anchors = generate_anchors(17)
    box = np.array([10.0, -6.0, 70.0, 60.0], np.float32)
    cfg = LabelConfig()
    labels, deltas = anchor_targets(anchors, box, np.random.default_rng(0), cfg)
    ious = np.array([_iou_loop(a, box) for a in anchors])
    assert 0 < (labels == 1).sum() <= cfg.max_positives
    assert (labels >= 0).sum() == cfg.anchors_per_pair
    assert (ious[labels == 1] > 0.6).all() and (ious[labels == 0] < 0.3).all()
    k = int(np.flatnonzero(labels == 1)[0])
    ax, ay, aw, ah = anchors[k]
    np.testing.assert_allclose(deltas[:, k], [(10 - ax) / aw, (-6 - ay) / ah, np.log(70 / aw), np.log(60 / ah)],
                               rtol=1e-5)


def test_negative_pair_has_no_positive_and_samples_the_distractor():
    anchors = generate_anchors(17)
    other = np.array([0.0, 0.0, 64.0, 64.0], np.float32)
    cfg = LabelConfig()
    labels, _ = anchor_targets(anchors, None, np.random.default_rng(1), cfg, negative_box=other)
    assert (labels != 1).all() and (labels == 0).sum() == cfg.anchors_per_pair
    ious = np.array([_iou_loop(a, other) for a in anchors])
    assert ((labels == 0) & (ious > 0.3)).sum() >= cfg.anchors_per_pair * cfg.hard_negative_fraction - 1


def test_loss_by_hand():
    s = 1  # 5 anchors
    cls = torch.zeros(1, 10, s, s)
    cls[0, 5 + 1] = 2.0  # anchor 1 foreground logit 2 (a negative: CE = log(1 + e^2))
    labels = torch.tensor([[1, 0, -1, -1, -1]])
    delta = torch.zeros(1, 20, s, s)
    target = torch.zeros(1, 4, 5)
    target[0, :, 0] = torch.tensor([0.5, 0.0, 0.0, -0.05])
    target[0, :, 1] = 7.0  # a negative's targets never count
    total, c, r = siamrpn_loss(cls, delta, labels, target, reg_weight=2.0)
    want_cls = (math.log(2) + math.log(1 + math.e**2)) / 2
    want_reg = (0.5 - 0.5 / 9) + 0.5 * 0.05**2 * 9  # smooth-L1, beta 1/9
    assert c.item() == pytest.approx(want_cls, rel=1e-6)
    assert r.item() == pytest.approx(want_reg, rel=1e-5)
    assert total.item() == pytest.approx(want_cls + 2 * want_reg, rel=1e-5)
