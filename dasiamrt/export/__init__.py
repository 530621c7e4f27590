"""torch -> ONNX export (owned by the lead); :mod:`.fp16` converts exported graphs to fp16."""
from __future__ import annotations
