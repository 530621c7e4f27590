"""INT8 calibration: tracking crops collected with the runtime's crop code, Q/DQ ONNX graphs.

Stages (each a module, with files between them):
    :mod:`.sources`   trajectories: ground-truth boxes of a dataset, or the fp32 tracker's own boxes
    :mod:`.collect`   crops along them (templates, 255 and 767 searches), seeded, jittered, bounded
    :mod:`.calibset`  ``calibration.npz`` + ``calibration.json`` (manifest), validation
    :mod:`.qdq`       INT8 Q/DQ template and search graphs from the set (ONNX Runtime quantizer)
    :mod:`.qdq_fp16`  the fp16 form of a Q/DQ graph (``int8-fp16``, strongly typed TensorRT)
    :mod:`.variants`  the INT8 forms (:mod:`dasiamrt.int8_forms`) written and recorded in ``model.json``;
                      the graph of a form for the TensorRT builder
    :mod:`.progress`  a progress bar on stderr; ONNX Runtime's quantizer chatter to the debug log
    :mod:`.trt_calibrator`  the legacy TensorRT (<= 10) entropy calibrator over the same set
Nothing here imports TensorRT at module level, and this package is never imported by ``runtime``.
"""
from __future__ import annotations
