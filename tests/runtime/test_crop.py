"""Sub-window crops at and beyond every border against the padded-canvas reference."""
from __future__ import annotations

import numpy as np
import pytest

from dasiamrt.runtime.crop import channel_mean, get_subwindow, to_blob
from dasiamrt.runtime.geometry import round_half_away
from tests.reference.official_tracker import crop_canvas, py2_round

RNG = np.random.default_rng(0)
IMAGE = RNG.integers(0, 256, size=(60, 80, 3), dtype=np.uint8)
PAD = np.mean(IMAGE, axis=(0, 1))

CASES = [
    ((40.0, 30.0), 21),  # inside
    ((0.0, 0.0), 31),  # top-left corner, beyond
    ((80.0, 60.0), 31),  # bottom-right corner, beyond
    ((79.5, 10.2), 17),  # right edge, .5 tie
    ((3.0, 59.0), 25),  # left + bottom
    ((40.0, 30.0), 151),  # larger than the image on every side
    ((-200.0, -200.0), 21),  # entirely outside: all padding
    ((10.5, 12.5), 10),  # even size, .5 ties
]


@pytest.mark.parametrize("center, size", CASES)
@pytest.mark.parametrize("model_size", [None, 27])
def test_crop_equals_padded_canvas_reference(center, size, model_size):
    out_size = model_size or size
    got = get_subwindow(IMAGE, center, out_size, size, channel_mean(IMAGE))
    expected = crop_canvas(IMAGE, center, out_size, float(size), PAD).numpy().transpose(1, 2, 0)
    assert got.shape == (out_size, out_size, 3)
    np.testing.assert_array_equal(got, expected.astype(np.uint8))


def test_padding_is_the_truncated_channel_mean():
    image = np.zeros((10, 10, 3), np.uint8)
    image[0, 0] = (255, 7, 100)  # means 2.55, 0.07, 1.0 -> truncated 2, 0, 1 (not rounded 3)
    pad = channel_mean(image)
    np.testing.assert_array_equal(pad, [2, 0, 1])
    crop = get_subwindow(image, (-50, -50), 5, 5, pad)
    assert (crop == [2, 0, 1]).all()


def test_crop_sits_one_pixel_up_left_of_the_centre():
    # c = (sz + 1) / 2: a 5-px crop around (10, 10) starts at round(10 - 3) = 7, so its centre pixel is 9.
    image = np.zeros((30, 30, 3), np.uint8)
    image[9, 9] = 255
    crop = get_subwindow(image, (10.0, 10.0), 5, 5, np.zeros(3, np.uint8))
    assert crop[2, 2, 0] == 255


@pytest.mark.parametrize("value, expected", [(0.5, 1), (1.5, 2), (2.5, 3), (-0.5, -1), (-2.5, -3), (2.4999, 2)])
def test_round_half_away_from_zero(value, expected):
    assert round_half_away(value) == expected == py2_round(value)


def test_blob_layout():
    patch = RNG.integers(0, 256, size=(4, 5, 3), dtype=np.uint8)
    blob = to_blob(patch)
    assert blob.shape == (1, 3, 4, 5) and blob.dtype == np.float32
    assert blob[0, 2, 3, 4] == patch[3, 4, 2]
