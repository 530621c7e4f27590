"""The one reader of a sequence folder: ``groundtruth.txt`` and its frames (GOT-10k, LaSOT, the real data).

Layout: ``<folder>/groundtruth.txt`` (one x, y, w, h line per frame, top-left, separated by commas, tabs
or spaces; a ``nan`` row = no box) with the frames beside it (GOT-10k, ``../shared/data/real``) or in
``img/`` (LaSOT), and the per-frame labels that are present:

    ``absence.label``        one 0/1 per line, 1 = target absent (GOT-10k)
    ``cover.label``          visible share 0..8 per line, 0 = absent (GOT-10k; kept in ``meta["cover"]``)
    ``full_occlusion.txt``   one comma-separated line of 0/1 (LaSOT)
    ``out_of_view.txt``      one comma-separated line of 0/1 (LaSOT)
    ``meta_info.ini``        ``key: value`` lines (GOT-10k: ``object_class``, ``resolution: (W, H)``)

Coordinates: ``Sequence.gt`` keeps the file's numbers; ``origin`` is 1.0 for LaSOT (its toolkit's boxes
are 1-based: the smallest x and y is 1, HengLan/LaSOT_Evaluation_Toolkit issue 14) and 0.0 for GOT-10k
and the real data, so ``gt - origin`` (x, y) is the 0-based box. Without a dataset named (training walks
any folder), the layout tells them apart: frames in ``img/`` = LaSOT. Evaluation (``got10k.py``,
``lasot.py``, ``real.py``) and training (``train.datasets.read_sequence_folders``) read sequence folders
only through :func:`read_sequence_folder`.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ...errors import DatasetError
from .base import Sequence, numbered_frames, read_flags, read_numbers

FRAME_EXT = (".jpg", ".jpeg", ".png")
#: per-frame flag files -> (attribute name, all values on one comma-separated line)
FLAG_FILES = {"absence.label": ("absent", False), "full_occlusion.txt": ("full_occlusion", True),
              "out_of_view.txt": ("out_of_view", True)}
LASOT_ORIGIN = 1.0
#: how frame and box counts must agree (see :func:`read_sequence_folder`)
LENGTHS = ("equal", "frames", "shorter")
_META = re.compile(r"^\s*([A-Za-z_]+)\s*:\s*(.*?)\s*$")


def frame_folder(folder: Path) -> Path:
    """Where the frames of a sequence folder are: ``img/`` (LaSOT) when present, else the folder itself."""
    return folder / "img" if (folder / "img").is_dir() else folder


def read_meta(path: Path) -> Dict[str, Any]:
    """``key: value`` lines of a GOT-10k ``meta_info.ini`` ({} without the file); ``resolution`` -> (W, H) floats.

    Raises:
        DatasetError: a ``resolution`` that is not a (W, H) pair (naming file and line).
    """
    meta: Dict[str, Any] = {}
    if not path.is_file():
        return meta
    for lineno, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        match = _META.match(line)
        if not match:
            continue
        key, value = match.groups()
        if key == "resolution":
            try:
                width, height = ast.literal_eval(value)
                meta["resolution"] = (float(width), float(height))
            except (ValueError, SyntaxError, TypeError):
                raise DatasetError(f"{path}:{lineno}: resolution must look like (1280, 720), got {value!r}") from None
        else:
            meta[key] = value
    return meta


def _listed_frames(images: Path) -> List[Path]:
    return sorted(p for p in images.iterdir() if p.suffix.lower() in FRAME_EXT) if images.is_dir() else []


def _flags(folder: Path, length: int, required: Tuple[str, ...]) -> Dict[str, np.ndarray]:
    """Attribute name -> (length,) bool of every flag file present (``required`` ones must be)."""
    flags = {}
    for file, (name, one_line) in FLAG_FILES.items():
        path = folder / file
        if path.is_file() or file in required:
            flags[name] = read_flags(path, length, one_line=one_line).astype(bool)
    return flags


def _absence(folder: Path, gt: np.ndarray, rows: int, flags: Dict[str, np.ndarray],
             meta: Dict[str, Any]) -> Tuple[Optional[np.ndarray], Dict[str, np.ndarray]]:
    """``absent`` (union of the flags, cover 0 and the file's nan rows; None when the folder says nothing)."""
    nan_rows = np.zeros(len(gt), dtype=bool)
    nan_rows[:rows] = np.isnan(gt[:rows]).any(axis=1)
    if (folder / "cover.label").is_file():
        meta["cover"] = read_flags(folder / "cover.label", len(gt))
        if "absent" in flags:
            flags["absent"] = flags["absent"] | (meta["cover"] == 0)
        else:
            nan_rows = nan_rows | (meta["cover"] == 0)
    if nan_rows.any() and "absent" not in flags:
        flags["absent"] = nan_rows
    if not flags:
        return None, flags
    absent = np.logical_or.reduce(list(flags.values()) + [nan_rows])
    return absent, flags


def read_sequence_folder(folder: Path, origin: Optional[float] = None, *, images: Optional[str] = None,
                         lengths: str = "equal", length: int = 0, required: Tuple[str, ...] = ()) -> Sequence:
    """Read one sequence folder into a :class:`Sequence` (name = the folder's name).

    Args:
        folder: holds ``groundtruth.txt``; frames beside it or in ``img/``.
        origin: 1.0 or 0.0; None: by layout (frames in ``img/``: LaSOT, 1.0; else 0.0).
        images: the frames' subfolder ("img" for LaSOT, "" for beside ``groundtruth.txt``); None: by
            layout (:func:`frame_folder`). A dataset reader names it, so frames that are not on disk
            (scoring only) still get their paths.
        lengths: how frame and box counts agree. "equal": they must (the real data); "frames" (GOT-10k,
            LaSOT): T = max(boxes, frames on disk, ``length``), NaN boxes after the given ones (GOT-10k's
            test split gives only the first), frames named ``00000001.jpg..`` whether or not they are on
            disk (results can be scored without frames); "shorter" (training): both cut to the shorter,
            only frames on disk.
        length: the least T for "frames".
        required: flag files (``FLAG_FILES``) that must exist (LaSOT's two).

    Returns:
        the sequence; ``absent`` = any flag, cover 0 or a nan row of the file (None when the folder has
        none of them); ``attributes`` = the flags by name ("absent", "full_occlusion", "out_of_view"),
        "absent" = nan rows when no ``absence.label``; ``meta`` = ``meta_info.ini`` (+ ``cover``).

    Raises:
        DatasetError: a missing or malformed ``groundtruth.txt`` or flag file, or counts that differ ("equal").
    """
    folder = Path(folder)
    if lengths not in LENGTHS:
        raise DatasetError(f"lengths must be one of {', '.join(LENGTHS)}, not {lengths!r}")
    gt = read_numbers(folder / "groundtruth.txt", widths=(4,))
    rows = len(gt)
    image_dir = frame_folder(folder) if images is None else folder / images
    listed = _listed_frames(image_dir)
    frames: List[Path]
    if lengths == "equal":
        if len(listed) != len(gt):
            raise DatasetError(f"{folder}: {len(listed)} frames but {len(gt)} boxes in groundtruth.txt: "
                               f"restore the sequence from the data set")
        frames = listed
    elif lengths == "frames":
        total = max(len(gt), len(listed), length)
        gt = np.vstack([gt, np.full((total - len(gt), 4), np.nan)]) if total > len(gt) else gt
        frames = numbered_frames(image_dir, 1, total, 8)
    else:
        frames = listed[: len(gt)]
    flags = _flags(folder, len(gt), required)
    meta = read_meta(folder / "meta_info.ini")
    absent, attributes = _absence(folder, gt, rows, flags, meta)
    if lengths == "shorter":
        n = len(frames)
        gt, absent = gt[:n], absent[:n] if absent is not None else None
        attributes = {k: v[:n] for k, v in attributes.items()}
    if origin is None:
        origin = LASOT_ORIGIN if image_dir != folder else 0.0
    return Sequence(name=folder.name, gt=gt, frames=frames, origin=origin,
                    absent=absent, attributes=attributes, meta=meta)


__all__ = ["FLAG_FILES", "FRAME_EXT", "LASOT_ORIGIN", "frame_folder", "read_meta",
           "read_sequence_folder"]
