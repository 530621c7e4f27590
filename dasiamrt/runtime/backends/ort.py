"""ONNX Runtime backend: runs the exported template, search and kernel_update graphs.

CUDA where ``onnxruntime-gpu`` offers it, else the CPU; other execution providers (TensorRT's,
with options) are chosen with ``providers=`` (see :mod:`dasiamrt.runtime.backends.ort_providers`).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from numpy.typing import NDArray

from ... import spec
from ...artifacts.model_folder import ModelFolder
from ...cpu_features import CpuFeatures
from ...errors import BackendError, ConfigError, MissingDependencyError, ModelError
from ...int8_forms import available_forms, choose_int8_form, log_choice, ort_session_entries, resolve_int8_form
from ..graph_io import check_graph_io
from .base import Array, Backend, HostFusion, SearchOutput

log = logging.getLogger(__name__)


def _import_ort() -> Any:
    try:
        import onnxruntime as ort
    except ImportError:
        raise MissingDependencyError(
            "onnxruntime", "the ONNX Runtime backend", "pip install 'dasiamrt[ort]' (or [ort-gpu] on a CUDA machine)"
        ) from None
    return ort


def default_providers(ort: Any) -> List[str]:
    """CUDA first where onnxruntime-gpu provides it, else the CPU."""
    available = ort.get_available_providers()
    if "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def _check_session(role: str, path: Path, session: Any, info: ModelFolder) -> None:
    """The session's tensors against the role's contract (:mod:`dasiamrt.runtime.graph_io`)."""
    inputs = {arg.name: list(arg.shape) for arg in session.get_inputs()}
    outputs = {arg.name: list(arg.shape) for arg in session.get_outputs()}
    check_graph_io(role, path, inputs, outputs, info.network)


def pick_int8_form(info: ModelFolder, providers: Sequence[Any], cpu: Optional[CpuFeatures] = None) -> str:
    """The INT8 form of ``info`` to run on ``providers`` (and this CPU), logged with the reason.

    Raises:
        ModelError: the folder has no INT8 graphs.
    """
    choice = choose_int8_form("ort", cpu, providers=providers)
    form = resolve_int8_form(choice, available_forms(info.manifest), info.root)
    log_choice(choice, form)
    return form


def session_options(ort: Any, threads: int = 0, int8: bool = False, cpu: Optional[CpuFeatures] = None) -> Any:
    """The ``onnxruntime.SessionOptions`` the runtime opens its sessions with (benchmarks and calibration
    probes take the same, so that they time and measure what the runtime runs).

    Args:
        ort: the ``onnxruntime`` module.
        threads: intra-op threads (0: one per core).
        int8: the session runs Q/DQ graphs: on x86 without VNNI, ONNX Runtime's exact integer kernels
            (:func:`dasiamrt.int8_forms.ort_session_entries`; its fast ones saturate there).
        cpu: CPU features for that choice (default: this machine's).
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Each session owns a thread pool whose idle threads spin for a while after a run. With the
    # search and kernel_update sessions taking turns every frame, the idle pool's spinning
    # stole the cores from the other (search ~1.7x slower with distractor-aware tracking on 2
    # cores): idle threads sleep instead.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if int8:
        for key, value in ort_session_entries(cpu).items():
            options.add_session_config_entry(key, value)
    return options


class OrtBackend(HostFusion, Backend):
    """Backend on ONNX Runtime sessions.

    Args:
        info: the model folder.
        providers: ONNX Runtime execution providers, in order of preference (default: CUDA where
            onnxruntime-gpu offers it, else CPU).
        threads: intra-op threads (0: ONNX Runtime's default, one per core).
        precision: which graphs to run: the folder's own ("fp32") or a variant recorded in
            ``model.json`` ("fp16"; "int8": the INT8 form for these providers and this CPU, chosen by
            :func:`dasiamrt.int8_forms.choose_int8_form` and logged).
        cpu: CPU features for the INT8 choice (default: this machine's; tests pass fakes).
        int8_form: with "int8", run this form instead of the chosen one ("int8", "int8-cpu", "int8-cpu-w7",
            "int8-fp16": accuracy studies and benchmarks).

    Attributes:
        int8_form: the INT8 form that runs (None unless ``precision`` is "int8").
    """

    name = "ort"

    def __init__(self, info: ModelFolder, providers: Optional[Sequence[Any]] = None, threads: int = 0,
                 precision: str = "fp32", cpu: Optional[CpuFeatures] = None, int8_form: Optional[str] = None) -> None:
        super().__init__()
        if not isinstance(threads, int) or isinstance(threads, bool) or threads < 0:
            raise ConfigError(f"threads must be an integer >= 0 (0: one per core), got {threads!r}")
        ort = _import_ort()
        self.info = info
        self.precision = precision
        self.providers = list(providers) if providers else default_providers(ort)
        if int8_form is not None and precision != "int8":
            raise ConfigError(f"int8_form={int8_form!r} is for precision 'int8', not {precision!r}")
        if precision == "int8" and cpu is None:  # read once: the form's choice and the session options need it
            from ...cpu_features import detect

            cpu = detect()
        self.int8_form = (int8_form or pick_int8_form(info, self.providers, cpu)) if precision == "int8" else None
        graphs = info.graphs_for(self.int8_form or precision)
        options = session_options(ort, threads, int8=self.int8_form is not None, cpu=cpu)
        self._sessions: Dict[str, Any] = {}
        for role in ("template", "search", "kernel_update"):
            if role in graphs:
                self._sessions[role] = self._open(ort, graphs[role], options, role)
                _check_session(role, graphs[role], self._sessions[role], info)
        if "template" not in self._sessions or "search" not in self._sessions:
            raise ModelError(f"{info.root} lacks a template or search graph: re-export the model")
        self.supports_fusion = "kernel_update" in self._sessions

    def _open(self, ort: Any, path: Path, options: Any, role: str) -> Any:
        from .ort_providers import tensorrt_profiles, with_profiles

        providers = with_profiles(self.providers, tensorrt_profiles(self.info, role))
        try:
            return ort.InferenceSession(str(path), sess_options=options, providers=providers)
        except Exception as err:  # noqa: BLE001 - ORT raises its own exception types
            line = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
            raise BackendError(f"ONNX Runtime cannot load {path}: {line}") from None

    def _template_impl(self, crops: Array) -> Tuple[Array, Array]:
        cls, reg = self._sessions["template"].run([spec.CLS_KERNEL, spec.REG_KERNEL], {spec.TEMPLATE_INPUT: crops})
        return cls, reg

    def _search_impl(self, crop: Array, want_features: bool) -> SearchOutput:
        cls_k, reg_k = self._kernels()
        names: List[str] = [spec.CLS_OUTPUT, spec.REG_OUTPUT]
        if want_features:
            names.append(spec.FEATURE_OUTPUT)
        outs = self._sessions["search"].run(
            names, {spec.SEARCH_INPUT: crop, spec.CLS_KERNEL: cls_k, spec.REG_KERNEL: reg_k}
        )
        features = outs[2] if want_features else None
        self._keep_features(features)
        return SearchOutput(outs[0], outs[1], features)

    def kernel_update(
        self, features: Array, window_index: NDArray[np.int64], window_weight: Array, acc: Array, inv_total: float
    ) -> Tuple[Array, Array]:
        if "kernel_update" not in self._sessions:
            return super().kernel_update(features, window_index, window_weight, acc, inv_total)
        acc_out, fused = self._sessions["kernel_update"].run(
            None,
            {
                spec.FEATURE_OUTPUT: features,
                spec.WINDOW_INDEX: np.ascontiguousarray(window_index, dtype=np.int64),
                spec.WINDOW_WEIGHT: np.ascontiguousarray(window_weight, dtype=np.float32),
                spec.ACC: acc,
                spec.INV_TOTAL: np.array([inv_total], dtype=np.float32),
            },
        )
        return acc_out, fused

    def _close_impl(self) -> None:
        self._sessions.clear()
