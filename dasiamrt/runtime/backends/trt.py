"""The TensorRT backend: plans from ``dasiamrt build``, CUDA buffers, one stream, device-side DA fusion.

* Loads ``template``, ``search`` and (optional) ``kernel_update`` plans after checking their
  manifests against the running GPU and TensorRT (a mismatch names the rebuild command).
* One execution context per search size (its optimization profile), each with its own buffers and
  optional CUDA graph: switching 255 <-> 767 is choosing a context. Every context of every engine
  runs on one stream, one after another, so they share ONE activation block (the largest engine's
  ``device_memory_size``) instead of reserving one each (:mod:`dasiamrt.trt.compat` has the version branches).
* Tensor names, dtypes and shapes come from the engine (:mod:`.trt_engine`); the manifest is checked
  against them and otherwise serves compatibility checks and rebuild hints. Every bool TensorRT
  returns is checked.
* I/O bound by tensor name (``set_tensor_address``, ``execute_async_v3``), pinned host staging, one
  stream, and only cls, delta (and features when asked) copied back.
* Distractor-aware fusion (``reset_fusion``, ``fuse``) lives here, on the device: the search features, the
  running sum and the fused kernel never leave it; the fusion engine writes the fused kernel into
  the very buffer the search contexts read as ``cls_kernel`` (see :mod:`.trt_buffers`). Per fuse
  only the window indices (36 N int), their N weights and ``inv_total`` go host -> device.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from numpy.typing import NDArray

from ... import spec
from ...artifacts.engine_manifest import DeviceInfo, EngineManifest, check_compatible, read_manifest, rebuild_command
from ...artifacts.model_folder import ModelFolder
from ...errors import BackendError, ModelError
from ...fileio import sha256_file
from ...trt.compat import create_context, device_memory_size, import_tensorrt, make_logger, set_context_memory
from ...trt.cuda_device import CudaDevice, open_device
from .base import Array, Backend, SearchOutput
from .trt_buffers import BufferTable, profile_slots, shared_key
from .trt_engine import TensorIO, check, compare_profile, engine_profile, read_io

logger = logging.getLogger(__name__)


@dataclass
class _Context:
    """One execution context bound to one profile, with its device buffers and host staging."""

    key: int
    context: Any
    ptrs: Dict[str, int]
    host: Dict[str, np.ndarray]
    graph: Optional[int] = None
    inputs: Dict[str, Tuple[int, ...]] = field(default_factory=dict)
    outputs: Dict[str, Tuple[int, ...]] = field(default_factory=dict)


class TensorRTBackend(Backend):
    """TensorRT engines behind the :class:`~.base.Backend` protocol.

    Args:
        engine_dir: folder with ``<name>.plan`` and ``<name>.json`` (``<model>/engines/<precision>``).
        model_dir: the model folder (named in rebuild hints).
        cuda_graphs: capture each search context's execution in a CUDA graph.
        binding: CUDA binding ("cuda-python", "pycuda"; default: the first installed).
        trt: a ``tensorrt`` module (tests pass a fake); device: a :class:`CudaDevice` (tests pass a fake).
    """

    name = "trt"
    #: the fusion reads the search features on the device: callers need not ask for them on the host.
    fuses_on_device = True
    precision = "fp16"

    def __init__(
        self,
        engine_dir: Path,
        model_dir: Optional[Path] = None,
        cuda_graphs: bool = True,
        binding: Optional[str] = None,
        trt: Any = None,
        device: Optional[CudaDevice] = None,
    ) -> None:
        super().__init__()
        self.trt = trt if trt is not None else import_tensorrt()
        self.device = device if device is not None else open_device(binding)
        self._engines: Dict[str, Any] = {}
        self._io: Dict[str, Dict[str, TensorIO]] = {}
        self._template: Optional[_Context] = None
        self._acc_ptrs: List[int] = []
        self._last_key: Optional[int] = None
        self.activation_bytes = 0
        self._unshared_bytes = 0
        try:
            self._open(Path(engine_dir), str(model_dir or Path(engine_dir).parent.parent), cuda_graphs)
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_model(cls, model: Any, config: Any = None, precision: str = "fp16", **opts: Any) -> "TensorRTBackend":
        """The backend for ``<model>/engines/<precision>``.

        Args:
            model: the model folder, or its :class:`~dasiamrt.artifacts.model_folder.ModelFolder` (the factory's).
            config: unused (the engines' profiles already follow the tracker settings they were built for).
            precision: which engine folder to load ("fp32", "fp16", "int8").
            opts: ``cuda_graphs``, ``binding`` (and ``trt``/``device`` in tests).
        """
        root = model.root if isinstance(model, ModelFolder) else Path(model)
        return cls(root / "engines" / precision, model_dir=root, **opts)

    # -- loading -------------------------------------------------------------------------------
    def _open(self, engine_dir: Path, model_dir: str, cuda_graphs: bool) -> None:
        gpu = self.device.info()
        here = DeviceInfo(str(self.trt.__version__), gpu.name, gpu.compute_capability)
        self.manifests: Dict[str, EngineManifest] = {}
        for name in ("template", "search", "kernel_update"):
            if name == "kernel_update" and not (engine_dir / "kernel_update.json").is_file():
                continue
            manifest = read_manifest(engine_dir, name, model_dir, precision=engine_dir.name)
            check_compatible(manifest, here, model_dir)
            self.manifests[name] = manifest
        self._hint = f"rebuild the engines with `{rebuild_command(model_dir, engine_dir.name)}`"
        self.precision = self.manifests["search"].precision
        self.supports_fusion = "kernel_update" in self.manifests
        self._trt_logger = make_logger(self.trt)  # must outlive the runtime and its engines
        self._runtime = self.trt.Runtime(self._trt_logger)
        for name, manifest in self.manifests.items():
            self._engines[name] = self._deserialize(engine_dir, manifest)
            self._io[name] = self._read_io(name)
        self.stream = self.device.stream()
        # one activation block for every context: they run one after another on self.stream
        self.activation_bytes = max(device_memory_size(e) for e in self._engines.values())
        self._activation = self.device.malloc(self.activation_bytes)
        self.buffers = BufferTable(self.device.malloc)
        self._template = self._context("template", 0)
        self._search = {p.key: self._context("search", i) for i, p in enumerate(self.manifests["search"].profiles)}
        self._fusion: Dict[int, _Context] = {}
        if self.supports_fusion:
            self._fusion = {
                p.key: self._context("kernel_update", i) for i, p in enumerate(self.manifests["kernel_update"].profiles)
            }
            self._acc_ptrs = [self.buffers.ptrs["acc/0"], self.buffers.ptrs["acc/1"]]
        self._kernel_host = {n: self.device.pinned(self._search_input_shape(n), np.float32)
                             for n in (spec.CLS_KERNEL, spec.REG_KERNEL)}
        if cuda_graphs:
            for ctx in self._search.values():
                ctx.graph = self._capture(ctx)
        logger.info(
            "TensorRT %s on %s: search contexts %s, %.1f MiB of I/O buffers, %.1f MiB of shared activation "
            "memory (%.1f MiB unshared), CUDA graphs %s",
            here.tensorrt_version, gpu.name, sorted(self._search), self.buffers.total_bytes / 2**20,
            self.activation_bytes / 2**20, self._unshared_bytes / 2**20, "on" if cuda_graphs else "off",
        )

    def _deserialize(self, engine_dir: Path, manifest: EngineManifest) -> Any:
        path = engine_dir / manifest.plan_file
        if not path.is_file() or sha256_file(path) != manifest.plan_sha256:
            raise ModelError(f"{path} is missing or does not match its manifest: {self._hint}")
        engine = self._runtime.deserialize_cuda_engine(path.read_bytes())
        if engine is None:
            raise BackendError(f"TensorRT could not load {path} (see its log): {self._hint}")
        return engine

    def _read_io(self, name: str) -> Dict[str, TensorIO]:
        """The engine's I/O; float tensors must be fp32 (the runtime's buffers are), indices int32/int64."""
        io = read_io(self.trt, self._engines[name])
        for tensor in io.values():
            ok = tensor.dtype in (np.dtype(np.int32), np.dtype(np.int64)) if tensor.name == spec.WINDOW_INDEX \
                else tensor.dtype == np.dtype(np.float32)
            if not ok:
                raise BackendError(f"the {name} engine's {tensor.name} is {tensor.dtype}, the runtime's I/O is "
                                   f"float32 (int32/int64 indices): {self._hint}")
        return io

    def _search_input_shape(self, name: str) -> Tuple[int, ...]:
        return next(iter(self._search.values())).inputs[name]

    def _context(self, name: str, index: int) -> _Context:
        """Create the context of profile ``index`` of engine ``name``, bind every tensor to its buffer."""
        engine = self._engines[name]
        recorded = self.manifests[name].profiles[index]
        context = create_context(self.trt, engine, shared_memory=True)
        set_context_memory(engine, context, self._activation, self.activation_bytes)
        self._unshared_bytes += device_memory_size(engine)
        check(context.set_optimization_profile_async(index, self.stream),
              f"select profile {index} of the {name} engine", self._hint)
        built = engine_profile(self.trt, engine, context, self._io[name], index, recorded.key, self._hint)
        compare_profile(name, built, recorded, self._hint)
        dtypes = {n: t.dtype for n, t in self._io[name].items()}
        ctx = _Context(recorded.key, context, {}, {}, outputs=dict(built.outputs))
        for slot in profile_slots(built, dtypes).values():
            key = shared_key(name, recorded.key, slot.name, spec.score_size)
            try:
                ctx.ptrs[slot.name] = self.buffers.get(key, slot.nbytes)
            except RuntimeError:
                raise BackendError(f"the engines disagree on the size of {slot.name}: {self._hint}") from None
            check(context.set_tensor_address(slot.name, ctx.ptrs[slot.name]), f"bind {slot.name}", self._hint)
            if slot.is_input:
                ctx.inputs[slot.name] = slot.shape
            if key.startswith(f"{name}/"):  # private buffers get host staging; shared ones stay on the device
                ctx.host[slot.name] = self.device.pinned(slot.shape, slot.dtype)
        return ctx

    def _capture(self, ctx: _Context) -> Optional[int]:
        """Record one execution of ``ctx`` as a CUDA graph; None (plain enqueues) where that fails."""
        self._enqueue(ctx.context)  # the first enqueue does deferred setup that must not be captured
        self.device.synchronize(self.stream)
        ok, graph = False, None
        try:
            self.device.begin_capture(self.stream)
        except BackendError as err:
            logger.warning("CUDA graphs off (%s)", err)
            self.device.clear_error()
            return None
        try:
            ok = bool(ctx.context.execute_async_v3(self.stream))
        finally:
            try:
                graph = self.device.end_capture(self.stream)
            except BackendError as err:
                logger.warning("CUDA graph capture of the %d context failed (%s): it runs without one", ctx.key, err)
        if ok and graph is not None:
            return graph
        # A refused enqueue records nothing (replaying it would return stale outputs), and a failed
        # capture leaves CUDA's last error set, which the next plain enqueue would report as its own:
        # clear it, as trtexec does after a failed capture.
        self.device.clear_error()
        return None

    def _enqueue(self, context: Any) -> None:
        check(context.execute_async_v3(self.stream), "run the engine", self._hint)

    def _run(self, ctx: _Context) -> None:
        if ctx.graph is not None:
            self.device.launch_graph(ctx.graph, self.stream)
        else:
            self._enqueue(ctx.context)

    def memory_report(self) -> Dict[str, float]:
        """GPU memory of the loaded engines in MiB: the shared activation block, what the contexts
        would reserve without sharing it, the I/O buffers, and the number of contexts."""
        contexts = 1 + len(self._search) + len(self._fusion)
        return {"activation_mib": self.activation_bytes / 2**20,
                "activation_unshared_mib": self._unshared_bytes / 2**20,
                "io_buffers_mib": self.buffers.total_bytes / 2**20, "contexts": float(contexts)}

    # -- the protocol ------------------------------------------------------------------------------
    def _template_impl(self, crops: Array) -> Tuple[Array, Array]:
        ctx = self._template
        assert ctx is not None
        n = int(crops.shape[0])
        n_max = ctx.inputs[spec.TEMPLATE_INPUT][0]
        if not 1 <= n <= n_max:
            raise BackendError(f"the template engine takes 1..{n_max} exemplars, not {n}: rebuild with a larger n_max")
        staging = ctx.host[spec.TEMPLATE_INPUT][:n]
        np.copyto(staging, crops, casting="same_kind")
        check(ctx.context.set_input_shape(spec.TEMPLATE_INPUT, tuple(crops.shape)),
              f"set the template batch to {n}", self._hint)
        self.device.memcpy_htod_async(ctx.ptrs[spec.TEMPLATE_INPUT], staging, self.stream)
        self._enqueue(ctx.context)
        outs = []
        for name in (spec.CLS_KERNEL, spec.REG_KERNEL):
            host = ctx.host[name][:n]
            self.device.memcpy_dtoh_async(host, ctx.ptrs[name], self.stream)
            outs.append(host)
        self.device.synchronize(self.stream)
        return outs[0].copy(), outs[1].copy()

    def _set_kernels_impl(self, cls_kernel: Array, reg_kernel: Array) -> None:
        for name, value in ((spec.CLS_KERNEL, cls_kernel), (spec.REG_KERNEL, reg_kernel)):
            np.copyto(self._kernel_host[name], value, casting="same_kind")
            self.device.memcpy_htod_async(self.buffers.ptrs[name], self._kernel_host[name], self.stream)
        self.device.synchronize(self.stream)

    def _search_impl(self, crop: Array, want_features: bool) -> SearchOutput:
        size = int(crop.shape[-1])
        ctx = self._search.get(size)
        if ctx is None:
            raise BackendError(
                f"the search engine has no profile for {size} (it has {sorted(self._search)}): "
                "rebuild with `dasiamrt build` for this tracker configuration"
            )
        np.copyto(ctx.host[spec.SEARCH_INPUT], crop, casting="same_kind")
        self.device.memcpy_htod_async(ctx.ptrs[spec.SEARCH_INPUT], ctx.host[spec.SEARCH_INPUT], self.stream)
        self._run(ctx)
        names = [spec.CLS_OUTPUT, spec.REG_OUTPUT] + ([spec.FEATURE_OUTPUT] if want_features else [])
        outs = {}
        for name in names:
            host = ctx.host.get(name)
            if host is None:  # features live in a shared buffer: stage them on demand
                host = ctx.host[name] = self.device.pinned(ctx.outputs[name], np.float32)
            self.device.memcpy_dtoh_async(host, ctx.ptrs[name], self.stream)
            outs[name] = host
        self.device.synchronize(self.stream)
        self._last_key = size
        feats = outs[spec.FEATURE_OUTPUT].copy() if want_features else None
        return SearchOutput(outs[spec.CLS_OUTPUT].copy(), outs[spec.REG_OUTPUT].copy(), feats)

    # -- distractor-aware fusion on the device ----------------------------------------------------
    def _reset_fusion_impl(self, cls_kernel: Array, weight: float) -> None:
        """Running sum A = weight * K(z), written to the device (one copy per template)."""
        host = self._kernel_host[spec.CLS_KERNEL]
        np.multiply(np.float32(weight), cls_kernel, out=host, casting="same_kind")
        self.device.memcpy_htod_async(self._acc_ptrs[0], host, self.stream)
        self.device.synchronize(self.stream)

    def _fuse_impl(self, window_index: NDArray[np.int64], window_weight: Array, inv_total: float) -> None:
        """A += sum_n w_n K(window_n) over the last search's features; the search's cls kernel := A * inv_total.

        The fusion engine writes the fused kernel into the buffer every search context reads as
        ``cls_kernel``; only the indices, the N weights and ``inv_total`` are copied host -> device.
        """
        if self._last_key is None:
            raise RuntimeError("fuse() needs reset_fusion() and a search() first")
        s = spec.score_size(self._last_key)
        ctx = self._fusion.get(s)
        if ctx is None:
            raise BackendError(
                f"the kernel_update engine has no profile for score size {s}: rebuild with `dasiamrt build`"
            )
        n = int(np.shape(window_weight)[0])
        n_hi = ctx.inputs[spec.WINDOW_WEIGHT][0]
        if not 1 <= n <= n_hi or np.shape(window_index) != (36 * n,):
            raise BackendError(f"kernel_update takes 1..{n_hi} windows (36 indices each), not {np.shape(window_index)}")
        staged: Dict[str, Tuple[Any, int]] = {
            spec.WINDOW_INDEX: (window_index, 36 * n),
            spec.WINDOW_WEIGHT: (window_weight, n),
        }
        for name, (value, length) in staged.items():
            host = ctx.host[name][:length]
            np.copyto(host, value, casting="same_kind")  # int64 -> int32 where TensorRT 8.x made the input int32
            check(ctx.context.set_input_shape(name, (length,)), f"set {name} to {length} values", self._hint)
            self.device.memcpy_htod_async(ctx.ptrs[name], host, self.stream)
        ctx.host[spec.INV_TOTAL][0] = inv_total
        self.device.memcpy_htod_async(ctx.ptrs[spec.INV_TOTAL], ctx.host[spec.INV_TOTAL], self.stream)
        acc_in, acc_out = self._acc_ptrs
        check(ctx.context.set_tensor_address(spec.ACC, acc_in), "bind acc", self._hint)
        check(ctx.context.set_tensor_address(spec.ACC_OUTPUT, acc_out), "bind acc_out", self._hint)
        self._enqueue(ctx.context)
        self._acc_ptrs = [acc_out, acc_in]  # ping-pong: TensorRT must not read and write one buffer

    def fused_kernel(self) -> Array:
        """The cls kernel the search contexts read now (10, F, 4, 4), copied back (for tests/debugging)."""
        self._require_open()
        host = np.empty_like(self._kernel_host[spec.CLS_KERNEL])
        self.device.memcpy_dtoh_async(host, self.buffers.ptrs[spec.CLS_KERNEL], self.stream)
        self.device.synchronize(self.stream)
        return host

    def _no_fusion_reason(self) -> str:
        return "these engines have no kernel_update engine: export with it and rebuild (`dasiamrt build`)"

    def _close_impl(self) -> None:
        """Drop contexts and engines, then free every CUDA resource. Idempotent."""
        for attr in ("_search", "_fusion"):
            getattr(self, attr, {}).clear()
        self._template = None
        self._engines.clear()
        self._runtime = None
        device = getattr(self, "device", None)
        if device is not None:
            device.close()
