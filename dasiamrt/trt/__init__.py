"""TensorRT and CUDA at the lowest level: every TensorRT version branch (:mod:`.compat`) and the CUDA device
layer (:mod:`.cuda_device`, :mod:`.cuda_pycuda`). Used by the engine build, the runtime's TensorRT backend and
``dasiamrt doctor``; imports nothing of dasiamrt above :mod:`dasiamrt.errors`, and ``tensorrt`` / the CUDA
bindings only when a function needs them."""
