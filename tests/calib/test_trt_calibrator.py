"""The legacy entropy calibrator's batching, buffers and cache, against a fake ``tensorrt`` module."""
from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from dasiamrt import spec
from dasiamrt.artifacts.calibset import CalibrationSet
from dasiamrt.engine.calibrator import CalibrationBatches, entropy_calibrator
from dasiamrt.errors import CalibrationError


class FakeBase:
    """Stands in for ``trt.IInt8EntropyCalibrator2``: records that the subclass called ``__init__``."""

    def __init__(self):
        self.base_initialised = True


fake_trt = types.SimpleNamespace(IInt8EntropyCalibrator2=FakeBase)


class FakeDevice:
    """Device memory as host arrays: ``malloc`` hands out integer addresses, copies are recorded."""

    def __init__(self):
        self.memory, self.next, self.syncs, self.streams = {}, 4096, 0, 0

    def malloc(self, nbytes):
        ptr, self.next = self.next, self.next + nbytes + 256
        self.memory[ptr] = np.zeros(nbytes, np.uint8)
        return ptr

    def stream(self):
        self.streams += 1
        return 7

    def memcpy_htod_async(self, dst, src, stream):
        assert stream == 7 and src.flags["C_CONTIGUOUS"]
        self.memory[dst][:] = src.view(np.uint8).ravel()

    def synchronize(self, stream):
        self.syncs += 1

    def read(self, ptr, shape):
        return self.memory[ptr].view(np.float32).reshape(shape)


def _set(n_template=10, n_search=3, f=4):
    rng = np.random.default_rng(0)
    z = rng.integers(0, 256, (n_template, 3, 127, 127), dtype=np.uint8)
    x = rng.integers(0, 256, (n_search, 3, 255, 255), dtype=np.uint8)
    calib = CalibrationSet({"template": z, "kernel_template": z[:2], "search_255": x,
                            "search_255_kernel": np.array([1, 0, 1][:n_search], np.int32)}, {})
    kernels = (rng.standard_normal((2, 10, f, 4, 4)).astype(np.float32),
               rng.standard_normal((2, 20, f, 4, 4)).astype(np.float32))
    return calib, kernels


def test_template_batches_fill_device_buffers_then_end():
    calib, _ = _set()
    device = FakeDevice()
    calibrator = entropy_calibrator(CalibrationBatches(calib, "template", batch_size=4), device, trt=fake_trt)
    assert isinstance(calibrator, FakeBase) and calibrator.base_initialised
    assert calibrator.get_batch_size() == 4
    seen = []
    while True:
        pointers = calibrator.get_batch([spec.TEMPLATE_INPUT])
        if pointers is None:
            break
        assert len(pointers) == 1 and isinstance(pointers[0], int)
        seen.append(device.read(pointers[0], (4, 3, 127, 127)).copy())
    assert len(seen) == 2  # 10 crops in batches of 4: the incomplete third batch is dropped
    np.testing.assert_array_equal(np.concatenate(seen), calib.arrays["template"][:8].astype(np.float32))
    assert len(device.memory) == 1 and device.syncs == 2  # one buffer, reused; synchronised per batch


def test_search_batches_follow_the_engines_name_order():
    calib, kernels = _set()
    device = FakeDevice()
    calibrator = entropy_calibrator(CalibrationBatches(calib, "search", kernels=kernels), device, trt=fake_trt)
    names = [spec.REG_KERNEL, spec.SEARCH_INPUT, spec.CLS_KERNEL]  # any order TensorRT asks in
    for i in range(3):
        reg, crop, cls = calibrator.get_batch(names)
        owner = calib.arrays["search_255_kernel"][i]
        np.testing.assert_array_equal(device.read(crop, (1, 3, 255, 255))[0], calib.arrays["search_255"][i])
        np.testing.assert_array_equal(device.read(cls, kernels[0].shape[1:]), kernels[0][owner])
        np.testing.assert_array_equal(device.read(reg, kernels[1].shape[1:]), kernels[1][owner])
    assert calibrator.get_batch(names) is None


def test_unknown_input_name_ends_calibration_without_raising(caplog):
    calib, _ = _set()
    calibrator = entropy_calibrator(CalibrationBatches(calib, "template"), FakeDevice(), trt=fake_trt)
    assert calibrator.get_batch(["images"]) is None
    assert "asks for ['images']" in caplog.text


def test_cache_read_and_written_atomically(tmp_path):
    calib, _ = _set()
    cache = tmp_path / "engines" / "template.calib"
    calibrator = entropy_calibrator(CalibrationBatches(calib, "template"), FakeDevice(), cache, trt=fake_trt)
    assert calibrator.read_calibration_cache() is None
    calibrator.write_calibration_cache(memoryview(b"TRT-8601-EntropyCalibration2\n"))
    assert cache.read_bytes() == b"TRT-8601-EntropyCalibration2\n"
    again = entropy_calibrator(CalibrationBatches(calib, "template"), FakeDevice(), cache, trt=fake_trt)
    assert again.read_calibration_cache() == b"TRT-8601-EntropyCalibration2\n"
    assert [p.name for p in cache.parent.iterdir()] == ["template.calib"]


def test_batches_refuse_what_the_engine_cannot_take():
    calib, kernels = _set()
    with pytest.raises(CalibrationError, match="no 767 search crops"):
        CalibrationBatches(calib, "search", search_size=767, kernels=kernels)
    with pytest.raises(CalibrationError, match="kernels"):
        CalibrationBatches(calib, "search")
    with pytest.raises(CalibrationError, match="one batch of 16"):
        CalibrationBatches(calib, "template", batch_size=16)
    with pytest.raises(CalibrationError, match="removed in 11.0"):
        entropy_calibrator(CalibrationBatches(calib, "template"), FakeDevice(), trt=types.SimpleNamespace())


def test_importing_calib_never_imports_tensorrt():
    import subprocess

    # tensorrt blocked: any module-level 'import tensorrt' in calib/ raises ImportError.
    code = ("import sys; sys.modules['tensorrt'] = None; sys.modules['pycuda'] = None; "
            "import dasiamrt.engine.calibrator, dasiamrt.calib.qdq, dasiamrt.calib.collect, "
            "dasiamrt.calib.variants, dasiamrt.calib.api, dasiamrt.calib.trajectories, dasiamrt.commands.calibrate")
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


class BrokenDevice(FakeDevice):
    def memcpy_htod_async(self, dst, src, stream):
        raise RuntimeError("cudaErrorIllegalAddress")


def test_failures_inside_callbacks_stay_on_the_python_side(tmp_path, caplog):
    # An exception raised into TensorRT's C++ caller would terminate the process: the calibrator must
    # return None (end of calibration / no cache) and keep the error for after the build.
    calib, _ = _set()
    calibrator = entropy_calibrator(CalibrationBatches(calib, "template"), BrokenDevice(), trt=fake_trt)
    assert calibrator.get_batch([spec.TEMPLATE_INPUT]) is None
    assert isinstance(calibrator.feeder.error, RuntimeError) and "cudaErrorIllegalAddress" in caplog.text
    folder = tmp_path / "cache-is-a-folder"
    folder.mkdir()
    unreadable = entropy_calibrator(CalibrationBatches(calib, "template"), FakeDevice(), folder, trt=fake_trt)
    assert unreadable.write_calibration_cache(memoryview(b"x")) is None
    assert unreadable.feeder.error is not None
