"""INT8 calibration: tracking crops collected with the runtime's crop code, Q/DQ ONNX graphs.

Stages (each a module, with files between them):
    :mod:`.sources`   trajectories: ground-truth boxes of a dataset, or the fp32 tracker's own boxes
    :mod:`.collect`   crops along them (templates, 255 and 767 searches), seeded, jittered, bounded
    :mod:`.calibset`  ``calibration.npz`` + ``calibration.json`` (manifest), validation
    :mod:`.qdq`       INT8 Q/DQ template and search graphs from the set (ONNX Runtime quantizer)
    :mod:`.variants`  ``model.json`` records of the INT8 graphs; paths for the TensorRT builder
    :mod:`.trt_calibrator`  the legacy TensorRT (<= 10) entropy calibrator over the same set
Nothing here imports TensorRT at module level, and this package is never imported by ``runtime``.
"""
from __future__ import annotations
