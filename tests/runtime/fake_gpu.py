"""A strict fake CUDA device (numpy memory, asynchronous streams, frozen CUDA graphs).

With the fake TensorRT of :mod:`tests.engine.fake_trt` (engines run ONNX Runtime) it executes
:class:`dasiamrt.runtime.backends.trt.TensorRTBackend` on a CPU the way a GPU would:

* every pointer is an offset into an allocation: reading or writing past a buffer's end, or into a
  freed buffer, fails (AssertionError: a bug, never a user error);
* work is QUEUED on its stream and runs at :meth:`synchronize`: a host array read before the sync
  holds stale data, and an H2D copy reads the pinned host memory when it runs, as DMA does;
* a CUDA graph records the work enqueued while capturing, with the addresses and shapes of that
  moment; a replay reuses them (rebinding a tensor after capture changes nothing in the replay);
* ``fail_capture=True`` makes capture fail like an invalidated capture: CUDA's last error stays set
  and the next enqueue is refused until :meth:`clear_error`.
"""

from __future__ import annotations

import numpy as np

from dasiamrt.errors import BackendError
from dasiamrt.trt.cuda_device import CudaDevice, GpuInfo


class FakeDevice(CudaDevice):
    binding = "fake"

    def __init__(self, gpu=None, fail_capture=False):
        super().__init__()
        gpu = gpu or GpuInfo("Orin", "8.7", "12.2", "12.2", 8000)
        self.gpu, self.mem, self.next = gpu, {}, 4096
        self.copies = []  # (kind, nbytes), in call order
        self.queues = {}  # stream -> pending ops
        self.capturing, self.recorded, self.launches = None, {}, 0
        self.fail_capture, self.last_error, self.cleared = fail_capture, None, 0

    def info(self):
        return self.gpu

    def _malloc(self, nbytes):
        ptr, self.next = self.next, self.next + ((nbytes + 255) // 256) * 256
        self.mem[ptr] = np.zeros(nbytes, np.uint8)
        return ptr, nbytes

    def view(self, ptr, nbytes):
        for base, buf in self.mem.items():
            if base <= ptr and ptr + nbytes <= base + buf.size:
                return buf[ptr - base: ptr - base + nbytes]
        raise AssertionError(f"bad device pointer {ptr} (+{nbytes}): out of bounds or freed")

    def _free(self, ptr, owner):
        del self.mem[ptr]

    def _malloc_host(self, nbytes):
        raw = np.zeros(nbytes, np.uint8)
        return raw, raw

    def _free_host(self, ptr, owner):
        owner[:] = 0xFF  # freed pinned memory: whatever is read from it now is garbage (NaN floats)

    def _stream(self):
        handle = 7 + len(self.queues)
        self.queues[handle] = []
        return handle, None

    def _destroy_stream(self, owner):
        pass

    # -- streams -------------------------------------------------------------------------------------
    def enqueue(self, stream, op):
        """Queue ``op`` on ``stream`` (or record it into the graph being captured)."""
        if self._closed:
            raise AssertionError("work enqueued on a closed device")
        if self.capturing is not None and self.capturing[0] == stream:
            self.capturing[1].append(op)
        else:
            self.queues[stream].append(op)

    def memcpy_htod_async(self, dst, src, stream):
        self.copies.append(("htod", src.nbytes))
        flat = src.reshape(-1).view(np.uint8)  # read when the copy runs (DMA from pinned memory)
        self.view(dst, flat.size)  # a bad pointer fails at the call, as cudaMemcpyAsync validates it
        self.enqueue(stream, lambda: self.view(dst, flat.size).__setitem__(slice(None), flat))

    def memcpy_dtoh_async(self, dst, src, stream):
        self.copies.append(("dtoh", dst.nbytes))
        self.view(src, dst.nbytes)
        flat = dst.reshape(-1).view(np.uint8)
        self.enqueue(stream, lambda: flat.__setitem__(slice(None), self.view(src, dst.nbytes)))

    def memcpy_dtod_async(self, dst, src, nbytes, stream):
        self.copies.append(("dtod", nbytes))
        self.enqueue(stream, lambda: self.view(dst, nbytes).__setitem__(slice(None), self.view(src, nbytes).copy()))

    def synchronize(self, stream):
        if self.capturing is not None and self.capturing[0] == stream:
            raise BackendError("CUDA could not finish the GPU work (cudaErrorStreamCaptureUnsupported)")
        ops, self.queues[stream] = self.queues[stream], []
        for op in ops:
            op()

    # -- graphs --------------------------------------------------------------------------------------
    def begin_capture(self, stream):
        if self.queues[stream]:
            raise AssertionError("capture begun with work still queued on the stream")
        self.capturing = (stream, [])

    def _end_capture(self, stream):
        _, ops = self.capturing
        self.capturing = None
        if self.fail_capture:
            self.last_error = "cudaErrorStreamCaptureInvalidated"
            raise BackendError("CUDA could not end a CUDA graph capture (cudaErrorStreamCaptureInvalidated)")
        handle = 100 + len(self.recorded)
        self.recorded[handle] = ops
        return handle, ops

    def launch_graph(self, graph, stream):
        self.launches += 1
        for op in self.recorded[graph]:
            self.enqueue(stream, op)

    def _destroy_graph(self, owner):
        pass

    def clear_error(self):
        self.cleared += 1
        self.last_error = None

    def _release(self):
        pass


def make_fake_runtime(device, version="10.3.0.30"):
    """The fake ``tensorrt`` (builder + runtime, :mod:`tests.engine.fake_trt`) running on ``device``."""
    from tests.engine.fake_trt import make_fake_trt

    return make_fake_trt(version, device)


def build_fake_engines(model_dir, precision="fp32", version="10.3.0.30", gpu=None, out_dir=None, **options):
    """``dasiamrt build`` on the fake TensorRT ``version`` for ``gpu``: real plans of the fake's one
    format, real manifests. Returns the engine folder."""
    from pathlib import Path
    from unittest import mock

    from dasiamrt.engine.builder import BuildOptions, build_engines
    from dasiamrt.trt import compat as trt_compat
    from tests.engine.fake_trt import make_fake_trt

    trt = make_fake_trt(version)
    gpu = gpu or GpuInfo("Orin", "8.7", "12.2", "12.2", 8000)
    out = Path(out_dir) if out_dir else Path(model_dir) / "engines" / precision
    with mock.patch.object(trt_compat, "import_tensorrt", lambda *a: trt), \
            mock.patch("dasiamrt.trt.cuda_device.query_gpu", lambda *a, **k: gpu):
        build_engines(Path(model_dir), BuildOptions(precision, out_dir=out, **options))
    return out
