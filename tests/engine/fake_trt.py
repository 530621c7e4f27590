"""A strict fake ``tensorrt`` module: builder AND runtime of 8.5, 8.6, 10.x and 11.x, ONE plan format.

Attribute sets follow NVIDIA's Python bindings (``pyCore.cpp``/``pyOnnx.cpp`` of 8.5, 10.x, 11.x):
tensor-name I/O API, ``NetworkDefinitionCreationFlag``/``BuilderFlag`` members per version,
``ExecutionContextAllocationStrategy`` (10.0+), ``device_memory_size_v2``/``set_device_memory``
(10.1+), ``create_execution_context_without_device_memory`` (8.x, deprecated in 10), INT8
calibrators (<= 10), int64 engine inputs (10+; 8.x parses them as int32).

The builder parses the ONNX bytes into layers (one per node) and writes a JSON plan holding the
graph, its profiles, flags and per-layer precision constraints. The runtime deserializes that plan
(refusing another version's, as TensorRT does) into engines that run ONNX Runtime on the memory of
a :class:`tests.runtime.fake_gpu.FakeDevice`. The runtime is as strict as TensorRT where the
backend depends on it: ``set_optimization_profile_async``/``set_input_shape``/
``set_tensor_address`` validate and return False; ``execute_async_v3`` returns False with an unset
shape or address, without activation memory (user-managed contexts) or with CUDA's last error set;
an enqueue reads addresses and shapes when it is enqueued (so a captured CUDA graph keeps them).
"""

from __future__ import annotations

import base64
import enum
import json
import types

import numpy as np
import onnx

PLAN_FORMAT = "fake-trt-plan/1"


def _enum(name, members):
    return enum.IntEnum(name, {m: i for i, m in enumerate(members)})


DataType = _enum("DataType", ["FLOAT", "HALF", "INT8", "INT32", "BOOL", "UINT8", "FP8", "BF16", "INT64"])
_NP = {DataType.FLOAT: np.float32, DataType.HALF: np.float16, DataType.INT8: np.int8, DataType.INT32: np.int32,
       DataType.BOOL: np.bool_, DataType.UINT8: np.uint8, DataType.INT64: np.int64}
_ONNX = {onnx.TensorProto.FLOAT: DataType.FLOAT, onnx.TensorProto.FLOAT16: DataType.HALF,
         onnx.TensorProto.INT64: DataType.INT64, onnx.TensorProto.INT32: DataType.INT32,
         onnx.TensorProto.BOOL: DataType.BOOL}


class _Tensor:
    def __init__(self, name, shape=(), dtype=DataType.FLOAT):
        self.name, self.shape, self.dtype = name, tuple(shape), dtype


class _Layer:
    def __init__(self, name, type_, inputs, outputs, strongly_typed):
        self.name, self.type, self._inputs, self._outputs = name, type_, inputs, outputs
        self._strongly_typed = strongly_typed
        self._precision, self.output_types = None, {}

    num_inputs = property(lambda self: len(self._inputs))
    num_outputs = property(lambda self: len(self._outputs))

    def get_input(self, i):
        return self._inputs[i]

    def get_output(self, i):
        return self._outputs[i]

    @property
    def precision(self):
        return self._precision if self._precision is not None else DataType.FLOAT

    @precision.setter
    def precision(self, dtype):
        assert not self._strongly_typed, "layer precision set in a strongly typed network (TensorRT refuses it)"
        self._precision = dtype

    @property
    def precision_is_set(self):
        return self._precision is not None

    def set_output_type(self, index, dtype):
        assert not self._strongly_typed, "output type set in a strongly typed network (TensorRT refuses it)"
        self.output_types[index] = dtype


class _Network:
    def __init__(self, flags, strongly_typed):
        self.flags, self.strongly_typed = flags, strongly_typed
        self.inputs, self.layers, self.onnx = [], [], None

    num_inputs = property(lambda self: len(self.inputs))
    num_layers = property(lambda self: len(self.layers))

    def get_input(self, i):
        return self.inputs[i]

    def get_layer(self, i):
        return self.layers[i]


