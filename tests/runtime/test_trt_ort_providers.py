"""Provider selection for ONNX Runtime (CPU / CUDA / TensorRT execution providers)."""

from __future__ import annotations

import numpy as np
import pytest

from dasiamrt.errors import BackendError, ConfigError
from dasiamrt.runtime.backends.ort_providers import providers_for, split

GPU = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]


def test_chains_fall_back_in_order():
    assert [p for p, _ in providers_for("tensorrt", available=GPU)] == GPU
    assert [p for p, _ in providers_for("cuda", device_id=1, available=GPU)] == GPU[1:]
    assert providers_for("cuda", device_id=1, available=GPU)[0][1] == {"device_id": 1}
    assert providers_for("cpu", available=["CPUExecutionProvider"]) == [("CPUExecutionProvider", {})]


def test_tensorrt_options():
    (name, opts), *_ = providers_for("tensorrt", fp16=True, cache_dir="/tmp/c", workspace_mb=64, available=GPU)
    assert opts == {
        "device_id": 0,
        "trt_fp16_enable": True,
        "trt_engine_cache_enable": True,
        "trt_engine_cache_path": "/tmp/c",
        "trt_max_workspace_size": 64 << 20,
    }


def test_missing_provider_is_one_line_with_the_fix():
    with pytest.raises(BackendError) as err:
        providers_for("cuda", available=["CPUExecutionProvider"])
    assert "pip install onnxruntime-gpu" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ConfigError):
        providers_for("cuda", fp16=True, available=GPU)
    with pytest.raises(ConfigError):
        providers_for("npu", available=GPU)


def test_cpu_chain_runs_in_the_installed_onnxruntime(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    names, options = split(providers_for("cpu"))
    sess = ort.InferenceSession(model.SerializeToString(), providers=names, provider_options=options)
    np.testing.assert_array_equal(sess.run(None, {"x": np.array([-1, 2], np.float32)})[0], [0, 2])


def test_tensorrt_provider_gets_every_sessions_profile(monkeypatch, tiny_model_dir):
    """Without trt_profile_*_shapes ONNX Runtime's TensorRT provider builds for the first shape and
    rebuilds mid-track at the first 767 search (issue 13, finding 13)."""
    ort = pytest.importorskip("onnxruntime")
    from dasiamrt.artifacts.model_folder import read_model_dir
    from dasiamrt.runtime.backends.ort import OrtBackend

    seen = {}
    real = ort.InferenceSession

    def session(path, sess_options=None, providers=None, **kw):
        seen[path.rsplit("/", 1)[-1]] = providers
        return real(path, sess_options=sess_options, providers=["CPUExecutionProvider"])

    monkeypatch.setattr(ort, "InferenceSession", session)
    info = read_model_dir(tiny_model_dir)
    with OrtBackend(info, providers=providers_for("tensorrt", fp16=True, available=GPU)):
        pass
    trt = {graph: dict(chain[0][1]) for graph, chain in seen.items()}
    assert trt["search.onnx"]["trt_profile_min_shapes"] == "search:1x3x255x255"
    assert trt["search.onnx"]["trt_profile_max_shapes"] == "search:1x3x767x767"
    assert trt["template.onnx"]["trt_profile_max_shapes"] == f"template:{info.tracker.distractor.n_max + 1}x3x127x127"
    c = info.network.feature_channels
    assert trt["kernel_update.onnx"]["trt_profile_max_shapes"].startswith(f"search_features:1x{c}x86x86,window_index:")
    assert all(chain[0][1]["trt_fp16_enable"] for chain in seen.values())
    assert [p for p, _ in seen["search.onnx"]] == GPU  # the fallbacks are unchanged
