"""The INT8 forms of a model folder: Q/DQ graphs written beside the fp32 ones, recorded as ``model.json``
variants (by :meth:`dasiamrt.artifacts.model_folder.ModelFolder.with_variants`, the file's one writer).

One calibration (activation ranges per graph, computed once) gives every form of
:mod:`dasiamrt.int8_forms` (``int8``: float-out Q/DQ for weakly typed TensorRT; ``int8-cpu``:
Conv-out Q/DQ that ONNX Runtime runs as integer QLinearConv; ``int8-cpu-w7``: the same with 7-bit
weights, for x86 without VNNI; ``int8-fp16``: the float-out graph in fp16 for strongly typed
TensorRT). Each is a ``variants`` entry of ``model.json``::

    "variants": {"int8-cpu": {"graphs": {"template": {"file": "template.int8-cpu.onnx", "sha256": ...},
                                         "search": {...}},
                              "form": "int8-cpu", "description": ..., "calibration_sha256": ...,
                              "method": "percentile", "scope": "backbone", "conv_outputs_quantized": true,
                              "quantized_nodes": {"template": [...], "search": [...]}, "counts": {...},
                              "weights": "int8 symmetric per output channel", "weight_bits": 8,
                              "float_limit": 0.1, "float_nodes": {"template": {}, "search": {name: error}}, ...},
                 "int8": {...}, "int8-fp16": {..., "float_type": "fp16", "opset": 19, "fp16_scales": {...}}}

``float_nodes`` (TensorRT forms by default; the CPU forms when asked): backbone nodes left in float because
quantising one alone moved the graph's first output by more than ``float_limit`` (relative L2 on a few
calibration crops, :func:`.qdq.sensitive_nodes`, probed in each form's own weights). In a CPU form such a
node reads a clamped float input (:func:`.qdq.unsandwich_float_nodes`: ONNX Runtime would otherwise quantise
its weights per tensor). The CPU forms take uint8 activations (:data:`.qdq.CPU_ACTIVATIONS`), the TensorRT
forms symmetric int8.

``kernel_update`` has no INT8 form (it holds the kernel head and runs once per frame on a few
windows): every precision runs its fp32 (or fp16) graph.
"""
from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

from ..artifacts.calibset import CalibrationSet, check_model, validate
from ..artifacts.model_folder import ModelFolder
from ..errors import ConfigError
from ..graphs.qdq_fp16 import qdq_to_fp16
from ..int8_forms import CPU_FORMS, DESCRIPTIONS, FORMS, INT8, INT8_CPU, INT8_FP16, WEIGHT_BITS
from .progress import quiet_quantizer
from .qdq import (
    CPU_ACTIVATIONS,
    DEFAULT_METHOD,
    FLOAT_LIMIT,
    ROLES,
    TRT_ACTIVATIONS,
    feed_groups,
    nodes_to_quantize,
    probe_feeds,
    role_ranges,
    sensitive_nodes,
    write_qdq,
)

log = logging.getLogger(__name__)


def int8_file(role: str, form: str = INT8) -> str:
    """File name of the Q/DQ graph of ``role`` in ``form`` ("search.int8.onnx", "search.int8-cpu.onnx")."""
    return f"{role}.{form}.onnx"


