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
from typing import Any, Dict, List, Optional, Sequence, Tuple

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
    """

    split: str
    root: Optional[str] = None
    every_epochs: int = 1
    max_frames: Optional[int] = None

    def __post_init__(self) -> None:
        if self.every_epochs < 1:
            raise ConfigError("validation every_epochs must be at least 1")
        if self.max_frames is not None and self.max_frames < 2:  # frame 0 is the init box: nothing to score
            raise ConfigError(f"validation max_frames must be at least 2 (the init frame and one tracked), "
                              f"or null for every frame; got {self.max_frames}")

    def data_root(self) -> str:
        """The real-data root: ``root``, else the split file's ``root`` entry."""
        if self.root:
            return self.root
        import json

        try:
            return str(json.loads(Path(self.split).read_text())["root"])
        except (OSError, KeyError, TypeError, ValueError):
            raise ConfigError(f"validation needs a 'root' (the real-data folder): {self.split} gives none") from None


@dataclass
class SequenceRun:
    """One tracked sequence: boxes (T, 4) 0-based xywh (frame 0 = init box), scores (T,), ground truth (T, 4)."""

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
    return SequenceRun(seq.name, boxes, scores, np.asarray(seq.gt[:n], dtype=np.float64), states)


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

    def names(self) -> Tuple[str, ...]:
        return tuple(s.name for s in self.dataset)

    def runs(self, state_dict: Dict[str, Any], config: Optional[TrackerConfig] = None) -> List[SequenceRun]:
        """Track every validation sequence with ``state_dict`` (official layout, 0..255 input)."""
        from ..model import SiamRPN
        from ..runtime.backends.torch_backend import TorchBackend
        from ..runtime.tracker import Tracker

        net = SiamRPN(self.preset.network)
        net.load_state_dict(state_dict)
        tracker = Tracker(TorchBackend(net=net), config or self.tracker_config)
        return [run_sequence(tracker, seq, self.cfg.max_frames) for seq in self.dataset]

    def __call__(self, state_dict: Dict[str, Any]) -> Dict[str, Any]:
        return summarize(self.runs(state_dict))


__all__ = ["SequenceRun", "TrackingValidator", "ValidationConfig", "run_sequence", "summarize"]
