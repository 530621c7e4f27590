"""UAV123 and UAV20L as distributed: ``<root>/anno/UAV123/<name>.txt`` and ``<root>/data_seq/UAV123/<folder>/``.

Annotation lines are 1-based (x, y, w, h), comma separated, with ``NaN,NaN,NaN,NaN`` where the target
is out of view (those frames are marked ``absent``). Several UAV123 sequences are sub-sequences of
one image folder (``bird1_1`` .. ``bird1_3`` in ``data_seq/UAV123/bird1``) with the frame ranges of
the UAV123 toolkit's ``configSeqs``; UAV20L's 20 long sequences use whole folders. Sequence-level
attributes come from ``anno/<set>/att/<name>.txt`` when present (12 flags, toolkit order).
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Tuple

import numpy as np

from ...errors import DatasetError
from .base import Dataset, Sequence, numbered_frames, read_numbers, require_dir

#: (first, last) 1-based frames of the UAV123 sub-sequences in their shared image folder.
SUBSEQUENCES: Dict[str, Tuple[int, int]] = {
    "bird1_1": (1, 253), "bird1_2": (775, 1477), "bird1_3": (1573, 2437), "car1_1": (1, 751),
    "car1_2": (751, 1627), "car1_3": (1627, 2629), "car16_1": (1, 415), "car16_2": (415, 1993),
    "car6_1": (1, 487), "car6_2": (487, 1807), "car6_3": (1807, 2953), "car6_4": (2953, 3925),
    "car6_5": (3925, 4861), "car8_1": (1, 1357), "car8_2": (1357, 2575), "group1_1": (1, 1333),
    "group1_2": (1333, 2515), "group1_3": (2515, 3925), "group1_4": (3925, 4873), "group2_1": (1, 907),
    "group2_2": (907, 1771), "group2_3": (1771, 2683), "group3_1": (1, 1567), "group3_2": (1567, 2827),
    "group3_3": (2827, 4369), "group3_4": (4369, 5527), "person12_1": (1, 601), "person12_2": (601, 1621),
    "person14_1": (1, 847), "person14_2": (847, 1813), "person14_3": (1813, 2923), "person17_1": (1, 1501),
    "person17_2": (1501, 2347), "person19_1": (1, 1243), "person19_2": (1243, 2791),
    "person19_3": (2791, 4357), "person2_1": (1, 1189), "person2_2": (1189, 2623), "person4_1": (1, 1501),
    "person4_2": (1501, 2743), "person5_1": (1, 877), "person5_2": (877, 2101), "person7_1": (1, 1249),
    "person7_2": (1249, 2065), "person8_1": (1, 1075), "person8_2": (1075, 1525), "truck4_1": (1, 577),
    "truck4_2": (577, 1261), "uav1_1": (1, 1555), "uav1_2": (1555, 2377), "uav1_3": (2473, 3469)
}
#: Order of the 12 flags of the ``att`` files.
ATTRIBUTES = ("SV", "ARC", "LR", "FM", "FOC", "POC", "OV", "BC", "IV", "VC", "CM", "SOB")


def _tags(path: Path) -> Tuple[str, ...]:
    if not path.is_file():
        return ()
    flags = read_numbers(path, widths=(len(ATTRIBUTES),), allow_nan=False)[0]
    return tuple(name for name, flag in zip(ATTRIBUTES, flags) if flag)


def read_sequence(root: Path, subset: str, name: str) -> Sequence:
    """Read one sequence of ``subset`` ("UAV123" or "UAV20L") from the dataset ``root``."""
    anno = root / "anno" / subset / f"{name}.txt"
    gt = read_numbers(anno, widths=(4,))
    folder_name, (first, last) = name, (1, len(gt))
    if subset == "UAV123" and name in SUBSEQUENCES:
        folder_name, (first, last) = name.rsplit("_", 1)[0], SUBSEQUENCES[name]
    if len(gt) != last - first + 1:
        raise DatasetError(f"{anno}: {len(gt)} boxes for frames {first}-{last} of {folder_name}: "
                           f"the annotation belongs to another release of {subset}")
    frames = numbered_frames(root / "data_seq" / "UAV123" / folder_name, first, last, 6)
    absent = np.isnan(gt).any(axis=1)
    return Sequence(name=name, gt=gt, frames=frames, origin=1.0, absent=absent,
                    attributes={"out_of_view": absent.copy()}, tags=_tags(root / "anno" / subset / "att" / anno.name),
                    meta={"first_frame": first})


def load(root: Path, subset: str = "UAV123") -> Dataset:
    """Read UAV123 or UAV20L.

    Args:
        root: the folder holding ``anno/`` and ``data_seq/``.
        subset: "UAV123" or "UAV20L".

    Raises:
        DatasetError: missing folders or malformed annotations.
    """
    root = require_dir(Path(root), "UAV123 folder")
    anno_dir = root / "anno" / subset
    if not anno_dir.is_dir():
        raise DatasetError(f"{anno_dir} is missing: pass the UAV123 folder that holds anno/ and data_seq/")
    names = sorted(p.stem for p in anno_dir.glob("*.txt"))
    if not names:
        raise DatasetError(f"no annotation file in {anno_dir}: re-download {subset}")
    sequences = [read_sequence(root, subset, name) for name in names]
    return Dataset(name=subset.lower(), root=root, sequences=sequences, kind="ope")
