"""Every TensorRT version difference, in one place, detected by feature (never by string compare).

Supported: TensorRT 8.5 (JetPack 5.1) through 11.x. What changes across that range, and how it is
detected here (``trt`` is the imported module, or a fake with the same attribute set in tests):

=============================  ============================================  =========================
behaviour                      versions                                      detected by
=============================  ============================================  =========================
tensor-name I/O API            8.5+ (``set_tensor_address``,                 ``IExecutionContext``
                               ``execute_async_v3``, ``num_io_tensors``)     has ``execute_async_v3``
``EXPLICIT_BATCH`` flag        required on 8.x, ignored on 10, gone in 11    major version < 10
                                                                             (``packaging.version``)
strongly typed networks        flag since 9/10; always on in 11 (the flag    ``NetworkDefinition-
                               is accepted and ignored there)                CreationFlag.STRONGLY_TYPED``
``BuilderFlag.FP16``/``INT8``  <= 10; removed in 11 (precision must be in    ``BuilderFlag`` has ``FP16``
                               the ONNX graph: fp16 graph, Q/DQ)
INT8 calibrators               deprecated 10.1, removed from Python in 11    ``IBuilderConfig`` has
                                                                             ``int8_calibrator``
workspace limit                ``set_memory_pool_limit`` (8.4+)              method present
=============================  ============================================  =========================

The runtime side (:mod:`dasiamrt.runtime.backends.trt`) only uses the tensor-name API, which is the
same from 8.5 to 11, so it needs no branch; it calls :func:`require_tensor_api` through
:func:`dasiamrt.runtime.backends.trt_manifest.import_tensorrt`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ..errors import BackendError, ConfigError
from ..runtime.backends.trt_manifest import import_tensorrt, make_logger, parse_version

logger = logging.getLogger(__name__)

__all__ = [
    "TrtFeatures",
    "detect_features",
    "import_tensorrt",
    "make_logger",
    "network_flags",
    "set_builder_flags",
    "set_workspace",
    "load_timing_cache",
    "serialize_timing_cache",
    "add_profiles",
    "set_int8_calibrator",
    "apply_layer_constraint",
    "parse_onnx",
    "build_serialized",
]


@dataclass(frozen=True)
class TrtFeatures:
    """What the installed TensorRT can do (see the module table).

    Attributes:
        version: ``tensorrt.__version__``.
        major: major version number.
        tensor_api: ``set_tensor_address``/``execute_async_v3`` exist (8.5+).
        needs_explicit_batch: networks must be created with ``EXPLICIT_BATCH`` (8.x).
        strongly_typed_flag: ``NetworkDefinitionCreationFlag.STRONGLY_TYPED`` exists.
        precision_flags: ``BuilderFlag.FP16``/``INT8`` exist (weak typing, <= 10).
        calibrators: the INT8 calibrator API exists (<= 10).
        memory_pool_limit: ``IBuilderConfig.set_memory_pool_limit`` exists.
    """

    version: str
    major: int
    tensor_api: bool
    needs_explicit_batch: bool
    strongly_typed_flag: bool
    precision_flags: bool
    calibrators: bool
    memory_pool_limit: bool

    @property
    def always_strongly_typed(self) -> bool:
        """True where weak typing is gone (11.x): precision lives in the ONNX graph only."""
        return not self.precision_flags


def detect_features(trt: Any) -> TrtFeatures:
    """Inspect a ``tensorrt`` module (or a fake with the same attributes)."""
    version = str(trt.__version__)
    major = parse_version(version).release[0]
    creation = getattr(trt, "NetworkDefinitionCreationFlag", None)
    flags = getattr(trt, "BuilderFlag", None)
    config_cls = getattr(trt, "IBuilderConfig", None)
    return TrtFeatures(
        version=version,
        major=major,
        tensor_api=hasattr(getattr(trt, "IExecutionContext", None), "execute_async_v3"),
        needs_explicit_batch=major < 10 and hasattr(creation, "EXPLICIT_BATCH"),
        strongly_typed_flag=hasattr(creation, "STRONGLY_TYPED"),
        precision_flags=hasattr(flags, "FP16"),
        calibrators=hasattr(config_cls, "int8_calibrator"),
        memory_pool_limit=hasattr(config_cls, "set_memory_pool_limit"),
    )


def require_supported(features: TrtFeatures) -> None:
    """Refuse TensorRT releases older than 8.5 (no tensor-name API, no Conv with input weights).

    Raises:
        BackendError: for TensorRT < 8.5.
    """
    if not (features.tensor_api and features.memory_pool_limit):
        raise BackendError(
            f"TensorRT {features.version} is too old: dasiamrt needs TensorRT 8.5 or newer (JetPack 5.1+)"
        )


def network_flags(trt: Any, features: TrtFeatures, strongly_typed: bool) -> int:
    """Bit mask for ``Builder.create_network``.

    Raises:
        BackendError: when a strongly typed network is asked of a TensorRT without the flag.
    """
    flags = 0
    creation = trt.NetworkDefinitionCreationFlag
    if features.needs_explicit_batch:
        flags |= 1 << int(creation.EXPLICIT_BATCH)
    if strongly_typed:
        if not features.strongly_typed_flag:
            if features.always_strongly_typed:
                return flags
            raise BackendError(
                f"TensorRT {features.version} cannot build strongly typed networks: "
                "build without --strongly-typed (the FP16 builder flag is used instead)"
            )
        flags |= 1 << int(creation.STRONGLY_TYPED)
    return flags


def set_builder_flags(trt: Any, config: Any, features: TrtFeatures, names: Iterable[str]) -> None:
    """Set ``BuilderFlag`` members by name (``"FP16"``, ``"INT8"``).

    Raises:
        BackendError: when a flag does not exist in this TensorRT (e.g. FP16 on 11.x).
    """
    for name in names:
        flag = getattr(trt.BuilderFlag, name, None)
        if flag is None:
            raise BackendError(
                f"TensorRT {features.version} has no BuilderFlag.{name}: precision must come from the ONNX "
                "graph (dasiamrt build does this by itself; do not force builder flags)"
            )
        config.set_flag(flag)


def clear_builder_flags(trt: Any, config: Any, names: Iterable[str]) -> None:
    """Clear ``BuilderFlag`` members by name, skipping those this TensorRT does not have."""
    for name in names:
        flag = getattr(trt.BuilderFlag, name, None)
        if flag is not None:
            config.clear_flag(flag)


def set_workspace(trt: Any, config: Any, workspace_mb: Optional[int]) -> None:
    """Limit the builder's scratch memory (``MemoryPoolType.WORKSPACE``); None keeps TensorRT's default."""
    if workspace_mb is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_mb) << 20)


def load_timing_cache(config: Any, data: bytes) -> None:
    """Start the build from a serialized timing cache (``b""`` starts an empty one)."""
    cache = config.create_timing_cache(data)
    # None: TensorRT could not read the bytes (corrupt, or another version's format).
    # ignore_mismatch=False: a cache from another GPU or TensorRT is rejected, not silently used.
    if cache is None or not config.set_timing_cache(cache, False):
        raise BackendError("the timing cache was made on another GPU or TensorRT version: delete it and rebuild")


def serialize_timing_cache(config: Any) -> bytes:
    """The builder's timing cache, updated by the build, as bytes."""
    return bytes(memoryview(config.get_timing_cache().serialize()))


