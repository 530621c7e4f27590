"""The ``int8-fp16`` form: a float-out Q/DQ graph made fp16, for strongly typed TensorRT builds.

A strongly typed network (TensorRT 10 ``--strongly-typed``, every 11.x build) takes the type of
every tensor from the graph. Parsed from the fp32-based Q/DQ graph, the layers that are not
quantised (the search heads ``conv_cls2``/``conv_r2``/``regress_adjust``, the correlation with the
dynamic kernels, the template's kernel heads) would run in FP32, and such an "int8" engine can be
slower than the fp16 one. Here the Q/DQ graph is raised to opset 19 (where ``QuantizeLinear`` takes
fp16 input and ``DequantizeLinear`` fp16 scales, whose type is its output type) and converted with
:func:`.fp16.convert_to_fp16`: every float initializer (weights, biases, Q/DQ scales)
becomes fp16, a ``Cast`` after each float input and before each float output keeps the I/O fp32.
The int8 weights, zero points and the quantised nodes are unchanged, so the engine's integer layers
are those of the ``int8`` form and everything between them runs in fp16.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

from ..errors import MissingDependencyError
from ..fileio import atomic_write_bytes

log = logging.getLogger(__name__)

#: first opset whose Q/DQ operators take fp16 tensors and scales.
QDQ_FP16_OPSET = 19
#: smallest normal fp16 value: scales below it lose precision in fp16.
FP16_TINY = float(np.finfo(np.float16).tiny)
#: relative change of a scale in fp16 above which the conversion warns.
SCALE_TOLERANCE = 1e-2


def _scales(model: Any) -> List[np.ndarray]:
    from onnx import numpy_helper

    inits = {init.name: init for init in model.graph.initializer}
    out = []
    for node in model.graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear") and node.input[1] in inits:
            out.append(numpy_helper.to_array(inits[node.input[1]]).astype(np.float64))
    return out


def _opset(model: Any) -> int:
    return int(next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")))


def qdq_to_fp16(src: Path, dst: Path) -> Dict[str, Any]:
    """Write the fp16 version of the Q/DQ graph ``src`` to ``dst`` (atomically).

    Returns:
        {"opset": 19, "scales": number of Q/DQ scales, "scale_max_rel_error": worst relative change
        of a scale from fp32 to fp16, "subnormal_scales": scales below fp16's smallest normal}.

    Raises:
        MissingDependencyError: onnx is not installed.
    """
    try:
        import onnx
        from onnx import version_converter
    except ImportError:
        raise MissingDependencyError("onnx", "the int8-fp16 graphs", "pip install 'dasiamrt[export]'") from None
    from .fp16 import convert_to_fp16

    model = onnx.load(str(src))
    if _opset(model) < QDQ_FP16_OPSET:
        model = version_converter.convert_version(model, QDQ_FP16_OPSET)
    scales = np.concatenate([s.ravel() for s in _scales(model)]) if _scales(model) else np.zeros(0)
    converted = convert_to_fp16(model)
    as_fp16 = scales.astype(np.float16).astype(np.float64)
    rel = np.abs(as_fp16 - scales) / np.maximum(np.abs(scales), 1e-30) if scales.size else np.zeros(1)
    subnormal = int(np.sum(np.abs(scales) < FP16_TINY))
    if subnormal:
        # fp16 keeps fewer bits of a subnormal scale; up to ~1% (a quarter of an int8 step) it is noise
        level = logging.WARNING if float(rel.max()) > SCALE_TOLERANCE else logging.DEBUG
        log.log(level, "%s: %d Q/DQ scale(s) below fp16's smallest normal value (%.1e), worst relative change "
                "%.1e", dst.name, subnormal, FP16_TINY, float(rel.max()))
    atomic_write_bytes(Path(dst), converted.SerializeToString())
    return {"opset": QDQ_FP16_OPSET, "scales": int(scales.size), "scale_max_rel_error": float(rel.max()),
            "subnormal_scales": subnormal}
