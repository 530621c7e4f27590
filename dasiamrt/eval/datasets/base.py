"""Common types of the dataset readers: :class:`Sequence`, :class:`Dataset` and checked text parsing.

Coordinates: ``gt`` keeps the numbers of the annotation file (x, y, w, h, top-left); ``origin`` says
whether the file is 1-based (OTB, UAV123, LaSOT: MATLAB-era toolkits) or 0-based (VOT, GOT-10k,
synthetic). :attr:`Sequence.init_xywh` subtracts ``origin`` to give the 0-based box a
``Tracker`` expects, and result files are written back in the file's own frame (``+ origin``), so
result files from other toolkits and ours compare to the same annotation numbers.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union
from typing import Sequence as SequenceT

import numpy as np

from ...errors import DatasetError
from ...fileio import safe_name

log = logging.getLogger(__name__)
_SPLIT = re.compile(r"[,\t ]+")


@dataclass
class Sequence:
    """One annotated video of a benchmark.

    Attributes:
        name: unique name in its dataset (e.g. "Jogging.1", "bird1_2", "airplane-1").
        gt: (T, 4) float64 boxes (x, y, w, h) as in the annotation file; NaN rows where the file
            has no box (UAV123 out of view, GOT-10k test frames after the first).
        frames: T image paths (may not exist when only scoring), or in-memory frames (synthetic).
        origin: 1.0 for 1-based files, 0.0 for 0-based.
        polygons: (T, 8) float64 VOT regions (axis-aligned boxes become 4-point polygons), or None.
        absent: (T,) bool, frames where the dataset says the target is not visible (UAV NaN rows,
            LaSOT full occlusion or out of view, GOT-10k absence, synthetic out of view).
        attributes: per-frame (T,) bool arrays by name (VOT tags, LaSOT/GOT-10k labels, ...).
        tags: sequence-level attributes (OTB "IV", "OCC", ... from a pysot JSON file).
        meta: anything else from the dataset (GOT-10k resolution, cover levels, ...).
    """

    name: str
    gt: np.ndarray
    frames: SequenceT[Any]
    origin: float = 0.0
    polygons: Optional[np.ndarray] = None
    absent: Optional[np.ndarray] = None
    attributes: Dict[str, np.ndarray] = field(default_factory=dict)
    tags: Tuple[str, ...] = ()
    meta: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # the name becomes result paths (<out>/results/<tracker>/<name>.txt): never a path of its own
        safe_name(self.name, "sequence name", DatasetError)

    def __len__(self) -> int:
        return len(self.gt)

    @property
    def init_xywh(self) -> Tuple[float, float, float, float]:
        """The first frame's box, 0-based (x, y, w, h): what ``tracker.init`` takes.

        For VOT polygons this is the area-preserving axis-aligned box of the official
        DaSiamRPN/pysot VOT code.
        """
        if self.polygons is not None:
            from ..boxes import polygon_to_xywh

            box = polygon_to_xywh(self.polygons[0])
        else:
            box = self.gt[0]
        if np.isnan(box).any():
            raise DatasetError(f"sequence {self.name} has no box in its first frame: it cannot be initialised")
        return (float(box[0] - self.origin), float(box[1] - self.origin), float(box[2]), float(box[3]))

    def gt_xywh(self) -> np.ndarray:
        """(T, 4) float64 0-based boxes (x, y, w, h): the origin comes off x and y only; NaN rows stay NaN."""
        boxes = np.array(self.gt, dtype=np.float64)
        boxes[:, :2] -= self.origin
        return boxes

    def regions(self) -> np.ndarray:
        """(T, 8) VOT regions: the polygons, or the boxes as 4-corner polygons."""
        if self.polygons is not None:
            return self.polygons
        x, y, w, h = self.gt.T
        return np.stack([x, y, x + w, y, x + w, y + h, x, y + h], axis=1)

    def frame(self, t: int) -> np.ndarray:
        """Frame ``t`` as (H, W, 3) uint8 BGR.

        Raises:
            DatasetError: the image file is missing or cannot be decoded.
        """
        item = self.frames[t]
        if isinstance(item, np.ndarray):
            return item
        import cv2

        from ...videoio.frames import image_problem

        problem = image_problem(Path(item)) if Path(item).is_file() else None
        if problem:
            raise DatasetError(f"frame {t + 1} of {self.name}: {item} {problem}: re-download the sequence")
        image = cv2.imread(str(item), cv2.IMREAD_COLOR)
        if image is None:
            raise DatasetError(f"cannot read frame {t + 1} of {self.name}: {item} is missing or not an image")
        return image

    def iter_frames(self) -> Iterator[np.ndarray]:
        """Frames in order (rendered or read one at a time)."""
        if not isinstance(self.frames, list):  # lazy synthetic frames iterate faster
            yield from self.frames
            return
        for t in range(len(self.frames)):
            yield self.frame(t)


@dataclass
class Dataset:
    """A named list of sequences, each addressable by name.

    Attributes:
        name: registry name ("otb2015", "vot2018", ...).
        root: the folder it was read from (None for synthetic sets).
        sequences: in the dataset's order.
        kind: the evaluation protocol that suits it: "ope" (OTB/UAV/LaSOT), "got10k" or "vot".
        edition: VOT year for the EAO interval (2016..2019), else None.
    """

    name: str
    root: Optional[Path]
    sequences: List[Sequence]
    kind: str = "ope"
    edition: Optional[int] = None

    def __len__(self) -> int:
        return len(self.sequences)

    def __iter__(self) -> Iterator[Sequence]:
        return iter(self.sequences)

    def __getitem__(self, key: Union[int, str]) -> Sequence:
        if isinstance(key, int):
            return self.sequences[key]
        for seq in self.sequences:
            if seq.name == key:
                return seq
        raise DatasetError(f"no sequence named {key!r} in {self.name}: names look like {self.sequences[0].name!r}")


def read_numbers(path: Path, widths: SequenceT[int] = (4,), allow_nan: bool = True,
                 allow_empty: bool = False) -> np.ndarray:
    """Read a table of numbers, one row per line, separated by commas, tabs or spaces.

    Args:
        path: the text file.
        widths: accepted numbers per line (e.g. (4, 8) for VOT); every line must have the same count.
        allow_nan: accept "NaN"/"nan" entries.
        allow_empty: return a (0, widths[0]) array for an empty file instead of raising.

    Returns:
        (N, width) float64.

    Raises:
        DatasetError: the file is missing, or a line is malformed (the message names file and line).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        raise DatasetError(f"annotation file {path} is missing or unreadable: check the dataset root") from None
    rows: List[List[float]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        parts = [p for p in _SPLIT.split(line) if p]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise DatasetError(f"{path}:{lineno}: expected numbers, got {line[:60]!r}") from None
        if len(values) not in widths or (rows and len(values) != len(rows[0])):
            want = len(rows[0]) if rows else " or ".join(str(w) for w in widths)
            raise DatasetError(f"{path}:{lineno}: expected {want} numbers per line, got {len(values)}")
        if not allow_nan and any(np.isnan(values)):
            raise DatasetError(f"{path}:{lineno}: NaN is not allowed in this file")
        rows.append(values)
    if not rows:
        if allow_empty:
            return np.zeros((0, widths[0]))
        raise DatasetError(f"annotation file {path} is empty: re-download the sequence")
    return np.asarray(rows, dtype=np.float64)


def read_flags(path: Path, length: int, *, one_line: bool = False, missing_ok: bool = False) -> np.ndarray:
    """Read per-frame 0/1 (or small integer) labels: one per line, or comma-separated on one line (LaSOT).

    Args:
        path: the label file.
        length: T; shorter files (VOT tags drop trailing zeros) are padded with 0.
        one_line: the LaSOT layout (all values on one line).
        missing_ok: return zeros when the file does not exist.

    Returns:
        (T,) int64 labels.

    Raises:
        DatasetError: missing (unless ``missing_ok``), non-integer, or longer than ``length``.
    """
    path = Path(path)
    if not path.is_file():
        if missing_ok:
            return np.zeros(length, dtype=np.int64)
        raise DatasetError(f"label file {path} is missing: check the dataset root")
    text = path.read_text(encoding="utf-8", errors="replace")
    tokens = [(1, t) for t in _SPLIT.split(text.strip()) if t] if one_line else [
        (n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    values = np.zeros(length, dtype=np.int64)
    if len(tokens) > length:
        raise DatasetError(f"{path}: {len(tokens)} labels for {length} frames: the file belongs to another sequence")
    for i, (lineno, token) in enumerate(tokens):
        try:
            values[i] = int(float(token))
        except ValueError:
            raise DatasetError(f"{path}:{lineno}: expected an integer label, got {token[:30]!r}") from None
    return values


def numbered_frames(folder: Path, first: int, last: int, digits: int, ext: str = ".jpg") -> List[Path]:
    """Paths ``folder/<n zero-padded to digits><ext>`` for n = first..last (not checked for existence)."""
    return [folder / f"{n:0{digits}d}{ext}" for n in range(first, last + 1)]


def require_dir(path: Path, what: str) -> Path:
    """``path`` if it is a folder, else a DatasetError naming it."""
    if not path.is_dir():
        raise DatasetError(f"{what} {path} does not exist: pass the folder that holds the dataset with --root")
    return path
