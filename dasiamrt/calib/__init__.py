"""INT8 calibration: tracking crops collected with the runtime's crop code, Q/DQ ONNX graphs.

Stages (each a module, with files between them):
    :mod:`.trajectories`  trajectories: ground-truth boxes of a dataset, or the fp32 tracker's own boxes
    :mod:`.collect`   crops along them (templates, 255 and 767 searches), seeded, jittered, bounded
    :mod:`.kernels`   the fp32 search kernels of the set's templates, computed once and stored in the set
    :mod:`.qdq`       INT8 Q/DQ template and search graphs from the set (ONNX Runtime quantizer)
    :mod:`.variants`  the INT8 forms (:mod:`dasiamrt.int8_forms`) written and recorded in ``model.json``
    :mod:`.progress`  a progress bar on stderr; ONNX Runtime's quantizer chatter to the debug log
    :mod:`.api`       ``dasiamrt calibrate`` as one call
The set itself (``calibration.npz`` + ``calibration.json``) is :mod:`dasiamrt.artifacts.calibset`; the
fp16 form of a Q/DQ graph is :mod:`dasiamrt.graphs.qdq_fp16`; the legacy TensorRT (<= 10) entropy
calibrator over the same set belongs to the engine build (:mod:`dasiamrt.engine.calibrator`).
Nothing here imports TensorRT, and this package is never imported by ``runtime`` or ``engine``.
"""
from __future__ import annotations
