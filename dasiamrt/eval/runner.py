"""Run a tracker over a dataset: one-pass (OTB, UAV, LaSOT, GOT-10k, synthetic) or VOT's reset-based baseline.

A tracker is any object with ``init(frame, bbox_xywh)`` and ``track(frame)`` returning something
with ``bbox_xywh`` (0-based x, y, w, h): :class:`dasiamrt.runtime.tracker.Tracker` or a test double.
Runs are resumable: a sequence whose result file exists is skipped. Files are written atomically,
so an interrupted run never leaves a half-written result behind. One-pass runs also keep the
tracker's per-frame score (``scores/<name>_score.txt``; not GOT-10k, whose folder is the server submission)
for the on/off-target score histograms.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, List, Optional, Tuple

import numpy as np

from ..runtime.loop import track_frames
from . import results as rio
from .boxes import polygon_to_xywh, region_overlap
from .datasets.base import Dataset, Sequence
from .metrics import VOT_FAILURE, VOT_INIT, VOT_SKIP, VOT_SKIPPING

log = logging.getLogger(__name__)

#: ``progress(sequence_index, sequence_count, sequence_name, frame, frames)``; frame == frames at the end.
Progress = Callable[[int, int, str, int, int], None]


def _shift(box: Any, origin: float) -> List[float]:
    x, y, w, h = (float(v) for v in box)
    return [x + origin, y + origin, w, h]


def run_ope_sequence(tracker: Any, seq: Sequence, report: Optional[Callable[[int], None]] = None,
                     scores: Optional[List[float]] = None) -> Tuple[np.ndarray, List[float]]:
    """Initialise on frame 0 and track to the end (:func:`~dasiamrt.runtime.loop.track_frames`).

    Args:
        scores: when given, receives the tracker's score per frame (1.0 for the init frame; NaN when
            the tracker's result has no ``score``).

    Returns:
        ((T, 4) boxes in the annotation file's coordinates, frame 0 = the init box; per-frame seconds).
    """
    out = np.zeros((len(seq), 4))
    times: List[float] = []
    for step in track_frames(tracker, seq.iter_frames(), seq.init_xywh):
        out[step.index] = _shift(step.result.bbox_xywh, seq.origin)
        times.append(step.seconds)
        if scores is not None:
            scores.append(1.0 if step.index == 0 else float(getattr(step.result, "score", float("nan"))))
        if report is not None and step.index % 25 == 0:
            report(step.index)
    return out, times


def run_vot_sequence(tracker: Any, seq: Sequence, report: Optional[Callable[[int], None]] = None
                     ) -> Tuple[List[np.ndarray], List[float]]:
    """VOT baseline: re-initialise 5 frames after each failure (overlap with the ground truth == 0).

    Each segment, from an initialisation to a failure (or the end), is one
    :func:`~dasiamrt.runtime.loop.track_frames` run; the frames skipped after a failure are not read.

    Returns:
        (per frame a code array [1]/[2]/[0] or a (4,) box in the annotation's coordinates; seconds per frame).
    """
    polygons = seq.regions()
    trajectory: List[np.ndarray] = []
    times: List[float] = []
    start = 0
    while start < len(seq):
        box = polygon_to_xywh(polygons[start])
        init = (box[0] - seq.origin, box[1] - seq.origin, box[2], box[3])
        end, failed = _vot_segment(tracker, seq, start, init, polygons, trajectory, times, report)
        restart = end + VOT_SKIPPING if failed else len(seq)
        trajectory.extend(np.array([float(VOT_SKIP)]) for _ in range(min(restart, len(seq)) - end - 1))
        start = restart
    return trajectory, times


def _vot_segment(tracker: Any, seq: Sequence, start: int, init_xywh: Tuple[float, ...], polygons: Any,
                 trajectory: List[np.ndarray], times: List[float], report: Optional[Callable[[int], None]]
                 ) -> Tuple[int, bool]:
    """Track from ``start`` until a failure or the end; returns (the last frame processed, whether it failed)."""
    t, failed = start, False
    for step in track_frames(tracker, (seq.frame(i) for i in range(start, len(seq))), init_xywh):
        t = start + step.index
        if step.index == 0:
            trajectory.append(np.array([float(VOT_INIT)]))
        else:
            box = np.array(_shift(step.result.bbox_xywh, seq.origin))
            bound = (float(step.frame.shape[1]), float(step.frame.shape[0]))
            failed = not region_overlap(box, polygons[t], bound) > 0
            trajectory.append(np.array([float(VOT_FAILURE)]) if failed else box)
        times.append(step.seconds)
        if report is not None and t % 25 == 0:
            report(t)
        if failed:
            break
    return t, failed


def run_dataset(tracker: Any, dataset: Dataset, results_dir: Path, progress: Optional[Progress] = None
                ) -> List[str]:
    """Run ``tracker`` over every sequence lacking a result in ``results_dir``.

    Args:
        tracker: the tracker (re-initialised for each sequence).
        dataset: what to run on; ``dataset.kind`` picks one-pass or VOT baseline.
        results_dir: where result files go (pysot/got10k layouts, see ``results.py``).
        progress: optional callback (see :data:`Progress`).

    Returns:
        Names of the sequences run (skipped ones excluded).
    """
    results_dir = Path(results_dir)
    done: List[str] = []
    for index, seq in enumerate(dataset):
        path = rio.result_path(dataset.kind, results_dir, seq.name)
        if path.is_file():
            log.info("skipping %s: %s exists", seq.name, path)
            continue

        def report(t: int, _i: int = index, _s: Sequence = seq) -> None:
            if progress is not None:
                progress(_i, len(dataset), _s.name, t, len(_s))

        output, times, scores = run_sequence(tracker, dataset.kind, seq, report)
        write_sequence(dataset.kind, results_dir, seq.name, output, times, scores)
        report(len(seq))
        done.append(seq.name)
    return done


def run_sequence(tracker: Any, kind: str, seq: Sequence, report: Optional[Callable[[int], None]] = None
                 ) -> Tuple[Any, List[float], List[float]]:
    """One sequence under protocol ``kind`` ("vot": reset-based baseline; else one pass).

    Returns:
        (boxes (T, 4) or the VOT trajectory, per-frame seconds, per-frame scores (one-pass only, else
        empty)): what :func:`write_sequence` writes.
    """
    if kind == "vot":
        trajectory, times = run_vot_sequence(tracker, seq, report)
        return trajectory, times, []
    scores: List[float] = []
    boxes, times = run_ope_sequence(tracker, seq, report, scores)
    return boxes, times, scores


def write_sequence(kind: str, results_dir: Path, name: str, output: Any, times: List[float],
                   scores: Optional[List[float]] = None) -> Path:
    """Write one sequence's result (and times, and one-pass scores) in the layout of ``kind``; the result file last.

    Returns:
        The result file, whose presence marks the sequence done.
    """
    results_dir = Path(results_dir)
    path = rio.result_path(kind, results_dir, name)
    if kind == "vot":
        rio.write_times(path.parent / f"{name}_time.txt", times)
        return rio.write_vot(path, output)
    time_path = path.parent / f"{name}_time.txt" if kind == "got10k" else results_dir / "times" / f"{name}_time.txt"
    rio.write_times(time_path, times)
    if scores and kind != "got10k":  # a GOT-10k folder is the server submission: nothing beyond its files
        rio.write_scores(rio.scores_path(results_dir, name), scores)
    return rio.write_boxes(path, output)  # last: its presence marks the sequence done
