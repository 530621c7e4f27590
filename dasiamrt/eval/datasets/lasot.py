"""LaSOT as distributed: ``<root>/<category>/<category>-<n>/`` with ``img/00000001.jpg``, ``groundtruth.txt``.

Annotations are 1-based (x, y, w, h), comma separated. ``full_occlusion.txt`` and ``out_of_view.txt``
hold one comma-separated line of 0/1 flags; a frame with either flag is ``absent`` (the LaSOT
toolkit's ``absent`` files are the same union). The test split (Protocol II, 280 sequences) is
``testing_set.txt`` of the LaSOT toolkit (one name per line), looked for in ``root``; without it
every sequence found is read (a download of the test set alone holds exactly those).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import List, Optional

from ...errors import DatasetError
from .base import Dataset, Sequence, require_dir
from .folder import LASOT_ORIGIN, read_sequence_folder

log = logging.getLogger(__name__)


def read_sequence(folder: Path) -> Sequence:
    """Read one LaSOT sequence folder (``<category>-<n>``): 1-based boxes, both flag files required."""
    return read_sequence_folder(folder, origin=LASOT_ORIGIN, images="img", lengths="frames",
                                required=("full_occlusion.txt", "out_of_view.txt"))


def _split(root: Path) -> Optional[List[str]]:
    for candidate in (root / "testing_set.txt", root.parent / "testing_set.txt"):
        if candidate.is_file():
            names = [line.strip() for line in candidate.read_text().splitlines() if line.strip()]
            if not names:
                raise DatasetError(f"{candidate} is empty: copy testing_set.txt from the LaSOT toolkit")
            return names
    return None


def load(root: Path, split: str = "test") -> Dataset:
    """Read LaSOT.

    Args:
        root: the folder holding the category folders.
        split: "test" (the names of ``testing_set.txt`` when present, else all found) or "all".

    Raises:
        DatasetError: a listed sequence missing, or malformed files.
    """
    root = require_dir(Path(root), "LaSOT folder")
    names = _split(root) if split == "test" else None
    if names is None:
        if split == "test":
            log.info("no testing_set.txt in %s: reading every LaSOT sequence found", root)
        folders = sorted(p for c in root.iterdir() if c.is_dir() for p in c.iterdir()
                         if p.is_dir() and (p / "groundtruth.txt").is_file())
    else:
        folders = [root / n.rsplit("-", 1)[0] / n for n in names]
        missing = [f for f in folders if not f.is_dir()]
        if missing:
            raise DatasetError(f"{len(missing)} LaSOT test sequence(s) missing, e.g. {missing[0]}: "
                               f"download them or remove testing_set.txt to use what is there")
    if not folders:
        raise DatasetError(f"no LaSOT sequence (<category>/<category>-<n>/groundtruth.txt) in {root}")
    return Dataset(name="lasot", root=root, sequences=[read_sequence(f) for f in folders], kind="ope")
