from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dasiamrt.errors import ConfigError
from dasiamrt.train.geometry import generate_anchors
from dasiamrt.train.targets import LabelConfig, anchor_targets, delta_targets, far_from_target, siamrpn_loss


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


def test_far_from_target_is_no_overlap_by_a_second_iou():
    anchors = generate_anchors(17)
    box = np.array([20.0, -10.0, 50.0, 90.0], np.float32)
    far = far_from_target(anchors, box)
    ious = np.array([_iou_loop(a, box) for a in anchors])
    np.testing.assert_array_equal(far, ious <= 0.0)
    assert 0 < far.sum() < far.size
    assert not far_from_target(anchors, None).any()


def test_mined_hard_negatives_are_the_top_scoring_far_anchors():
    # 5 anchors: 0 positive, 1 a sampled negative; far candidates 2, 3, 4 with fg - bg margins 3, 1, -1,
    # and anchor 1 (not far) scoring 5: k=2 mines 2 and 3, never 1 twice nor 4.
    cls = torch.zeros(1, 10, 1, 1)
    for a, m in ((1, 5.0), (2, 3.0), (3, 1.0), (4, -1.0)):
        cls[0, 5 + a] = m
    labels = torch.tensor([[1, 0, -1, -1, -1]])
    far = torch.tensor([[False, False, True, True, True]])
    zeros = torch.zeros(1, 4, 5)
    delta = torch.zeros(1, 20, 1, 1)

    def ce_negative(m):
        return math.log(1 + math.e**m)

    _, plain, _ = siamrpn_loss(cls, delta, labels, zeros)
    _, mined, _ = siamrpn_loss(cls, delta, labels, zeros, far=far, hard_negatives=2)
    assert plain.item() == pytest.approx((math.log(2) + ce_negative(5)) / 2, rel=1e-6)
    assert mined.item() == pytest.approx((math.log(2) + ce_negative(5) + ce_negative(3) + ce_negative(1)) / 4,
                                         rel=1e-6)
    # more asked than there are candidates: only the three far anchors count
    _, all_far, _ = siamrpn_loss(cls, delta, labels, zeros, far=far, hard_negatives=5)
    want = (math.log(2) + ce_negative(5) + ce_negative(3) + ce_negative(1) + ce_negative(-1)) / 5
    assert all_far.item() == pytest.approx(want, rel=1e-6)


def test_mining_lowers_the_look_alike_score_more_than_random_sampling():
    """One SGD step on a free score map: the mined far anchor's foreground margin falls."""
    far = torch.zeros(1, 5, dtype=torch.bool)
    far[0, 3] = True
    labels = torch.tensor([[1, -1, -1, -1, -1]])
    margins = []
    for k in (0, 1):
        cls = torch.zeros(1, 10, 1, 1, requires_grad=True)
        with torch.no_grad():
            cls[0, 5 + 3] = 4.0
        _, c, _ = siamrpn_loss(cls, torch.zeros(1, 20, 1, 1), labels, torch.zeros(1, 4, 5), far=far, hard_negatives=k)
        c.backward()
        with torch.no_grad():
            after = cls - 1.0 * cls.grad
        margins.append(float(after[0, 8] - after[0, 3]))
    assert margins[0] == pytest.approx(4.0) and margins[1] < 3.5


@pytest.mark.parametrize("k", [-1, 8.0, 0.5, True, "8"])
def test_hard_negatives_must_be_a_whole_number_not_below_zero(k):
    with pytest.raises(ConfigError):
        LabelConfig(hard_negatives=k)
    assert LabelConfig(hard_negatives=8).hard_negatives == 8
