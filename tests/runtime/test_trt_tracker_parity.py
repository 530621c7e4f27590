"""The real Tracker (DA + long-term on) over a real clip: TensorRT backend (fake GPU running ORT) == ORT backend.

Same graphs, same float32 arithmetic: any difference comes from the TensorRT backend's buffer
wiring (per-size contexts, CUDA graphs, shared kernel buffers, the device-side fusion).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("torch")

from dasiamrt import spec  # noqa: E402
from dasiamrt.assets import DEMO_CLIP, DEMO_INIT_XYWH  # noqa: E402
from dasiamrt.config import get_preset  # noqa: E402
from dasiamrt.runtime.backends.trt import TensorRTBackend  # noqa: E402
from dasiamrt.runtime.tracker import Tracker  # noqa: E402
from dasiamrt.videoio import open_source  # noqa: E402
from tests.runtime.fake_gpu import FakeDevice, make_fake_runtime  # noqa: E402
from tests.runtime.test_trt_backend import engines  # noqa: E402,F401  (module fixture)


@pytest.mark.parametrize(
    "long_term",
    [
        {"enabled": False},
        # random weights score 0.57..0.74: these thresholds drive tracking -> lost (767 searches)
        {"enabled": True, "enter_threshold": 0.6, "leave_threshold": 0.7},
    ],
)
def test_tracker_boxes_identical_with_device_fusion(engines, long_term):  # noqa: F811
    cfg = get_preset("tiny").tracker.replace(distractor={"enabled": True, "threshold": 0.2}, long_term=long_term)
    frames = []
    for _, frame in open_source(str(DEMO_CLIP)):
        frames.append(frame)
        if len(frames) == 12:
            break
    device = FakeDevice()
    backend = TensorRTBackend.from_model(engines, precision="fp32", trt=make_fake_runtime(device), device=device)
    ref = Tracker.from_model(str(engines), backend="ort", config=cfg)
    fast = Tracker(backend, cfg)
    ref.init(frames[0], DEMO_INIT_XYWH)
    fast.init(frames[0], DEMO_INIT_XYWH)
    distractors, sizes = 0, set()
    for frame in frames[1:]:
        a, b = ref.track(frame), fast.track(frame)
        np.testing.assert_allclose(b.bbox_xywh, a.bbox_xywh, atol=1e-3)
        assert b.state == a.state and abs(b.score - a.score) < 1e-4
        distractors += b.distractors
        sizes.add(b.search_size)
    assert distractors > 0  # the fusion really ran with distractors
    assert sizes == ({255, 767} if long_term["enabled"] else {255})
    # features never came back to the host: no device->host copy of a (1, C, S+5, S+5) buffer
    c = get_preset("tiny").network.feature_channels
    feature_bytes = {c * spec.search_feature_size(h) ** 2 * 4 for h in (255, 767)}
    assert not [n for k, n in device.copies if k == "dtoh" and n in feature_bytes]
    fast.backend.close()
