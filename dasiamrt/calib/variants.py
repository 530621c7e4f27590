"""The INT8 forms of a model folder: Q/DQ graphs written beside the fp32 ones, recorded in ``model.json``.

One calibration (activation ranges per graph, computed once) gives every form of
:mod:`dasiamrt.int8_forms` (``int8``: float-out Q/DQ for weakly typed TensorRT; ``int8-cpu``:
Conv-out Q/DQ that ONNX Runtime runs as integer QLinearConv; ``int8-fp16``: the float-out graph in
fp16 for strongly typed TensorRT). Each is a ``variants`` entry of ``model.json``::

    "variants": {"int8-cpu": {"graphs": {"template": {"file": "template.int8-cpu.onnx", "sha256": ...},
                                         "search": {...}},
                              "form": "int8-cpu", "description": ..., "calibration_sha256": ...,
                              "method": "percentile", "scope": "backbone", "conv_outputs_quantized": true,
                              "quantized_nodes": {"template": [...], "search": [...]}, "counts": {...}, ...},
                 "int8": {...}, "int8-fp16": {..., "float_type": "fp16", "opset": 19, "fp16_scales": {...}}}

``kernel_update`` has no INT8 form (it holds the kernel head and runs once per frame on a few
windows): every precision runs its fp32 (or fp16) graph.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

from .. import spec
from ..errors import ConfigError, ModelError
from ..fileio import atomic_write_json, confine
from ..int8_forms import DESCRIPTIONS, FORMS, INT8, INT8_CPU, INT8_FP16, available_forms, calibrate_hint
from ..runtime.model_dir import ModelInfo, read_model_dir, sha256_file
from .calibset import CalibrationSet, check_model, validate
from .progress import quiet_quantizer
from .qdq import DEFAULT_METHOD, ROLES, nodes_to_quantize, role_ranges, write_qdq
from .qdq_fp16 import qdq_to_fp16

log = logging.getLogger(__name__)


def int8_file(role: str, form: str = INT8) -> str:
    """File name of the Q/DQ graph of ``role`` in ``form`` ("search.int8.onnx", "search.int8-cpu.onnx")."""
    return f"{role}.{form}.onnx"


def _write_role(info: ModelInfo, role: str, ranges: Any, nodes: Sequence[str], method: str, forms: Sequence[str],
                work: Path, progress: Any) -> Dict[str, Any]:
    """Write every requested form of one graph; returns the fp16 scale report of ``int8-fp16`` (if written)."""
    src, root = info.graph(role), info.root
    if progress is not None:
        progress.add(len(forms))

    def done(form: str) -> None:
        if progress is not None:
            progress.advance(1, f"{role} {form}")

    if INT8_CPU in forms:
        write_qdq(src, root / int8_file(role, INT8_CPU), ranges, nodes, method, work, output_qdq=True)
        done(INT8_CPU)
    fp16_report: Dict[str, Any] = {}
    if INT8 in forms or INT8_FP16 in forms:
        float_out = root / int8_file(role, INT8) if INT8 in forms else work / int8_file(role, INT8)
        write_qdq(src, float_out, ranges, nodes, method, work, output_qdq=False)
        if INT8 in forms:
            done(INT8)
        if INT8_FP16 in forms:
            fp16_report = qdq_to_fp16(float_out, root / int8_file(role, INT8_FP16))
            done(INT8_FP16)
    return fp16_report


def write_int8_variants(model_dir: str | os.PathLike[str], calib: CalibrationSet, method: str = DEFAULT_METHOD,
                        scope: str = "backbone", forms: Sequence[str] = FORMS,
                        progress: Any = None) -> Dict[str, Dict[str, Any]]:
    """Quantise the template and search graphs of ``model_dir`` with ``calib`` into ``forms``; record them.

    Args:
        model_dir: an exported model folder (fp32 graphs); the graphs and ``model.json`` are written here.
        calib: a calibration set collected for this model.
        method: activation range method ("entropy", "percentile", "minmax").
        scope: "backbone" (default) or "all" (also the constant-weight heads).
        forms: names of :data:`dasiamrt.int8_forms.FORMS` to write.
        progress: a :class:`~dasiamrt.calib.progress.ProgressBar` (or None).

    Returns:
        form -> the ``variants`` entry written.

    Raises:
        CalibrationError: the set is invalid or was made for another model.
        ConfigError: an unknown form.
        ModelError: the folder is not a model folder.
    """
    import onnx
    import onnxruntime as ort

    unknown = [f for f in forms if f not in FORMS]
    if unknown or not forms:
        raise ConfigError(f"unknown INT8 form(s) {unknown}: choose from {', '.join(FORMS)}")
    info = read_model_dir(model_dir)
    validate(calib)
    check_model(calib, info)
    template_session = ort.InferenceSession(str(info.graph("template")), providers=["CPUExecutionProvider"])
    nodes: Dict[str, Any] = {}
    fp16_scales: Dict[str, Any] = {}
    with quiet_quantizer(), tempfile.TemporaryDirectory(prefix="dasiamrt-qdq-") as tmp:
        work = Path(tmp)
        for role in ROLES:
            nodes[role] = nodes_to_quantize(onnx.load(str(info.graph(role))), role, scope)
            ranges = role_ranges(info.graph(role), calib, role, template_session, method, work, progress)
            fp16_scales[role] = _write_role(info, role, ranges, nodes[role], method, forms, work, progress)
    entries = {form: _entry(info.root, form, calib, method, scope, nodes, fp16_scales) for form in forms}
    manifest = dict(json.loads((info.root / spec.MODEL_MANIFEST).read_text()))
    manifest.setdefault("variants", {}).update(entries)
    atomic_write_json(info.root / spec.MODEL_MANIFEST, manifest)
    for form in forms:
        log.info("wrote INT8 form %s: %s (%s)", form, ", ".join(int8_file(r, form) for r in ROLES), DESCRIPTIONS[form])
    return entries


def _entry(root: Path, form: str, calib: CalibrationSet, method: str, scope: str, nodes: Dict[str, Any],
           fp16_scales: Dict[str, Any]) -> Dict[str, Any]:
    entry: Dict[str, Any] = {
        "graphs": {role: {"file": int8_file(role, form), "sha256": sha256_file(root / int8_file(role, form))}
                   for role in ROLES},
        "form": form, "description": DESCRIPTIONS[form],
        "calibration_sha256": calib.manifest.get("npz_sha256"),
        "method": method, "scope": scope, "conv_outputs_quantized": form == INT8_CPU, "quantized_nodes": nodes,
        "counts": calib.counts(), "source": calib.manifest.get("source"),
        "weights": "int8 symmetric per output channel", "activations": "int8 symmetric per tensor",
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
    info = read_model_dir(model_dir)
    entry = info.manifest.get("variants", {}).get(form)
    if not entry:
        raise ModelError(f"{info.root} has no INT8 graphs of the {form} form: "
                         f"run '{calibrate_hint(info.root, form)}' first")
    paths = {}
    for role, graph in entry["graphs"].items():
        path = confine(info.root, graph.get("file"), f"int8 {role} graph file", ModelError)
        if not path.is_file() or (verify and sha256_file(path) != graph.get("sha256")):
            raise ModelError(f"{path} is missing or does not match model.json: run 'dasiamrt calibrate' again")
        paths[role] = path
    return paths


def int8_form_graph(info: ModelInfo, role: str, form: str, derive_dir: Optional[Path] = None,
                    write: bool = True) -> Path:
    """The ``form`` graph of ``role`` for an engine build.

    A folder calibrated before ``int8-fp16`` existed (or with ``--target trt`` only) has the ``int8``
    graph: the ``int8-fp16`` graph is then derived from it into ``derive_dir`` (the engine folder),
    as the builder does for fp16 graphs.

    Raises:
        ModelError: neither the form nor (for ``int8-fp16``) the ``int8`` graph it derives from exists.
    """
    available = available_forms(info.manifest)
    if form in available:
        return int8_graph_paths(info.root, verify=False, form=form)[role]
    if form == INT8_FP16 and INT8 in available and derive_dir is not None:
        dst = Path(derive_dir) / int8_file(role, INT8_FP16)
        if write:
            Path(derive_dir).mkdir(parents=True, exist_ok=True)
            qdq_to_fp16(int8_graph_paths(info.root, verify=False)[role], dst)
            log.info("derived %s from %s (the model folder has no %s graphs)", dst, int8_file(role, INT8), form)
        return dst
    raise ModelError(f"{info.root} has no {form} graphs ({DESCRIPTIONS[form]}): create them with "
                     f"'{calibrate_hint(info.root, form)}'")
