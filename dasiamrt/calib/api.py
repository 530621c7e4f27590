"""``dasiamrt calibrate`` as one library call: collect the crops, write the set, write the INT8 graphs."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple

from .. import spec
from ..runtime.model_dir import read_model_dir
from .calibset import CalibrationSet, load_calibration, model_fingerprint, save_calibration, validate
from .collect import CollectConfig, collect_crops

log = logging.getLogger(__name__)

Box = Tuple[float, float, float, float]


@dataclass
class CalibrationReport:
    """What ``calibrate`` did: the set's path and counts, and the INT8 entry of ``model.json`` (if written)."""

    npz: Path
    counts: Dict[str, int]
    variant: Optional[Dict[str, Any]]

    def line(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        done = f"; INT8 graphs {', '.join(v['file'] for v in self.variant['graphs'].values())} " \
               f"({self.variant['method']})" if self.variant else ""
        return f"calibration set {self.npz} ({counts}){done}"


def default_search_sizes(model_dir: str | os.PathLike[str]) -> Tuple[int, ...]:
    """255, the model's own search size(s) and the lost size 767."""
    info = read_model_dir(model_dir)
    return tuple(sorted({spec.MIN_SEARCH_SIZE, spec.MAX_SEARCH_SIZE, *info.tracker.search_sizes()}))


def collect(model_dir: str, sources: Sequence[str], inits: Sequence[Optional[Box]], cfg: CollectConfig,
            max_frames: int = 300) -> CalibrationSet:
    """Trajectories of ``sources`` -> crops (``cfg``), with the manifest naming source and model."""
    from .sources import load_trajectories

    info = read_model_dir(model_dir)
    trajectories = load_trajectories(sources, inits, model_dir, cfg.per_input, cfg.seed, cfg.context_amount,
                                     max_frames)
    manifest = {"source": list(sources), "inits": [list(b) if b else None for b in inits],
                "model": {"root": str(info.root), "preset": info.preset, "sha256": model_fingerprint(info)}}
    return collect_crops(trajectories, cfg, manifest)


def calibrate(model_dir: str, sources: Sequence[str], inits: Sequence[Optional[Box]], out_dir: Optional[str] = None,
              cfg: Optional[CollectConfig] = None, method: Optional[str] = None, scope: str = "backbone",
              quantize: bool = True, from_set: Optional[str] = None, max_frames: int = 300,
              output_qdq: bool = False) -> CalibrationReport:
    """Collect (or read ``from_set``) a calibration set, save it in ``out_dir``, write the INT8 graphs.

    Raises:
        CalibrationError: too few crops, wrong sizes, a set made for another model, a clip without --init.
        ModelError: ``model_dir`` is not a model folder.
    """
    from .qdq import DEFAULT_METHOD
    from .variants import write_int8_variant

    if from_set:
        calib = load_calibration(from_set)
        npz = calib.path
    else:
        info = read_model_dir(model_dir)
        cfg = cfg or CollectConfig(search_sizes=default_search_sizes(model_dir),
                                   context_amount=info.tracker.context_amount)
        calib = collect(model_dir, sources, inits, cfg, max_frames)
        validate(calib)
        npz = save_calibration(calib, out_dir or model_dir)
    variant = write_int8_variant(model_dir, calib, method or DEFAULT_METHOD, scope, output_qdq) if quantize else None
    return CalibrationReport(Path(npz or ""), calib.counts(), variant)