def add_profiles(
    builder: Any,
    config: Any,
    network_inputs: Mapping[str, Sequence[int]],
    profiles: Sequence[Mapping[str, Tuple[Sequence[int], Sequence[int], Sequence[int]]]],
) -> List[Any]:
    """One optimization profile per entry, shapes set for every input that has a dynamic dimension.

    Args:
        network_inputs: name -> shape as parsed (-1 for dynamic dimensions).
        profiles: per profile, name -> (min, opt, max) shapes.

    Returns:
        The ``IOptimizationProfile`` objects, in order.
    """
    created = []
    for shapes in profiles:
        profile = builder.create_optimization_profile()
        for name, dims in network_inputs.items():
            if any(d < 0 for d in dims):
                lo, opt, hi = shapes[name]
                profile.set_shape(name, tuple(lo), tuple(opt), tuple(hi))
        config.add_optimization_profile(profile)
        created.append(profile)
    return created


def set_int8_calibrator(features: TrtFeatures, config: Any, calibrator: Any, profile: Any) -> None:
    """Legacy implicit INT8 (TensorRT <= 10): the builder calibrates with ``calibrator`` at the OPT
    shapes of ``profile`` (``IBuilderConfig.set_calibration_profile``, needed with dynamic shapes).

    Raises:
        ConfigError: this TensorRT has no calibrators (11.0 removed them).
    """
    if not features.calibrators:
        raise ConfigError(f"TensorRT {features.version} has no INT8 calibrators: build from the Q/DQ graphs")
    config.int8_calibrator = calibrator
    config.set_calibration_profile(profile)


