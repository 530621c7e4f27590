"""The device layer against fakes of the real CUDA bindings' behaviour (findings 1-3 and 12 of issue 13)."""

from __future__ import annotations

import gc
import importlib
import warnings

import numpy as np
import pytest

from dasiamrt.errors import BackendError, MissingDependencyError
from dasiamrt.trt import cuda_device
from tests.runtime.fake_cudart import make_cudart, make_pycuda_driver


def _install(monkeypatch, cudart=None, pycuda=None):
    """Make ``import_module`` return the given fakes (None: that binding is not installed)."""
    real = importlib.import_module

    def fake_import(name, *args, **kwargs):
        if name in ("cuda.bindings.runtime", "cuda.cudart"):
            if cudart is None:
                raise ImportError(name)
            return cudart
        if name == "pycuda.driver":
            if pycuda is None:
                raise ImportError(name)
            return pycuda
        return real(name, *args, **kwargs)

    monkeypatch.setattr(cuda_device.importlib, "import_module", fake_import)
    from dasiamrt.trt import cuda_pycuda

    monkeypatch.setattr(cuda_pycuda.importlib, "import_module", fake_import)


def _no_resource_warning():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    return not [w for w in caught if issubclass(w.category, ResourceWarning)]


def test_cuda12_bindings_on_a_cuda11_driver_fall_back_to_pycuda(monkeypatch):
    """JetPack 5.1: cuda-python 12 loads, but every call returns cudaErrorInsufficientDriver (35)."""
    driver = make_pycuda_driver()
    _install(monkeypatch, make_cudart(driver="insufficient"), driver)
    with cuda_device.open_device() as device:
        assert device.binding == "pycuda" and device.info().compute_capability == "8.7"


@pytest.mark.parametrize("machine, named, not_named", [
    ("aarch64", "cuda-python>=11.6,<12", "update the driver"),  # JetPack 5.1: cuda-python 12 on a CUDA 11.4 driver
    ("x86_64", "update the driver", "JetPack"),  # off Jetson the JetPack route would mislead
])
def test_an_insufficient_driver_without_pycuda_names_the_route_for_the_machine(monkeypatch, machine, named,
                                                                               not_named):
    import platform

    monkeypatch.setattr(platform, "machine", lambda: machine)
    _install(monkeypatch, make_cudart(driver="insufficient"), None)
    with pytest.raises(BackendError) as err:
        cuda_device.open_device()
    msg = str(err.value)
    assert "\n" not in msg and "cudaErrorInsufficientDriver" in msg and named in msg and not_named not in msg


def test_cuda_python_without_libcuda_is_a_one_line_error_and_leaks_nothing(monkeypatch):
    """cuda-python 11.8/12.2 raise RuntimeError('Failed to dlopen libcuda.so.1') instead of an error tuple."""
    _install(monkeypatch, make_cudart(driver="missing"), None)
    with pytest.raises(BackendError) as err:
        cuda_device.CudaPythonDevice()
    assert "\n" not in str(err.value) and "libcuda" in str(err.value) and "--backend ort" in str(err.value)
    del err
    assert _no_resource_warning()  # the half-made device counts as closed
    with pytest.raises(BackendError, match="libcuda"):
        cuda_device.open_device()


def test_streams_reach_cuda_python_as_stream_objects(monkeypatch):
    """cuda-python 11.5 rejects plain-int streams; the layer hands it cudaStream_t objects."""
    rt = make_cudart(strict_streams=True)
    _install(monkeypatch, rt, None)
    with cuda_device.open_device() as device:
        stream = device.stream()
        assert isinstance(stream, int)  # what TensorRT's execute_async_v3 takes
        src = device.pinned((4,), np.float32)
        src[:] = [1, 2, 3, 4]
        ptr = device.malloc(16)
        device.memcpy_htod_async(ptr, src, stream)
        back = device.pinned((4,), np.float32)
        device.memcpy_dtoh_async(back, ptr, stream)
        device.synchronize(stream)
        np.testing.assert_array_equal(back, src)
        device.begin_capture(stream)
        graph = device.end_capture(stream)
        device.launch_graph(graph, stream)
    assert not rt.state.device and not rt.state.host  # everything freed on close


def test_clear_error_reads_cudas_last_error(monkeypatch):
    rt = make_cudart()
    _install(monkeypatch, rt, None)
    with cuda_device.open_device() as device:
        rt.state.last_error = rt.cudaError_t.cudaErrorStreamCaptureInvalidated
        device.clear_error()
        assert rt.state.last_error == rt.cudaError_t.cudaSuccess


def test_pycuda_uses_the_primary_context(monkeypatch):
    """NVIDIA's samples retain and push the primary context; make_context() would make a private one."""
    driver = make_pycuda_driver()
    _install(monkeypatch, None, driver)
    device = cuda_device.open_device()
    device.close()
    assert ("retain_primary_context", 0) in driver.log and not [e for e in driver.log if e[0] == "make_context"]
    assert driver.log[-3:] == [("push", "primary"), ("pop", "primary"), ("detach", "primary")]


def test_neither_binding_names_both_installs(monkeypatch):
    _install(monkeypatch, None, None)
    with pytest.raises(MissingDependencyError, match="cuda-python .*pycuda"):
        cuda_device.open_device()
