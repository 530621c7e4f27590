"""OTB-2013 / OTB-2015 (OTB100, TB-50) as distributed: ``<root>/<Seq>/img/0001.jpg`` + ``groundtruth_rect*.txt``.

Annotation files are 1-based (x, y, w, h), separated by commas, tabs or spaces. Sequences with
two targets ship ``groundtruth_rect.1.txt`` and ``groundtruth_rect.2.txt`` and become ``Jogging.1``,
``Jogging.2``, ``Skating2.1``, ``Skating2.2`` (an empty file, as Human4's ``.1``, is skipped).
Sequences whose annotation covers only part of the images use the frame ranges of the OTB
toolkit's ``configSeqs``; a file with one line per image of the whole range is cut to it, a file
with one line per frame of the range is used as is. Per-frame attribute files written by
``synthetic.write_otb_layout`` (``occluded.txt``, ...) are read when present.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from ...errors import DatasetError
from .base import Dataset, Sequence, numbered_frames, read_flags, read_numbers, require_dir

#: (first, last) 1-based frame of the sequences that do not use all their images (OTB toolkit).
FRAME_RANGES: Dict[str, Tuple[int, int]] = {
    "David": (300, 770), "Football1": (1, 74), "Freeman3": (1, 460), "Freeman4": (1, 283),
    "Diving": (1, 215), "Tiger1": (6, 354), "BlurCar1": (247, 988), "BlurCar3": (3, 359),
    "BlurCar4": (18, 397),
}
#: Digits of the image names where they are not 4.
NAME_DIGITS: Dict[str, int] = {"Board": 5}

OTB2013 = (
    "Basketball Bolt Boy Car4 CarDark CarScale Coke Couple Crossing David David2 David3 Deer Dog1 Doll Dudek "
    "FaceOcc1 FaceOcc2 Fish FleetFace Football Football1 Freeman1 Freeman3 Freeman4 Girl Ironman Jogging "
    "Jumping Lemming Liquor Matrix Mhyang MotorRolling MountainBike Shaking Singer1 Singer2 Skating1 Skiing "
    "Soccer Subway Suv Sylvester Tiger1 Tiger2 Trellis Walking Walking2 Woman").split()
TB50 = (
    "Basketball Biker Bird1 BlurBody BlurCar2 BlurFace BlurOwl Bolt Box Car1 Car4 CarDark CarScale ClifBar "
    "Couple Crowds David Deer Diving DragonBaby Dudek Football Freeman4 Girl Human3 Human4 Human6 Human9 "
    "Ironman Jump Jumping Liquor Matrix MotorRolling Panda RedTeam Shaking Singer2 Skating1 Skating2 Skiing "
    "Soccer Surfer Sylvester Tiger2 Trellis Walking Walking2 Woman").split()
OTB2015 = sorted(set(TB50) | set(
    "Bird2 BlurCar1 BlurCar3 BlurCar4 Board Bolt2 Boy Car2 Car24 Coke Coupon Crossing Dancer Dancer2 David2 "
    "David3 Dog Dog1 Doll FaceOcc1 FaceOcc2 Fish FleetFace Football1 Freeman1 Freeman3 Girl2 Gym Human2 Human5 "
    "Human7 Human8 Jogging KiteSurf Lemming Man Mhyang MountainBike Rubik Singer1 Skater Skater2 Subway Suv "
    "Tiger1 Toy Trans Twinnings Vase".split()))
#: Per-frame attribute files (one comma-separated line of 0/1), as ``synthetic.write_otb_layout`` writes them.
ATTRIBUTE_FILES = ("full_occlusion", "out_of_view", "occluded", "distractor_near", "reappeared")
VERSIONS = {"otb2013": OTB2013, "otb2015": OTB2015, "otb100": OTB2015, "tb50": TB50, "otb": None}

_GT = re.compile(r"^groundtruth_rect(?:\.(\d+))?\.txt$", re.IGNORECASE)


def _annotation_files(folder: Path) -> List[Tuple[Optional[str], Path]]:
    found = []
    for path in sorted(folder.iterdir()):
        match = _GT.match(path.name)
        if match and path.stat().st_size > 0 and path.read_text(errors="replace").strip():
            found.append((match.group(1), path))
    return found


def _frames(folder: Path, name: str, first: int, last: int) -> List[Path]:
    img = folder / "img"
    digits = NAME_DIGITS.get(name, 4)
    if img.is_dir():
        by_number = {int(p.stem): p for p in img.iterdir() if p.stem.isdigit()}
        if by_number:
            digits = len(next(iter(by_number.values())).stem)
            return [by_number.get(n, img / f"{n:0{digits}d}.jpg") for n in range(first, last + 1)]
    return numbered_frames(img, first, last, digits)


def read_sequence(folder: Path, name: str, gt_path: Path) -> Sequence:
    """Read one OTB target (``name`` may carry a ``.1``/``.2`` suffix for two-target sequences)."""
    base = name.split(".")[0]
    gt = read_numbers(gt_path, widths=(4,))
    first, last = FRAME_RANGES.get(base, (1, len(gt)))
    span = last - first + 1
    if len(gt) == last and span != last:  # annotated from frame 1: keep the toolkit's range
        gt = gt[first - 1:last]
    elif len(gt) != span:
        raise DatasetError(f"{gt_path}: {len(gt)} boxes but the OTB range of {base} is frames {first}-{last} "
                           f"({span}): the file belongs to another version of the sequence")
    attrs = {key: read_flags(folder / f"{key}.txt", len(gt), one_line=True).astype(bool)
             for key in ATTRIBUTE_FILES if (folder / f"{key}.txt").is_file()}
    return Sequence(name=name, gt=gt, frames=_frames(folder, base, first, last), origin=1.0, attributes=attrs,
                    meta={"first_frame": first})


def load(root: Path, version: str = "otb") -> Dataset:
    """Read an OTB folder.

    Args:
        root: folder holding one folder per sequence.
        version: "otb2013", "otb2015"/"otb100", "tb50" (only those sequences, all must be present),
            or "otb" (every sequence folder found).

    Raises:
        DatasetError: root missing, a listed sequence missing, or a malformed annotation.
    """
    root = require_dir(Path(root), "OTB folder")
    names = VERSIONS[version]
    if names is None:
        folders = sorted(p for p in root.iterdir() if p.is_dir() and _annotation_files(p))
    else:
        folders = [root / n for n in names]
        missing = [f.name for f in folders if not f.is_dir()]
        if missing:
            raise DatasetError(f"{len(missing)} {version} sequence folder(s) missing in {root}, e.g. {missing[0]}: "
                               f"download them or use --dataset otb for the folders present")
    sequences = []
    for folder in folders:
        files = _annotation_files(folder)
        if not files:
            raise DatasetError(f"no groundtruth_rect.txt in {folder}: re-download the sequence")
        for index, path in files:
            name = folder.name if len(files) == 1 or index is None else f"{folder.name}.{index}"
            sequences.append(read_sequence(folder, name, path))
    if not sequences:
        raise DatasetError(f"no OTB sequence (a folder with groundtruth_rect.txt) in {root}")
    return Dataset(name=version, root=root, sequences=sequences, kind="ope")
