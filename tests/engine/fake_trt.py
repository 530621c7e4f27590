"""Fake ``tensorrt`` modules with the attribute sets of 8.5, 8.6, 10.x and 11.x (from NVIDIA's API docs).

They record what the builder asks for; ``build_serialized_network`` returns a JSON "plan" of it, so
tests can check flags, profiles and timing caches without libnvinfer.
"""

from __future__ import annotations

import enum
import json
import types

import onnx


def _enum(name, members):
    return enum.IntEnum(name, {m: i for i, m in enumerate(members)})


class _Tensor:
    def __init__(self, name, shape):
        self.name, self.shape = name, shape


class _Network:
    def __init__(self, flags):
        self.flags = flags
        self.inputs = []

    @property
    def num_inputs(self):
        return len(self.inputs)

    def get_input(self, i):
        return self.inputs[i]


class _Parser:
    def __init__(self, network, logger):
        self.network = network
        self.errors = []

    def parse(self, data):
        try:
            model = onnx.load_from_string(data)
        except Exception as err:  # noqa: BLE001 - mimic the parser's error list
            self.errors.append(str(err))
            return False
        for v in model.graph.input:
            dims = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in v.type.tensor_type.shape.dim)
            self.network.inputs.append(_Tensor(v.name, dims))
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


def make_fake_trt(version: str):
    """A module-like object mimicking the Python API of TensorRT ``version`` (8.5 ... 11.x)."""
    major = int(version.split(".")[0])
    trt = types.SimpleNamespace(__version__=version)
    trt.calls = []
    if major >= 11:
        trt.NetworkDefinitionCreationFlag = _enum("NetworkDefinitionCreationFlag", ["STRONGLY_TYPED"])
        trt.BuilderFlag = _enum("BuilderFlag", ["GPU_FALLBACK", "REFIT", "TF32"])
    elif major >= 10:
        trt.NetworkDefinitionCreationFlag = _enum("NetworkDefinitionCreationFlag", ["EXPLICIT_BATCH", "STRONGLY_TYPED"])
        trt.BuilderFlag = _enum("BuilderFlag", ["FP16", "INT8", "DEBUG", "GPU_FALLBACK", "REFIT", "TF32"])
    else:
        trt.NetworkDefinitionCreationFlag = _enum(
            "NetworkDefinitionCreationFlag", ["EXPLICIT_BATCH", "EXPLICIT_PRECISION"]
        )
        trt.BuilderFlag = _enum(
            "BuilderFlag", ["FP16", "INT8", "DEBUG", "GPU_FALLBACK", "STRICT_TYPES", "REFIT", "TF32"]
        )
    trt.MemoryPoolType = _enum("MemoryPoolType", ["WORKSPACE", "DLA_MANAGED_SRAM"])

    class IExecutionContext:
        def execute_async_v3(self, stream_handle):  # 8.5+
            raise NotImplementedError

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
            return _Network(flags)

        def create_builder_config(self):
            return IBuilderConfig()

        def create_optimization_profile(self):
            return _Profile()

        def build_serialized_network(self, network, config):
            calibrated = _calibrate(getattr(config, "int8_calibrator", None), [t.name for t in network.inputs])
            plan = {
                "calibration": calibrated,
                "calibration_profile": getattr(config, "calibration_profile", None),
                "flags": network.flags,
                "builder_flags": config.flags,
                "pools": config.pools,
                "profiles": config.profiles,
                "inputs": [t.name for t in network.inputs],
            }
            trt.calls.append(plan)
            return json.dumps(plan).encode()

    trt.IExecutionContext, trt.ILogger, trt.IBuilderConfig, trt.Builder = (
        IExecutionContext,
        ILogger,
        IBuilderConfig,
        Builder,
    )
    trt.OnnxParser = _Parser
    return trt


#: (version, JetPack or platform) pairs the tests run over.
VERSIONS = ("8.5.2.2", "8.6.2.3", "10.3.0.30", "10.13.0.35", "11.0.0.114")
