"""The fp16 graphs (fp16 weights/compute, fp32 I/O) in ONNX Runtime against the fp32 graphs."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

from dasiamrt.graphs.fp16 import convert_to_fp16  # noqa: E402


def _session(model):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def _rel(a, b):
    return float(np.abs(a - b).max() / np.abs(a).max())


def test_fp16_graph_keeps_interface_and_halves_weights(tiny_model):
    model_dir, _ = tiny_model
    m32 = onnx.load(str(model_dir / "search.onnx"))
    m16 = convert_to_fp16(m32)
    assert [i.name for i in m16.graph.input] == [i.name for i in m32.graph.input]
    assert [o.name for o in m16.graph.output] == [o.name for o in m32.graph.output]
    assert all(
        v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT for v in list(m16.graph.input) + list(m16.graph.output)
    )
    floats = [t for t in m16.graph.initializer if t.data_type == onnx.TensorProto.FLOAT]
    halves = [t for t in m16.graph.initializer if t.data_type == onnx.TensorProto.FLOAT16]
    assert not floats and len(halves) == sum(t.data_type == onnx.TensorProto.FLOAT for t in m32.graph.initializer)
    size32 = sum(len(t.raw_data) for t in m32.graph.initializer)
    size16 = sum(len(t.raw_data) for t in m16.graph.initializer)
    assert size16 * 2 == size32


@pytest.mark.parametrize("size", [255, 767])
def test_fp16_search_graph_matches_fp32(tiny_model, size):
    model_dir, _ = tiny_model
    rng = np.random.default_rng(size)
    tpl32 = _session(onnx.load(str(model_dir / "template.onnx")))
    z = (rng.random((1, 3, 127, 127)) * 255).astype(np.float32)
    ck, rk = tpl32.run(None, {"template": z})
    feeds = {
        "search": (rng.random((1, 3, size, size)) * 255).astype(np.float32),
        "cls_kernel": ck[0],
        "reg_kernel": rk[0],
    }
    m32 = onnx.load(str(model_dir / "search.onnx"))
    out32 = _session(m32).run(None, feeds)
    out16 = _session(convert_to_fp16(m32)).run(None, feeds)
    # fp16 has an 11-bit mantissa (eps 9.8e-4): a few roundings per layer stay well under 1% of the range.
    for a, b in zip(out32, out16):
        assert b.dtype == np.float32 and b.shape == a.shape
        assert _rel(a, b) < 1e-2
    # and the error is a real fp16 error, not zero (the conversion did something)
    assert _rel(out32[0], out16[0]) > 1e-5


def test_fp16_template_graph_matches_fp32(tiny_model):
    model_dir, _ = tiny_model
    z = (np.random.default_rng(1).random((3, 3, 127, 127)) * 255).astype(np.float32)
    m32 = onnx.load(str(model_dir / "template.onnx"))
    for a, b in zip(
        _session(m32).run(None, {"template": z}), _session(convert_to_fp16(m32)).run(None, {"template": z})
    ):
        assert a.shape == b.shape == (3,) + a.shape[1:]
        assert _rel(a, b) < 1e-2


def _explicit_kernel_update(net, features, window_index, window_weight, acc, inv_total):
    """Independent oracle: run conv_cls1 (the template branch's head) on each 6x6 window, weight, sum,
    then take the difference form of the sum."""
    side = features.shape[-1]
    feats = torch.from_numpy(features)
    total = torch.zeros(10 * net.feature_out, 4, 4, dtype=torch.float64)
    for n, w in enumerate(window_weight):
        r, c = divmod(int(window_index[36 * n]), side)
        with torch.no_grad():
            total += float(w) * net.conv_cls1(feats[:, :, r : r + 6, c : c + 6])[0].double()
    k = total.numpy().reshape(acc.shape)
    # difference form (main's contract): background rows 0, foreground rows K_fg - K_bg
    d = np.concatenate([np.zeros_like(k[:5]), k[5:] - k[:5]])
    acc_out = acc.astype(np.float64) + d
    return acc_out, acc_out * float(inv_total[0])


@pytest.mark.parametrize("size", [255, 767])
def test_kernel_update_graph_equals_explicit_window_sum(tiny_model, size):
    model_dir, net = tiny_model
    from dasiamrt import spec
    from dasiamrt.spec import window_indices

    s, fs = spec.score_size(size), spec.search_feature_size(size)
    rng = np.random.default_rng(size)
    c, f = net.network.feature_channels, net.feature_out
    features = rng.standard_normal((1, c, fs, fs)).astype(np.float32)
    cells = [(int(rng.integers(s)), int(rng.integers(s))) for _ in range(4)]  # target + three distractors
    weights = np.array([1.0, -0.5 / 3, -0.5 / 3, -0.5 / 3], np.float32)
    index = window_indices(cells, fs)
    acc = rng.standard_normal((10, f, 4, 4)).astype(np.float32)
    inv_total = np.array([1 / 1.0101], np.float32)
    feeds = {
        "search_features": features,
        "window_index": index,
        "window_weight": weights,
        "acc": acc,
        "inv_total": inv_total,
    }
    want_acc, want_fused = _explicit_kernel_update(net, features, index, weights, acc, inv_total)
    m32 = onnx.load(str(model_dir / "kernel_update.onnx"))
    acc32, fused32 = _session(m32).run(None, feeds)
    np.testing.assert_allclose(acc32, want_acc, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(fused32, want_fused, rtol=1e-4, atol=1e-4)
    acc16, fused16 = _session(convert_to_fp16(m32)).run(None, feeds)
    assert _rel(want_fused, fused16) < 1e-2


def test_fp16_graphs_track_within_one_pixel_of_fp32(tiny_model, tmp_path):
    """The CPU analogue of the GPU test: the tracker on fp16 graphs vs fp32 graphs over a real clip."""
    import shutil

    from dasiamrt.artifacts.model_folder import read_model_dir
    from dasiamrt.assets import DEMO_CLIP, DEMO_INIT_XYWH
    from dasiamrt.runtime.tracker import Tracker
    from dasiamrt.videoio import open_source

    model_dir, _ = tiny_model
    fp16_dir = tmp_path / "fp16"
    shutil.copytree(model_dir, fp16_dir, ignore=shutil.ignore_patterns("engines"))
    for name in ("template", "search", "kernel_update"):
        onnx.save(convert_to_fp16(onnx.load(str(model_dir / f"{name}.onnx"))), str(fp16_dir / f"{name}.onnx"))
    frames = [f for _, f in zip(range(16), (f for _, f in open_source(str(DEMO_CLIP))))]
    config = read_model_dir(model_dir).tracker.replace(distractor={"enabled": True})
    boxes = []
    for folder in (model_dir, fp16_dir):
        tracker = Tracker.from_model(str(folder), backend="ort", config=config)
        tracker.init(frames[0], DEMO_INIT_XYWH)
        boxes.append(np.array([tracker.track(f).bbox_xywh for f in frames[1:]]))
    diff = np.abs(boxes[0] - boxes[1])
    assert diff.max() <= 1.0
    assert diff.max() > 0  # fp16 really ran (the boxes are not bit-identical)
