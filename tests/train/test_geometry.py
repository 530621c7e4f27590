from __future__ import annotations

import numpy as np

from dasiamrt.train.geometry import box_in_crop, crop_square, generate_anchors


def test_anchors_follow_reference_table_and_anchor_major_order():
    s = 17
    anchors = generate_anchors(s)
    assert anchors.shape == (5 * s * s, 4)
    sizes = anchors[:: s * s, 2:]
    np.testing.assert_array_equal(sizes, [[104, 32], [88, 40], [64, 64], [40, 80], [32, 96]])
    a, y, x = 2, 3, 5  # row a*S*S + y*S + x, origin -(17 // 2) * 8 = -64
    np.testing.assert_array_equal(anchors[a * s * s + y * s + x], [-64 + 8 * x, -64 + 8 * y, 64, 64])


def test_crop_at_unit_scale_moves_a_pixel_by_the_official_offset():
    image = np.zeros((100, 100, 3), np.uint8)
    image[40, 30] = 255
    size = 21
    crop = crop_square(image, (32.0, 45.0), size, size, (0, 0, 0))
    # official crop: column u shows image x = round(cx - (size + 1) / 2) + u -> u = 30 - 21 = 9
    ys, xs = np.nonzero(crop[..., 0])
    assert (xs.tolist(), ys.tolist()) == ([30 - (32 - 11)], [40 - (45 - 11)])


def test_crop_pads_with_the_given_colour_outside_the_image():
    image = np.full((50, 50, 3), 9, np.uint8)
    crop = crop_square(image, (-200.0, -200.0), 64, 32, (10, 20, 30))
    assert (crop.reshape(-1, 3) == [10, 20, 30]).all()


def test_box_in_crop_is_an_offset_from_the_crop_centre_in_crop_pixels():
    box = box_in_crop((90, 40, 20, 10), center_xy=(80, 50), original_size=510, model_size=255)
    np.testing.assert_allclose(box, [(100 - 80) / 2, (45 - 50) / 2, 10, 5])


def test_rect_crop_box_matches_the_stretched_pixels():
    from dasiamrt.train.geometry import box_in_rect, crop_rect

    image = np.full((400, 400, 3), 128, np.uint8)
    image[150:230, 170:210] = (0, 0, 255)  # a 40 x 80 box at (170, 150)
    center, region = (185.0, 200.0), (400.0 / 3.0, 100.0)  # x squeezed 3x less than y: the box gets wider
    crop = crop_rect(image, center, region, 200, (128, 128, 128))
    ys, xs = np.nonzero((crop[..., 2] > 200) & (crop[..., 0] < 60))
    seen = [(xs.min() + xs.max() + 1) / 2 - 100, (ys.min() + ys.max() + 1) / 2 - 100,
            xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()]
    box = box_in_rect((170, 150, 40, 80), center, region, 200)
    np.testing.assert_allclose(box, [(190 - 185) * 1.5, (190 - 200) * 2, 60, 160])  # by hand: 200/133.3, 200/100
    np.testing.assert_allclose(box, seen, atol=2.0)  # and by the pixels


def test_square_rect_crop_is_the_square_crop():
    from dasiamrt.train.geometry import crop_rect

    image = np.random.default_rng(0).integers(0, 255, (90, 120, 3), dtype=np.uint8)
    np.testing.assert_array_equal(crop_rect(image, (50.5, 40.0), (70, 70), 127, (1, 2, 3)),
                                  crop_square(image, (50.5, 40.0), 70, 127, (1, 2, 3)))
