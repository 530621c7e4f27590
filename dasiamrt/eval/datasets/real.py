"""This project's real annotated sequences (``../shared/data/real``, see its README).

Layout: ``<root>/sequences/<name>/00000001.jpg ..`` + ``groundtruth.txt`` (0-based x, y, w, h; a
``nan`` row = target absent, scored as the UAV123 toolkit scores its NaN rows), ``<root>/manifest.json``.
``root`` may also be the ``sequences/`` folder itself, or any folder of such sequence folders
(symlinks are followed).

Names: ``real`` (every sequence), ``real:<split.json>`` (the split's validation sequences) and
``real:<split.json>:train`` (the others, less any part of a validation sequence's source clip; the
split file is read by :mod:`.real_split`). Sequence tags: ``thin`` (the split's thin targets),
``drone`` or ``ground`` (from the manifest's dataset: OTB clips are ground-level).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

from ...errors import DatasetError
from .base import Dataset, Sequence, require_dir
from .folder import read_sequence_folder
from .real_manifest import find_manifest, read_manifest
from .real_split import read_split


def _sequence_root(root: Path) -> Path:
    return root / "sequences" if (root / "sequences").is_dir() else root


def read_sequence(folder: Path, tags: Tuple[str, ...] = ()) -> Sequence:
    """One sequence folder: frames sorted by name, one ``groundtruth.txt`` row per frame (0-based).

    Raises:
        DatasetError: no frames, or a box count that differs from the frame count.
    """
    seq = read_sequence_folder(folder, origin=0.0, images="", lengths="equal")
    absent = seq.absent if seq.absent is not None else np.zeros(len(seq), dtype=bool)
    return dataclasses.replace(seq, absent=absent, tags=tags)


def load(root: Path, split: Optional[str] = None, part: str = "validation") -> Dataset:
    """Read the real sequences (all, or one side of ``split``).

    Args:
        root: the real-data root (or its ``sequences/`` folder).
        split: a split file (``configs/real_split.json``); None: every sequence.
        part: "validation" or "train" (with ``split``).

    Raises:
        DatasetError: missing root, a split name without a folder, or a malformed manifest.
        ConfigError: a malformed split file (see :func:`~.real_split.read_split`).
    """
    if part not in ("validation", "train"):
        raise DatasetError(f"split part must be 'validation' or 'train', not {part!r}")
    base = _sequence_root(require_dir(Path(root), "real-data folder"))
    folders = {p.name: p for p in sorted(base.iterdir()) if p.is_dir() and (p / "groundtruth.txt").is_file()}
    if not folders:
        raise DatasetError(f"no sequence folder with groundtruth.txt in {base}: give the real-data root")
    manifest = find_manifest(base)
    facts = read_manifest(manifest) if manifest else {}
    chosen = read_split(split, manifest) if split else None
    validation, thin = (chosen.validation, chosen.thin_targets) if chosen else ((), ())
    missing = [n for n in validation if n not in folders]
    if missing:
        raise DatasetError(f"split {split} names {', '.join(missing)}, missing in {base}")
    if chosen is None:
        names = list(folders)
    elif part == "validation":
        names = list(validation)
    else:
        names = [n for n in folders if not chosen.holds(n, facts[n].clip if n in facts else "")]
    sequences = []
    for name in names:
        kind = facts[name].dataset if name in facts else ""
        tags = tuple(t for t, on in (("thin", name in thin), ("ground", kind.startswith("OTB")),
                                     ("drone", bool(kind) and not kind.startswith("OTB"))) if on)
        sequences.append(read_sequence(folders[name], tags))
    label = "real" if split is None else f"real-{part}"
    return Dataset(name=label, root=base, sequences=sequences, kind="ope")
