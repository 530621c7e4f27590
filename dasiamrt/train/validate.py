"""Held-out tracking validation during training: one-pass success AUC on real validation sequences.

Checkpoints are chosen on what the model is for: the tracker (the runtime's own, torch backend, the
preset's settings) runs over the split's validation sequences (``configs/real_split.json``) with
the current weights, and the mean OPE success AUC (OTB/UAV toolkit, ``eval.metrics``) decides
``best.pt``. Per frame it also keeps the tracker's score and the IoU with the ground truth, so the
same pass gives on-target / off-target score distributions (``eval.score_stats``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from ..config import TrackerConfig, get_preset
from ..errors import ConfigError


@dataclass(frozen=True)
class ValidationConfig:
    """Tracking validation of a training run.

    Attributes:
        split: split file (``configs/real_split.json``); its validation sequences are never trained on.
        root: real-data root (default: the split file's ``root``).
        every_epochs: validate after every this many epochs (and after the last).
        max_frames: track at most this many frames per sequence, init frame included (>= 2; None: all).
        starts: start points per sequence: frame 0 and ``starts - 1`` evenly spaced later frames
            (:func:`later_starts`); more starts, less noise in the AUC that chooses ``best.pt``.
    """

    split: str
    root: Optional[str] = None
    every_epochs: int = 1
    max_frames: Optional[int] = None
    starts: int = 1

    def __post_init__(self) -> None:
        if self.every_epochs < 1:
            raise ConfigError("validation every_epochs must be at least 1")
        if self.starts < 1:
            raise ConfigError(f"validation starts must be at least 1 (frame 0 only), not {self.starts}")
        if self.max_frames is not None and self.max_frames < 2:  # frame 0 is the init box: nothing to score
            raise ConfigError(f"validation max_frames must be at least 2 (the init frame and one tracked), "
                              f"or null for every frame; got {self.max_frames}")

    def data_root(self) -> str:
        """The real-data root: ``root``, else the split file's ``root`` entry."""
        if self.root:
            return self.root
        from ..eval.datasets.real_split import read_split

        root = read_split(self.split, manifest=None).root
        if not root:
            raise ConfigError(f"validation needs a 'root' (the real-data folder): {self.split} gives none")
        return root


@dataclass
class SequenceRun:
    """One tracked sequence: boxes (T, 4) 0-based xywh (frame 0 = init box), scores (T,), ground truth (T, 4)
    0-based (the sequence's origin removed, so boxes and ground truth share one frame)."""

    name: str
    boxes: np.ndarray
    scores: np.ndarray
    gt: np.ndarray
    states: List[str]


def run_sequence(tracker: Any, seq: Any, max_frames: Optional[int] = None) -> SequenceRun:
    """Initialise on frame 0 of ``seq`` (an ``eval.datasets`` Sequence, 0-based) and track to the end
    (:func:`~dasiamrt.runtime.loop.track_frames`)."""
    from ..runtime.loop import track_frames

    n = len(seq) if max_frames is None else min(len(seq), max_frames)
    boxes = np.zeros((n, 4))
    scores = np.ones(n)
    states = ["init"]
    for step in track_frames(tracker, (seq.frame(t) for t in range(n)), seq.init_xywh):
        if step.index == 0:
            boxes[0] = seq.init_xywh
            continue
        boxes[step.index], scores[step.index] = step.result.bbox_xywh, step.result.score
        states.append(step.result.state)
    return SequenceRun(seq.name, boxes, scores, seq.gt_xywh()[:n], states)


def later_starts(seq: Any, starts: int, min_frames: int = 10) -> List[Any]:
    """``seq`` cut to begin at ``starts - 1`` evenly spaced later frames (frame ``len * k / starts``, moved
    on to the next frame with a known box); cuts of ``min_frames`` frames or fewer are left out.

    Args:
        seq: an ``eval.datasets`` Sequence.

    Returns:
        Sequences named ``<name>@<first frame>`` (same origin) whose frame 0 is that frame and whose init
        box is its ground truth.
    """
    from ..eval.datasets.base import Sequence as EvalSequence

    out = []
    for k in range(1, starts):
        t0 = int(len(seq) * k / starts)
        while t0 < len(seq) - min_frames and not np.isfinite(seq.gt[t0]).all():
            t0 += 1
        if t0 < len(seq) - min_frames:
            out.append(EvalSequence(name=f"{seq.name}@{t0}", gt=seq.gt[t0:], frames=list(seq.frames)[t0:],
                                    origin=seq.origin))
    return out


def start_source(name: str) -> str:
    """The sequence a :func:`later_starts` cut came from (``"Dog@25"`` -> ``"Dog"``; other names unchanged)."""
    head, at, frame = name.rpartition("@")
    return head if at and head and frame.isdigit() else name


def with_later_starts(sequences: Iterable[Any], starts: int) -> List[Any]:
    """``sequences`` from frame 0, then every sequence's :func:`later_starts` (in that order, so the first
    ``len(sequences)`` runs are the one-pass protocol)."""
    whole = list(sequences)
    return whole + [cut for seq in whole for cut in later_starts(seq, starts)]


def summarize(runs: Sequence[SequenceRun]) -> Dict[str, Any]:
    """Mean OPE AUC / precision@20 and the per-sequence values."""
    from ..eval.metrics import ope_sequence, ope_summary

    curves = [ope_sequence(r.boxes, r.gt) for r in runs]
    summary = ope_summary(curves)
    return {"auc": summary["auc"], "precision_20": summary["precision_20"],
            "per_sequence": {r.name: round(float(c["success"].mean()), 4) for r, c in zip(runs, curves)}}


class TrackingValidator:
    """Runs the tracker with given weights over the validation sequences.

    Args:
        cfg: what to validate on.
        preset: network layout and tracker settings (``config.PRESETS``).
        tracker_config: tracker settings instead of the preset's.
    """

    def __init__(self, cfg: ValidationConfig, preset: str, tracker_config: Optional[TrackerConfig] = None) -> None:
        from ..eval.datasets.real import load

        self.cfg = cfg
        self.preset = get_preset(preset)
        self.tracker_config = tracker_config or self.preset.tracker
        self.dataset = load(Path(cfg.data_root()), cfg.split, "validation")
        #: what is tracked: every validation sequence from frame 0, then its later starts
        self.sequences = with_later_starts(self.dataset, cfg.starts)

    def names(self) -> Tuple[str, ...]:
        """The validation sequences' names (later starts are ``<name>@<frame>`` runs of these)."""
        return tuple(s.name for s in self.dataset)

    def runs(self, state_dict: Dict[str, Any], config: Optional[TrackerConfig] = None) -> List[SequenceRun]:
        """Track every validation sequence with ``state_dict`` (official layout, 0..255 input)."""
        from ..model import SiamRPN
        from ..runtime.backends.torch_backend import TorchBackend
        from ..runtime.tracker import Tracker

        net = SiamRPN(self.preset.network)
        net.load_state_dict(state_dict)
        tracker = Tracker(TorchBackend(net=net), config or self.tracker_config)
        return [run_sequence(tracker, seq, self.cfg.max_frames) for seq in self.sequences]

    def __call__(self, state_dict: Dict[str, Any]) -> Dict[str, Any]:
        return summarize(self.runs(state_dict))


__all__ = ["SequenceRun", "TrackingValidator", "ValidationConfig", "later_starts", "run_sequence", "start_source",
           "summarize", "with_later_starts"]
