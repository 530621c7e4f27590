"""ONNX -> ONNX rewrites (onnx only, never torch): the fp16 form of a graph (:mod:`.fp16`) and of a Q/DQ
graph (:mod:`.qdq_fp16`). Used by export (the fp16 variant), calibrate (the ``int8-fp16`` form) and the
engine build (a form the model folder lacks, derived into the engine folder)."""
