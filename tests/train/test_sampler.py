from __future__ import annotations

import numpy as np
import pytest

from dasiamrt.train.augment import AugmentConfig
from dasiamrt.train.geometry import iou_cxcywh
from dasiamrt.train.sampler import NEGATIVE_OTHER, NEGATIVE_SAME, POSITIVE, PairSampler, SamplerConfig
from dasiamrt.train.targets import LabelConfig, anchor_targets

from .helpers import colour_box, moving_video

PLAIN = AugmentConfig(shift=32, illumination=0.0, blur=0.0, grayscale=0.0)


def _sampler(neg_same: float, neg_other: float) -> PairSampler:
    video_a = moving_video("a", [("red", "square", (60, 80)), ("blue", "square", (300, 300))])
    video_b = moving_video("b", [("green", "disc", (150, 150))])
    cfg = SamplerConfig(negative_same=neg_same, negative_other=neg_other, augment=PLAIN)
    return PairSampler([(video_a, 1.0), (video_b, 1.0)], cfg)


def test_positive_boxes_and_labels_match_the_pixels():
    sampler = _sampler(0.0, 0.0)
    rng = np.random.default_rng(3)
    for _ in range(12):
        pair = sampler.sample(rng)
        assert pair.kind == POSITIVE
        colour = next(c for c in ("red", "blue", "green") if colour_box(pair.template, c)[1] > 500)
        (x0, y0, x1, y1), n = colour_box(pair.search, colour)
        seen = np.array([(x0 + x1) / 2 - 127.5, (y0 + y1) / 2 - 127.5, x1 - x0, y1 - y0])
        np.testing.assert_allclose(pair.box, seen, atol=2.0)
        labels, _ = anchor_targets(sampler.anchors, pair.box, rng, sampler.cfg.labels)
        assert (iou_cxcywh(sampler.anchors[labels == 1], seen) > 0.5).all()


def test_negatives_never_show_the_template_object():
    sampler = _sampler(0.5, 0.5)
    rng = np.random.default_rng(4)
    kinds = []
    for _ in range(150):
        pair = sampler.sample(rng)
        kinds.append(pair.kind)
        if pair.kind == POSITIVE:
            continue
        assert pair.box is None and pair.other_box is not None
        colour = next(c for c in ("red", "blue", "green") if colour_box(pair.template, c)[1] > 500)
        assert colour_box(pair.search, colour)[1] == 0, pair.kind
        labels, _ = anchor_targets(sampler.anchors, None, rng, sampler.cfg.labels, pair.other_box)
        assert (labels != 1).all()
    # the only same-category partner of red is blue (same video, far apart) and vice versa;
    # green has none, so its same-category draws fall back to positives
    assert kinds.count(NEGATIVE_SAME) > 15 and kinds.count(NEGATIVE_OTHER) > 40


def test_batch_shapes():
    batch = _sampler(0.2, 0.2).batch(np.random.default_rng(0), 3)
    assert batch["template"].shape == (3, 3, 127, 127) and batch["search"].shape == (3, 3, 255, 255)
    assert batch["labels"].shape == (3, 5 * 17 * 17) and batch["deltas"].shape == (3, 4, 5 * 17 * 17)
    assert "far" not in batch


def test_batch_marks_far_anchors_of_positive_pairs_only_when_mining():
    sampler = _sampler(0.3, 0.3)
    sampler.cfg = SamplerConfig(negative_same=0.3, negative_other=0.3, augment=PLAIN,
                                labels=LabelConfig(hard_negatives=8))
    batch = sampler.batch(np.random.default_rng(5), 12)
    far, positive = batch["far"], batch["positive"]
    assert far.shape == batch["labels"].shape and positive.any() and not positive.all()
    assert not far[~positive].any()
    a = sampler.anchors  # (N, 4) cx, cy, w, h
    for k in np.flatnonzero(positive):
        # the target box, recovered from one anchor's regression target (delta_targets inverted)
        dx, dy, dw, dh = batch["deltas"][k][:, 0]
        box = (a[0, 0] + dx * a[0, 2], a[0, 1] + dy * a[0, 3], a[0, 2] * np.exp(dw), a[0, 3] * np.exp(dh))
        # far = no overlap of positive area between anchor and box, by interval arithmetic (not IoU)
        ox, oy = (np.minimum(a[:, i] + a[:, i + 2] / 2, box[i] + box[i + 2] / 2)
                  - np.maximum(a[:, i] - a[:, i + 2] / 2, box[i] - box[i + 2] / 2) for i in (0, 1))
        overlaps = (ox > 1e-3) & (oy > 1e-3)
        clear = (ox < -1e-3) | (oy < -1e-3)  # anchors within 1e-3 px of touching are left out (float rounding)
        assert far[k].any() and far[k][clear].all() and not far[k][overlaps].any()
        assert not (far[k] & (batch["labels"][k] == 1)).any()


def test_stretched_pairs_keep_box_and_pixels_together_and_stretch_the_template_alike():
    video = moving_video("a", [("red", "square", (120, 100))], side=60.0)
    aug = AugmentConfig(shift=16, illumination=0.0, blur=0.0, grayscale=0.0, stretch=1.0)
    sampler = PairSampler([(video, 1.0)], SamplerConfig(negative_same=0, negative_other=0, augment=aug))
    rng = np.random.default_rng(5)
    aspects = []
    for _ in range(20):
        pair = sampler.sample(rng)
        (x0, y0, x1, y1), _ = colour_box(pair.search, "red")
        seen = np.array([(x0 + x1) / 2 - 127.5, (y0 + y1) / 2 - 127.5, x1 - x0, y1 - y0])
        np.testing.assert_allclose(pair.box, seen, atol=2.5)
        (tx0, ty0, tx1, ty1), _ = colour_box(pair.template, "red")
        # one stretch for the pair: the template's square has the search box's aspect (uniform resize)
        assert np.log((tx1 - tx0) / (ty1 - ty0)) == pytest.approx(np.log(pair.box[2] / pair.box[3]), abs=0.1)
        aspects.append(pair.box[2] / pair.box[3])
    assert min(aspects) < 0.5 and max(aspects) > 2.0  # a square became thin and wide objects


def test_drawn_aspect_ratios_are_log_uniform_within_the_clip():
    from dasiamrt.train.augment import draw_stretch

    cfg = AugmentConfig(stretch=1.0, aspect_min=0.15, aspect_max=6.0, max_stretch=100.0)
    rng = np.random.default_rng(0)
    draws = np.array([draw_stretch(rng, (30.0, 30.0), cfg) for _ in range(4000)])
    np.testing.assert_allclose(draws.prod(axis=1), 1.0, rtol=1e-9)  # area kept
    aspect = draws[:, 0] / draws[:, 1]
    assert 0.15 <= aspect.min() and aspect.max() <= 6.0
    # log-uniform: P(w/h < 0.5) = log(0.5 / 0.15) / log(6 / 0.15) = 0.326
    assert (aspect < 0.5).mean() == pytest.approx(np.log(0.5 / 0.15) / np.log(40.0), abs=0.03)
    clipped = AugmentConfig(stretch=1.0, max_stretch=2.0)
    thin = np.array([draw_stretch(rng, (10.0, 50.0), clipped) for _ in range(500)])
    changes = (thin[:, 0] / thin[:, 1])
    assert changes.min() >= 0.5 - 1e-9 and changes.max() <= 2.0 + 1e-9  # w/h moves by at most 2x
    off = AugmentConfig(stretch=0.0)
    assert draw_stretch(rng, (10.0, 50.0), off) == (1.0, 1.0)
