"""Synthetic sequences as a :class:`~dasiamrt.eval.datasets.base.Dataset` (``synthetic:<preset>:<count>:<seed>``)."""
from __future__ import annotations

from typing import List

from ...errors import DatasetError
from ...synthetic.sequences import SyntheticSequence, make_sequence
from .base import Dataset, Sequence


def from_synthetic(seq: SyntheticSequence) -> Sequence:
    """Wrap a generated sequence: 0-based boxes, lazy frames, out-of-view frames ``absent``."""
    return Sequence(name=seq.name, gt=seq.boxes_xywh.copy(), frames=seq.frames, origin=0.0,
                    absent=seq.attributes["out_of_view"].copy(), attributes=dict(seq.attributes),
                    meta={"resolution": tuple(float(v) for v in seq.size_wh)})


def load(spec: str) -> Dataset:
    """Parse ``synthetic:<preset>[:<count>[:<seed>[:<frames>]]]`` (defaults 10 sequences, seed 0, 150 frames).

    Raises:
        DatasetError: malformed spec.
    """
    parts = spec.split(":")
    if len(parts) < 2 or len(parts) > 5 or not parts[1]:
        raise DatasetError(f"bad synthetic dataset {spec!r}: write synthetic:<preset>:<count>:<seed>[:<frames>], "
                           f"e.g. synthetic:mixed:10:0")
    try:
        count, seed, frames = (int(v) for v in (parts[2:] + ["10", "0", "150"][len(parts) - 2:])[:3])
    except ValueError:
        raise DatasetError(f"bad synthetic dataset {spec!r}: count, seed and frames must be integers") from None
    if count < 1:
        raise DatasetError(f"bad synthetic dataset {spec!r}: count must be at least 1")
    sequences: List[Sequence] = [from_synthetic(make_sequence(parts[1], seed + i, num_frames=frames))
                                 for i in range(count)]
    return Dataset(name=f"synthetic-{parts[1]}", root=None, sequences=sequences, kind="ope")
