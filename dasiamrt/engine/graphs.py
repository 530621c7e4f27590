"""Which ONNX file each engine parses, from the model folder's variants (:mod:`dasiamrt.artifacts.model_folder`).

* fp32 plans parse the folder's graphs;
* fp16 (strongly typed) plans, and ``kernel_update`` under int8, parse the ``fp16`` variant; a folder
  exported without it gets the fp16 graph converted into the engine folder (:mod:`dasiamrt.graphs.fp16`);
* int8 plans parse the Q/DQ form :func:`dasiamrt.int8_forms.choose_int8_form` picks for TensorRT: the
  fp32-based ``int8`` graph for weakly typed builds, the fp16-based ``int8-fp16`` graph for strongly typed
  ones (so the unquantised heads and correlation run in fp16, not FP32), derived from ``int8`` into the
  engine folder where the model folder was calibrated without it (:mod:`dasiamrt.graphs.qdq_fp16`).
"""
from __future__ import annotations

import logging
from pathlib import Path

from ..artifacts.model_folder import FP16, ModelFolder, fp16_name
from ..errors import MissingDependencyError, ModelError
from ..int8_forms import DESCRIPTIONS, INT8, INT8_FP16, calibrate_hint, choose_int8_form
from .precision import PrecisionPlan

log = logging.getLogger(__name__)


def graph_for(info: ModelFolder, name: str, plan: PrecisionPlan, out_dir: Path, write: bool = True) -> Path:
    """The ONNX file to parse for engine ``name`` under ``plan`` (derives a missing variant into ``out_dir``
    unless ``write`` is False, as for the trtexec lines of a dry run).

    Raises:
        ModelError: int8 without the Q/DQ graphs recorded in ``model.json`` by ``dasiamrt calibrate``.
        MissingDependencyError: a graph must be derived and onnx is not installed.
    """
    if plan.graph == "qdq" and name != "kernel_update":
        form = choose_int8_form("trt", strongly_typed=plan.strongly_typed).form
        return _int8_form_graph(info, name, form, Path(out_dir), write)
    if plan.graph in ("fp16", "qdq"):  # the fusion graph stays fp16 under int8 (heads in higher precision)
        if info.has_variant(FP16) and name in info.variants[FP16]["graphs"]:  # `dasiamrt export --precision fp16`
            return info.variant_graphs(FP16)[name]
        dst = Path(out_dir) / fp16_name(info.graph(name).name)
        if write:
            _convert_fp16(info.graph(name), dst)
        return dst
    return info.graph(name)


def _int8_form_graph(info: ModelFolder, role: str, form: str, out_dir: Path, write: bool) -> Path:
    """The ``form`` graph of ``role``; ``int8-fp16`` derived from ``int8`` into ``out_dir`` where the folder
    has only that one (calibrated before ``int8-fp16`` existed, or with ``--target trt``).

    Raises:
        ModelError: neither the form nor (for ``int8-fp16``) the ``int8`` graph it derives from exists.
    """
    if info.has_variant(form):
        return info.variant_graphs(form)[role]
    if form == INT8_FP16 and info.has_variant(INT8):
        dst = out_dir / f"{role}.{INT8_FP16}.onnx"
        if write:
            from ..graphs.qdq_fp16 import qdq_to_fp16  # raises MissingDependencyError without onnx

            src = info.variant_graphs(INT8)[role]
            qdq_to_fp16(src, dst)
            log.info("derived %s from %s (the model folder has no %s graphs)", dst, src.name, form)
        return dst
    raise ModelError(f"{info.root} has no {form} graphs ({DESCRIPTIONS[form]}): create them with "
                     f"'{calibrate_hint(info.root, form)}'")


def _convert_fp16(src: Path, dst: Path) -> None:
    try:
        from ..graphs.fp16 import convert_file
    except ImportError:
        raise MissingDependencyError(
            "onnx", "an fp16 engine from fp32 graphs",
            "pip install onnx, or export with `dasiamrt export --precision fp16` where onnx is installed",
        ) from None
    convert_file(str(src), str(dst))
