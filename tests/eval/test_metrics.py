"""Metrics on cases whose answers are worked out by hand in the comments."""
from __future__ import annotations

import numpy as np
import pytest

from dasiamrt.eval import boxes, metrics

NAN4 = [np.nan] * 4


def _code(c):
    return np.array([float(c)])


# --------------------------------------------------------------------------------------------- boxes
def test_iou_and_center_error_by_hand():
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]], float)
    b = np.array([[5, 0, 10, 10], [0, 0, 10, 10], [20, 20, 5, 5], [2, 2, 5, 5]], float)
    # 50 / (100 + 100 - 50); equal; disjoint; contained 25 / 100
    np.testing.assert_allclose(boxes.iou_xywh(a, b), [1 / 3, 1, 0, 0.25])
    np.testing.assert_allclose(boxes.center_error(a, b), [5, 0, np.hypot(17.5, 17.5), 0.5 * np.sqrt(2)])
    # clipped to a 8x8 image: [0,0,8,8] vs [5,0,3,8] -> 24 / 64
    np.testing.assert_allclose(boxes.iou_xywh(a[:1], b[:1], bound_wh=(8, 8)), [24 / 64])
    assert np.isnan(boxes.iou_xywh(np.array([NAN4]), a[:1])[0])


def test_region_overlap_polygons():
    diamond = np.array([5, 0, 10, 5, 5, 10, 0, 5], float)  # area 50 inside the 10x10 box
    assert boxes.region_overlap(np.array([0, 0, 10, 10.0]), diamond) == pytest.approx(0.5)
    assert boxes.region_overlap(diamond, diamond.reshape(-1, 2)[::-1].ravel()) == pytest.approx(1.0)  # clockwise
    # bounded by a 5x10 image: box -> 5x10 (50), diamond -> left half (25): 25 / 50
    assert boxes.region_overlap(np.array([0, 0, 10, 10.0]), diamond, bound_wh=(5, 10)) == pytest.approx(0.5)
    assert boxes.region_overlap(np.array([20, 20, 5, 5.0]), diamond) == 0.0
    # area-preserving box: s = sqrt(50 / 100), w = h = 10 s + 1 (the official "+1"), centred on (5, 5)
    w = 10 * np.sqrt(0.5) + 1
    np.testing.assert_allclose(boxes.polygon_to_xywh(diamond), [5 - w / 2, 5 - w / 2, w, w], atol=1e-9)


# ----------------------------------------------------------------------------------------------- OPE
def test_ope_perfect_tracker():
    gt = np.array([[3, 4, 10, 20]] * 5, float)
    curves = metrics.ope_sequence(gt, gt)
    np.testing.assert_array_equal(curves["success"], [1.0] * 20 + [0.0])  # IoU 1 is not > 1
    assert np.all(curves["precision"] == 1.0)
    assert metrics.ope_summary([curves])["auc"] == pytest.approx(20 / 21)


def test_ope_hand_case_with_carry_forward_and_first_frame():
    gt = np.array([[0, 0, 10, 10]] * 4, float)
    pred = np.array([[50, 50, 1, 1], [5, 0, 10, 10], [0, 0, 10, 10], NAN4], float)
    c = metrics.ope_sequence(pred, gt)
    # frame 0 -> gt (IoU 1), frame 1 IoU 1/3 err 5, frame 2 IoU 1, frame 3 repeats frame 2 (IoU 1)
    np.testing.assert_allclose(c["iou"], [1, 1 / 3, 1, 1])
    assert c["success"][6] == 1.0 and c["success"][7] == 0.75  # thresholds 0.30 and 0.35
    assert c["precision"][4] == 0.75 and c["precision"][5] == 1.0  # 4 px and 5 px
    # normalised: 5 px / width 10 = 0.5 -> a hit from threshold 0.5 on only
    assert c["norm_precision"][49] == 0.75 and c["norm_precision"][50] == 1.0


def test_ope_invalid_ground_truth_and_absent_frames():
    gt = np.array([[0, 0, 10, 10], NAN4, [0, 0, 10, 10], [0, 0, 10, 10]], float)
    pred = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [30, 30, 10, 10]], float)
    c = metrics.ope_sequence(pred, gt)
    # success: frames 0 and 2 (NaN-gt frame fails, frame 3 misses), over 4 frames
    assert c["success"][0] == 0.5
    # precision at 0 px: frames 0, 2 and the invalid frame (the toolkits' -1 error) -> 3/4
    assert c["precision"][0] == 0.75
    absent = np.array([False, False, True, False])
    d = metrics.ope_sequence(pred, gt, absent=absent)
    # LaSOT: frame 2 leaves the numerators, the denominator stays 4
    assert d["success"][0] == 0.25 and d["precision"][0] == 0.5


def test_ope_summary_weighs_sequences_equally():
    gt_a = np.array([[0, 0, 10, 10]] * 2, float)
    gt_b = np.array([[0, 0, 10, 10]] * 100, float)
    miss = gt_b + [50, 0, 0, 0]
    s = metrics.ope_summary([metrics.ope_sequence(gt_a, gt_a), metrics.ope_sequence(miss, gt_b)])
    # a: success 1 at 20 thresholds; b: only frame 0 (set to gt) succeeds -> 1/100 at 20 thresholds
    assert s["auc"] == pytest.approx((20 / 21 + 20 / 21 / 100) / 2)
    assert s["precision_20"] == pytest.approx((1 + 1 / 100) / 2) and s["sequences"] == 2


