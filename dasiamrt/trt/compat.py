"""Every TensorRT version difference, in one place, detected by feature (never by string compare).

Supported: TensorRT 8.5 (JetPack 5.1) through 11.x. What changes across that range, and how it is
detected here (``trt`` is the imported module, or a fake with the same attribute set in tests). The
engine builder (:mod:`dasiamrt.engine`), the legacy INT8 calibrator (:mod:`dasiamrt.engine.calibrator`)
and the runtime's TensorRT backend (:mod:`dasiamrt.runtime.backends.trt`) all come here; nothing here
imports a dasiamrt package above :mod:`dasiamrt.errors`, and ``tensorrt`` itself only in
:func:`import_tensorrt`.

===================================  ==========================================  =========================
behaviour                            versions                                    detected by
===================================  ==========================================  =========================
tensor-name I/O API                  8.5+ (``set_tensor_address``,               ``IExecutionContext``
                                     ``execute_async_v3``, ``num_io_tensors``)   has ``execute_async_v3``
``EXPLICIT_BATCH`` flag              required on 8.x, ignored on 10, gone in 11  major version < 10
                                                                                 (``packaging.version``)
strongly typed networks              flag since 9/10; always on in 11 (the flag  ``NetworkDefinition-
                                     is accepted and ignored there)              CreationFlag.STRONGLY_TYPED``
``BuilderFlag.FP16``/``INT8``        <= 10; removed in 11 (precision must be in  ``BuilderFlag`` has ``FP16``
                                     the ONNX graph: fp16 graph, Q/DQ)
INT8 calibrators                     deprecated 10.1, removed from Python in 11  ``IBuilderConfig`` has
                                                                                 ``int8_calibrator``;
                                                                                 ``IInt8EntropyCalibrator2``
workspace limit                      ``set_memory_pool_limit`` (8.4+)            method present
logger severities                    ``ILogger.Severity`` members                ``hasattr``
context without its own activation   10.0+: ``create_execution_context(          ``ExecutionContext-
memory                               ExecutionContextAllocationStrategy.         AllocationStrategy``
                                     USER_MANAGED)``; 8.x: ``create_execution_
                                     context_without_device_memory()``
activation size of an engine         10.1+: ``device_memory_size_v2``;           attribute present
                                     8.x/10.0: ``device_memory_size``
give a context its activation block  10.1+: ``set_device_memory(ptr, size)``    method present
                                     (pairs with the v2 size); 8.x/10.0:
                                     ``device_memory = ptr``
===================================  ==========================================  =========================
"""

from __future__ import annotations

import importlib
import logging
import re
from dataclasses import dataclass
from typing import Any, Iterable, Optional

from ..errors import BackendError, ConfigError, MissingDependencyError

logger = logging.getLogger(__name__)


class _Release:
    """Minimal stand-in for ``packaging.version.Version`` (release numbers only)."""

    def __init__(self, text: str) -> None:
        self.release = tuple(int(p) for p in re.findall(r"\d+", text.split("+")[0])[:4]) or (0,)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Release) and self.release == other.release

    def __hash__(self) -> int:
        return hash(self.release)


def parse_version(text: str) -> Any:
    """A comparable version object (``packaging.version.Version`` when installed)."""
    try:
        from packaging.version import InvalidVersion, Version
    except ImportError:  # pragma: no cover - packaging is nearly always there
        return _Release(text)
    try:
        return Version(text)
    except InvalidVersion:
        return _Release(text)


def import_tensorrt(feature: str = "the TensorRT backend", alternative: str = ", or use --backend ort") -> Any:
    """Import ``tensorrt`` lazily, with a one-line error where it is missing.

    Args:
        feature: what needs TensorRT (named in the error).
        alternative: appended to the install hint.

    Raises:
        MissingDependencyError: TensorRT's Python bindings are not installed.
        BackendError: TensorRT is older than 8.5 (no tensor-name execution API).
    """
    try:
        trt = importlib.import_module("tensorrt")
    except ImportError:
        raise MissingDependencyError(
            "tensorrt",
            feature,
            "on a Jetson it comes with JetPack (apt install python3-libnvinfer); on a desktop "
            f"pip install tensorrt{alternative}",
        ) from None
    if not hasattr(getattr(trt, "IExecutionContext", None), "execute_async_v3"):
        raise BackendError(
            f"TensorRT {getattr(trt, '__version__', '?')} is too old: dasiamrt needs TensorRT 8.5 or newer"
        )
    return trt


_SEVERITY_LEVELS = (
    ("INTERNAL_ERROR", logging.CRITICAL),
    ("ERROR", logging.ERROR),
    ("WARNING", logging.WARNING),
    ("INFO", logging.INFO),
    ("VERBOSE", logging.DEBUG),
)


def make_logger(trt: Any) -> Any:
    """A ``trt.ILogger`` that routes TensorRT messages to Python logging (``dasiamrt.tensorrt``)."""
    sink = logging.getLogger("dasiamrt.tensorrt")
    severity = trt.ILogger.Severity
    levels = {getattr(severity, name): level for name, level in _SEVERITY_LEVELS if hasattr(severity, name)}

    class _Logger(trt.ILogger):  # type: ignore[misc]
        def __init__(self) -> None:
            trt.ILogger.__init__(self)

        def log(self, sev: Any, msg: str) -> None:
            sink.log(levels.get(sev, logging.INFO), "%s", msg)

    return _Logger()


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


# -- the runtime: execution contexts sharing one activation block ---------------------------------
def device_memory_size(engine: Any) -> int:
    """Activation memory the engine needs, over all its profiles (bytes)."""
    size = getattr(engine, "device_memory_size_v2", None)  # 10.1+
    if size is None:
        size = engine.device_memory_size
    return int(size)


def create_context(trt: Any, engine: Any, shared_memory: bool) -> Any:
    """An execution context; with ``shared_memory``, one without its own activation memory
    (give it a block with :func:`set_context_memory` before it runs).

    Raises:
        BackendError: TensorRT returned no context (out of GPU memory, see its log).
    """
    if not shared_memory:
        context = engine.create_execution_context()
    else:
        strategy = getattr(trt, "ExecutionContextAllocationStrategy", None)
        if strategy is not None:  # 10.0+
            context = engine.create_execution_context(strategy.USER_MANAGED)
        else:  # 8.x
            context = engine.create_execution_context_without_device_memory()
    if context is None:
        raise BackendError("TensorRT could not create an execution context (out of GPU memory? see its log): "
                           "close other GPU programs, or use smaller engines")
    return context


def set_context_memory(engine: Any, context: Any, ptr: int, nbytes: int) -> None:
    """Point ``context`` at the shared activation block ``ptr`` of ``nbytes``."""
    setter = getattr(context, "set_device_memory", None)
    if setter is not None and hasattr(engine, "device_memory_size_v2"):  # 10.1+: the size travels with it
        setter(ptr, nbytes)
    else:
        context.device_memory = ptr


def entropy_calibrator_base(trt: Any) -> Any:
    """``trt.IInt8EntropyCalibrator2``, the base class of the legacy INT8 calibrator.

    Raises:
        CalibrationError: this TensorRT has none (11.0 removed the calibrators from Python).
    """
    from ..errors import CalibrationError

    base = getattr(trt, "IInt8EntropyCalibrator2", None)
    if base is None:
        raise CalibrationError("this TensorRT has no INT8 calibrators (removed in 11.0): build from the Q/DQ graphs")
    return base
