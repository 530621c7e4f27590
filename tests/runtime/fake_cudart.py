"""Fake CUDA Python bindings (cuda-python's ``cudart`` and pycuda's ``driver``) for the device layer's tests.

They follow what the real bindings do, as probed on cuda-python 11.5, 11.8, 12.2 and 13.5 and read
in pycuda's sources:

* every cudart call returns an error tuple ``(cudaError_t, *values)``; ``cudaGetLastError`` a 1-tuple;
* ``driver="insufficient"``: CUDA 12+ bindings on a CUDA 11.4 driver (JetPack 5.1): every call returns
  ``cudaErrorInsufficientDriver`` (35);
* ``driver="missing"``: cuda-python 11.8/12.2 without ``libcuda``: the first call RAISES
  ``RuntimeError("Failed to dlopen libcuda.so.1")``;
* ``strict_streams=True``: cuda-python 11.5, whose stream arguments must be ``cudaStream_t`` objects
  (``TypeError: Argument 'stream' is not instance of type``); 11.6+ also take ints.

Device memory is numpy buffers at fake addresses; pinned host memory is real memory (its address is
read through ctypes, as the device layer does), so copies move real bytes.
"""

from __future__ import annotations

import ctypes
import enum
import types

import numpy as np


class cudaError_t(enum.IntEnum):  # noqa: N801 - the binding's name
    cudaSuccess = 0
    cudaErrorInvalidValue = 1
    cudaErrorInsufficientDriver = 35
    cudaErrorStreamCaptureInvalidated = 901


class cudaMemcpyKind(enum.IntEnum):  # noqa: N801
    cudaMemcpyHostToDevice = 1
    cudaMemcpyDeviceToHost = 2
    cudaMemcpyDeviceToDevice = 3


class cudaStreamCaptureMode(enum.IntEnum):  # noqa: N801
    cudaStreamCaptureModeGlobal = 0
    cudaStreamCaptureModeThreadLocal = 1


class cudaStream_t:  # noqa: N801
    def __init__(self, init_value=0):
        self.value = int(init_value)

    def __int__(self):
        return self.value


