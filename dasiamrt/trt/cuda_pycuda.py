"""The ``pycuda`` binding of the device layer (:mod:`.cuda_device`), for Jetsons that have pycuda.

Uses the device's PRIMARY context, as NVIDIA's samples do (``retain_primary_context()`` +
``push()``, ``pop()`` + ``detach()`` on ``close``): the context TensorRT, cuda-python, CuPy and
PyTorch use, so pointers and streams from any of them agree. A private ``make_context()`` context
would be a second context whose allocations the others cannot use. Never ``pycuda.autoinit``.
No CUDA graphs: the TensorRT backend runs plain enqueues with this binding.
"""
from __future__ import annotations

import importlib
from typing import Any, Tuple

import numpy as np

from ..errors import BackendError, MissingDependencyError
from .cuda_device import CudaDevice, GpuInfo, _cuda_version


class PyCudaDevice(CudaDevice):
    """pycuda on the device's primary context (retained and pushed here, popped on close)."""

    binding = "pycuda"

    def __init__(self, index: int = 0) -> None:
        try:
            self.cuda = importlib.import_module("pycuda.driver")
        except ImportError:
            raise MissingDependencyError("pycuda", "the TensorRT backend", "pip install pycuda") from None
        super().__init__()
        try:
            self.cuda.init()
            if self.cuda.Device.count() <= index:
                raise BackendError(f"no CUDA GPU {index} on this machine: use --backend ort")
            self.dev = self.cuda.Device(index)
            self.ctx = self.dev.retain_primary_context()
            self.ctx.push()  # current on this thread until close()
        except self.cuda.Error as err:
            self._closed = True
            raise BackendError(
                f"CUDA is not usable here ({err}): check the NVIDIA driver, or use --backend ort"
            ) from None
        except BackendError:
            self._closed = True
            raise

    def info(self) -> GpuInfo:
        major, minor = self.dev.compute_capability()
        return GpuInfo(
            self.dev.name(),
            f"{major}.{minor}",
            _cuda_version(self.cuda.get_driver_version()),
            ".".join(str(v) for v in self.cuda.get_version()[:2]),
            self.dev.total_memory() >> 20,
        )

    def _malloc(self, nbytes: int) -> Tuple[int, Any]:
        alloc = self.cuda.mem_alloc(nbytes)
        return int(alloc), alloc

    def _free(self, ptr: int, owner: Any) -> None:
        owner.free()

    def _malloc_host(self, nbytes: int) -> Tuple[np.ndarray, Any]:
        raw = self.cuda.pagelocked_empty(nbytes, np.uint8)
        return raw, raw

    def _free_host(self, ptr: int, owner: Any) -> None:
        if hasattr(owner.base, "free"):
            owner.base.free()

    def _stream(self) -> Tuple[int, Any]:
        stream = self.cuda.Stream()
        return int(stream.handle), stream

    def _destroy_stream(self, owner: Any) -> None:
        pass  # pycuda streams are released with their Python object

    def _s(self, stream: int) -> Any:
        return self._streams[stream]

    def memcpy_htod_async(self, dst: int, src: np.ndarray, stream: int) -> None:
        self.cuda.memcpy_htod_async(dst, src, self._s(stream))

    def memcpy_dtoh_async(self, dst: np.ndarray, src: int, stream: int) -> None:
        self.cuda.memcpy_dtoh_async(dst, src, self._s(stream))

    def memcpy_dtod_async(self, dst: int, src: int, nbytes: int, stream: int) -> None:
        self.cuda.memcpy_dtod_async(dst, src, nbytes, self._s(stream))

    def synchronize(self, stream: int) -> None:
        self._s(stream).synchronize()

    # CUDA graphs are used through cuda-python only: pycuda's graph API differs across releases,
    # so with pycuda the TensorRT backend falls back to plain enqueues (it catches this error).
    def begin_capture(self, stream: int) -> None:
        raise BackendError("CUDA graphs need cuda-python (pip install cuda-python); running without them")

    def _end_capture(self, stream: int) -> Tuple[int, Any]:
        raise BackendError("CUDA graphs need cuda-python")

    def launch_graph(self, graph: int, stream: int) -> None:
        raise BackendError("CUDA graphs need cuda-python")

    def _destroy_graph(self, owner: Any) -> None:
        pass

    def _release(self) -> None:
        self.ctx.pop()
        self.ctx.detach()
