"""GOT-10k as distributed: ``<root>/<split>/list.txt`` and ``<root>/<split>/<GOT-10k_Val_000001>/``.

Per sequence: ``00000001.jpg ...``, ``groundtruth.txt`` (x, y, w, h comma separated, 0-based; the
test split gives only the first frame's box), ``absence.label`` (1 = target absent),
``cover.label`` (visible share in 0..8, 0 = absent), ``cut_by_image.label`` and ``meta_info.ini``
(its ``resolution: (W, H)`` bounds boxes in AO/SR).
"""
from __future__ import annotations

from pathlib import Path

from ...errors import DatasetError
from .base import Dataset, Sequence, require_dir
from .folder import read_sequence_folder


def read_sequence(folder: Path, length: int = 0) -> Sequence:
    """Read one GOT-10k sequence folder; ``length`` is needed when ``groundtruth.txt`` has one line (test)."""
    return read_sequence_folder(folder, origin=0.0, images="", lengths="frames", length=length)


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
