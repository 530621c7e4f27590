"""TensorRTBackend on a fake CUDA device + fake TensorRT runtime (engines run ONNX Runtime).

Checks the buffer wiring the real GPU run depends on: per-size contexts and CUDA graphs, shared
kernel buffers, and the device-side fusion writing straight into the search engine's cls_kernel.
"""

from __future__ import annotations

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("torch")

from dasiamrt import spec  # noqa: E402
from dasiamrt.errors import BackendError, DasiamrtError  # noqa: E402
from dasiamrt.runtime.backends.trt import TensorRTBackend  # noqa: E402
from dasiamrt.trt.cuda_device import GpuInfo  # noqa: E402
from tests.runtime.fake_gpu import FakeDevice, build_fake_engines, make_fake_runtime  # noqa: E402


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    """The tiny model with fp32 engines built by `dasiamrt build` on the fake TensorRT 10.3 (one plan format)."""
    from tests.engine.tiny_model import export_tiny

    model_dir, _ = export_tiny(tmp_path_factory.mktemp("trt_model"))
    build_fake_engines(model_dir, "fp32", "10.3.0.30")
    return model_dir


def _session(model_dir, name):
    return ort.InferenceSession(str(model_dir / f"{name}.onnx"), providers=["CPUExecutionProvider"])


def _backend(model_dir, device=None, graphs=True):
    device = device or FakeDevice()
    return TensorRTBackend.from_model(
        model_dir, precision="fp32", trt=make_fake_runtime(device), device=device, cuda_graphs=graphs
    )


def _crop(rng, size):
    return (rng.random((1, 3, size, size)) * 255).astype(np.float32)


def test_template_and_search_match_onnxruntime_on_both_sizes(engines):
    rng = np.random.default_rng(0)
    z = (rng.random((3, 3, 127, 127)) * 255).astype(np.float32)
    want_k = _session(engines, "template").run(None, {"template": z})
    search = _session(engines, "search")
    with _backend(engines) as be:
        cls_k, reg_k = be.template(z)
        np.testing.assert_allclose(cls_k, want_k[0], rtol=1e-6)
        np.testing.assert_allclose(reg_k, want_k[1], rtol=1e-6)
        be.set_kernels(cls_k[0], reg_k[0])
        for size in (255, 767, 255):  # switching sizes = choosing a context
            x = _crop(rng, size)
            out = be.search(x, want_features=True)
            want = search.run(None, {"search": x, "cls_kernel": cls_k[0], "reg_kernel": reg_k[0]})
            for got, ref in zip((out.cls, out.delta, out.features), want):
                np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
        assert be.device.launches == 3  # every search replayed its context's CUDA graph


@pytest.mark.parametrize("version", ["10.3.0.30", "8.6.2.3"])  # TensorRT 10+ keeps int64 inputs, 8.x makes them int32
def test_device_fusion_writes_the_search_kernel_without_host_round_trip(engines, version, tmp_path):
    from dasiamrt.spec import window_indices

    rng = np.random.default_rng(1)
    z = (rng.random((1, 3, 127, 127)) * 255).astype(np.float32)
    cls_k, reg_k = _session(engines, "template").run(None, {"template": z})
    search, update = _session(engines, "search"), _session(engines, "kernel_update")
    s = spec.score_size(255)
    int32_indices = version.startswith("8.")
    engine_dir = build_fake_engines(engines, "fp32", version, out_dir=tmp_path / version)
    device = FakeDevice()
    trt = make_fake_runtime(device, version)
    with TensorRTBackend(engine_dir, model_dir=engines, trt=trt, device=device) as be:
        be.set_kernels(cls_k[0], reg_k[0])
        be.reset_fusion(cls_k[0], 1.0)
        acc = cls_k[0].copy()
        for frame in range(3):
            x = _crop(rng, 255)
            feats = search.run(None, {"search": x, "cls_kernel": cls_k[0], "reg_kernel": reg_k[0]})[2]
            be.search(x)
            n = frame + 1  # target + a growing number of distractors
            cells = [(int(rng.integers(s)), int(rng.integers(s))) for _ in range(n)]
            index = window_indices(cells, s + 5)
            weights = np.array([0.0101] + [-0.005 / max(n - 1, 1)] * (n - 1), np.float32)
            inv_total = 1.0 / (1.0 + 0.0101 * (frame + 1))
            mark = len(be.device.copies)
            be.fuse(index, weights, inv_total)
            # only indices, weights and inv_total went host -> device, nothing came back
            isize = 4 if int32_indices else 8
            assert be.device.copies[mark:] == [("htod", 36 * n * isize), ("htod", 4 * n), ("htod", 4)]
            acc, fused = update.run(
                None,
                {
                    "search_features": feats,
                    "window_index": index,
                    "window_weight": weights,
                    "acc": acc,
                    "inv_total": np.array([inv_total], np.float32),
                },
            )
            np.testing.assert_allclose(be.fused_kernel(), fused, rtol=1e-5, atol=1e-6)
        # the following search correlates with the fused kernel
        x = _crop(rng, 255)
        want = search.run(None, {"search": x, "cls_kernel": fused, "reg_kernel": reg_k[0]})
        np.testing.assert_allclose(be.search(x).cls, want[0], rtol=1e-5, atol=1e-5)
        # and set_kernels resets it to an explicit kernel
        be.set_kernels(cls_k[0], reg_k[0])
        np.testing.assert_array_equal(be.fused_kernel(), cls_k[0])