class _Parser:
    def __init__(self, network, logger, int64_inputs=True):
        self.network, self.errors, self.int64_inputs = network, [], int64_inputs

    def parse(self, data):
        try:
            model = onnx.load_from_string(data)
        except Exception as err:  # noqa: BLE001 - mimic the parser's error list
            self.errors.append(str(err))
            return False
        tensors = {}
        for v in model.graph.input:
            dims = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in v.type.tensor_type.shape.dim)
            dtype = _ONNX.get(v.type.tensor_type.elem_type, DataType.FLOAT)
            if dtype == DataType.INT64 and not self.int64_inputs:
                dtype = DataType.INT32  # TensorRT 8.x casts int64 inputs to int32
            tensors[v.name] = _Tensor(v.name, dims, dtype)
            self.network.inputs.append(tensors[v.name])
        for i, node in enumerate(model.graph.node):
            outs = [tensors.setdefault(o, _Tensor(o)) for o in node.output]
            ins = [tensors.get(n) for n in node.input]
            self.network.layers.append(_Layer(node.name or f"node_{i}", node.op_type, ins, outs,
                                              self.network.strongly_typed))
        self.network.onnx = data
        return True

    @property
    def num_errors(self):
        return len(self.errors)

    def get_error(self, i):
        return self.errors[i]


class _Profile:
    def __init__(self):
        self.shapes = {}

    def set_shape(self, name, lo, opt, hi):
        self.shapes[name] = [list(lo), list(opt), list(hi)]


class _Cache:
    def __init__(self, data):
        self.data = bytes(data)

    def serialize(self):
        return self.data


def _calibrate(calibrator, names):
    """What TensorRT's builder does with an INT8 calibrator: the cache if it has one, else every batch
    (device pointers per input name) until None, then the cache is written."""
    if calibrator is None:
        return None
    cached = calibrator.read_calibration_cache()
    if cached is not None:
        return {"from_cache": bytes(cached).decode(), "batches": 0}
    batches = 0
    while calibrator.get_batch(list(names)) is not None:
        batches += 1
    calibrator.write_calibration_cache(memoryview(f"fake-calibration {batches}".encode()))
    return {"from_cache": None, "batches": batches}


def _flags(major):
    if major >= 11:
        return (_enum("NetworkDefinitionCreationFlag", ["STRONGLY_TYPED"]),
                _enum("BuilderFlag", ["GPU_FALLBACK", "REFIT", "TF32"]))
    if major >= 10:
        return (_enum("NetworkDefinitionCreationFlag", ["EXPLICIT_BATCH", "STRONGLY_TYPED"]),
                _enum("BuilderFlag", ["FP16", "INT8", "DEBUG", "GPU_FALLBACK", "REFIT", "TF32",
                                      "OBEY_PRECISION_CONSTRAINTS", "PREFER_PRECISION_CONSTRAINTS"]))
    return (_enum("NetworkDefinitionCreationFlag", ["EXPLICIT_BATCH", "EXPLICIT_PRECISION"]),
            _enum("BuilderFlag", ["FP16", "INT8", "DEBUG", "GPU_FALLBACK", "STRICT_TYPES", "REFIT", "TF32",
                                  "OBEY_PRECISION_CONSTRAINTS", "PREFER_PRECISION_CONSTRAINTS"]))