# ------------------------------------------------------------------------------------------- GOT-10k
def test_got10k_drops_first_and_absent_frames_and_clips():
    gt = np.array([[0, 0, 10, 10]] * 4, float)
    pred = np.array([[90, 90, 5, 5], [5, 0, 10, 10], [80, 80, 1, 1], [0, 0, 20, 10]], float)
    ious = metrics.got10k_ious(pred, gt, absent=np.array([0, 0, 1, 0], bool))
    np.testing.assert_allclose(ious, [1 / 3, 0.5])  # frame 0 and absent frame 2 dropped
    clipped = metrics.got10k_ious(pred, gt, bound_wh=(10, 10))
    np.testing.assert_allclose(clipped, [0.5, 0.0, 1.0])  # 5x10 vs 10x10 after clipping; 20x10 -> 10x10
    s = metrics.got10k_summary([ious, np.array([1.0, 0.8])])
    assert s["ao"] == pytest.approx((1 / 3 + 0.5 + 1 + 0.8) / 4)
    assert s["sr_50"] == 0.5 and s["sr_75"] == 0.5 and s["frames"] == 4  # 0.5 is not > 0.5


# ----------------------------------------------------------------------------------------------- VOT
def _square(x):
    return np.array([x, 0, x + 10, 0, x + 10, 10, x, 10], float)


def test_vot_accuracy_robustness_by_hand():
    poly = np.array([_square(0)] * 8)
    half = np.array([0, 0, 5, 10.0])  # IoU 0.5
    traj = [_code(1), half, np.array([0, 0, 10, 10.0]), half, _code(2), _code(0), _code(0), _code(0)]
    r = metrics.vot_accuracy_robustness([traj], [poly], [None], burnin=2)
    # burn-in hides frames 0-1; left: 1.0 and 0.5 -> 0.75; 1 failure in 8 frames -> 12.5 per 100
    assert r["accuracy"] == pytest.approx(0.75) and r["failures"] == 1 and r["robustness"] == pytest.approx(12.5)
    r0 = metrics.vot_accuracy_robustness([traj], [poly], [None], burnin=0)
    assert r0["accuracy"] == pytest.approx((0.5 + 1 + 0.5) / 3)


def test_vot_expected_overlap_by_hand():
    one = np.array([0, 0, 10, 10.0])
    poly = np.array([_square(0)] * 10)
    # failure at 2, re-init at 2 + 5 = 7: fragments [0..7] (zero-padded) and [7..9] (NaN-padded)
    traj = [_code(1), one, _code(2)] + [_code(0)] * 4 + [_code(1), one, one]
    e = metrics.vot_expected_overlaps([traj], [poly], [None])
    # i=1: (1 + 1)/2; i=2: (mean(1,0) + mean(1,1))/2; i>=3: only the zero-padded fragment, 1/i
    np.testing.assert_allclose(e, [1, 1, 0.75] + [1 / i for i in range(3, 10)])
    # two sequences, no failure in the first: [init, .5, .5, .5] and [init, 1, fail, 0, 0, 0]
    half = np.array([0, 0, 5, 10.0])
    t1 = [_code(1), half, half, half]
    t2 = [_code(1), one, _code(2), _code(0), _code(0), _code(0)]
    e2 = metrics.vot_expected_overlaps([t1, t2], [poly[:4], poly[:6]], [None, None])
    # failure within the last 5 frames: no restart, the fragment is NaN-padded (pysot behaviour)
    np.testing.assert_allclose(e2, [1, 0.75, 0.5, (0.5 + 1 / 3) / 2, 0.25, 0.2])


def test_vot_eao_interval():
    curve = np.linspace(1.0, 0.0, 500)
    for edition, (low, high) in metrics.EAO_INTERVALS.items():
        # mean of a linear function on indices low-1..high-1
        expected = 1.0 - ((low - 1 + high - 1) / 2) / 499
        assert metrics.vot_eao(curve, edition) == pytest.approx(expected)
    assert metrics.EAO_INTERVALS[2016] == (108, 371) and metrics.EAO_INTERVALS[2019] == (46, 291)


def test_ope_repair_only_where_ground_truth_is_known():
    gt = np.array([[0, 0, 10, 10], NAN4, [0, 0, 10, 10]], float)
    pred = np.array([[0, 0, 10, 10], [0, 0, 0, 0], [0, 0, 0, 0]], float)
    # frame 1: GT NaN, the empty box stays; frame 2 repeats frame 1's empty box -> IoU 0 (OTB toolkit)
    np.testing.assert_allclose(metrics.ope_sequence(pred, gt)["iou"], [1, -1, 0])
    gt[1] = [0, 0, 10, 10]
    np.testing.assert_allclose(metrics.ope_sequence(pred, gt)["iou"], [1, 1, 1])
