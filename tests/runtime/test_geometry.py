"""Init-box validation and box conversions."""
from __future__ import annotations

import math

import pytest

from dasiamrt.errors import BoxError
from dasiamrt.runtime.geometry import center_to_xywh, check_init_box, context_size, search_region, xywh_to_center


def test_round_trip_xywh_center():
    center, size = xywh_to_center((10, 20, 30, 40))
    assert center.tolist() == [25, 40] and size.tolist() == [30, 40]
    assert center_to_xywh(center, size) == (10, 20, 30, 40)


def test_context_and_search_sizes():
    s_z = context_size((30, 50), 0.5)
    assert math.isclose(s_z, math.sqrt(70 * 90))
    scale_z, s_x = search_region(s_z, 255, 127)
    assert math.isclose(scale_z, 127 / s_z) and math.isclose(s_x, s_z * 255 / 127)


@pytest.mark.parametrize("box", [(0, 0, 0, 10), (0, 0, 10, -1), (10, 10, 0.1, 0.1), (10, 10, 20, 0.5), (700, 10, 5, 5),
                                 (-50, -50, 20, 20), (1, 2, 3), (0, 0, math.nan, 4), (0, 0, 48000, 40),
                                 (0, 0, 40, 961)])
def test_bad_init_boxes(box):
    with pytest.raises(BoxError) as err:
        check_init_box(box, (480, 640, 3))
    assert "\n" not in str(err.value)


def test_partly_visible_box_is_accepted():
    assert check_init_box((-5, -5, 20, 20), (480, 640, 3)) == (-5, -5, 20, 20)
