"""torch -> ONNX: the template graph, the search graph and the kernel_update graph, checked against torch."""
from __future__ import annotations

from .onnx_export import ExportReport, export_model

__all__ = ["ExportReport", "export_model"]
