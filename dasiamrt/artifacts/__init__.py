"""The files stages hand to each other, one module per artifact, each the only reader and writer of its file.

* :mod:`.model_folder`     ``model.json`` + the ONNX graphs it names, with uniform ``variants`` (fp16,
                           INT8 forms); its schema check is :mod:`.model_schema`.
                           Written by export (create) and calibrate (variants); read by every stage.
* :mod:`.calibset`         ``calibration.npz`` + ``calibration.json``: crops and the fp32 search kernels.
                           Written by calibrate; read by calibrate (Q/DQ ranges) and the engine build
                           (the legacy entropy calibrator).
* :mod:`.engine_manifest`  ``engines/<precision>/<name>.json`` beside each TensorRT plan.
                           Written by the engine build; read by the TensorRT backend and ``doctor``.

Nothing here imports torch, onnx, onnxruntime or tensorrt, nor any stage package (export, calib,
engine, runtime): every stage imports these modules, so stages meet only at artifacts.
"""
