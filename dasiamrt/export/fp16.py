"""``dasiamrt export --precision fp16``: the fp16 variant of a model folder (graphs by :mod:`dasiamrt.graphs.fp16`)."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict

from ..artifacts.model_folder import FP16, ModelFolder, fp16_name
from ..graphs.fp16 import convert_file

logger = logging.getLogger(__name__)


def write_fp16_variants(model_dir: str | Path) -> Dict[str, Path]:
    """Write ``<name>.fp16.onnx`` next to each graph of a model folder and record them as its ``fp16`` variant.

    ``dasiamrt build`` parses these for strongly typed fp16 engines, and ONNX Runtime runs them like the
    fp32 graphs (``--precision fp16``).

    Returns:
        role -> written path.
    """
    folder = ModelFolder.open(model_dir)
    written: Dict[str, Path] = {}
    for role, src in folder.graphs.items():  # confined to the folder by ModelFolder: never written outside
        dst = folder.root / fp16_name(src.relative_to(folder.root).as_posix())
        convert_file(str(src), str(dst))
        written[role] = dst
    folder.with_variants({FP16: {"graphs": {role: p.name for role, p in written.items()}}})
    logger.info("wrote fp16 graphs: %s", ", ".join(p.name for p in written.values()))
    return written
