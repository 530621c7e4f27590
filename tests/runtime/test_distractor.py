"""Distractor-aware inference: window identity, fused kernel == explicit Eq. 2, selection, running tracker."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dasiamrt import spec
from dasiamrt.artifacts.model_folder import read_model_dir
from dasiamrt.config import PRESETS, DistractorConfig
from dasiamrt.runtime import distractor as da
from dasiamrt.runtime.backends.ort import OrtBackend
from dasiamrt.runtime.tracker import Tracker


def test_window_identity(tiny_net):
    """The 6x6 window at score cell (i, j) of the search features == features of the 127 crop there."""
    x = torch.rand((1, 3, 255, 255), generator=torch.Generator().manual_seed(0)) * 255
    with torch.no_grad():
        features = tiny_net.featureExtract(x)
        for i, j in [(0, 0), (8, 8), (3, 15), (16, 16)]:
            crop = x[:, :, 8 * i : 8 * i + 127, 8 * j : 8 * j + 127]
            window = features[:, :, i : i + 6, j : j + 6]
            torch.testing.assert_close(tiny_net.featureExtract(crop), window, rtol=1e-5, atol=1e-4)


def test_window_indices_gather_the_windows():
    plane = np.arange(22 * 22).reshape(22, 22)
    idx = spec.window_indices([(2, 3), (16, 0)], 22)
    np.testing.assert_array_equal(plane.reshape(-1)[idx[:36]].reshape(6, 6), plane[2:8, 3:9])
    np.testing.assert_array_equal(plane.reshape(-1)[idx[36:]].reshape(6, 6), plane[16:22, 0:6])


def test_fused_score_equals_explicit_eq2(tiny_model_dir, tiny_net):
    """One correlation with the fused kernel == f(z, p) - a_hat * sum a_i f(d_i, p) / sum a_i."""
    backend = OrtBackend(read_model_dir(tiny_model_dir))
    rng = np.random.default_rng(1)
    crops = rng.uniform(0, 255, (4, 3, 127, 127)).astype(np.float32)  # target + 3 distractors
    cls_k, reg_k = backend.template(crops)
    x = rng.uniform(0, 255, (1, 3, 255, 255)).astype(np.float32)
    a_hat, alpha = 0.5, np.array([1.0, 0.5, 2.0])
    explicit = []
    for k in range(4):
        backend.set_kernels(cls_k[k], reg_k[0])
        explicit.append(backend.search(x).cls)
    expected = explicit[0] - a_hat * sum(a * e for a, e in zip(alpha, explicit[1:])) / alpha.sum()
    fused = cls_k[0] - a_hat * np.tensordot(alpha, cls_k[1:], axes=1) / alpha.sum()
    backend.set_kernels(fused.astype(np.float32), reg_k[0])
    got = backend.search(x).cls
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_kernel_update_graph_equals_kernel_head_on_windows(tiny_model_dir, tiny_net):
    backend = OrtBackend(read_model_dir(tiny_model_dir))
    rng = np.random.default_rng(2)
    features = rng.normal(size=(1, 64, 22, 22)).astype(np.float32)
    acc = rng.normal(size=(10, 64, 4, 4)).astype(np.float32)
    acc = da.difference_form(acc)
    cells, weights = [(4, 5), (10, 1), (4, 5)], np.array([1.2, -0.3, -0.3], np.float32)
    acc_out, fused = backend.kernel_update(features, spec.window_indices(cells, 22), weights, acc, 0.25)
    with torch.no_grad():
        expected = acc.copy()
        for (r, c), w in zip(cells, weights):
            window = torch.from_numpy(features[:, :, r : r + 6, c : c + 6])
            expected += float(w) * da.difference_form(tiny_net.conv_cls1(window).view(10, 64, 4, 4).numpy())
    np.testing.assert_allclose(acc_out, expected, rtol=1e-4, atol=1e-4)
    assert not acc_out[:5].any()  # background rows stay zero
    np.testing.assert_allclose(fused, acc_out * 0.25, rtol=1e-6)


def test_difference_form_scores_identically(tiny_model_dir):
    from dasiamrt.runtime.postprocess import foreground_scores

    backend = OrtBackend(read_model_dir(tiny_model_dir))
    rng = np.random.default_rng(4)
    cls_k, reg_k = backend.template(rng.uniform(0, 255, (1, 3, 127, 127)).astype(np.float32))
    x = rng.uniform(0, 255, (1, 3, 255, 255)).astype(np.float32)
    backend.set_kernels(cls_k[0], reg_k[0])
    full = backend.search(x)
    backend.set_kernels(da.difference_form(cls_k[0]), reg_k[0])
    diff = backend.search(x)
    np.testing.assert_allclose(foreground_scores(diff.cls), foreground_scores(full.cls), atol=1e-5)
    np.testing.assert_array_equal(diff.delta, full.delta)


def test_beta_schedule_follows_the_paper():
    r = 0.01 / 0.99
    assert da.beta(1, 0.01) == 1.0
    assert da.beta(3, 0.01) == pytest.approx(1 + r + r * r)


def test_find_distractors_nms_threshold_and_cap():
    boxes = np.array([[0, 1, 60, 61, 120, -80], [0, 0, 0, 0, 0, 40], [40] * 6, [40] * 6], np.float32)
    scores = np.array([0.99, 0.98, 0.9, 0.89, 0.7, 0.3], np.float32)
    cfg = DistractorConfig(enabled=True, threshold=0.5, n_max=8, nms_iou=0.3)
    # 1 overlaps the target, 3 overlaps 2; 5 scores below h.
    assert da.find_distractors(scores, boxes, 0, cfg) == [2, 4]
    assert da.find_distractors(scores, boxes, 0, DistractorConfig(threshold=0.5, n_max=1)) == [2]
    assert da.find_distractors(scores, boxes, 0, DistractorConfig(threshold=0.995)) == []


def test_frame_terms_weights():
    cells, w = da.frame_terms((8, 8), [(1, 1), (2, 2)], 2.0, DistractorConfig(alpha_hat=0.5, alpha_i=1.0))
    assert cells == [(8, 8), (1, 1), (2, 2)]
    np.testing.assert_allclose(w, [2.0, -0.5, -0.5])


class RecordingOrt(OrtBackend):
    """Logs every fusion step so the fused kernel can be recomputed independently."""

    def __init__(self, info):
        super().__init__(info)
        self.log = []

    def kernel_update(self, features, window_index, window_weight, acc, inv_total):
        self.log.append((features.copy(), window_index.copy(), window_weight.copy(), inv_total))
        return super().kernel_update(features, window_index, window_weight, acc, inv_total)


def test_running_tracker_fused_kernel_equals_eq4(tiny_model_dir, tiny_net, clip_frames):
    info = read_model_dir(tiny_model_dir)
    backend = RecordingOrt(info)
    cfg = info.tracker.replace(distractor={"enabled": True, "threshold": 0.3})
    tracker = Tracker(backend, cfg)
    tracker.init(clip_frames[0], (221.0, 11.0, 225.0, 169.0))
    initial = da.difference_form(backend._cls_kernel)
    results = [tracker.track(f) for f in clip_frames[1:12]]
    assert len(backend.log) == len(results)
    # Eq. 4 recomputed: (b_1 K(z) + sum_t sum_n w_tn K(window_tn)) / sum_t b_t, with K from torch.
    total, acc = 1.0, torch.from_numpy(initial.copy())
    with torch.no_grad():
        for t, (features, index, weights, inv_total) in enumerate(backend.log, start=2):
            total += da.beta(t, cfg.distractor.eta)
            assert inv_total == pytest.approx(1.0 / total)
            assert weights[0] == pytest.approx(da.beta(t, cfg.distractor.eta))
            side = features.shape[-1]
            for n, w in enumerate(weights):
                r, c = divmod(int(index[36 * n]), side)
                window = torch.from_numpy(features[:, :, r : r + 6, c : c + 6])
                kernel = tiny_net.conv_cls1(window).view(10, 64, 4, 4).numpy()
                acc += float(w) * torch.from_numpy(da.difference_form(kernel))
    np.testing.assert_allclose(backend._cls_kernel, (acc / total).numpy(), rtol=1e-4, atol=1e-5)
    # and the score map of the next search is the explicit Eq. 2/4 sum of the separate correlations
    x = np.random.default_rng(0).uniform(0, 255, (1, 3, 255, 255)).astype(np.float32)
    got = backend.search(x).cls
    with torch.no_grad():
        y = tiny_net.conv_cls2(tiny_net.featureExtract(torch.from_numpy(x)))
        expected = F.conv2d(y, acc / total).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4 * np.abs(expected).max())


def test_da_needs_a_fusing_backend():
    from dasiamrt.errors import BackendError
    from tests.fakes import ScriptedBackend

    with pytest.raises(BackendError, match="kernel fusion"):
        Tracker(ScriptedBackend([0.5]), PRESETS["paper"].tracker)
