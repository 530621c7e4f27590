"""The tracker reproduces the official tracker (Python-2 semantics) on a real clip.

Weights: the vot layout with seeded random weights, written in the official file format and
loaded back through the official-checkpoint path, so the whole chain (file -> network -> tracker)
is exercised. The oracle is :mod:`tests.reference.official_tracker`.
"""
from __future__ import annotations

import numpy as np
import pytest

from dasiamrt.artifacts.model_folder import read_model_dir
from dasiamrt.config import PRESETS
from dasiamrt.model import load_network, save_checkpoint
from dasiamrt.runtime.backends.ort import OrtBackend
from dasiamrt.runtime.backends.torch_backend import TorchBackend
from dasiamrt.runtime.tracker import Tracker
from tests.reference.official_tracker import OfficialTracker

INIT = (221.0, 11.0, 225.0, 169.0)  # the printed box on the bundled clip's first frame


@pytest.fixture(scope="module")
def official_vot(tmp_path_factory, vot_net):
    path = tmp_path_factory.mktemp("weights") / "SiamRPNVOT.model"
    save_checkpoint(vot_net.state_dict(), path, legacy=True)
    return load_network(path, PRESETS["vot"].network)


def _run_official(net, cfg, frames, init):
    ref = OfficialTracker(net, cfg.lr, cfg.window_influence, cfg.penalty_k, cfg.instance_size,
                          adaptive=cfg.small_instance_size is not None)
    x, y, w, h = init
    ref.init(frames[0], (x + w / 2, y + h / 2), (w, h))
    boxes = []
    for frame in frames[1:]:
        pos, sz, _ = ref.track(frame)
        boxes.append([pos[0] - sz[0] / 2, pos[1] - sz[1] / 2, sz[0], sz[1]])
    return np.array(boxes)


def _run(tracker, frames, init):
    tracker.init(frames[0], init)
    return np.array([tracker.track(f).bbox_xywh for f in frames[1:]])


@pytest.mark.parametrize("instance_size", [271, 255])
def test_vot_preset_matches_official_tracker(official_vot, clip_frames, instance_size):
    cfg = PRESETS["vot"].tracker.replace(instance_size=instance_size)
    frames = clip_frames[:21]  # 20 tracked frames of a real clip: scale change, motion blur
    expected = _run_official(official_vot, cfg, frames, INIT)
    got = _run(Tracker(TorchBackend(official_vot), cfg), frames, INIT)
    assert np.abs(expected).max() > 0 and np.ptp(expected[:, 0]) > 1.0  # the box really moves
    np.testing.assert_allclose(got, expected, atol=0.01, rtol=0)


def test_small_target_uses_287_like_big(official_vot, clip_frames):
    # BIG's adaptive rule on the vot layout: a box under 0.4% of the frame switches to a 287 search.
    cfg = PRESETS["big"].tracker
    small = (300.0, 60.0, 20.0, 15.0)
    expected = _run_official(official_vot, cfg, clip_frames[:11], small)
    tracker = Tracker(TorchBackend(official_vot), cfg)
    got = _run(tracker, clip_frames[:11], small)
    assert tracker.state.instance_size == 287
    np.testing.assert_allclose(got, expected, atol=0.01, rtol=0)


def test_ort_agrees_with_torch_on_a_real_clip(tiny_model_dir, tiny_net, clip_frames):
    cfg = read_model_dir(tiny_model_dir).tracker
    ort_boxes = _run(Tracker(OrtBackend(read_model_dir(tiny_model_dir)), cfg), clip_frames, INIT)
    torch_boxes = _run(Tracker(TorchBackend(tiny_net), cfg), clip_frames, INIT)
    assert np.abs(ort_boxes - torch_boxes).max() <= 0.5
