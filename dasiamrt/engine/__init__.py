"""TensorRT engines: build from the exported ONNX graphs, profiles, timing cache, manifests.

Every TensorRT version difference lives in :mod:`dasiamrt.trt.compat`. Nothing here imports tensorrt at
module level: ``import dasiamrt.engine`` works on a machine without TensorRT or a GPU.
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_engines", "BuildOptions"]


def __getattr__(name: str) -> Any:  # PEP 562: keep the package import free of onnx/tensorrt
    if name in __all__:
        from . import builder

        return getattr(builder, name)
    raise AttributeError(name)
