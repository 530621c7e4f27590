"""A fake CUDA device (numpy memory) and a fake TensorRT runtime whose engines run ONNX Runtime.

Together they execute :class:`dasiamrt.runtime.backends.trt.TensorRTBackend` on a CPU: every
pointer is a real offset into fake device memory, so wrong bindings, wrong sizes or missing copies
give wrong numbers. Plans are JSON ``{"onnx": path}`` files.
"""

from __future__ import annotations

import json
import types

import numpy as np
import onnxruntime as ort

from dasiamrt.runtime.cuda_device import CudaDevice, GpuInfo


class FakeDevice(CudaDevice):
    binding = "fake"

    def __init__(self, gpu=None):
        super().__init__()
        gpu = gpu or GpuInfo("Orin", "8.7", "12.2", "12.2", 8000)
        self.gpu, self.mem, self.next = gpu, {}, 4096
        self.copies = []  # (kind, nbytes)
        self.capturing, self.recorded, self.launches = None, {}, 0

    def info(self):
        return self.gpu

    def _malloc(self, nbytes):
        ptr, self.next = self.next, self.next + ((nbytes + 255) // 256) * 256
        self.mem[ptr] = np.zeros(nbytes, np.uint8)
        return ptr, nbytes

    def view(self, ptr, nbytes):
        for base, buf in self.mem.items():
            if base <= ptr and ptr + nbytes <= base + buf.size:
                return buf[ptr - base : ptr - base + nbytes]
        raise AssertionError(f"bad device pointer {ptr} (+{nbytes})")

    def _free(self, ptr, owner):
        del self.mem[ptr]

    def _malloc_host(self, nbytes):
        raw = np.zeros(nbytes, np.uint8)
        return raw, raw

    def _free_host(self, ptr, owner):
        pass

    def _stream(self):
        return 7, None

    def _destroy_stream(self, owner):
        pass

    def _do(self, op):
        if self.capturing is not None:
            self.capturing.append(op)
        else:
            op()

    def memcpy_htod_async(self, dst, src, stream):
        self.copies.append(("htod", src.nbytes))
        data = np.frombuffer(np.ascontiguousarray(src).tobytes(), np.uint8)
        self._do(lambda: self.view(dst, data.size).__setitem__(slice(None), data))

    def memcpy_dtoh_async(self, dst, src, stream):
        self.copies.append(("dtoh", dst.nbytes))
        self._do(lambda: dst.reshape(-1).view(np.uint8).__setitem__(slice(None), self.view(src, dst.nbytes)))

    def memcpy_dtod_async(self, dst, src, nbytes, stream):
        self.copies.append(("dtod", nbytes))
        self._do(lambda: self.view(dst, nbytes).__setitem__(slice(None), self.view(src, nbytes).copy()))

    def synchronize(self, stream):
        pass

    def begin_capture(self, stream):
        self.capturing = []

    def _end_capture(self, stream):
        ops, self.capturing = self.capturing, None
        handle = 100 + len(self.recorded)
        self.recorded[handle] = ops
        return handle, ops

    def launch_graph(self, graph, stream):
        self.launches += 1
        for op in self.recorded[graph]:
            op()

    def _destroy_graph(self, owner):
        pass

    def _release(self):
        pass


_TYPES = {"tensor(float)": np.float32, "tensor(int64)": np.int64}


def make_fake_runtime(device, version="10.3.0.30", int32_indices=False):
    """A ``tensorrt``-like module whose engines run ONNX Runtime on the fake device's memory.

    ``int32_indices`` mimics TensorRT 8.x, whose ONNX parser turns int64 inputs into int32.
    """

    class Context:
        def __init__(self, engine):
            self.engine, self.addr, self.shapes, self.profile = engine, {}, {}, None

        def set_optimization_profile_async(self, index, stream):
            self.profile = index
            return True

        def set_input_shape(self, name, shape):
            self.shapes[name] = tuple(shape)
            return True

        def set_tensor_address(self, name, ptr):
            self.addr[name] = ptr
            return True

        def execute_async_v3(self, stream_handle):
            device._do(self._execute)
            return True

        def _execute(self):
            feeds = {}
            for name, shape in self.shapes.items():
                engine_dtype = np.dtype(self.engine.get_tensor_dtype(name))
                n = int(np.prod(shape)) * engine_dtype.itemsize
                value = device.view(self.addr[name], n).view(engine_dtype).reshape(shape)
                feeds[name] = value.astype(self.engine.onnx_dtype[name])
            outs = self.engine.session.run(None, feeds)
            for meta, value in zip(self.engine.session.get_outputs(), outs):
                data = np.ascontiguousarray(value, np.float32).view(np.uint8).reshape(-1)
                device.view(self.addr[meta.name], data.size)[:] = data

    class Engine:
        def __init__(self, plan):
            self.session = ort.InferenceSession(json.loads(plan)["onnx"], providers=["CPUExecutionProvider"])
            self.onnx_dtype = {i.name: _TYPES[i.type] for i in self.session.get_inputs()}

        def create_execution_context(self):
            return Context(self)

        def get_tensor_dtype(self, name):
            dtype = self.onnx_dtype.get(name, np.float32)
            return np.int32 if (int32_indices and dtype == np.int64) else dtype

    class Runtime:
        def __init__(self, logger):
            pass

        def deserialize_cuda_engine(self, data):
            return Engine(data)

    class ILogger:
        Severity = types.SimpleNamespace(ERROR=1, WARNING=2, INFO=3, VERBOSE=4)

        def __init__(self):
            pass

    class IExecutionContext:
        execute_async_v3 = Context.execute_async_v3

    return types.SimpleNamespace(
        __version__=version, Runtime=Runtime, ILogger=ILogger, IExecutionContext=IExecutionContext, nptype=lambda dt: dt
    )
