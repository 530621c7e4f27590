"""Softmax, decode, penalty and window against the formulas written out element by element."""
from __future__ import annotations

import math

import numpy as np

from dasiamrt.runtime.anchors import generate_anchors, motion_window
from dasiamrt.runtime.postprocess import decode, foreground_scores, select, size_penalty

RNG = np.random.default_rng(3)
S, A = 17, 5
ANCHORS = generate_anchors(S, (0.33, 0.5, 1.0, 2.0, 3.0), (8,))


def test_foreground_scores_class_major():
    cls = RNG.normal(size=(1, 2 * A, S, S)).astype(np.float32)
    got = foreground_scores(cls)
    a, y, x = 2, 4, 9
    bg, fg = cls[0, a, y, x], cls[0, A + a, y, x]
    assert math.isclose(got[a * S * S + y * S + x], math.exp(fg) / (math.exp(fg) + math.exp(bg)), rel_tol=1e-6)
    big = np.zeros((1, 2 * A, S, S), np.float32)
    big[0, A:] = 200.0  # no overflow in the max-subtracted softmax
    assert np.all(foreground_scores(big) == 1.0)


def test_decode_coordinate_major():
    delta = RNG.normal(scale=0.2, size=(1, 4 * A, S, S)).astype(np.float32)
    boxes = decode(delta, ANCHORS)
    a, y, x = 4, 16, 0
    i = a * S * S + y * S + x
    ax, ay, aw, ah = ANCHORS[i]
    dx, dy, dw, dh = (delta[0, c * A + a, y, x] for c in range(4))
    np.testing.assert_allclose(boxes[:, i], [dx * aw + ax, dy * ah + ay, math.exp(dw) * aw, math.exp(dh) * ah],
                               rtol=1e-6)


def test_penalty_formula_and_invariants():
    boxes = np.array([[0.0, 0.0], [0.0, 0.0], [40.0, 80.0], [20.0, 20.0]], np.float32)  # (4, 2): cx, cy, w, h
    k = 0.1
    pen = size_penalty(boxes, (40.0, 20.0), k)
    assert pen[0] == 1.0  # same size and ratio: no penalty
    # second: w 80, h 20 vs target 40x20: s_c = sqrt((80+50)(20+50)) / sqrt((40+30)(20+30)); r_c = 2
    s_c = math.sqrt(130 * 70) / math.sqrt(70 * 50)
    assert math.isclose(pen[1], math.exp(-(2 * s_c - 1) * k), rel_tol=1e-9)


def test_select_blends_window_and_takes_first_max():
    n = A * S * S
    scores = np.full(n, 0.5, np.float32)
    boxes = np.tile(np.array([[0.0], [0.0], [64.0], [64.0]], np.float32), (1, n))
    window = motion_window(S, A)
    sel = select(scores, boxes, window, (64.0, 64.0), 0.04, 0.4)
    # Equal scores and no penalty: the window decides; its maximum (centre cell) first occurs for anchor 0.
    assert sel.index == (S // 2) * S + S // 2
    np.testing.assert_allclose(sel.pscore, 0.5 * 0.6 + window * 0.4)
    scores[3 * S * S + 2] = 0.99  # a strong proposal far from the centre loses to the window when wi = 1
    assert select(scores, boxes, window, (64.0, 64.0), 0.04, 1.0).index == sel.index
    assert select(scores, boxes, window, (64.0, 64.0), 0.04, 0.0).index == 3 * S * S + 2
