"""dasiamrt: DaSiamRPN visual object tracking for the edge (PyTorch -> ONNX -> TensorRT).

``import dasiamrt`` is light: numpy only. Heavy libraries (torch, onnx, onnxruntime, tensorrt,
CUDA bindings) are imported where they are used.
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["Tracker", "TrackResult", "TrackerOptions", "__version__"]


def __getattr__(name: str) -> object:  # PEP 562: keep ``import dasiamrt`` free of cv2/onnxruntime
    if name in ("Tracker", "TrackResult"):
        from .runtime import tracker

        return getattr(tracker, name)
    if name == "TrackerOptions":
        from .runtime.tracker_options import TrackerOptions

        return TrackerOptions
    raise AttributeError(name)