def make_cudart(driver: str = "ok", strict_streams: bool = False, gpus: int = 1):
    """A module-like fake of ``cuda.bindings.runtime`` (see the module docstring for the modes)."""
    ok = cudaError_t.cudaSuccess
    rt = types.SimpleNamespace(cudaError_t=cudaError_t, cudaMemcpyKind=cudaMemcpyKind,
                               cudaStreamCaptureMode=cudaStreamCaptureMode, cudaStream_t=cudaStream_t,
                               cudaStreamNonBlocking=1)
    state = types.SimpleNamespace(device={}, host={}, next=1 << 20, streams=0, last_error=ok, calls=[])
    rt.state = state

    def guard(fn):
        def call(*args):
            state.calls.append(fn.__name__)
            if driver == "missing":
                raise RuntimeError("Failed to dlopen libcuda.so.1")
            if driver == "insufficient":
                values = () if fn.__name__ == "cudaGetLastError" else (None,)
                return (cudaError_t.cudaErrorInsufficientDriver,) + values
            return fn(*args)

        call.__name__ = fn.__name__
        setattr(rt, fn.__name__, call)
        return call

    def stream_ok(stream):
        if strict_streams and not isinstance(stream, cudaStream_t):
            raise TypeError("Argument 'stream' is not instance of type (expected <class 'cudaStream_t'>)")

    @guard
    def cudaGetDeviceCount():  # noqa: N802
        return ok, gpus

    @guard
    def cudaSetDevice(index):  # noqa: N802
        return (ok,)

    @guard
    def cudaGetDeviceProperties(index):  # noqa: N802
        return ok, types.SimpleNamespace(name=b"NVIDIA Fake GPU\x00\x00", major=8, minor=7, totalGlobalMem=8 << 30)

    @guard
    def cudaDriverGetVersion():  # noqa: N802
        return ok, 12020

    @guard
    def cudaRuntimeGetVersion():  # noqa: N802
        return ok, 12020

    @guard
    def cudaMalloc(nbytes):  # noqa: N802
        ptr, state.next = state.next, state.next + ((nbytes + 255) // 256) * 256
        state.device[ptr] = np.zeros(nbytes, np.uint8)
        return ok, ptr

    @guard
    def cudaFree(ptr):  # noqa: N802
        del state.device[int(ptr)]
        return (ok,)

    @guard
    def cudaMallocHost(nbytes):  # noqa: N802
        buf = np.zeros(nbytes, np.uint8)
        state.host[buf.ctypes.data] = buf
        return ok, buf.ctypes.data

    @guard
    def cudaFreeHost(ptr):  # noqa: N802
        del state.host[int(ptr)]
        return (ok,)

    @guard
    def cudaStreamCreateWithFlags(flags):  # noqa: N802
        state.streams += 1
        return ok, cudaStream_t(0x5000 + state.streams)

    @guard
    def cudaStreamDestroy(stream):  # noqa: N802
        stream_ok(stream)
        return (ok,)

    def device_view(ptr, nbytes):
        for base, buf in state.device.items():
            if base <= ptr and ptr + nbytes <= base + buf.size:
                return buf[ptr - base: ptr - base + nbytes]
        raise AssertionError(f"bad device pointer {ptr}")

    @guard
    def cudaMemcpyAsync(dst, src, nbytes, kind, stream):  # noqa: N802
        stream_ok(stream)
        if kind == cudaMemcpyKind.cudaMemcpyHostToDevice:
            device_view(dst, nbytes)[:] = np.ctypeslib.as_array((ctypes.c_uint8 * nbytes).from_address(src))
        elif kind == cudaMemcpyKind.cudaMemcpyDeviceToHost:
            ctypes.memmove(dst, device_view(src, nbytes).ctypes.data, nbytes)
        else:
            device_view(dst, nbytes)[:] = device_view(src, nbytes)
        return (ok,)

    @guard
    def cudaStreamSynchronize(stream):  # noqa: N802
        stream_ok(stream)
        return (ok,)

    @guard
    def cudaStreamBeginCapture(stream, mode):  # noqa: N802
        stream_ok(stream)
        return (ok,)

    @guard
    def cudaStreamEndCapture(stream):  # noqa: N802
        stream_ok(stream)
        return ok, object()

    @guard
    def cudaGraphInstantiateWithFlags(graph, flags):  # noqa: N802
        return ok, cudaStream_t(id(graph))  # any handle object with __int__ (cudaGraphExec_t)

    @guard
    def cudaGraphLaunch(graph_exec, stream):  # noqa: N802
        stream_ok(stream)
        return (ok,)

    @guard
    def cudaGraphExecDestroy(graph_exec):  # noqa: N802
        return (ok,)

    @guard
    def cudaGraphDestroy(graph):  # noqa: N802
        return (ok,)

    @guard
    def cudaGetLastError():  # noqa: N802
        err, state.last_error = state.last_error, ok
        return (err,)

    return rt


def make_pycuda_driver(gpus: int = 1):
    """A module-like fake of ``pycuda.driver`` that records how its context was made."""
    log = []

    class Error(Exception):
        pass

    class Context:
        def __init__(self, kind):
            self.kind = kind

        def push(self):
            log.append(("push", self.kind))

        def pop(self):
            log.append(("pop", self.kind))

        def detach(self):
            log.append(("detach", self.kind))

    class Device:
        @staticmethod
        def count():
            return gpus

        def __init__(self, index):
            self.index = index

        def retain_primary_context(self):
            log.append(("retain_primary_context", self.index))
            return Context("primary")

        def make_context(self):
            log.append(("make_context", self.index))
            return Context("private")

        def name(self):
            return "NVIDIA Fake GPU"

        def compute_capability(self):
            return 8, 7

        def total_memory(self):
            return 8 << 30

    return types.SimpleNamespace(Error=Error, Device=Device, init=lambda: log.append(("init",)), log=log,
                                 get_driver_version=lambda: 11040, get_version=lambda: (11, 4, 0))
