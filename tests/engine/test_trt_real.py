"""Real TensorRT engines on a real GPU, compared with ONNX Runtime (skipped without GPU/TensorRT)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = [pytest.mark.gpu, pytest.mark.trt, pytest.mark.slow]
trt = pytest.importorskip("tensorrt")
ort = pytest.importorskip("onnxruntime")

from dasiamrt.engine.builder import BuildOptions, build_engines  # noqa: E402
from dasiamrt.errors import DasiamrtError  # noqa: E402
from dasiamrt.runtime.backends.trt import TensorRTBackend  # noqa: E402

#: max |trt - ort| / max |ort| per precision (fp16: 11-bit mantissa, tactics may accumulate in fp16)
TOLERANCE = {"fp32": 1e-3, "fp16": 2e-2}


@pytest.fixture(scope="module")
def gpu():
    from dasiamrt.runtime.cuda_device import query_gpu

    try:
        return query_gpu()
    except DasiamrtError as err:
        pytest.skip(f"no usable GPU: {err}")


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_engines_match_onnxruntime(tiny_model, gpu, tmp_path, precision):
    model_dir, _ = tiny_model
    build_engines(model_dir, BuildOptions(precision, out_dir=tmp_path / precision, workspace_mb=512))
    rng = np.random.default_rng(0)
    z = (rng.random((1, 3, 127, 127)) * 255).astype(np.float32)
    tpl = ort.InferenceSession(str(model_dir / "template.onnx"), providers=["CPUExecutionProvider"])
    search = ort.InferenceSession(str(model_dir / "search.onnx"), providers=["CPUExecutionProvider"])
    ck, rk = tpl.run(None, {"template": z})
    with TensorRTBackend(tmp_path / precision, model_dir=model_dir) as be:
        got_ck, got_rk = be.template(z)
        assert np.abs(got_ck - ck).max() / np.abs(ck).max() < TOLERANCE[precision]
        be.set_kernels(ck[0], rk[0])
        for size in (255, 767, 255):
            x = (rng.random((1, 3, size, size)) * 255).astype(np.float32)
            want = search.run(None, {"search": x, "cls_kernel": ck[0], "reg_kernel": rk[0]})
            out = be.search(x, want_features=True)
            for got, ref in zip((out.cls, out.delta, out.features), want):
                assert np.abs(got - ref).max() / np.abs(ref).max() < TOLERANCE[precision]


def test_fp16_boxes_within_one_pixel_over_a_clip(tiny_model, gpu, tmp_path):
    tracker_mod = pytest.importorskip("dasiamrt.runtime.tracker")
    sources = pytest.importorskip("dasiamrt.sources")
    model_dir, _ = tiny_model
    build_engines(model_dir, BuildOptions("fp16", out_dir=model_dir / "engines" / "fp16"))
    ref = tracker_mod.Tracker.from_model(model_dir, backend="ort")
    fast = tracker_mod.Tracker.from_model(model_dir, backend="trt")
    frames = [f for _, f in zip(range(60), (frame for _, frame in sources.open_source("/work/shared/data/cup.mp4")))]
    box = (200.0, 150.0, 80.0, 80.0)
    ref.init(frames[0], box)
    fast.init(frames[0], box)
    for frame in frames[1:]:
        a, b = ref.track(frame).bbox_xywh, fast.track(frame).bbox_xywh
        assert max(abs(u - v) for u, v in zip(a, b)) <= 1.0
