"""The INT8 variant of a model folder: Q/DQ graphs written beside the fp32 ones, recorded in ``model.json``.

``model.json`` gains ``variants.int8``::

    {"graphs": {"template": {"file": "template.int8.onnx", "sha256": ...}, "search": {...}},
     "calibration_sha256": <sha256 of calibration.npz>, "method": "percentile", "scope": "backbone",
     "quantized_nodes": {"template": [...], "search": [...]}, "counts": {...}, "source": ...}

``kernel_update`` has no INT8 variant (it holds the kernel head and runs once per frame on a few
windows): every precision runs its fp32 graph.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Dict

from .. import spec
from ..errors import ModelError
from ..fileio import atomic_write_json, confine
from ..runtime.model_dir import read_model_dir, sha256_file
from .calibset import CalibrationSet, check_model, validate
from .qdq import DEFAULT_METHOD, ROLES, quantize_graph

log = logging.getLogger(__name__)

INT8 = "int8"


def int8_file(role: str) -> str:
    """File name of the Q/DQ graph of ``role`` ("template.int8.onnx", "search.int8.onnx")."""
    return f"{role}.{INT8}.onnx"


def write_int8_variant(model_dir: str | os.PathLike[str], calib: CalibrationSet, method: str = DEFAULT_METHOD,
                       scope: str = "backbone", output_qdq: bool = False) -> Dict[str, Any]:
    """Quantise the template and search graphs of ``model_dir`` with ``calib``; record them in ``model.json``.

    Args:
        model_dir: an exported model folder (fp32 graphs).
        calib: a calibration set collected for this model.
        method: activation range method ("entropy", "percentile", "minmax").
        scope: "backbone" (default) or "all" (also the constant-weight heads).
        output_qdq: also quantise Conv outputs (integer QLinearConv on ONNX Runtime CPU; see qdq.py).

    Returns:
        The ``variants.int8`` entry written.

    Raises:
        CalibrationError: the set is invalid or was made for another model.
        ModelError: the folder is not a model folder.
    """
    import onnxruntime as ort

    info = read_model_dir(model_dir)
    validate(calib)
    check_model(calib, info)
    root = info.root
    template_session = ort.InferenceSession(str(info.graph("template")), providers=["CPUExecutionProvider"])
    nodes = {role: quantize_graph(info.graph(role), root / int8_file(role), calib, role, template_session,
                                  method, scope, output_qdq) for role in ROLES}
    entry = {
        "graphs": {role: {"file": int8_file(role), "sha256": sha256_file(root / int8_file(role))} for role in ROLES},
        "calibration_sha256": calib.manifest.get("npz_sha256"),
        "method": method, "scope": scope, "conv_outputs_quantized": output_qdq, "quantized_nodes": nodes,
        "counts": calib.counts(), "source": calib.manifest.get("source"),
        "weights": "int8 symmetric per output channel", "activations": "int8 symmetric per tensor",
    }
    manifest = dict(json.loads((root / spec.MODEL_MANIFEST).read_text()))
    manifest.setdefault("variants", {})[INT8] = entry
    atomic_write_json(root / spec.MODEL_MANIFEST, manifest)
    return entry


def int8_graph_paths(model_dir: str | os.PathLike[str], verify: bool = True) -> Dict[str, Path]:
    """Paths of the INT8 Q/DQ graphs for explicit quantization (TensorRT ``--precision int8``).

    Returns:
        {"template": .../template.int8.onnx, "search": .../search.int8.onnx}; ``kernel_update`` is
        absent (it has no INT8 variant; build it from the fp32 graph, in fp16 or fp32).

    Raises:
        ModelError: no INT8 variant recorded, a file missing, or (``verify``) a sha256 mismatch.
    """
    info = read_model_dir(model_dir)
    entry = info.manifest.get("variants", {}).get(INT8)
    if not entry:
        raise ModelError(f"{info.root} has no INT8 graphs: run 'dasiamrt calibrate --model {info.root} "
                         "--source VIDEO --init x,y,w,h' first")
    paths = {}
    for role, graph in entry["graphs"].items():
        path = confine(info.root, graph.get("file"), f"int8 {role} graph file", ModelError)
        if not path.is_file() or (verify and sha256_file(path) != graph.get("sha256")):
            raise ModelError(f"{path} is missing or does not match model.json: run 'dasiamrt calibrate' again")
        paths[role] = path
    return paths
