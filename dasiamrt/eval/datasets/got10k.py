"""GOT-10k as distributed: ``<root>/<split>/list.txt`` and ``<root>/<split>/<GOT-10k_Val_000001>/``.

Per sequence: ``00000001.jpg ...``, ``groundtruth.txt`` (x, y, w, h comma separated, 0-based; the
test split gives only the first frame's box), ``absence.label`` (1 = target absent),
``cover.label`` (visible share in 0..8, 0 = absent), ``cut_by_image.label`` and ``meta_info.ini``
(its ``resolution: (W, H)`` bounds boxes in AO/SR).
"""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any, Dict

import numpy as np

from ...errors import DatasetError
from .base import Dataset, Sequence, numbered_frames, read_flags, read_numbers, require_dir

_META = re.compile(r"^\s*([A-Za-z_]+)\s*:\s*(.*?)\s*$")


def _meta(path: Path) -> Dict[str, Any]:
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


def read_sequence(folder: Path, length: int = 0) -> Sequence:
    """Read one GOT-10k sequence folder; ``length`` is needed when ``groundtruth.txt`` has one line (test)."""
    gt = read_numbers(folder / "groundtruth.txt", widths=(4,))
    frames = sorted(p for p in folder.glob("*.jpg"))
    total = max(len(gt), len(frames), length)
    if len(gt) < total:  # test split: boxes after the first are unknown
        gt = np.vstack([gt, np.full((total - len(gt), 4), np.nan)])
    has_labels = (folder / "absence.label").is_file()
    absence = read_flags(folder / "absence.label", total, missing_ok=True).astype(bool)
    cover = read_flags(folder / "cover.label", total, missing_ok=True)
    meta = _meta(folder / "meta_info.ini")
    if (folder / "cover.label").is_file():
        meta["cover"] = cover
        absence = absence | (cover == 0)
    attrs = {"absent": absence} if has_labels else {}
    return Sequence(name=folder.name, gt=gt, frames=numbered_frames(folder, 1, total, 8), origin=0.0,
                    absent=absence if has_labels else None, attributes=attrs, meta=meta)


def load(root: Path, split: str = "val") -> Dataset:
    """Read a GOT-10k split.

    Args:
        root: the GOT-10k folder (holding ``val/``, ``test/``) or the split folder itself.
        split: "val" or "test" (test has no ground truth beyond frame 1: it can be run, not scored).

    Raises:
        DatasetError: missing ``list.txt``, listed sequences missing, malformed files.
    """
    root = require_dir(Path(root), "GOT-10k folder")
    folder = root / split if (root / split / "list.txt").is_file() else root
    listing = folder / "list.txt"
    if not listing.is_file():
        raise DatasetError(f"{listing} is missing: pass the GOT-10k folder that holds {split}/list.txt")
    names = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
    sequences = []
    for lineno, name in enumerate(names, 1):
        if not (folder / name).is_dir():
            raise DatasetError(f"{listing}:{lineno}: sequence folder {folder / name} is missing")
        sequences.append(read_sequence(folder / name))
    if not sequences:
        raise DatasetError(f"{listing} lists no sequence")
    return Dataset(name=f"got10k-{split}", root=folder, sequences=sequences, kind="got10k")