def _write_role(info: ModelFolder, role: str, ranges: Any, nodes: Dict[str, Sequence[str]], method: str,
                forms: Sequence[str], work: Path, progress: Any) -> Dict[str, Any]:
    """Write every requested form of one graph, quantising ``nodes[form]`` (the scope less the nodes kept in
    float for that form); returns the fp16 scale report of ``int8-fp16`` (if written)."""
    src, root = info.graph(role), info.root
    if progress is not None:
        progress.add(len(forms))

    def done(form: str) -> None:
        if progress is not None:
            progress.advance(1, f"{role} {form}")

    for form in CPU_FORMS:
        if form in forms:
            write_qdq(src, root / int8_file(role, form), ranges, nodes[form], method, work, output_qdq=True,
                      weight_bits=WEIGHT_BITS[form])
            done(form)
    fp16_report: Dict[str, Any] = {}
    if INT8 in forms or INT8_FP16 in forms:
        float_out = root / int8_file(role, INT8) if INT8 in forms else work / int8_file(role, INT8)
        write_qdq(src, float_out, ranges, nodes[INT8], method, work, output_qdq=False)
        if INT8 in forms:
            done(INT8)
        if INT8_FP16 in forms:
            fp16_report = qdq_to_fp16(float_out, root / int8_file(role, INT8_FP16))
            done(INT8_FP16)
    return fp16_report


def write_int8_variants(model_dir: str | os.PathLike[str], calib: CalibrationSet, method: str = DEFAULT_METHOD,
                        scope: str = "backbone", forms: Sequence[str] = FORMS,
                        progress: Any = None, float_limit: Optional[float] = FLOAT_LIMIT,
                        cpu_float_limit: Optional[float] = None) -> Dict[str, Dict[str, Any]]:
    """Quantise the template and search graphs of ``model_dir`` with ``calib`` into ``forms``; record them.

    Args:
        model_dir: an exported model folder (fp32 graphs); the graphs and ``model.json`` are written here.
        calib: a calibration set collected for this model.
        method: activation range method ("entropy", "percentile", "minmax").
        scope: "backbone" (default) or "all" (also the constant-weight heads).
        forms: names of :data:`dasiamrt.int8_forms.FORMS` to write.
        progress: a :class:`~dasiamrt.calib.progress.ProgressBar` (or None).
        float_limit: in the TensorRT forms (``int8``, ``int8-fp16``) backbone nodes whose quantisation alone
            moves the graph's first output by more than this (relative L2,
            :func:`~dasiamrt.calib.qdq.sensitive_nodes`) stay in float, recorded as ``float_nodes``; None
            quantises every node of the scope.
        cpu_float_limit: the same for the CPU forms (``int8-cpu``, ``int8-cpu-w7``); None (default) quantises
            every node: those forms are for speed, and a float node between integer ones costs more than its
            share (on the bundled MobileNetV2 the two sensitive nodes took ``int8-cpu``'s search graph from
            0.57x / 0.62x of fp32's time at 255 / 767 to 0.86x / 0.99x, for a logit error of 0.08 / 0.10
            instead of 0.22 / 0.35: ``train_logs/real/int8_cpu_uint8.md``). Probed in each CPU form itself.

    Returns:
        form -> the ``variants`` entry written.

    Raises:
        CalibrationError: the set is invalid or was made for another model.
        ConfigError: an unknown form.
        ModelError: the folder is not a model folder.
    """
    import onnx

    unknown = [f for f in forms if f not in FORMS]
    if unknown or not forms:
        raise ConfigError(f"unknown INT8 form(s) {unknown}: choose from {', '.join(FORMS)}")
    info = ModelFolder.open(model_dir)
    validate(calib)
    check_model(calib, info)
    session = None
    if not calib.has_search_kernels:  # a set from before the kernels were stored
        from .kernels import template_session

        session = template_session(info)
    limits = {form: cpu_float_limit if form in CPU_FORMS else float_limit for form in forms}
    kinds = {_probe_kind(form): limit for form, limit in limits.items() if limit is not None}
    quantized: Dict[str, Dict[str, Any]] = {form: {} for form in FORMS}
    float_nodes: Dict[str, Dict[str, Dict[str, float]]] = {form: {} for form in FORMS}
    fp16_scales: Dict[str, Any] = {}
    with quiet_quantizer(), tempfile.TemporaryDirectory(prefix="dasiamrt-qdq-") as tmp:
        work = Path(tmp)
        for role in ROLES:
            nodes = nodes_to_quantize(onnx.load(str(info.graph(role))), role, scope)
            groups = feed_groups(calib, role, session)
            ranges = role_ranges(info.graph(role), groups, role, method, work, progress)
            found = {kind: sensitive_nodes(info.graph(role), ranges, nodes, probe_feeds(groups, role), method, work,
                                           limit, output_qdq=kind in CPU_FORMS, weight_bits=WEIGHT_BITS[kind])
                     for kind, limit in kinds.items()}
            for form in FORMS:
                float_nodes[form][role] = found.get(_probe_kind(form), {})
                quantized[form][role] = [n for n in nodes if n not in float_nodes[form][role]]
            by_form = {form: quantized[form][role] for form in (INT8, *CPU_FORMS)}
            fp16_scales[role] = _write_role(info, role, ranges, by_form, method, forms, work, progress)
    entries = {form: _entry(form, calib, method, scope, quantized[form], fp16_scales) for form in forms}
    for form, entry in entries.items():
        if limits[form] is not None:
            entry.update(float_limit=limits[form], float_nodes=float_nodes[form])
    recorded = info.with_variants(entries).variants
    for form in forms:
        log.info("wrote INT8 form %s: %s (%s)", form, ", ".join(int8_file(r, form) for r in ROLES), DESCRIPTIONS[form])
    return {form: dict(recorded[form]) for form in forms}


