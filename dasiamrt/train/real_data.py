"""The project's real annotated data (``../shared/data/real``): manifest facts, the validation split, the guard.

Layout read (see that folder's README): ``sequences/<name>/00000001.jpg ..`` + ``groundtruth.txt``
(0-based x, y, w, h; ``nan`` rows = target absent), ``stills/annotations.json`` (COCO) +
``stills/images/``, and ``manifest.json`` whose per-sequence entries give

* ``target``: the object kind ("person (tall/thin)", "car", ...); its first word is the category
  used for semantic negative pairs ("person", "car", "bird", ...), comparable to COCO's names;
* ``selection.stride``: kept frames are that many source frames apart (a pair gap in source frames
  is ``index gap * stride``);
* ``dataset`` and ``img_dir_in_repo``: the source clip (``group1_1``/``group1_3``/``group1_4`` are
  parts of one clip and must stay on one side of a split).

The split file (``configs/real_split.json``, read by :mod:`dasiamrt.eval.datasets.real_split`) lists
validation sequences; :func:`check_not_validation` refuses any training track that belongs to a
validation sequence or to its source clip.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, List, Mapping, Optional, Tuple

from ..errors import ConfigError, DatasetError
from ..eval.datasets.real_manifest import SequenceFacts, find_manifest
from ..eval.datasets.real_split import RealSplit, read_split
from .datasets import ImageCache, Track, read_coco, read_sequence_folders


def track_sequence(track: Track) -> str:
    """The sequence folder name of a video track (the last part of ``track.video``)."""
    return Path(track.video).name


def check_not_validation(sources: Iterable[Tuple[List[Track], float]], split: RealSplit,
                         facts: Optional[Mapping[str, SequenceFacts]] = None) -> None:
    """Refuse training data that holds a validation sequence or a part of its source clip.

    Raises:
        ConfigError: naming the first offending sequence.
    """
    facts = facts or {}
    for tracks, _ in sources:
        for track in tracks:
            name = track_sequence(track)
            clip = track.clip or (facts[name].clip if name in facts else "")
            if split.holds(name, clip):
                what = "a validation sequence" if name in split.validation else f"part of validation clip {clip}"
                raise ConfigError(f"refusing to train on {name!r}, {what} (split {split.path}): "
                                  f"exclude it from the training data or change the split")


def read_real(root: str, cache: ImageCache, split: Optional[str] = None, sequences: bool = True,
              stills: bool = True, min_size: float = 4.0, still_min_size: float = 8.0) -> List[Track]:
    """Training tracks of a real-data root: its sequences (minus ``split``'s validation side) and stills.

    Sequences: category from the manifest's ``target``, ``frame_step`` = stride, absent (nan) frames
    invalid. Stills: one track per COCO box, category = COCO name; objects of one image may be
    paired as negatives when far apart (``aligned``).

    Raises:
        DatasetError: the root or its manifest is missing.
    """
    base = Path(root)
    manifest = find_manifest(base)
    if manifest is None:
        raise DatasetError(f"no manifest.json in {base}: give the real-data root (../shared/data/real)")
    chosen = read_split(split, manifest) if split else None
    tracks: List[Track] = []
    if sequences:
        seq_tracks = read_sequence_folders(str(base / "sequences"), cache, min_size)
        tracks += [t for t in seq_tracks if chosen is None or not chosen.holds(track_sequence(t), t.clip)]
    if stills:
        still_tracks = read_coco(str(base / "stills" / "annotations.json"), str(base / "stills" / "images"), cache,
                                 still_min_size)
        for t in still_tracks:
            t.aligned = True  # one frame: other boxes of the image are at the same "time"
        tracks += still_tracks
    return tracks


__all__ = ["check_not_validation", "read_real", "track_sequence"]
