"""``dasiamrt calibrate`` as one library call: collect the crops, write the set, write the INT8 graphs.

Where things go: with ``out_dir`` the model folder is copied there first (``model.json`` and the
graphs it names), and the calibration set, the INT8 graphs and the updated ``model.json`` are
written into the copy, which is then a complete model folder; without it, into ``model_dir``
itself. Nothing is ever written into the installed dasiamrt package (the bundled model lives
there): that is refused with the command that writes elsewhere.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple

from .. import spec
from ..artifacts.calibset import CalibrationSet, copy_calibration, load_calibration, save_calibration, validate
from ..artifacts.model_folder import ModelFolder
from ..errors import ConfigError
from ..fileio import inside_package
from ..int8_forms import FORMS
from .collect import CollectConfig, collect_crops
from .kernels import add_search_kernels

log = logging.getLogger(__name__)

Box = Tuple[float, float, float, float]


@dataclass
class CalibrationReport:
    """What ``calibrate`` did: the set's path and counts, the folder written, the ``variants`` entries."""

    npz: Path
    counts: Dict[str, int]
    variants: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    model_dir: Optional[Path] = None

    def line(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        text = f"calibration set {self.npz} ({counts})"
        if self.variants:
            forms = "; ".join(f"{form} ({', '.join(g['file'] for g in v['graphs'].values())})"
                              for form, v in self.variants.items())
            method = next(iter(self.variants.values()))["method"]
            text += f"; INT8 graphs in {self.model_dir}: {forms} ({method})"
        return text


def check_destination(model_dir: str | os.PathLike[str], out_dir: Optional[str | os.PathLike[str]]) -> None:
    """Refuse to write calibration output into the installed package.

    Raises:
        ConfigError: the destination (``out_dir``, else ``model_dir``) is inside the package.
    """
    target = out_dir if out_dir is not None else model_dir
    if inside_package(target):
        where = "--out" if out_dir is not None else "the model folder"
        raise ConfigError(f"{where} {target} is inside the installed dasiamrt package (the bundled model): "
                          f"write the INT8 model elsewhere with 'dasiamrt calibrate --model {model_dir} "
                          "--source ... --out DIR' (DIR outside the package) and use --model DIR")


def default_search_sizes(model_dir: str | os.PathLike[str]) -> Tuple[int, ...]:
    """255, the model's own search size(s) and the lost size 767."""
    info = ModelFolder.open(model_dir)
    return tuple(sorted({spec.MIN_SEARCH_SIZE, spec.MAX_SEARCH_SIZE, *info.tracker.search_sizes()}))


def collect(model_dir: str, sources: Sequence[str], inits: Sequence[Optional[Box]], cfg: CollectConfig,
            max_frames: int = 300) -> CalibrationSet:
    """Trajectories of ``sources`` -> crops (``cfg``), with the manifest naming source and model."""
    from .sources import load_trajectories

    info = ModelFolder.open(model_dir)
    trajectories = load_trajectories(sources, inits, model_dir, cfg.per_input, cfg.seed, cfg.context_amount,
                                     max_frames)
    manifest = {"source": list(sources), "inits": [list(b) if b else None for b in inits],
                "model": {"root": str(info.root), "preset": info.preset, "sha256": info.fingerprint()}}
    return collect_crops(trajectories, cfg, manifest)


def calibrate(model_dir: str, sources: Sequence[str], inits: Sequence[Optional[Box]], out_dir: Optional[str] = None,
              cfg: Optional[CollectConfig] = None, method: Optional[str] = None, scope: str = "backbone",
              quantize: bool = True, from_set: Optional[str] = None, max_frames: int = 300,
              forms: Sequence[str] = FORMS, progress: Any = None) -> CalibrationReport:
    """Collect (or read ``from_set``) a calibration set, save it, write the INT8 ``forms``.

    Args:
        model_dir: exported model folder (fp32 graphs).
        sources, inits: what to track for crops (see :func:`collect`).
        out_dir: a folder to receive a copy of the model with the set and INT8 graphs (default:
            ``model_dir`` itself).
        forms: INT8 forms to write (:data:`dasiamrt.int8_forms.FORMS`).
        progress: a :class:`~dasiamrt.calib.progress.ProgressBar` (or None).

    Raises:
        CalibrationError: too few crops, wrong sizes, a set made for another model, a clip without --init.
        ConfigError: the destination is inside the installed package, or ``out_dir`` holds another model.
        ModelError: ``model_dir`` is not a model folder.
    """
    from .qdq import DEFAULT_METHOD
    from .variants import write_int8_variants

    check_destination(model_dir, out_dir)
    folder = ModelFolder.open(model_dir)  # a bad --model fails before anything is copied
    if from_set:
        calib = load_calibration(from_set)
    else:
        cfg = cfg or CollectConfig(search_sizes=default_search_sizes(model_dir),
                                   context_amount=folder.tracker.context_amount)
        calib = collect(model_dir, sources, inits, cfg, max_frames)
        validate(calib)
    if out_dir is not None:
        folder.copy_to(out_dir)
    target = Path(out_dir) if out_dir is not None else Path(model_dir)
    if add_search_kernels(calib, folder) or not (from_set and calib.path is not None):
        npz = save_calibration(calib, target)  # the set as collected (or an older set, now with its kernels)
    else:
        npz = copy_calibration(calib, target)
    variants = write_int8_variants(target, calib, method or DEFAULT_METHOD, scope, forms, progress) if quantize else {}
    return CalibrationReport(Path(npz), calib.counts(), variants, target)