def test_fuse_checks_window_counts(engines):
    with _backend(engines, graphs=False) as be:
        be.set_kernels(np.zeros((10, 64, 4, 4), np.float32), np.zeros((20, 64, 4, 4), np.float32))
        be.reset_fusion(np.zeros((10, 64, 4, 4), np.float32), 1.0)
        with pytest.raises(RuntimeError, match="search"):
            be.fuse(np.zeros(36, np.int64), np.ones(1, np.float32), 1.0)
        be.search(np.zeros((1, 3, 767, 767), np.float32))
        with pytest.raises(BackendError, match="windows"):
            be.fuse(np.zeros(36 * 20, np.int64), np.ones(20, np.float32), 1.0)


def test_unbuilt_search_size_is_a_clear_error(engines):
    with _backend(engines, graphs=False) as be:
        be.set_kernels(np.zeros((10, 64, 4, 4), np.float32), np.zeros((20, 64, 4, 4), np.float32))
        with pytest.raises(BackendError, match="no profile for 271"):
            be.search(np.zeros((1, 3, 271, 271), np.float32))


def test_engine_for_another_gpu_is_refused_with_the_rebuild_command(engines):
    device = FakeDevice(GpuInfo("NVIDIA GeForce RTX 3090", "8.6", "12.2", "12.2", 24000))
    with pytest.raises(BackendError) as err:
        _backend(engines, device=device)
    msg = str(err.value)
    assert "\n" not in msg and f"dasiamrt build --model {engines} --precision fp32" in msg and "sm 8.6" in msg
    assert device._closed  # nothing leaks when loading fails


def test_other_tensorrt_version_is_refused(engines):
    device = FakeDevice()
    with pytest.raises(BackendError, match="TensorRT 10.3.0.30 .* TensorRT 10.4.0"):
        TensorRTBackend.from_model(engines, precision="fp32", trt=make_fake_runtime(device, "10.4.0.1"), device=device)


def test_missing_engines_name_the_build_command(engines, tmp_path):
    device = FakeDevice()
    with pytest.raises(BackendError, match="dasiamrt build --model .* --precision fp16"):
        TensorRTBackend.from_model(engines, precision="fp16", trt=make_fake_runtime(device), device=device)


def test_without_tensorrt_the_backend_fails_in_one_line(engines):
    try:
        import tensorrt  # noqa: F401

        pytest.skip("TensorRT is installed here")
    except ImportError:
        pass
    with pytest.raises(DasiamrtError) as err:
        TensorRTBackend.from_model(engines)
    assert "\n" not in str(err.value) and "tensorrt" in str(err.value)


def test_factory_creates_the_backend_from_a_model_info(engines):
    from dasiamrt.artifacts.model_folder import read_model_dir
    from dasiamrt.runtime.backends.factory import create_backend

    device = FakeDevice()
    be = create_backend("trt", read_model_dir(engines), precision="fp32", trt=make_fake_runtime(device), device=device)
    with be:
        assert isinstance(be, TensorRTBackend) and be.supports_fusion and sorted(be._search) == [255, 767]


def test_track_cli_with_trt_backend_and_no_gpu_fails_in_one_line(engines, tmp_path):
    import os
    import subprocess
    import sys

    try:
        import tensorrt  # noqa: F401

        pytest.skip("TensorRT is installed here")
    except ImportError:
        pass
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = tmp_path / "boxes.csv"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dasiamrt.cli",
            "track",
            os.path.join(root, "dasiamrt", "assets", "box.mp4"),
            "--init",
            "10,10,50,50",
            "--model",
            str(engines),
            "--backend",
            "trt",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=root),
    )
    assert result.returncode != 0
    assert (
        len(result.stderr.strip().splitlines()) == 1
        and "tensorrt" in result.stderr
        and "Traceback" not in result.stderr
    )
    assert not os.listdir(tmp_path)


def test_without_graph_capture_the_backend_still_runs(engines):
    class NoGraphs(FakeDevice):
        def begin_capture(self, stream):
            raise BackendError("this pycuda has no CUDA graph support")

    device = NoGraphs()
    rng = np.random.default_rng(3)
    with _backend(engines, device=device) as be:
        be.set_kernels(np.ones((10, 64, 4, 4), np.float32) * 0.01, np.ones((20, 64, 4, 4), np.float32) * 0.01)
        x = _crop(rng, 255)
        want = _session(engines, "search").run(
            None,
            {
                "search": x,
                "cls_kernel": np.ones((10, 64, 4, 4), np.float32) * 0.01,
                "reg_kernel": np.ones((20, 64, 4, 4), np.float32) * 0.01,
            },
        )
        np.testing.assert_allclose(be.search(x).cls, want[0], rtol=1e-5, atol=1e-5)
        assert device.launches == 0
