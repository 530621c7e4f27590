"""``dasiamrt build``: the exported ONNX graphs -> TensorRT plans + one JSON manifest per engine.

Layout: ``<model>/engines/<precision>/{template,search,kernel_update}.plan`` and ``<name>.json``
(:mod:`dasiamrt.artifacts.engine_manifest`), plus ``<name>.fp16.onnx`` where the precision plan
parses an fp16 graph. Every check (model folder, TensorRT, GPU, precision on this TensorRT) runs
before anything is written, and every file is written atomically.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .. import __version__
from ..artifacts.engine_manifest import DeviceInfo, EngineManifest, ProfileInfo, write_manifest
from ..artifacts.model_folder import ModelFolder
from ..errors import CalibrationError, ConfigError
from ..fileio import atomic_write_bytes, sha256_file
from ..trt import compat
from . import network as trt_network
from .graphs import graph_for
from .precision import PrecisionPlan, plan_precision
from .profiles import engine_profiles, read_model_info

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildOptions:
    """Options of ``dasiamrt build``.

    Attributes:
        precision: "fp32", "fp16" or "int8" (int8 needs the Q/DQ graphs of ``dasiamrt calibrate``).
        workspace_mb: builder scratch memory limit in MiB (None: TensorRT's default, all free memory).
        timing_cache: file to read the timing cache from (if it exists) and write it back to.
        strongly_typed: on TensorRT 10, build fp16 from the fp16 graph, strongly typed, instead of
            with the FP16 builder flag (always so on 11).
        n_max: largest number of distractors per template batch (default: the model's DistractorConfig).
        extra_sizes: search sides to build profiles for besides the tracker's own and 767.
        out_dir: where engines go (default ``<model>/engines/<precision>``).
        calibrator: "entropy" for the legacy INT8 route on TensorRT <= 10 (fp32 graphs, INT8 flag, an
            entropy calibrator fed from ``<model>/calibration.npz``, caches ``<name>.calib`` in the
            engine folder); None (default) builds INT8 from the Q/DQ graphs.
        calibration: with ``calibrator``: the calibration set (a ``calibration.npz`` or its folder)
            instead of the model folder's own.
    """

    precision: str = "fp16"
    workspace_mb: Optional[int] = None
    timing_cache: Optional[Path] = None
    strongly_typed: bool = False
    n_max: Optional[int] = None
    extra_sizes: Tuple[int, ...] = ()
    out_dir: Optional[Path] = None
    calibrator: Optional[str] = None
    calibration: Optional[Path] = None

    def __post_init__(self) -> None:
        if self.calibrator not in (None, "entropy"):
            raise ConfigError(f"unknown calibrator {self.calibrator!r}: the legacy route has 'entropy'")
        if self.calibration is not None and self.calibrator is None:
            raise ConfigError("--calibration is for the calibrator route: add --calibrator entropy")
        if self.workspace_mb is not None and self.workspace_mb <= 0:
            raise ConfigError(f"--workspace must be a positive number of MiB, not {self.workspace_mb}")
        if self.n_max is not None and self.n_max < 0:
            raise ConfigError(f"n_max must be >= 0, not {self.n_max}")


def engine_dir(model_dir: Path, precision: str) -> Path:
    """Default engine folder of a model and precision."""
    return Path(model_dir) / "engines" / precision


@dataclass(frozen=True)
class BuildContext:
    """What every engine of one build shares, resolved (:func:`_prepare`) before anything is written.

    Attributes:
        trt: the imported ``tensorrt`` module; trt_logger: its logger (:func:`dasiamrt.trt.compat.make_logger`).
        features: what this TensorRT supports; plan: how it is told to build ``options.precision``.
        options: the build's options; device: TensorRT version and GPU, recorded in every manifest.
        info: the model folder; calib: the calibration set of the legacy INT8 route (None otherwise).
        out_dir: the engine folder.
    """

    trt: Any
    trt_logger: Any
    features: compat.TrtFeatures
    plan: PrecisionPlan
    options: BuildOptions
    device: DeviceInfo
    info: ModelFolder
    calib: Any
    out_dir: Path


def _build_one(ctx: BuildContext, name: str, onnx_path: Path, profiles: Sequence[ProfileInfo], cache: bytes,
               calibrator: Any = None) -> Tuple[bytes, bytes]:
    """Build one engine; returns (plan bytes, updated timing cache bytes).

    ``calibrator`` (legacy INT8 route): calibrates at the OPT shapes of the engine's first profile.
    """
    trt, features, plan, options = ctx.trt, ctx.features, ctx.plan, ctx.options
    builder = trt.Builder(ctx.trt_logger)
    network = builder.create_network(compat.network_flags(trt, features, plan.strongly_typed))
    parser = trt_network.parse_onnx(trt, network, ctx.trt_logger, onnx_path.read_bytes(), str(onnx_path))
    config = builder.create_builder_config()
    compat.set_workspace(trt, config, options.workspace_mb)
    compat.set_builder_flags(trt, config, features, plan.flags_for(name))
    compat.clear_builder_flags(trt, config, plan.cleared_flags)
    compat.load_timing_cache(config, cache)
    constraint = plan.constraint_for(name)
    if constraint is not None:
        chosen = trt_network.apply_layer_constraint(trt, network, config, constraint)
        logger.info("%s engine: %d layers constrained to %s (%s)", name, len(chosen), constraint.precision,
                    constraint.rule)
    shapes = [{n: (r.min, r.opt, r.max) for n, r in p.inputs.items()} for p in profiles]
    created = trt_network.add_profiles(builder, config, trt_network.network_input_shapes(network), shapes)
    if calibrator is not None:
        compat.set_int8_calibrator(features, config, calibrator, created[0])
    started = time.perf_counter()
    data = trt_network.build_serialized(builder, network, config, name)
    if calibrator is not None and calibrator.feeder.error is not None:
        raise CalibrationError(f"calibrating the {name} engine failed ({calibrator.feeder.error}): "
                               "fix the cause and build again")
    logger.info("built the %s engine in %.1f s (%s)", name, time.perf_counter() - started, plan.describe())
    new_cache = compat.serialize_timing_cache(config)
    del parser  # the parser owns weights the network referenced until the build finished
    return data, new_cache


def _prepare(
    model_dir: Path, options: BuildOptions
) -> Tuple[ModelFolder, Any, compat.TrtFeatures, DeviceInfo, PrecisionPlan, Any]:
    """Every check of a build, in order, before anything is written; the last item is the
    calibration set of the legacy INT8 route (None otherwise)."""
    info = read_model_info(Path(model_dir))
    trt = compat.import_tensorrt("dasiamrt build", "")
    from ..trt.cuda_device import query_gpu

    gpu = query_gpu()
    features = compat.detect_features(trt)
    compat.require_supported(features)
    plan = plan_precision(options.precision, features, options.strongly_typed, options.calibrator is not None)
    device = DeviceInfo(features.version, gpu.name, gpu.compute_capability)
    calib = None
    if plan.calibrator:
        from ..artifacts.calibset import check_model, load_calibration

        calib = load_calibration(options.calibration or info.root)
        check_model(calib, info)
        calib.search_kernels()  # stored by 'dasiamrt calibrate': the build itself runs no ONNX Runtime
    return info, trt, features, device, plan, calib


def _calibrators(trt: Any, info: ModelFolder, calib: Any, profiles: Dict[str, List[ProfileInfo]],
                 out_dir: Path, device: Any) -> Dict[str, Any]:
    """Entropy calibrators of the template and search engines (legacy INT8 route), at the OPT shapes
    of each engine's first profile; caches ``<name>.calib`` in the engine folder."""
    from .calibrator import CalibrationBatches, entropy_calibrator

    template_batch = profiles["template"][0].inputs["template"].opt[0]
    batches = {
        "template": CalibrationBatches(calib, "template", batch_size=template_batch),
        "search": CalibrationBatches(calib, "search", search_size=profiles["search"][0].key,
                                     kernels=calib.search_kernels()),
    }
    return {name: entropy_calibrator(b, device, out_dir / f"{name}.calib", trt=trt) for name, b in batches.items()}


def build_engines(model_dir: Path, options: BuildOptions) -> List[Path]:
    """Build every engine of a model and write plans + manifests.

    Returns:
        Paths of the written plan files.

    Raises:
        ModelError: the model folder is missing or malformed.
        MissingDependencyError / BackendError: no TensorRT, no CUDA binding, no GPU, TensorRT too old.
        ConfigError: a precision this TensorRT or this model cannot build.
    """
    info, trt, features, device, plan, calib = _prepare(Path(model_dir), options)
    out_dir = Path(options.out_dir) if options.out_dir else engine_dir(info.root, options.precision)
    profiles = engine_profiles(info, options.n_max, options.extra_sizes)
    ctx = BuildContext(trt, compat.make_logger(trt), features, plan, options, device, info, calib, out_dir)
    cache_path = options.timing_cache
    cache = cache_path.read_bytes() if cache_path and cache_path.is_file() else b""
    graphs = {name: graph_for(info, name, plan, out_dir) for name in profiles}  # fp16 conversion, before any build
    cuda = _open_device() if plan.calibrator else None
    try:
        calibrators = _calibrators(trt, info, calib, profiles, out_dir, cuda) if plan.calibrator else {}
        written = _build_all(ctx, graphs, profiles, cache, calibrators)
    finally:
        if cuda is not None:
            cuda.close()
    return written


def _open_device() -> Any:
    from ..trt.cuda_device import open_device

    return open_device()


def _build_all(ctx: BuildContext, graphs: Dict[str, Path], profiles: Dict[str, List[ProfileInfo]], cache: bytes,
               calibrators: Dict[str, Any]) -> List[Path]:
    """Build the engines in turn, writing each plan and manifest, then the timing cache."""
    written = []
    for name, profs in profiles.items():
        onnx_path = graphs[name]
        data, cache = _build_one(ctx, name, onnx_path, profs, cache, calibrators.get(name))
        plan_path = ctx.out_dir / f"{name}.plan"
        atomic_write_bytes(plan_path, data)
        write_manifest(
            ctx.out_dir,
            EngineManifest(
                engine=name,
                plan_file=plan_path.name,
                plan_sha256=sha256_file(plan_path),
                precision=ctx.options.precision,
                device=ctx.device,
                onnx_file=str(onnx_path),
                onnx_sha256=sha256_file(onnx_path),
                profiles=list(profs),
                build_options=_recorded_options(ctx.info, ctx.options, ctx.plan, ctx.calib),
            ),
        )
        written.append(plan_path)
    if ctx.options.timing_cache is not None:
        atomic_write_bytes(Path(ctx.options.timing_cache), cache)
    return written


def _recorded_options(info: ModelFolder, options: BuildOptions, plan: PrecisionPlan,
                      calib: Any = None) -> Dict[str, Any]:
    recorded = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(options).items()}
    recorded.update(
        model_dir=str(info.root),
        graph=plan.graph,
        strongly_typed=plan.strongly_typed,
        builder_flags=list(plan.builder_flags),
        cleared_flags=list(plan.cleared_flags),
        calibration_sha256=calib.manifest.get("npz_sha256") if calib is not None else None,
        dasiamrt_version=__version__,
        built_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    return recorded


def trtexec_lines(model_dir: Path, options: BuildOptions, trt_version: Optional[str] = None) -> List[str]:
    """The trtexec commands equivalent to :func:`build_engines` (see :mod:`.trtexec`).

    ``trt_version`` picks the flags for a TensorRT that is not installed here (e.g. "8.5.2" for
    JetPack 5.1); by default the installed one is used. fp16 graphs are written when needed.
    """
    from .trtexec import trtexec_commands

    info = read_model_info(Path(model_dir))
    if trt_version:
        features = compat.features_for_version(trt_version)
    else:
        trt = compat.import_tensorrt("dasiamrt build --print-trtexec",
                                     ", or give --trt-version (e.g. 8.5.2 for JetPack 5.1) for that TensorRT's lines")
        features = compat.detect_features(trt)
    plan = plan_precision(options.precision, features, options.strongly_typed, options.calibrator is not None)
    out_dir = Path(options.out_dir) if options.out_dir else engine_dir(info.root, options.precision)
    profiles = engine_profiles(info, options.n_max, options.extra_sizes)
    graphs = {name: graph_for(info, name, plan, out_dir) for name in profiles}
    dynamic = {name: _dynamic_inputs(path) for name, path in graphs.items()}
    layers = {name: _graph_layers(path) for name, path in graphs.items()}
    return trtexec_commands(graphs, profiles, plan, out_dir, options.workspace_mb, options.timing_cache, dynamic,
                            layers)


def _graph_layers(path: Path) -> List[Tuple[str, List[str], List[str]]]:
    """(node name, inputs, outputs) of an ONNX graph's compute nodes: the TensorRT layer names its
    parser gives them (constants and shape queries are not layers to constrain)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return [(n.name, list(n.input), list(n.output)) for n in model.graph.node
            if n.name and n.op_type not in ("Constant", "Shape")]


def _dynamic_inputs(path: Path) -> List[str]:
    """Inputs of an ONNX graph with a symbolic or unknown dimension."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    out = []
    for value in model.graph.input:
        dims = value.type.tensor_type.shape.dim
        if any(d.dim_param or not d.HasField("dim_value") for d in dims):
            out.append(value.name)
    return out
