"""The CUDA device layer: one small interface, two bindings (NVIDIA ``cuda-python``, ``pycuda``).

What the TensorRT backend needs from CUDA, and nothing more: device and pinned-host allocations,
async copies H2D / D2H / D2D on one stream, stream sync, and CUDA-graph capture/replay. Pointers
and stream handles are plain ints (what TensorRT's ``set_tensor_address``/``execute_async_v3``
take).

* :class:`CudaPythonDevice`: ``cuda.bindings.runtime`` (cuda-python >= 12.6), falling back to
  ``cuda.cudart`` (older cuda-python, e.g. 11.x on JetPack 5). Loads the driver lazily. Stream
  handles are passed to it as ``cudaStream_t`` objects: cuda-python 11.5 rejects plain ints there
  (``TypeError: Argument 'stream' is not instance of type``), 11.6+ accept both.
* :class:`~.cuda_pycuda.PyCudaDevice`: ``pycuda.driver``; retains and pushes the device's PRIMARY
  context (never ``pycuda.autoinit``, never a private ``make_context()``), pops it on :meth:`close`.
  No CUDA graphs (the backend runs without them).

:func:`open_device` tries cuda-python first and falls back to pycuda on ANY failure of it, not only
when it is missing: on JetPack 5.1 (CUDA 11.4 driver) the CUDA 12 bindings load but every call
returns ``cudaErrorInsufficientDriver`` (35), and cuda-python 11.8/12.2 without ``libcuda`` raise
``RuntimeError("Failed to dlopen libcuda.so.1")`` instead of returning an error tuple.

Lifetimes are owned: a device is a context manager, frees everything it allocated on ``close()``,
and ``__del__`` only warns about a device that was never closed.
"""

from __future__ import annotations

import abc
import ctypes
import importlib
import logging
import platform
import warnings
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

import numpy as np

from ..errors import BackendError, MissingDependencyError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GpuInfo:
    """The GPU a device layer talks to (recorded in engine manifests and bench reports)."""

    name: str
    compute_capability: str  # "8.7"
    driver_version: str  # CUDA version the driver supports, "12.2"
    runtime_version: str  # CUDA runtime of the bindings, "12.2"
    total_memory_mb: int


def _cuda_version(v: int) -> str:
    return f"{v // 1000}.{(v % 1000) // 10}"


class CudaDevice(abc.ABC):
    """One GPU, one owner. Subclasses bind a CUDA Python library."""

    binding = "none"

    def __init__(self) -> None:
        self._device: Dict[int, int] = {}  # ptr -> nbytes
        self._host: Dict[int, Any] = {}  # ptr -> owner object
        self._streams: Dict[int, Any] = {}
        self._graphs: Dict[int, Any] = {}
        self._closed = False

    # -- what subclasses implement ----------------------------------------------------------
    @abc.abstractmethod
    def info(self) -> GpuInfo: ...

    @abc.abstractmethod
    def _malloc(self, nbytes: int) -> Tuple[int, Any]: ...

    @abc.abstractmethod
    def _free(self, ptr: int, owner: Any) -> None: ...

    @abc.abstractmethod
    def _malloc_host(self, nbytes: int) -> Tuple[np.ndarray, Any]: ...

    @abc.abstractmethod
    def _free_host(self, ptr: int, owner: Any) -> None: ...

    @abc.abstractmethod
    def _stream(self) -> Tuple[int, Any]: ...

    @abc.abstractmethod
    def _destroy_stream(self, owner: Any) -> None: ...

    @abc.abstractmethod
    def memcpy_htod_async(self, dst: int, src: np.ndarray, stream: int) -> None:
        """Copy a (pinned, contiguous) host array to device pointer ``dst``."""

    @abc.abstractmethod
    def memcpy_dtoh_async(self, dst: np.ndarray, src: int, stream: int) -> None:
        """Copy ``dst.nbytes`` from device pointer ``src`` into a (pinned, contiguous) host array."""

    @abc.abstractmethod
    def memcpy_dtod_async(self, dst: int, src: int, nbytes: int, stream: int) -> None: ...

    @abc.abstractmethod
    def synchronize(self, stream: int) -> None: ...

    @abc.abstractmethod
    def begin_capture(self, stream: int) -> None:
        """Start recording the work enqueued on ``stream`` into a CUDA graph."""

    @abc.abstractmethod
    def _end_capture(self, stream: int) -> Tuple[int, Any]: ...

    @abc.abstractmethod
    def launch_graph(self, graph: int, stream: int) -> None: ...

    @abc.abstractmethod
    def _destroy_graph(self, owner: Any) -> None: ...

    @abc.abstractmethod
    def _release(self) -> None:
        """Drop the binding's context, after every resource is freed."""

    def clear_error(self) -> None:
        """Reset CUDA's last (non-sticky) error, e.g. after a refused graph capture, so that the next
        call does not report it (trtexec's ``sampleInference.cpp`` does the same). No-op by default."""
        return None

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran (every pointer and pinned array of this device is freed)."""
        return self._closed

    # -- owned resources ----------------------------------------------------------------------
    def malloc(self, nbytes: int) -> int:
        """Device allocation of ``nbytes`` (>= 1); returns the pointer, freed by :meth:`close`."""
        ptr, owner = self._malloc(max(int(nbytes), 1))
        self._device[ptr] = owner
        return ptr

    def pinned(self, shape: Tuple[int, ...], dtype: Any) -> np.ndarray:
        """A page-locked host array of ``shape`` and ``dtype``, freed by :meth:`close`."""
        dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape)) * dtype.itemsize
        raw, owner = self._malloc_host(max(nbytes, 1))
        self._host[raw.ctypes.data] = owner
        out: np.ndarray = raw[:nbytes].view(dtype).reshape(shape)
        return out

    def stream(self) -> int:
        handle, owner = self._stream()
        self._streams[handle] = owner
        return handle

    def end_capture(self, stream: int) -> int:
        """Finish a capture; returns an executable graph handle, freed by :meth:`close`."""
        handle, owner = self._end_capture(stream)
        self._graphs[handle] = owner
        return handle

    def close(self) -> None:
        """Free graphs, streams, buffers and the context. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for owner in self._graphs.values():
            self._destroy_graph(owner)
        for owner in self._streams.values():
            self._destroy_stream(owner)
        for ptr, owner in self._device.items():
            self._free(ptr, owner)
        for ptr, owner in self._host.items():
            self._free_host(ptr, owner)
        for table in (self._graphs, self._streams, self._device, self._host):
            table.clear()
        self._release()

    def __enter__(self) -> "CudaDevice":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            warnings.warn(
                f"{type(self).__name__} was not closed: use it as a context manager", ResourceWarning, stacklevel=2
            )


