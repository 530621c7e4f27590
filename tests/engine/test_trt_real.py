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
    from dasiamrt.trt.cuda_device import query_gpu

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
    sources = pytest.importorskip("dasiamrt.videoio")
    model_dir, _ = tiny_model
    build_engines(model_dir, BuildOptions("fp16", out_dir=model_dir / "engines" / "fp16"))
    ref = tracker_mod.Tracker.from_model(model_dir, backend="ort")
    fast = tracker_mod.Tracker.from_model(model_dir, backend="trt")
    from dasiamrt.assets import DEMO_CLIP, DEMO_INIT_XYWH

    frames = [f for _, f in zip(range(60), (frame for _, frame in sources.open_source(str(DEMO_CLIP))))]
    box = DEMO_INIT_XYWH
    ref.init(frames[0], box)
    fast.init(frames[0], box)
    for frame in frames[1:]:
        a, b = ref.track(frame).bbox_xywh, fast.track(frame).bbox_xywh
        assert max(abs(u - v) for u, v in zip(a, b)) <= 1.0


@pytest.mark.parametrize("route", ["qdq", "entropy"])
def test_int8_engines_stay_close_to_fp32(tiny_model, gpu, tmp_path, route):
    """Both INT8 routes build on this TensorRT and their search logits stay near the fp32 graph's
    (ONNX Runtime's INT8 Q/DQ graphs: ~3% relative L2, benchmarks/README.md)."""
    import shutil

    from dasiamrt.assets import DEMO_CLIP, DEMO_INIT_XYWH
    from dasiamrt.calib.api import calibrate
    from dasiamrt.calib.collect import CollectConfig

    if route == "entropy" and not hasattr(trt, "IInt8EntropyCalibrator2"):
        pytest.skip(f"TensorRT {trt.__version__} has no INT8 calibrators")
    model_dir = tmp_path / "tiny"
    shutil.copytree(tiny_model[0], model_dir)
    calibrate(str(model_dir), [str(DEMO_CLIP)], [DEMO_INIT_XYWH], cfg=CollectConfig(per_input=16, seed=0,
              search_sizes=(255, 767)), quantize=route == "qdq", max_frames=60)
    out = tmp_path / "int8"
    build_engines(model_dir, BuildOptions("int8", calibrator="entropy" if route == "entropy" else None, out_dir=out,
                                          workspace_mb=512))
    rng = np.random.default_rng(1)
    z = (rng.random((1, 3, 127, 127)) * 255).astype(np.float32)
    ck, rk = ort.InferenceSession(str(model_dir / "template.onnx"), providers=["CPUExecutionProvider"]).run(
        None, {"template": z})
    search = ort.InferenceSession(str(model_dir / "search.onnx"), providers=["CPUExecutionProvider"])
    with TensorRTBackend(out, model_dir=model_dir) as be:
        be.set_kernels(ck[0], rk[0])
        x = (rng.random((1, 3, 255, 255)) * 255).astype(np.float32)
        want = search.run(None, {"search": x, "cls_kernel": ck[0], "reg_kernel": rk[0]})[0]
        got = be.search(x).cls
    assert np.linalg.norm(got - want) / np.linalg.norm(want) < 0.1
