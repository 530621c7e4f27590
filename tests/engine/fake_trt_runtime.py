"""The runtime half of the fake ``tensorrt`` (:mod:`tests.engine.fake_trt`): engines from its plans,
run by ONNX Runtime on a :class:`tests.runtime.fake_gpu.FakeDevice`'s memory."""

from __future__ import annotations

import base64
import json

import numpy as np

_ACTIVATION_BYTES_PER_ELEMENT = 4


def add_runtime(trt, major, minor):
    has_strategy = major >= 10
    has_v2 = (major, minor) >= (10, 1)
    io_mode = trt.TensorIOMode

    class IExecutionContext:
        def __init__(self, engine, user_managed):
            self.engine, self.addr, self.shapes = engine, {}, {}
            self.user_managed, self.memory = user_managed, None
            self.profile = None
            if 0 not in engine.profiles_in_use:  # TensorRT gives the first context profile 0
                self.profile = 0
                engine.profiles_in_use.add(0)

        # -- activation memory ---------------------------------------------------------------------
        def _set_memory(self, ptr, size):
            need = self.engine._memory_size()
            if size < need:
                return False
            trt.device.view(ptr, need)
            self.memory = ptr
            return True

        def set_optimization_profile_async(self, index, stream):
            if not 0 <= index < len(self.engine.profiles):
                return False
            if index != self.profile and index in self.engine.profiles_in_use:
                return False  # one context per profile
            if self.profile is not None:
                self.engine.profiles_in_use.discard(self.profile)
            self.profile = index
            self.engine.profiles_in_use.add(index)
            self.shapes.clear()
            return True

        def set_input_shape(self, name, shape):
            shape = tuple(int(d) for d in shape)
            if self.profile is None or self.engine.get_tensor_mode(name) != io_mode.INPUT:
                return False
            lo, _, hi = self.engine.get_tensor_profile_shape(name, self.profile)
            if len(shape) != len(lo) or any(not a <= d <= b for a, d, b in zip(lo, shape, hi)):
                return False
            self.shapes[name] = shape
            return True

        def get_tensor_shape(self, name):
            if self.engine.get_tensor_mode(name) == io_mode.INPUT:
                return self.shapes.get(name, self.engine.get_tensor_shape(name))
            if not all(n in self.shapes for n in self.engine.input_names):
                return tuple(-1 for _ in self.engine.get_tensor_shape(name))
            return self.engine.output_shape(name, {n: self.shapes[n] for n in self.engine.input_names})

        def set_tensor_address(self, name, ptr):
            if self.engine.get_tensor_mode(name) == io_mode.NONE:
                return False
            trt.device.view(ptr, 1)
            self.addr[name] = int(ptr)
            return True

        def execute_async_v3(self, stream_handle):
            names = self.engine.input_names + self.engine.output_names
            if self.profile is None or any(n not in self.addr for n in names):
                return False
            if any(n not in self.shapes for n in self.engine.input_names):
                return False
            if self.user_managed and self.memory is None:
                return False
            if trt.device.last_error is not None:  # a sticky error from an earlier call
                return False
            # addresses and shapes are read NOW: a graph captured here replays exactly these
            addr, shapes = dict(self.addr), dict(self.shapes)
            trt.device.enqueue(stream_handle, lambda: self.engine.run(addr, shapes))
            return True

    if major < 10:
        IExecutionContext.device_memory = property(None, lambda self, ptr: self._set_memory(ptr, 1 << 62))
    else:
        IExecutionContext.device_memory = property(None, lambda self, ptr: self._set_memory(ptr, 1 << 62))
        if has_v2:
            IExecutionContext.set_device_memory = lambda self, ptr, size: self._set_memory(ptr, int(size))

    class ICudaEngine:
        def __init__(self, plan):
            import onnxruntime as ort

            self.plan = plan
            self.session = ort.InferenceSession(base64.b64decode(plan["onnx"]), providers=["CPUExecutionProvider"])
            self.input_names = [i.name for i in self.session.get_inputs()]
            self.output_names = [o.name for o in self.session.get_outputs()]
            self.profiles = plan["profiles"] or [{}]
            self.profiles_in_use = set()
            self._dtypes = {n: trt.DataType[t] for n, t in plan["input_types"].items()}
            self._shapes = {i.name: tuple(d if isinstance(d, int) else -1 for d in i.shape)
                            for i in self.session.get_inputs()}
            self._out_cache = {}

        num_io_tensors = property(lambda self: len(self.input_names) + len(self.output_names))
        num_optimization_profiles = property(lambda self: len(self.profiles))

        def get_tensor_name(self, index):
            return (self.input_names + self.output_names)[index]

        def get_tensor_mode(self, name):
            if name in self.input_names:
                return io_mode.INPUT
            return io_mode.OUTPUT if name in self.output_names else io_mode.NONE

        def get_tensor_dtype(self, name):
            return self._dtypes.get(name, trt.DataType.FLOAT)

        def get_tensor_shape(self, name):
            if name in self._shapes:
                return self._shapes[name]
            return tuple(-1 for _ in self.session.get_outputs()[self.output_names.index(name)].shape)

        def get_tensor_profile_shape(self, name, profile_index):
            shapes = self.profiles[profile_index].get(name)
            if shapes is None:
                fixed = self._shapes[name]
                return [fixed, fixed, fixed]
            return [tuple(s) for s in shapes]

        def _memory_size(self, profile=None):
            indices = range(len(self.profiles)) if profile is None else [profile]
            sizes = []
            for p in indices:
                elems = sum(int(np.prod(self.get_tensor_profile_shape(n, p)[2])) for n in self.input_names)
                sizes.append(elems * _ACTIVATION_BYTES_PER_ELEMENT)
            return max(sizes)

        def create_execution_context(self, strategy=None):
            user = has_strategy and strategy is not None and int(strategy) == 2
            return IExecutionContext(self, user)

        def output_shape(self, name, input_shapes):
            key = tuple(sorted(input_shapes.items()))
            if key not in self._out_cache:
                feeds = {n: np.zeros(s, self._onnx_dtype(n)) for n, s in input_shapes.items()}
                outs = self.session.run(None, feeds)
                self._out_cache[key] = {m.name: tuple(v.shape) for m, v in zip(self.session.get_outputs(), outs)}
            return self._out_cache[key][name]

        def _onnx_dtype(self, name):
            t = next(i.type for i in self.session.get_inputs() if i.name == name)
            return np.int64 if t == "tensor(int64)" else np.float32

        def run(self, addr, shapes):
            device = trt.device
            feeds = {}
            for name in self.input_names:
                dtype = np.dtype(trt.nptype(self.get_tensor_dtype(name)))
                n = int(np.prod(shapes[name])) * dtype.itemsize
                value = device.view(addr[name], n).view(dtype).reshape(shapes[name])
                feeds[name] = value.astype(self._onnx_dtype(name))
            outs = self.session.run(None, feeds)
            for meta, value in zip(self.session.get_outputs(), outs):
                data = np.ascontiguousarray(value, np.float32).view(np.uint8).reshape(-1)
                device.view(addr[meta.name], data.size)[:] = data  # past a buffer's end: AssertionError

    if major < 10 or not (major, minor) >= (10, 1):
        ICudaEngine.device_memory_size = property(lambda self: self._memory_size())
    if has_v2:
        ICudaEngine.device_memory_size_v2 = property(lambda self: self._memory_size())
        ICudaEngine.get_device_memory_size_for_profile_v2 = lambda self, i: self._memory_size(i)
        ICudaEngine.device_memory_size = property(lambda self: self._memory_size())  # deprecated, still there
    if major < 11:
        ICudaEngine.create_execution_context_without_device_memory = lambda self: IExecutionContext(self, True)
    if has_strategy:
        trt.ExecutionContextAllocationStrategy = type("ExecutionContextAllocationStrategy", (), {
            "STATIC": 0, "ON_PROFILE_CHANGE": 1, "USER_MANAGED": 2})

    class Runtime:
        def __init__(self, logger):
            self.logger = logger

        def deserialize_cuda_engine(self, data):
            try:
                plan = json.loads(bytes(data))
            except ValueError:
                return None
            if plan.get("format") != "fake-trt-plan/1" or plan.get("version") != trt.__version__:
                return None  # TensorRT refuses a plan of another version (and logs why)
            return ICudaEngine(plan)

    trt.IExecutionContext, trt.ICudaEngine, trt.Runtime = IExecutionContext, ICudaEngine, Runtime
