"""``dasiamrt calibrate`` as one library call: collect the crops, write the set, write the INT8 graphs.

Where things go: with ``out_dir`` the model folder is copied there first (``model.json`` and the
graphs it names), and the calibration set, the INT8 graphs and the updated ``model.json`` are
written into the copy, which is then a complete model folder; without it, into ``model_dir``
itself. Nothing is ever written into the installed dasiamrt package (the bundled model lives
there): that is refused with the command that writes elsewhere.
"""
from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple

from .. import spec
from ..artifacts.calibset import (
    CalibrationSet,
    check_model,
    copy_calibration,
    load_calibration,
    save_calibration,
    validate,
)
from ..artifacts.model_folder import ModelFolder
from ..errors import ConfigError
from ..fileio import inside_package
from ..int8_forms import CPU_FORMS, FORMS
from .collect import CollectConfig, collect_crops
from .kernels import add_search_kernels
from .qdq import FLOAT_LIMIT

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
    from .trajectories import load_trajectories

    info = ModelFolder.open(model_dir)
    trajectories = load_trajectories(sources, inits, model_dir, cfg.per_input, cfg.seed, cfg.context_amount,
                                     max_frames)
    manifest = {"source": list(sources), "inits": [list(b) if b else None for b in inits],
                "model": {"root": str(info.root), "preset": info.preset, "sha256": info.fingerprint()}}
    return collect_crops(trajectories, cfg, manifest)


@dataclass(frozen=True)
class CalibrateOptions:
    """How ``dasiamrt calibrate`` runs, besides the model and the sources.

    Attributes:
        out_dir: a folder to receive a copy of the model with the set and INT8 graphs (default: the model
            folder itself).
        per_input, seed: crops per network input and search size, and their seed (the collection's
            :class:`~.collect.CollectConfig` gets the model's own search sizes and context).
        cfg: the whole collection config instead (``per_input``/``seed`` are then unused).
        method: activation range method (default: :data:`.qdq.DEFAULT_METHOD`).
        scope: "backbone" (default) or "all" (also the constant-weight heads).
        quantize: write the INT8 graphs (False: the calibration set only).
        from_set: skip collection: quantise with this calibration set.
        max_frames: frames tracked per clip without ground truth.
        forms: INT8 forms to write (:data:`dasiamrt.int8_forms.FORMS`).
        float_limit, cpu_float_limit: sensitive nodes kept in float in the TensorRT forms / in ``int8-cpu``
            (:func:`~.variants.write_int8_variants`; None: every node quantised).
    """

    out_dir: Optional[str] = None
    per_input: int = 32
    seed: int = 0
    cfg: Optional[CollectConfig] = None
    method: Optional[str] = None
    scope: str = "backbone"
    quantize: bool = True
    from_set: Optional[str] = None
    max_frames: int = 300
    forms: Sequence[str] = FORMS
    float_limit: Optional[float] = FLOAT_LIMIT
    cpu_float_limit: Optional[float] = None

    def check(self, model_dir: str, sources: Sequence[str]) -> None:
        """What can be refused before any work: nothing to calibrate from, no onnx for the INT8 graphs, a
        destination inside the package.

        Raises:
            ConfigError, MissingDependencyError.
        """
        from ..errors import MissingDependencyError

        if not sources and not self.from_set:
            raise ConfigError("give --source (clip, dataset folder or synthetic:...) or --from-set calibration.npz")
        if self.cpu_float_limit is not None and not set(CPU_FORMS) & set(self.forms):
            raise ConfigError("--cpu-float-limit sets the CPU forms (int8-cpu, int8-cpu-w7), which --target does not "
                              "write: add --target cpu (or drop the limit)")
        if self.quantize:  # checked before the (long) collection, not after it
            MissingDependencyError.require(("onnx",), "writing the INT8 graphs",
                                           "pip install 'dasiamrt[export]' (or only onnx), or use --collect-only")
        check_destination(model_dir, self.out_dir)

    def collect_config(self, folder: ModelFolder) -> CollectConfig:
        """``cfg``, or the collection of ``per_input`` crops (``seed``) at the model's search sizes and context."""
        if self.cfg is not None:
            return self.cfg
        return CollectConfig(per_input=self.per_input, seed=self.seed, search_sizes=default_search_sizes(folder.root),
                             context_amount=folder.tracker.context_amount)


def calibrate(model_dir: str, sources: Sequence[str], inits: Sequence[Optional[Box]],
              options: Optional[CalibrateOptions] = None, progress: Any = None, **changes: Any) -> CalibrationReport:
    """Collect (or read ``from_set``) a calibration set with its search kernels, save it, write the INT8 forms.

    Args:
        model_dir: exported model folder (fp32 graphs).
        sources, inits: what to track for crops (see :func:`collect`).
        options: everything else (:class:`CalibrateOptions`); ``changes`` replace some of its fields
            (``calibrate(m, s, i, max_frames=16)``).
        progress: a :class:`~dasiamrt.calib.progress.ProgressBar` (or None).

    Raises:
        CalibrationError: too few crops, wrong sizes, a set made for another model (refused before anything is
            written), a clip without --init.
        ConfigError: nothing to calibrate from, the destination is inside the installed package, or ``out_dir``
            holds another model.
        ModelError: ``model_dir`` is not a model folder.
    """
    from .qdq import DEFAULT_METHOD
    from .variants import write_int8_variants

    opts = dataclasses.replace(options or CalibrateOptions(), **changes)
    opts.check(model_dir, sources)
    folder = ModelFolder.open(model_dir)  # a bad --model fails before anything is copied
    if opts.from_set:
        calib = load_calibration(opts.from_set)
        check_model(calib, folder)  # a set made for other graphs: refused before anything is copied or written
    else:
        calib = collect(model_dir, sources, inits, opts.collect_config(folder), opts.max_frames)
        validate(calib)
    if opts.out_dir is not None:
        folder.copy_to(opts.out_dir)
    target = Path(opts.out_dir) if opts.out_dir is not None else Path(model_dir)
    if add_search_kernels(calib, folder) or not (opts.from_set and calib.path is not None):
        npz = save_calibration(calib, target)  # the set as collected (or an older set, now with its kernels)
    else:
        npz = copy_calibration(calib, target)
    variants = {}
    if opts.quantize:
        variants = write_int8_variants(target, calib, opts.method or DEFAULT_METHOD, opts.scope, opts.forms, progress,
                                       opts.float_limit, opts.cpu_float_limit)
    return CalibrationReport(Path(npz), calib.counts(), variants, target)