def _probe_kind(form: str) -> str:
    """The graph a form's sensitivity probe runs in: INT8 for the TensorRT forms (float-out, symmetric int8;
    ``int8-fp16`` is made from the ``int8`` graph), each CPU form its own (Conv-out, uint8, its weight bits)."""
    return form if form in CPU_FORMS else INT8


def _entry(form: str, calib: CalibrationSet, method: str, scope: str, nodes: Dict[str, Any],
           fp16_scales: Dict[str, Any]) -> Dict[str, Any]:
    entry: Dict[str, Any] = {
        "graphs": {role: int8_file(role, form) for role in ROLES},
        "form": form, "description": DESCRIPTIONS[form],
        "calibration_sha256": calib.manifest.get("npz_sha256"),
        "method": method, "scope": scope, "conv_outputs_quantized": form in CPU_FORMS, "quantized_nodes": nodes,
        "counts": calib.counts(), "source": calib.manifest.get("source"),
        "weights": "int8 symmetric per output channel" + (", 7-bit range [-64, 64]" if WEIGHT_BITS[form] == 7 else ""),
        "weight_bits": WEIGHT_BITS[form],
        "activations": CPU_ACTIVATIONS if form in CPU_FORMS else TRT_ACTIVATIONS,
        "float_type": "fp16" if form == INT8_FP16 else "fp32",
    }
    if form == INT8_FP16:
        entry.update(opset=next(iter(fp16_scales.values()))["opset"], fp16_scales=fp16_scales)
    return entry


def write_int8_variant(model_dir: str | os.PathLike[str], calib: CalibrationSet, method: str = DEFAULT_METHOD,
                       scope: str = "backbone", output_qdq: bool = False) -> Dict[str, Any]:
    """One form only: ``int8-cpu`` with ``output_qdq``, else ``int8``; returns its entry."""
    form = INT8_CPU if output_qdq else INT8
    return write_int8_variants(model_dir, calib, method, scope, (form,))[form]


def int8_graph_paths(model_dir: str | os.PathLike[str], verify: bool = True, form: str = INT8) -> Dict[str, Path]:
    """Paths of the Q/DQ graphs of ``form`` (default ``int8``, what weakly typed TensorRT builds).

    Returns:
        {"template": .../template.<form>.onnx, "search": .../search.<form>.onnx}; ``kernel_update`` is
        absent (it has no INT8 form; build it from the fp32 graph, in fp16 or fp32).

    Raises:
        ModelError: the form is not recorded, a file is missing, or (``verify``) a sha256 mismatch.
    """
    return ModelFolder.open(model_dir).variant_graphs(form, verify)