def make_fake_trt(version: str, device=None):
    """A module-like object mimicking the Python API of TensorRT ``version`` (8.5 ... 11.x).

    ``device`` (a :class:`tests.runtime.fake_gpu.FakeDevice`) is the GPU its engines run on.
    """
    parts = [int(p) for p in version.split(".")[:2]]
    major, minor = parts[0], parts[1] if len(parts) > 1 else 0
    trt = types.SimpleNamespace(__version__=version, calls=[], device=device)
    trt.NetworkDefinitionCreationFlag, trt.BuilderFlag = _flags(major)
    trt.MemoryPoolType = _enum("MemoryPoolType", ["WORKSPACE", "DLA_MANAGED_SRAM"])
    trt.DataType = DataType
    trt.float32, trt.float16, trt.int8, trt.int32, trt.bool = (DataType.FLOAT, DataType.HALF, DataType.INT8,
                                                                  DataType.INT32, DataType.BOOL)
    if major >= 10:
        trt.int64 = DataType.INT64
    trt.nptype = lambda dt: _NP[DataType(dt)]
    trt.TensorIOMode = _enum("TensorIOMode", ["NONE", "INPUT", "OUTPUT"])

    class ILogger:
        Severity = _enum("Severity", ["INTERNAL_ERROR", "ERROR", "WARNING", "INFO", "VERBOSE"])

        def __init__(self):
            pass

    class IBuilderConfig:
        def __init__(self):
            self.flags, self.pools, self.profiles, self.cache = [], {}, [], None

        def set_memory_pool_limit(self, pool, size):
            self.pools[pool.name] = size

        def set_flag(self, flag):
            self.flags.append(flag.name)

        def clear_flag(self, flag):
            self.flags.append("-" + flag.name)

        def add_optimization_profile(self, profile):
            self.profiles.append(profile.shapes)
            return len(self.profiles) - 1

        def create_timing_cache(self, data):
            return _Cache(data)

        def set_timing_cache(self, cache, ignore_mismatch):
            self.cache = cache
            return True

        def get_timing_cache(self):
            return _Cache(self.cache.data + b"+")

    if major < 11:
        IBuilderConfig.int8_calibrator = None

        def set_calibration_profile(self, profile):
            self.calibration_profile = profile.shapes

        IBuilderConfig.set_calibration_profile = set_calibration_profile

        class IInt8EntropyCalibrator2:
            def __init__(self):
                pass

        trt.IInt8EntropyCalibrator2 = IInt8EntropyCalibrator2

    class Builder:
        def __init__(self, logger):
            self.logger = logger

        def create_network(self, flags=0):
            typed = hasattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED") and (
                major >= 11 or bool(flags & (1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))))
            return _Network(flags, typed)

        def create_builder_config(self):
            return IBuilderConfig()

        def create_optimization_profile(self):
            return _Profile()

        def build_serialized_network(self, network, config):
            calibrated = _calibrate(getattr(config, "int8_calibrator", None), [t.name for t in network.inputs])
            plan = {
                "format": PLAN_FORMAT,
                "version": version,
                "calibration": calibrated,
                "calibration_profile": getattr(config, "calibration_profile", None),
                "flags": network.flags,
                "strongly_typed": network.strongly_typed,
                "builder_flags": config.flags,
                "pools": config.pools,
                "profiles": config.profiles,
                "inputs": [t.name for t in network.inputs],
                "input_types": {t.name: t.dtype.name for t in network.inputs},
                "layer_precisions": {ly.name: DataType(ly.precision).name for ly in network.layers
                                     if ly.precision_is_set},
                "output_types": {ly.name: {str(k): DataType(v).name for k, v in ly.output_types.items()}
                                 for ly in network.layers if ly.output_types},
                "onnx": base64.b64encode(network.onnx or b"").decode(),
            }
            trt.calls.append(plan)
            return json.dumps(plan).encode()

    def parser(network, logger):
        return _Parser(network, logger, int64_inputs=major >= 10)

    trt.ILogger, trt.IBuilderConfig, trt.Builder, trt.OnnxParser = ILogger, IBuilderConfig, Builder, parser
    _add_runtime(trt, major, minor)
    return trt


def _add_runtime(trt, major, minor):
    """``Runtime``, ``ICudaEngine``, ``IExecutionContext`` of the fake (see the module docstring)."""
    from tests.engine.fake_trt_runtime import add_runtime

    add_runtime(trt, major, minor)


#: (version, JetPack or platform) pairs the tests run over.
VERSIONS = ("8.5.2.2", "8.6.2.3", "10.3.0.30", "10.13.0.35", "11.0.0.114")