def apply_layer_constraint(trt: Any, network: Any, config: Any, constraint: Any) -> List[str]:
    """Set per-layer precision on a weakly typed network (``layer.precision`` and
    ``set_output_type`` for each float output) and the ``OBEY``/``PREFER_PRECISION_CONSTRAINTS``
    builder flag (8.2+; without it TensorRT ignores the layer precisions).

    Args:
        constraint: a :class:`~.precision.LayerConstraint`.

    Returns:
        Names of the constrained layers (layers with a non-float output are left alone).
    """
    dtype = {"fp32": trt.float32, "fp16": trt.float16}[constraint.precision]
    layers = []
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        inputs = [t.name for t in (layer.get_input(j) for j in range(layer.num_inputs)) if t is not None]
        outputs = [layer.get_output(k) for k in range(layer.num_outputs)]
        layers.append((layer, inputs, outputs))
    chosen = set(constraint.select([(ly.name, ins, [o.name for o in outs]) for ly, ins, outs in layers]))
    done = []
    for layer, _, outputs in layers:
        if layer.name not in chosen or not outputs or any(o.dtype != trt.float32 for o in outputs):
            continue
        layer.precision = dtype
        for k in range(len(outputs)):
            layer.set_output_type(k, dtype)
        done.append(layer.name)
    if done:
        flag = "OBEY_PRECISION_CONSTRAINTS" if constraint.obey else "PREFER_PRECISION_CONSTRAINTS"
        config.set_flag(getattr(trt.BuilderFlag, flag))
    return done


def parse_onnx(trt: Any, network: Any, trt_logger: Any, data: bytes, path: str) -> Any:
    """Parse an ONNX graph into ``network``; returns the parser (it must outlive the network).

    Raises:
        BackendError: with the parser's first error.
    """
    parser = trt.OnnxParser(network, trt_logger)
    if not parser.parse(data):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise BackendError(f"TensorRT cannot parse {path}: {errors[0] if errors else 'unknown error'}")
    return parser


def network_input_shapes(network: Any) -> Dict[str, Tuple[int, ...]]:
    """Input name -> shape (-1 for dynamic) of a parsed network."""
    out = {}
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        out[tensor.name] = tuple(int(d) for d in tensor.shape)
    return out


def build_serialized(builder: Any, network: Any, config: Any, what: str) -> bytes:
    """``build_serialized_network`` as bytes.

    Raises:
        BackendError: when TensorRT returns no engine (its log, at ERROR level, says why).
    """
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise BackendError(f"TensorRT could not build the {what} engine (see the TensorRT errors above)")
    return bytes(memoryview(plan))


def features_for_version(version: str) -> TrtFeatures:
    """The features a TensorRT release has, from its number alone (for printing trtexec lines
    on a machine without TensorRT, e.g. a host preparing commands for a Jetson).

    Facts from NVIDIA's release notes and migration guides: tensor API and memory pools since 8.5
    (our floor); STRONGLY_TYPED since 10.0 (9.x was never on Jetson); EXPLICIT_BATCH needed < 10;
    FP16/INT8 flags and calibrators removed in 11.0.

    Raises:
        ConfigError: ``version`` is not a version number, or names a TensorRT older than 8.5.
    """
    if not re.fullmatch(r"\d+(\.\d+)*", version.strip()):
        raise ConfigError(f"--trt-version takes a TensorRT version number such as 8.5.2 or 10.3, got {version!r}")
    release = parse_version(version.strip()).release
    if tuple(release[:2]) < (8, 5):
        raise ConfigError(f"TensorRT {version} is not supported: dasiamrt needs TensorRT 8.5 or newer (JetPack 5.1+)")
    major = release[0]
    return TrtFeatures(
        version=version,
        major=major,
        tensor_api=True,
        needs_explicit_batch=major < 10,
        strongly_typed_flag=major >= 10,
        precision_flags=major < 11,
        calibrators=major < 11,
        memory_pool_limit=True,
    )
