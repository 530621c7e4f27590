"""Buffer bookkeeping, manifest round trip and checks, and the device layer's lifetimes (no CUDA needed)."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from dasiamrt import spec
from dasiamrt.artifacts.engine_manifest import (
    DeviceInfo,
    EngineManifest,
    ProfileInfo,
    ShapeRange,
    check_compatible,
    read_manifest,
    write_manifest,
)
from dasiamrt.errors import BackendError, DasiamrtError, ModelError
from dasiamrt.runtime.backends.trt_buffers import BufferTable, profile_slots, shared_key
from dasiamrt.trt.compat import parse_version
from tests.runtime.fake_gpu import FakeDevice


def _profile(h=255, f=64, c=64):
    s = spec.score_size(h)
    return ProfileInfo(
        h,
        {"search": ShapeRange.fixed((1, 3, h, h)), "cls_kernel": ShapeRange.fixed((10, f, 4, 4))},
        {"cls": (1, 10, s, s), "search_features": (1, c, s + 5, s + 5)},
    )


def test_slot_sizes_from_shapes_and_dtypes():
    slots = profile_slots(_profile(767), {"cls": np.float16})
    assert slots["search"].nbytes == 3 * 767 * 767 * 4 and slots["search"].is_input
    assert slots["cls"].nbytes == 10 * 81 * 81 * 2 and not slots["cls"].is_input
    assert slots["search_features"].shape == (1, 64, 86, 86)


def test_shared_keys_wire_fusion_into_search():
    key = lambda e, k, t: shared_key(e, k, t, spec.score_size)  # noqa: E731
    assert key("search", 255, "cls_kernel") == key("kernel_update", 17, "fused") == "cls_kernel"
    assert key("search", 767, "search_features") == key("kernel_update", 81, "search_features")
    assert key("search", 255, "search_features") != key("kernel_update", 81, "search_features")
    assert key("kernel_update", 17, "acc") != key("kernel_update", 17, "acc_out")
    assert key("search", 255, "search") != key("search", 767, "search")


def test_buffer_table_reuses_and_refuses_growth():
    with FakeDevice() as dev:
        table = BufferTable(dev.malloc)
        a = table.get("x", 100)
        assert table.get("x", 64) == a and table.total_bytes == 100
        with pytest.raises(RuntimeError):
            table.get("x", 101)
        assert table.get("y", 10) != a


def _manifest(**device):
    d = dict(tensorrt_version="8.5.2.2", gpu_name="Orin", compute_capability="8.7")
    d.update(device)
    return EngineManifest(
        "search", "search.plan", "0" * 64, "fp16", DeviceInfo(**d), "search.onnx", "1" * 64, [_profile()]
    )


def test_manifest_round_trip(tmp_path):
    m = _manifest()
    write_manifest(tmp_path, m)
    back = read_manifest(tmp_path, "search")
    assert back == m and back.profile_for(255) == (0, m.profiles[0])
    with pytest.raises(BackendError, match="no profile for 767"):
        back.profile_for(767)


@pytest.mark.parametrize(
    "here, ok",
    [
        (DeviceInfo("8.5.2.2", "Orin", "8.7"), True),
        (DeviceInfo("8.5.2.2", "Orin", "7.2"), False),
        (DeviceInfo("8.5.2.2", "NVIDIA A100", "8.7"), False),
        (DeviceInfo("8.5.3.1", "Orin", "8.7"), False),
    ],
)
def test_compatibility_check(here, ok):
    if ok:
        check_compatible(_manifest(), here, "models/vot")
    else:
        with pytest.raises(BackendError) as err:
            check_compatible(_manifest(), here, "models/vot")
        assert "`dasiamrt build --model models/vot --precision fp16`" in str(err.value) and "\n" not in str(err.value)


def test_version_equality_is_numeric():
    assert parse_version("10.3.0") == parse_version("10.3")
    assert parse_version("10.3.0") != parse_version("10.30.0")


def test_corrupt_and_foreign_manifests(tmp_path):
    (tmp_path / "search.json").write_text("{not json")
    with pytest.raises(ModelError, match="corrupt"):
        read_manifest(tmp_path, "search")
    (tmp_path / "search.json").write_text('{"format": "other"}')
    with pytest.raises(ModelError):
        read_manifest(tmp_path, "search")


def test_device_frees_everything_on_close_and_warns_when_leaked():
    dev = FakeDevice()
    dev.malloc(10)
    host = dev.pinned((2, 3), np.float32)
    assert host.shape == (2, 3) and host.dtype == np.float32
    dev.close()
    assert not dev.mem and dev._closed
    dev.close()  # idempotent
    leaked = FakeDevice()
    with pytest.warns(ResourceWarning, match="not closed"):
        del leaked
        gc.collect()


def test_cuda_python_without_gpu_is_a_one_line_error():
    pytest.importorskip("cuda.bindings.runtime")
    from dasiamrt.trt.cuda_device import CudaPythonDevice

    rt = __import__("cuda.bindings.runtime", fromlist=["x"])
    err, count = rt.cudaGetDeviceCount()
    if int(err) == 0 and count > 0:
        pytest.skip("a GPU is present")
    with pytest.raises(DasiamrtError) as info:
        CudaPythonDevice()
    assert "\n" not in str(info.value) and "--backend ort" in str(info.value)


def test_open_device_without_any_binding_names_the_install(monkeypatch):
    import importlib

    from dasiamrt.errors import MissingDependencyError
    from dasiamrt.trt import cuda_device

    real = importlib.import_module

    def fake_import(name, *args, **kwargs):
        if name.startswith(("cuda", "pycuda")):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(cuda_device.importlib, "import_module", fake_import)
    with pytest.raises(MissingDependencyError, match="pip install cuda-python"):
        cuda_device.open_device()
    with pytest.raises(MissingDependencyError, match="pip install pycuda"):
        cuda_device.open_device("pycuda")
    with pytest.raises(BackendError, match="unknown CUDA binding"):
        cuda_device.open_device("opencl")
