"""pysot-toolkit JSON annotation files (``OTB100.json``, ``UAV123.json``, ``VOT2018.json``, ``LaSOT.json``, ...).

One object per sequence: ``{"video_dir", "init_rect", "img_names" (relative to the dataset root),
"gt_rect" (4-number boxes or 8-number VOT polygons), "attr" (sequence tags), and optionally
per-frame VOT tag lists ("camera_motion", ...) or LaSOT's "absent" list}``. pysot keeps the frames
whose "absent" value is 1, so that list marks *visible* frames; it is read that way.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np

from ...errors import DatasetError
from ...fileio import confine, safe_name
from .base import Dataset, Sequence, require_dir
from .vot import VOT_ATTRIBUTES


def _sequence(root: Path, name: str, entry: Dict[str, Any], path: Path) -> Sequence:
    safe_name(name, f"{path}: sequence name", DatasetError)  # it becomes result file names
    try:
        gt = np.asarray(entry["gt_rect"], dtype=np.float64)
        frames = [confine(root, p, f"{path}: sequence {name!r} image", DatasetError) for p in entry["img_names"]]
    except (KeyError, TypeError, ValueError) as err:
        raise DatasetError(f"{path}: sequence {name!r} lacks a valid 'gt_rect'/'img_names' ({err})") from None
    if gt.ndim != 2 or gt.shape[1] not in (4, 8) or len(gt) != len(frames):
        raise DatasetError(f"{path}: sequence {name!r} has gt_rect of shape {gt.shape} for {len(frames)} images")
    polygons = None
    if gt.shape[1] == 8:
        polygons = gt
        xs, ys = gt[:, 0::2], gt[:, 1::2]
        gt = np.stack([xs.min(1), ys.min(1), xs.max(1) - xs.min(1), ys.max(1) - ys.min(1)], axis=1)
    attrs = {key: np.asarray(entry[key], dtype=bool) for key in VOT_ATTRIBUTES
             if isinstance(entry.get(key), list) and len(entry[key]) == len(gt)}
    absent: Optional[np.ndarray] = None
    if isinstance(entry.get("absent"), list) and len(entry["absent"]) == len(gt):
        absent = np.asarray(entry["absent"]) == 0
    return Sequence(name=name, gt=gt, frames=frames, origin=0.0 if polygons is not None else 1.0,
                    polygons=polygons, absent=absent, attributes=attrs, tags=tuple(entry.get("attr") or ()))


def load(json_path: Path, root: Optional[Path] = None) -> Dataset:
    """Read a pysot JSON file.

    Args:
        json_path: the JSON file.
        root: folder the image names are relative to (default: the JSON file's folder).

    Raises:
        DatasetError: unreadable JSON or malformed entries.
    """
    json_path = Path(json_path)
    try:
        data = json.loads(json_path.read_text())
    except OSError:
        raise DatasetError(f"annotation file {json_path} is missing or unreadable") from None
    except json.JSONDecodeError as err:
        raise DatasetError(f"{json_path}:{err.lineno}: invalid JSON ({err.msg})") from None
    if not isinstance(data, dict) or not data:
        raise DatasetError(f"{json_path}: expected an object of sequences, as the pysot-toolkit files")
    root = require_dir(Path(root) if root is not None else json_path.parent, "dataset folder")
    sequences = [_sequence(root, name, entry, json_path) for name, entry in data.items()]
    is_vot = all(s.polygons is not None for s in sequences)
    year = re.search(r"(20\d\d)", json_path.stem)
    edition = int(year.group(1)) if is_vot and year else (2018 if is_vot else None)
    return Dataset(name=json_path.stem.lower(), root=root, sequences=sequences, kind="vot" if is_vot else "ope",
                   edition=edition)
