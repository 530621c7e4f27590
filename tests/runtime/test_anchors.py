"""Anchor grid and motion window against values written out by hand and a loop-based reference."""
from __future__ import annotations

import numpy as np
import pytest

from dasiamrt.runtime.anchors import SearchGrid, base_anchor_sizes, generate_anchors, motion_window
from tests.reference.official_tracker import anchors_loop

RATIOS = (0.33, 0.5, 1.0, 2.0, 3.0)


def test_base_anchor_sizes_match_official_table():
    # reference-trackers.md §1.5: 104x32, 88x40, 64x64, 40x80, 32x96.
    expected = [[104, 32], [88, 40], [64, 64], [40, 80], [32, 96]]
    np.testing.assert_array_equal(base_anchor_sizes(RATIOS, (8,), 8), expected)


@pytest.mark.parametrize("s, ori", [(17, -64), (19, -72), (21, -80), (81, -320)])
def test_grid_origin_is_python2_integer_division(s, ori):
    anchors = generate_anchors(s, RATIOS, (8,))
    assert anchors.shape == (5 * s * s, 4)
    # First row: anchor 0 at the top-left cell; last row: anchor 4 at the bottom-right cell.
    np.testing.assert_array_equal(anchors[0], [ori, ori, 104, 32])
    np.testing.assert_array_equal(anchors[-1], [-ori, -ori, 32, 96])
    # The grid is symmetric around the crop centre (no half-cell shift of the Python-3 bug).
    xs = np.unique(anchors[:, 0])
    assert xs[0] == -xs[-1] and len(xs) == s and np.all(np.diff(xs) == 8)


@pytest.mark.parametrize("s", [17, 19, 21, 81])
def test_anchor_major_layout_matches_loop_reference(s):
    np.testing.assert_array_equal(generate_anchors(s, RATIOS, (8,)), anchors_loop(s, RATIOS, (8,)))


def test_anchor_row_index_is_a_s2_plus_y_s_plus_x():
    s = 19
    anchors = generate_anchors(s, RATIOS, (8,))
    a, y, x = 3, 5, 11
    row = anchors[a * s * s + y * s + x]
    np.testing.assert_array_equal(row, [-72 + 8 * x, -72 + 8 * y, 40, 80])


def test_hann_window_values_for_s19():
    # reference-trackers.md §1.6: 0, .0302, .1170, .2500, .4132, .5868, .7500, .8830, .9698, 1
    w = motion_window(19, 5)
    assert w.shape == (5 * 19 * 19,)
    centre_row = w[:361].reshape(19, 19)[9]
    np.testing.assert_allclose(centre_row[:10], [0, .0302, .1170, .25, .4132, .5868, .75, .8830, .9698, 1], atol=1e-4)
    np.testing.assert_array_equal(w[:361], w[361:722])  # tiled per anchor


def test_search_grid_builds_per_size():
    grid = SearchGrid.build(767, RATIOS, (8,))
    assert grid.score_size == 81 and grid.anchors.shape == (5 * 81 * 81, 4)
    assert motion_window(5, 1, "uniform").tolist() == [1.0] * 25
