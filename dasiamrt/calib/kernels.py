"""The fp32 search kernels of a calibration set, computed once at calibrate time and stored in the set.

Each search crop of a set is correlated with the kernels of its sequence's first-frame template
(``kernel_template``). Both consumers need those kernels: the activation ranges of the Q/DQ search
graph (:mod:`.qdq`) and the legacy TensorRT entropy calibrator of the engine build
(:mod:`dasiamrt.engine.calibrator`). They are computed here, with ONNX Runtime and the model's fp32
template graph, and saved in ``calibration.npz`` (:mod:`dasiamrt.artifacts.calibset`), so that the
engine build never runs ONNX Runtime.
"""
from __future__ import annotations

from typing import Any, Optional

from .. import spec
from ..artifacts.calibset import KERNEL_CLS, KERNEL_REG, KERNEL_TEMPLATE, CalibrationSet, check_model
from ..artifacts.model_folder import ModelFolder
from ..errors import MissingDependencyError


def template_session(folder: ModelFolder) -> Any:
    """An ONNX Runtime CPU session of the folder's fp32 template graph.

    Raises:
        MissingDependencyError: onnxruntime is not installed.
    """
    try:
        import onnxruntime as ort
    except ImportError:
        raise MissingDependencyError("onnxruntime", "the calibration set's search kernels",
                                     "pip install 'dasiamrt[ort]'") from None
    return ort.InferenceSession(str(folder.graph("template")), providers=["CPUExecutionProvider"])


def add_search_kernels(calib: CalibrationSet, folder: ModelFolder, session: Optional[Any] = None) -> bool:
    """Store the fp32 (cls, reg) kernels of ``calib``'s ``kernel_template`` crops in ``calib`` (in memory).

    Args:
        calib: a validated set made for ``folder`` (its kernels are kept when present).
        folder: the model whose fp32 template graph makes them.
        session: an ONNX Runtime session of that graph (made here when None).

    Returns:
        Whether kernels were added (False: the set had them).

    Raises:
        CalibrationError: the set was made for another model (its kernels would be this one's).
    """
    if calib.has_search_kernels:
        return False
    check_model(calib, folder)
    session = session if session is not None else template_session(folder)
    cls_k, reg_k = session.run([spec.CLS_KERNEL, spec.REG_KERNEL], {spec.TEMPLATE_INPUT: calib.blobs(KERNEL_TEMPLATE)})
    calib.arrays[KERNEL_CLS], calib.arrays[KERNEL_REG] = cls_k, reg_k
    return True
