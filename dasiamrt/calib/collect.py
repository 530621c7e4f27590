"""Collect calibration crops along tracking trajectories with the runtime's own crop code.

A trajectory is a list of :class:`Sample` frames, each with the box the tracker would search around
(``prior_xywh``: the previous frame's estimate) and the target's box in that frame
(``target_xywh``). Trajectories come from ground truth (a dataset or a synthetic sequence:
prior = box of frame t - 1) or from the fp32 tracker's own boxes on an unannotated clip (see
:mod:`dasiamrt.calib.trajectories`). Crops are made with the tracker's own crop recipe
(:func:`~dasiamrt.runtime.crop.template_crop`, :func:`~dasiamrt.runtime.crop.search_crop`), perturbed
like training pairs:

* templates: the target box, centre shifted by up to ``template_shift`` of its size, scaled by
  up to exp(+-``template_scale``);
* tracking searches (every size but the lost size): the prior box shifted by up to
  ``search_shift`` of its size, scaled by up to exp(+-``search_scale``);
* lost searches (``lost_size``, 767): the prior shifted by up to ``lost_shift`` target sizes, as
  when the tracker searches globally around a stale position.

With all jitter at 0 the crops are bit-identical to the tracker's (a test checks this).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from numpy.typing import NDArray

from .. import spec
from ..artifacts.calibset import KERNEL_TEMPLATE, TEMPLATE, CalibrationSet, kernel_key, search_key
from ..errors import CalibrationError
from ..runtime.crop import search_crop, template_crop
from ..runtime.geometry import xywh_to_center

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Jitter:
    """Training-like perturbations (fractions of the target size; scales are log-uniform)."""

    template_shift: float = 0.05
    template_scale: float = 0.05
    search_shift: float = 0.25
    search_scale: float = 0.15
    lost_shift: float = 1.5

    @classmethod
    def none(cls) -> "Jitter":
        """No perturbation: the crops the tracker itself makes."""
        return cls(0.0, 0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True)
class CollectConfig:
    """What to collect.

    Attributes:
        per_input: crops per network input (templates, and each search size).
        seed: seeds frame choice and jitter.
        search_sizes: search-crop sides to collect (255 tracking, 767 lost).
        lost_size: the side collected with the ``lost_shift`` jitter.
        context_amount: template context (the model's tracker setting).
        jitter: perturbations.
    """

    per_input: int = 32
    seed: int = 0
    search_sizes: Tuple[int, ...] = (255, 767)
    lost_size: int = spec.MAX_SEARCH_SIZE
    context_amount: float = 0.5
    jitter: Jitter = field(default_factory=Jitter)


@dataclass
class Sample:
    """One frame of a trajectory.

    Attributes:
        frame: (H, W, 3) uint8 BGR.
        prior_xywh: box the tracker searches around in this frame (previous estimate), 0-based.
        target_xywh: the target's box in this frame, 0-based.
    """

    frame: NDArray[np.uint8]
    prior_xywh: Tuple[float, float, float, float]
    target_xywh: Tuple[float, float, float, float]


@dataclass
class Trajectory:
    """Samples of one sequence, its padding colour and first-frame template.

    Attributes:
        name: sequence name.
        samples: chosen frames.
        pad_value: (3,) uint8 first-frame channel mean (the tracker's padding).
        init_template: (127, 127, 3) uint8 crop of the first frame's box (gives the search kernels).
        boxes_from: "ground truth" or "fp32 tracker".
    """

    name: str
    samples: List[Sample]
    pad_value: NDArray[np.uint8]
    init_template: NDArray[np.uint8]
    boxes_from: str


def _perturb(bbox_xywh: Sequence[float], shift: float, scale: float, rng: np.random.Generator
             ) -> Tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(center_xy, size_wh) of a box moved by up to ``shift`` of its size and scaled by exp(+-scale)."""
    center, size = xywh_to_center(bbox_xywh)
    if shift > 0:
        center = center + rng.uniform(-shift, shift, 2) * size
    if scale > 0:
        size = size * np.exp(rng.uniform(-scale, scale, 2))
    return center, size


def _order(trajectories: Sequence[Trajectory], count: int, rng: np.random.Generator) -> List[Tuple[int, int]]:
    """``count`` (trajectory, sample) pairs, cycling through a seeded shuffle of all samples."""
    pairs = [(t, s) for t, traj in enumerate(trajectories) for s in range(len(traj.samples))]
    if not pairs:
        raise CalibrationError("the sources gave no usable frames (empty clips, or no frame with a box): "
                               "give longer clips or sequences with ground truth")
    picks: List[Tuple[int, int]] = []
    while len(picks) < count:
        picks += [pairs[i] for i in rng.permutation(len(pairs))]
    return picks[:count]


def _templates(trajectories: Sequence[Trajectory], cfg: CollectConfig, rng: np.random.Generator) -> NDArray[np.uint8]:
    crops = []
    for t, s in _order(trajectories, cfg.per_input, rng):
        traj, sample = trajectories[t], trajectories[t].samples[s]
        center, size = _perturb(sample.target_xywh, cfg.jitter.template_shift, cfg.jitter.template_scale, rng)
        box = (center[0] - size[0] / 2, center[1] - size[1] / 2, size[0], size[1])
        crops.append(template_crop(sample.frame, box, traj.pad_value, cfg.context_amount))
    return np.stack(crops).transpose(0, 3, 1, 2).copy()


def _searches(trajectories: Sequence[Trajectory], size: int, cfg: CollectConfig, rng: np.random.Generator
              ) -> Tuple[NDArray[np.uint8], NDArray[np.int32]]:
    lost = size == cfg.lost_size
    shift = cfg.jitter.lost_shift if lost else cfg.jitter.search_shift
    crops, owners = [], []
    for t, s in _order(trajectories, cfg.per_input, rng):
        traj, sample = trajectories[t], trajectories[t].samples[s]
        center, size_wh = _perturb(sample.prior_xywh, shift, cfg.jitter.search_scale, rng)
        crops.append(search_crop(sample.frame, center, size_wh, size, traj.pad_value, cfg.context_amount)[0])
        owners.append(t)
    return np.stack(crops).transpose(0, 3, 1, 2).copy(), np.asarray(owners, dtype=np.int32)


def collect_crops(trajectories: Sequence[Trajectory], cfg: CollectConfig,
                  manifest: Optional[Dict[str, Any]] = None) -> CalibrationSet:
    """Make ``cfg.per_input`` crops for every input from ``trajectories``.

    Args:
        trajectories: sampled frames with boxes (see :mod:`dasiamrt.calib.trajectories`).
        cfg: counts, sizes, seed and jitter.
        manifest: extra manifest entries (source, model sha256s...).

    Returns:
        A :class:`CalibrationSet` (not yet validated or written).

    Raises:
        CalibrationError: no trajectory has a usable frame, or ``per_input`` < 1.
    """
    if cfg.per_input < 1:
        raise CalibrationError(f"--per-input must be at least 1, got {cfg.per_input}")
    for size in cfg.search_sizes:
        spec.check_search_size(size)
    rng = np.random.default_rng(cfg.seed)
    arrays: Dict[str, NDArray[Any]] = {TEMPLATE: _templates(trajectories, cfg, rng)}
    for size in cfg.search_sizes:
        arrays[search_key(size)], arrays[kernel_key(size)] = _searches(trajectories, size, cfg, rng)
    arrays[KERNEL_TEMPLATE] = np.stack([t.init_template for t in trajectories]).transpose(0, 3, 1, 2).copy()
    info: Dict[str, Any] = dict(manifest or {})
    info.update({
        "seed": cfg.seed, "per_input": cfg.per_input, "search_sizes": list(cfg.search_sizes),
        "lost_size": cfg.lost_size, "context_amount": cfg.context_amount, "jitter": cfg.jitter.__dict__.copy(),
        "sequences": [{"name": t.name, "samples": len(t.samples), "boxes_from": t.boxes_from} for t in trajectories],
    })
    log.info("collected %d templates and %s search crops from %d sequence(s)", cfg.per_input,
             "/".join(str(s) for s in cfg.search_sizes), len(trajectories))
    return CalibrationSet(arrays, info)
