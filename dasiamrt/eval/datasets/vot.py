"""VOT2016-2019 short-term as distributed by the VOT toolkit.

Layout: ``<root>/list.txt`` (one sequence per line); per sequence ``groundtruth.txt`` with a
4-number box or an 8-number polygon per line (0-based pixels), images ``00000001.jpg ...`` in the
sequence folder or in its ``color/`` subfolder (2019), and per-frame attribute files
``<name>.tag`` (2017+) or ``<name>.label`` (2016), one 0/1 per line; files with fewer lines than
frames are padded with 0 (the toolkit drops trailing zeros), an empty file means all zeros.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict

import numpy as np

from ...errors import DatasetError
from .base import Dataset, Sequence, numbered_frames, read_flags, read_numbers, require_dir

#: The five per-frame visual attributes of VOT (``illum_change`` is VOT's spelling).
VOT_ATTRIBUTES = ("camera_motion", "illum_change", "motion_change", "size_change", "occlusion")


def _attributes(folder: Path, length: int) -> Dict[str, np.ndarray]:
    attrs: Dict[str, np.ndarray] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix in (".tag", ".label") and path.is_file():
            attrs[path.stem] = read_flags(path, length).astype(bool)
    if attrs:
        present = np.zeros(length, dtype=bool)
        for key in VOT_ATTRIBUTES:
            if key in attrs:
                present |= attrs[key]
        attrs.setdefault("empty", ~present)  # VOT's "no degradation" frames
    return attrs


def read_sequence(folder: Path) -> Sequence:
    """Read one VOT sequence folder."""
    raw = read_numbers(folder / "groundtruth.txt", widths=(4, 8), allow_nan=False)
    if raw.shape[1] == 4:
        x, y, w, h = raw.T
        polygons = np.stack([x, y, x + w, y, x + w, y + h, x, y + h], axis=1)
    else:
        polygons = raw
    xs, ys = polygons[:, 0::2], polygons[:, 1::2]
    gt = np.stack([xs.min(1), ys.min(1), xs.max(1) - xs.min(1), ys.max(1) - ys.min(1)], axis=1)
    img_dir = folder / "color" if (folder / "color").is_dir() else folder
    return Sequence(name=folder.name, gt=gt, frames=numbered_frames(img_dir, 1, len(raw), 8), origin=0.0,
                    polygons=polygons, attributes=_attributes(folder, len(raw)))


def load(root: Path, edition: int) -> Dataset:
    """Read a VOT short-term dataset folder (the one with ``list.txt``).

    Args:
        root: the dataset folder.
        edition: 2016, 2017, 2018 or 2019 (selects the EAO interval).

    Raises:
        DatasetError: missing ``list.txt``, a listed sequence missing, or a malformed file.
    """
    root = require_dir(Path(root), f"VOT{edition} folder")
    listing = root / "list.txt"
    if not listing.is_file():
        raise DatasetError(f"{listing} is missing: pass the VOT{edition} folder that holds list.txt")
    names = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
    if not names:
        raise DatasetError(f"{listing} lists no sequence: re-download VOT{edition}")
    sequences = []
    for lineno, name in enumerate(names, 1):
        folder = root / name
        if not folder.is_dir():
            raise DatasetError(f"{listing}:{lineno}: sequence folder {folder} is missing")
        sequences.append(read_sequence(folder))
    return Dataset(name=f"vot{edition}", root=root, sequences=sequences, kind="vot", edition=edition)
