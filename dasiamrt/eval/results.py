"""Result files in the layouts other toolkits read and write (pysot-toolkit, got10k).

* One-pass (OTB, UAV, LaSOT, synthetic): ``<dir>/<sequence>.txt``, one ``x,y,w,h`` line per frame in
  the annotation file's coordinates (1-based for OTB/UAV/LaSOT), optional ``<dir>/times/<sequence>_time.txt``.
* GOT-10k: ``<dir>/<sequence>/<sequence>_001.txt`` (+ ``_002`` ... for repetitions) and
  ``<dir>/<sequence>/<sequence>_time.txt``.
* VOT baseline: ``<dir>/baseline/<sequence>/<sequence>_001.txt``, one line per frame: ``1`` (initialised),
  ``2`` (failure), ``0`` (skipped), or a region of 4 or 8 numbers.

Readers also accept the other layouts' locations, so a folder from either toolkit scores.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, List, Optional, Sequence

import numpy as np

from ..errors import DatasetError
from ..fileio import atomic_write_text, safe_name
from .datasets.base import read_numbers


def _name(name: str) -> str:
    """A sequence name that is safe as one path component (the dataset readers check it already)."""
    return safe_name(name, "sequence name", DatasetError)


def ope_path(results_dir: Path, name: str) -> Path:
    return Path(results_dir) / f"{_name(name)}.txt"


def got10k_path(results_dir: Path, name: str, run: int = 1) -> Path:
    return Path(results_dir) / _name(name) / f"{name}_{run:03d}.txt"


def vot_path(results_dir: Path, name: str, run: int = 1) -> Path:
    return Path(results_dir) / "baseline" / _name(name) / f"{name}_{run:03d}.txt"


def result_path(kind: str, results_dir: Path, name: str) -> Path:
    """Where a run of protocol ``kind`` ("ope", "got10k", "vot") writes sequence ``name``."""
    return {"ope": ope_path, "got10k": got10k_path, "vot": vot_path}[kind](results_dir, name)


def _fmt(values: Iterable[float]) -> str:
    return ",".join("NaN" if not np.isfinite(v) else f"{v:.4f}" for v in values)


def write_boxes(path: Path, boxes_xywh: np.ndarray) -> Path:
    """Write (T, 4) boxes as comma-separated lines, atomically."""
    return atomic_write_text(path, "\n".join(_fmt(row) for row in np.asarray(boxes_xywh)) + "\n")


def write_times(path: Path, seconds: Sequence[float]) -> Path:
    """Write per-frame tracking times in seconds, one per line, atomically."""
    return atomic_write_text(path, "\n".join(f"{s:.6f}" for s in seconds) + "\n")


def write_vot(path: Path, trajectory: Sequence[np.ndarray]) -> Path:
    """Write a VOT trajectory (codes as integers, regions as numbers), atomically."""
    lines = [str(int(r[0])) if len(r) == 1 else _fmt(r) for r in trajectory]
    return atomic_write_text(path, "\n".join(lines) + "\n")


def read_ope(results_dir: Path, name: str, length: int) -> np.ndarray:
    """Read one sequence's boxes from ``<dir>/<name>.txt`` (or the GOT-10k layout's first run).

    Raises:
        DatasetError: no file, a malformed line, or a frame count other than ``length``.
    """
    candidates = [ope_path(results_dir, name), got10k_path(results_dir, name)]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise DatasetError(f"no result for sequence {name} in {results_dir} (expected {candidates[0].name})")
    boxes = read_numbers(path, widths=(4,))
    if len(boxes) != length:
        raise DatasetError(f"{path}: {len(boxes)} boxes for {length} frames: the results belong to another version "
                           f"of {name}")
    return boxes


def read_got10k_runs(results_dir: Path, name: str, length: int) -> List[np.ndarray]:
    """All repetitions ``<dir>/<name>/<name>_NNN.txt`` (or ``<dir>/<name>.txt``) of one sequence."""
    folder = Path(results_dir) / name
    paths = sorted(p for p in folder.glob(f"{name}_[0-9][0-9][0-9].txt")) if folder.is_dir() else []
    if not paths:
        return [read_ope(results_dir, name, length)]
    runs = [read_numbers(p, widths=(4,)) for p in paths]
    for path, run in zip(paths, runs):
        if len(run) != length:
            raise DatasetError(f"{path}: {len(run)} boxes for {length} frames of {name}")
    return runs


def read_vot(results_dir: Path, name: str, length: int) -> List[np.ndarray]:
    """One VOT baseline trajectory (pysot layout, or ``<dir>/<name>/<name>_001.txt``).

    Raises:
        DatasetError: missing file, malformed line, or wrong frame count.
    """
    candidates = [vot_path(results_dir, name), Path(results_dir) / name / f"{name}_001.txt"]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise DatasetError(f"no VOT result for sequence {name} in {results_dir} (expected {candidates[0]})")
    trajectory: List[np.ndarray] = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            values = np.array([float(v) for v in line.replace("\t", ",").replace(" ", ",").split(",") if v])
        except ValueError:
            raise DatasetError(f"{path}:{lineno}: expected a code or a region, got {line[:60]!r}") from None
        if len(values) not in (1, 4, 8):
            raise DatasetError(f"{path}:{lineno}: expected 1, 4 or 8 numbers, got {len(values)}")
        trajectory.append(values)
    if len(trajectory) != length:
        raise DatasetError(f"{path}: {len(trajectory)} lines for {length} frames of {name}")
    return trajectory


def read_times(results_dir: Path, name: str) -> Optional[np.ndarray]:
    """Per-frame times in seconds if a times file exists (pysot/got10k layouts), else None."""
    for path in (Path(results_dir) / "times" / f"{name}_time.txt", Path(results_dir) / name / f"{name}_time.txt",
                 Path(results_dir) / "baseline" / name / f"{name}_time.txt"):
        if path.is_file():
            values = read_numbers(path, widths=(1,), allow_empty=True)[:, 0]
            return values[np.isfinite(values) & (values > 0)]
    return None


def has_result(kind: str, results_dir: Path, name: str) -> bool:
    """True when the result file of a sequence exists (runs skip such sequences)."""
    return result_path(kind, results_dir, name).is_file()


def scores_path(results_dir: Path, name: str) -> Path:
    """Where a one-pass run keeps the tracker's per-frame scores: ``<results>/scores/<name>_score.txt``."""
    return Path(results_dir) / "scores" / f"{name}_score.txt"


def write_scores(path: Path, scores: Sequence[float]) -> Path:
    """Write per-frame tracker scores, one per line (NaN where unknown), atomically."""
    return atomic_write_text(path, "\n".join(_fmt([s]) for s in scores) + "\n")


def read_scores(results_dir: Path, name: str, length: int) -> Optional[np.ndarray]:
    """Per-frame scores of a one-pass run if its scores file exists and has one line per frame, else None."""
    path = scores_path(results_dir, name)
    if not path.is_file():
        return None
    values = read_numbers(path, widths=(1,), allow_empty=True)[:, 0]
    return values if len(values) == length else None
