"""Trajectories for calibration: ground truth where a dataset has it, else the fp32 tracker's boxes.

Source strings (``dasiamrt calibrate --source``):
    ``synthetic:<preset>[:<count>[:<seed>[:<frames>]]]``  generated sequences with exact boxes
    an OTB-style sequence folder (``img/`` + ``groundtruth_rect.txt``) or a folder of them
    a GOT-10k / LaSOT / ``../shared/data/real`` sequence folder (``groundtruth.txt`` and its frames,
    read by :func:`dasiamrt.eval.datasets.folder.read_sequence_folder`) or a folder of them
    anything :func:`dasiamrt.videoio.open_source` opens (video file, image folder, camera) together
    with an initial box: the fp32 tracker is run and its boxes are the trajectory.
Frames are chosen by a seeded generator, at most ``max_samples`` per sequence.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
from numpy.typing import NDArray

from ..errors import CalibrationError, DatasetError
from ..runtime.crop import channel_mean, template_crop
from ..runtime.geometry import center_to_xywh, check_init_box
from .collect import Sample, Trajectory

log = logging.getLogger(__name__)

Box = Tuple[float, float, float, float]
GT_FILE = "groundtruth_rect.txt"
#: the ground-truth file of GOT-10k, LaSOT and the real-data layout
FOLDER_GT_FILE = "groundtruth.txt"


class _DatasetFrames:
    """The frames of a :class:`dasiamrt.eval.datasets.base.Sequence`, decoded by its own ``frame(t)``."""

    def __init__(self, sequence: Any) -> None:
        self.sequence = sequence

    def __len__(self) -> int:
        return len(self.sequence.frames)

    def __getitem__(self, t: int) -> NDArray[np.uint8]:
        try:
            frame: NDArray[np.uint8] = self.sequence.frame(t)
        except DatasetError as err:
            raise CalibrationError(f"{err}: check the dataset folder") from None
        return frame


def gt_trajectory(name: str, frames: Sequence[Any], boxes_xywh: NDArray[np.float64], max_samples: int,
                  rng: np.random.Generator, context_amount: float) -> Trajectory:
    """Samples t (>= 1) where the boxes of t - 1 (prior) and t (target) are both known.

    Args:
        frames: T images (H, W, 3) uint8, indexable (a dataset's frames are decoded on access).
        boxes_xywh: (T, 4) 0-based boxes, NaN where unknown; row 0 must be known.
    """
    boxes = np.asarray(boxes_xywh, dtype=np.float64)
    first = frames[0]
    if not np.isfinite(boxes[0]).all():
        raise CalibrationError(f"sequence {name} has no box in its first frame: it cannot start a trajectory")
    pad = channel_mean(first)
    ok = np.isfinite(boxes).all(axis=1) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)
    valid = np.flatnonzero(ok[1:] & ok[:-1]) + 1
    chosen = np.sort(rng.choice(valid, size=min(max_samples, len(valid)), replace=False)) if len(valid) else valid
    samples = [Sample(frames[t], tuple(boxes[t - 1]), tuple(boxes[t])) for t in chosen]  # type: ignore[index]
    return Trajectory(name, samples, pad, template_crop(first, tuple(boxes[0]), pad, context_amount), "ground truth")


def tracked_trajectory(source: str, init_xywh: Sequence[float], model_dir: str, max_samples: int,
                       rng: np.random.Generator, max_frames: int, context_amount: float) -> Trajectory:
    """Run the fp32 tracker of ``model_dir`` over ``source``; reservoir-sample ``max_samples`` frames.

    The prior of a frame is the tracker's state before it, the target its result on it.
    """
    from ..runtime.loop import track_frames
    from ..runtime.tracker import Tracker
    from ..videoio import open_source

    samples: List[Sample] = []
    seen = 0
    first: Optional[NDArray[np.uint8]] = None
    with open_source(source) as frames, Tracker.from_model(model_dir, backend="ort") as tracker:
        prior: Box = (0.0, 0.0, 0.0, 0.0)
        for step in track_frames(tracker, (frame for _, frame in frames), init_xywh, max_frames + 1):
            if step.index == 0:
                first = step.frame
            else:
                sample = Sample(step.frame.copy(), prior, step.result.bbox_xywh)
                if len(samples) < max_samples:
                    samples.append(sample)
                else:
                    slot = int(rng.integers(0, seen + 1))
                    if slot < max_samples:
                        samples[slot] = sample
                seen += 1
            state = tracker.state
            prior = center_to_xywh(state.center_xy, state.size_wh)  # type: ignore[union-attr]
    if first is None:
        raise CalibrationError(f"{source} gave no frames: check the path")
    pad = channel_mean(first)
    log.info("tracked %d frames of %s with the fp32 model, kept %d", seen, source, len(samples))
    return Trajectory(Path(source).name or source, samples, pad,
                      template_crop(first, check_init_box(init_xywh, first.shape), pad, context_amount), "fp32 tracker")


def _dataset_sequences(source: str) -> Optional[List[Tuple[str, Any, NDArray[np.float64]]]]:
    """(name, frames, 0-based boxes) of a synthetic spec or OTB-style folder; None for other sources."""
    path = Path(source)
    try:
        if source.lower().startswith("synthetic"):
            from ..eval.datasets import load_dataset

            dataset = load_dataset(source)
        elif path.is_dir() and (path / GT_FILE).is_file():
            from ..eval.datasets.otb import read_sequence

            seq = read_sequence(path, path.name, path / GT_FILE)
            return [(seq.name, _DatasetFrames(seq), seq.gt_xywh())]
        elif path.is_dir() and any((p / GT_FILE).is_file() for p in path.iterdir() if p.is_dir()):
            from ..eval.datasets import load_dataset

            dataset = load_dataset("otb", path)
        elif path.is_dir() and (path / FOLDER_GT_FILE).is_file():
            return [_folder_sequence(path)]
        elif path.is_dir() and any((p / FOLDER_GT_FILE).is_file() for p in path.iterdir() if p.is_dir()):
            return [_folder_sequence(p) for p in sorted(path.iterdir()) if (p / FOLDER_GT_FILE).is_file()]
        else:
            return None
    except ImportError:
        raise CalibrationError(f"{source} is a dataset, which needs dasiamrt.eval (not in this install)") from None
    except DatasetError as err:
        raise CalibrationError(f"cannot read {source}: {err}") from None
    return [(s.name, _DatasetFrames(s), s.gt_xywh()) for s in dataset.sequences]


def _folder_sequence(folder: Path) -> Tuple[str, Any, NDArray[np.float64]]:
    """(name, frames, 0-based boxes) of one ``groundtruth.txt`` folder (origin by layout: ``img/`` = LaSOT)."""
    from ..eval.datasets.folder import read_sequence_folder

    seq = read_sequence_folder(folder, lengths="shorter")
    return seq.name, _DatasetFrames(seq), seq.gt_xywh()


def load_trajectories(sources: Sequence[str], inits: Sequence[Optional[Box]], model_dir: str, max_samples: int,
                      seed: int, context_amount: float, max_frames: int = 300) -> List[Trajectory]:
    """Trajectories of every source (see module docstring); ``inits[i]`` is the box of plain clip i.

    Raises:
        CalibrationError: a plain clip without an initial box, or an unreadable dataset.
    """
    rng = np.random.default_rng(seed)
    out: List[Trajectory] = []
    for i, source in enumerate(sources):
        sequences = _dataset_sequences(source)
        if sequences is not None:
            out += [gt_trajectory(n, f, b, max_samples, rng, context_amount) for n, f, b in sequences]
            continue
        init = inits[i] if i < len(inits) else None
        if init is None:
            raise CalibrationError(f"{source} has no ground truth: give its first-frame box with --init x,y,w,h "
                                   "(one --init per --source, in order)")
        out.append(tracked_trajectory(source, init, model_dir, max_samples, rng, max_frames, context_amount))
    return out