def _import_cudart() -> Any:
    for name in ("cuda.bindings.runtime", "cuda.cudart"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise MissingDependencyError("cuda-python", "the TensorRT backend", "pip install cuda-python (or install pycuda)")


class CudaPythonDevice(CudaDevice):
    """NVIDIA cuda-python (``cuda.bindings.runtime`` / ``cuda.cudart``)."""

    binding = "cuda-python"

    def __init__(self, index: int = 0) -> None:
        self.rt = _import_cudart()
        super().__init__()
        self.index = index
        try:
            try:
                count = self._call(self.rt.cudaGetDeviceCount(), "find a GPU")
            except RuntimeError as err:  # cuda-python 11.8/12.2 without libcuda: no error tuple
                raise BackendError(
                    f"CUDA is not usable here ({str(err).strip() or type(err).__name__}): install the NVIDIA "
                    "driver, or use --backend ort"
                ) from None
            if int(count) <= index:
                raise BackendError(f"no CUDA GPU {index} on this machine: use --backend ort")
            self._call(self.rt.cudaSetDevice(index), "select the GPU")
        except BackendError:
            self._closed = True  # nothing was allocated
            raise

    def _call(self, result: Any, what: str) -> Any:
        err, rest = (result[0], result[1:]) if isinstance(result, tuple) else (result, ())
        if int(err) != 0:
            name = getattr(err, "name", str(err))
            hint = ""
            if int(err) == 35:  # cudaErrorInsufficientDriver: no driver, or one older than the bindings
                hint = (" (these cuda-python bindings need a newer driver: on JetPack 5 pip install "
                        "'cuda-python>=11.6,<12', or pycuda)" if platform.machine() == "aarch64" else
                        " (no NVIDIA driver, or one older than these cuda-python bindings need: update the driver "
                        "or install the cuda-python release of its CUDA version)")
            raise BackendError(f"CUDA could not {what} ({name}){hint}: check the NVIDIA driver, or use --backend ort")
        return rest[0] if len(rest) == 1 else (rest or None)

    def _stream_arg(self, stream: int) -> Any:
        """The binding's own stream object for a handle (cuda-python 11.5 takes no plain int)."""
        owner = self._streams.get(stream)
        if owner is not None:
            return owner
        make = getattr(self.rt, "cudaStream_t", None)
        return make(stream) if make is not None else stream

    def clear_error(self) -> None:
        self.rt.cudaGetLastError()

    def info(self) -> GpuInfo:
        prop = self._call(self.rt.cudaGetDeviceProperties(self.index), "query the GPU")
        name = prop.name.decode() if isinstance(prop.name, bytes) else str(prop.name)
        return GpuInfo(
            name=name.strip("\x00").strip(),
            compute_capability=f"{prop.major}.{prop.minor}",
            driver_version=_cuda_version(int(self._call(self.rt.cudaDriverGetVersion(), "query the driver"))),
            runtime_version=_cuda_version(int(self._call(self.rt.cudaRuntimeGetVersion(), "query CUDA"))),
            total_memory_mb=int(prop.totalGlobalMem) >> 20,
        )

    def _malloc(self, nbytes: int) -> Tuple[int, Any]:
        return int(self._call(self.rt.cudaMalloc(nbytes), "allocate GPU memory")), nbytes

    def _free(self, ptr: int, owner: Any) -> None:
        self.rt.cudaFree(ptr)

    def _malloc_host(self, nbytes: int) -> Tuple[np.ndarray, Any]:
        ptr = int(self._call(self.rt.cudaMallocHost(nbytes), "allocate pinned memory"))
        raw = np.ctypeslib.as_array((ctypes.c_uint8 * nbytes).from_address(ptr))
        return raw, ptr

    def _free_host(self, ptr: int, owner: Any) -> None:
        self.rt.cudaFreeHost(owner)

    def _stream(self) -> Tuple[int, Any]:
        stream = self._call(self.rt.cudaStreamCreateWithFlags(self.rt.cudaStreamNonBlocking), "create a stream")
        return int(stream), stream

    def _destroy_stream(self, owner: Any) -> None:
        self.rt.cudaStreamDestroy(owner)

    def _copy(self, dst: int, src: int, nbytes: int, kind: str, stream: int) -> None:
        kind_ = getattr(self.rt.cudaMemcpyKind, kind)
        self._call(self.rt.cudaMemcpyAsync(dst, src, nbytes, kind_, self._stream_arg(stream)), "copy")

    def memcpy_htod_async(self, dst: int, src: np.ndarray, stream: int) -> None:
        self._copy(dst, src.ctypes.data, src.nbytes, "cudaMemcpyHostToDevice", stream)

    def memcpy_dtoh_async(self, dst: np.ndarray, src: int, stream: int) -> None:
        self._copy(dst.ctypes.data, src, dst.nbytes, "cudaMemcpyDeviceToHost", stream)

    def memcpy_dtod_async(self, dst: int, src: int, nbytes: int, stream: int) -> None:
        self._copy(dst, src, nbytes, "cudaMemcpyDeviceToDevice", stream)

    def synchronize(self, stream: int) -> None:
        self._call(self.rt.cudaStreamSynchronize(self._stream_arg(stream)), "finish the GPU work")

    def begin_capture(self, stream: int) -> None:
        mode = self.rt.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal
        self._call(self.rt.cudaStreamBeginCapture(self._stream_arg(stream), mode), "start a CUDA graph capture")

    def _end_capture(self, stream: int) -> Tuple[int, Any]:
        graph = self._call(self.rt.cudaStreamEndCapture(self._stream_arg(stream)), "end a CUDA graph capture")
        # cudaGraphInstantiateWithFlags has the same signature from CUDA 11.4 to 13.
        exec_ = self._call(self.rt.cudaGraphInstantiateWithFlags(graph, 0), "instantiate a CUDA graph")
        return int(exec_), (exec_, graph)

    def launch_graph(self, graph: int, stream: int) -> None:
        exec_, _ = self._graphs[graph]
        self._call(self.rt.cudaGraphLaunch(exec_, self._stream_arg(stream)), "launch a CUDA graph")

    def _destroy_graph(self, owner: Any) -> None:
        exec_, graph = owner
        self.rt.cudaGraphExecDestroy(exec_)
        self.rt.cudaGraphDestroy(graph)

    def _release(self) -> None:
        pass  # the runtime API's primary context lives as long as the process


def _pycuda_device(index: int = 0) -> CudaDevice:
    from .cuda_pycuda import PyCudaDevice

    return PyCudaDevice(index)


BINDINGS = {"cuda-python": CudaPythonDevice, "pycuda": _pycuda_device}


def open_device(binding: Optional[str] = None, index: int = 0) -> CudaDevice:
    """Open GPU ``index`` with ``binding`` ("cuda-python", "pycuda") or the first one installed.

    Raises:
        MissingDependencyError: neither binding is installed.
        BackendError: no GPU, or the driver is unusable.
    """
    if binding is not None:
        if binding not in BINDINGS:
            raise BackendError(f"unknown CUDA binding {binding!r}: choose one of {', '.join(BINDINGS)}")
        return BINDINGS[binding](index)
    try:
        return CudaPythonDevice(index)
    except BackendError as first:  # MissingDependencyError included
        # Any failure of cuda-python (absent, too new for the driver, no libcuda) tries pycuda.
        try:
            device = _pycuda_device(index)
        except MissingDependencyError:
            if isinstance(first, MissingDependencyError):
                raise MissingDependencyError(
                    "cuda-python", "the TensorRT backend", "pip install cuda-python (or pycuda)"
                ) from None
            raise first from None
        except BackendError as second:
            if isinstance(first, MissingDependencyError):
                raise
            raise BackendError(f"{first} (pycuda failed too: {second})") from None
        logger.info("cuda-python could not open the GPU (%s): using pycuda", first)
        return device


def query_gpu(binding: Optional[str] = None, index: int = 0) -> GpuInfo:
    """Open the device just long enough to describe it."""
    with open_device(binding, index) as device:
        return device.info()
