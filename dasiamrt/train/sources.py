"""Build the track sources of a training config's ``data`` list (see ``train/config.py``)."""
from __future__ import annotations

import inspect
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..errors import ConfigError
from .datasets import ImageCache, Track, read_coco, read_imagenet, read_photo_folder, read_sequence_folders
from .real_data import read_real


def _composite(cache: ImageCache, photos: str, sequences: int = 500, length: int = 100, seed: int = 1,
               frame_size: Sequence[int] = (400, 300), max_distractors: int = 3, same_category: float = 0.5,
               speed: float = 3.0) -> List[Track]:
    """Tracks of photo-composite sequences (:mod:`dasiamrt.synthetic.composite`), one per object."""
    from ..synthetic.composite import CompositeSequences

    comp = CompositeSequences(read_photo_folder(photos), sequences, length, seed,
                              (int(frame_size[0]), int(frame_size[1])), max_distractors, same_category, speed)
    return [Track(o.category, o.boxes_xywh, o.load, o.valid, o.video, aligned=True) for o in comp.objects()]


def _coco(cache: ImageCache, annotations: str, images: str, min_size: float = 8.0) -> List[Track]:
    return read_coco(annotations, images, cache, min_size)


def _imagenet(cache: ImageCache, root: str, kind: str, split: str = "train", min_size: float = 8.0) -> List[Track]:
    return read_imagenet(root, kind, cache, split, min_size)


def _folders(cache: ImageCache, root: str, min_size: float = 4.0) -> List[Track]:
    return read_sequence_folders(root, cache, min_size)


def _synthetic(cache: ImageCache,
               presets: Sequence[str] = ("plain", "distractors", "occlusion", "out-of-view", "mixed"),
               first_seed: int = 1000, count: int = 100, num_frames: int = 100, size: Sequence[int] = (480, 360),
               textures: Optional[str] = None, min_visible: float = 0.5) -> List[Track]:
    """Tracks of :mod:`dasiamrt.synthetic` sequences (seeds first_seed.. first_seed+count-1, presets in turn).

    The target and its look-alikes share a category (the look-alikes are the same-category
    distractors); other objects and occluders get their own.
    """
    from ..synthetic.sequences import make_sequence

    tracks = []
    for k in range(count):
        seq = make_sequence(presets[k % len(presets)], first_seed + k, num_frames=num_frames,
                            size=(int(size[0]), int(size[1])), textures=textures)
        load = seq.frames.__getitem__
        for n, (kind, boxes) in enumerate(seq.object_boxes()):
            boxes = boxes.astype(np.float32)
            valid = ~np.isnan(boxes[:, 0])
            if kind == "target":
                valid &= seq.visible_fraction >= min_visible
            category = f"{seq.name}/target" if kind in ("target", "lookalike") else f"{seq.name}/{kind}{n}"
            tracks.append(Track(category, np.nan_to_num(boxes), load, valid, seq.name, aligned=True))
    return tracks


def _real(cache: ImageCache, root: str, split: Optional[str] = None, sequences: bool = True, stills: bool = True,
          min_size: float = 4.0, still_min_size: float = 8.0) -> List[Track]:
    """This project's real data (``../shared/data/real``): sequences minus ``split``'s validation side, stills."""
    return read_real(root, cache, split, sequences, stills, min_size, still_min_size)


READERS: Dict[str, Callable[..., List[Track]]] = {
    "composite": _composite, "coco": _coco, "imagenet": _imagenet, "folders": _folders,
    "synthetic": _synthetic, "real": _real,
}


def register_reader(name: str, reader: Callable[..., List[Track]]) -> None:
    """Add a source type: ``reader(cache, **options) -> tracks``."""
    READERS[name] = reader


def build_sources(data: Sequence[Mapping[str, Any]], cache: ImageCache) -> List[Tuple[List[Track], float]]:
    """(tracks, weight) for every entry of ``data``.

    Raises:
        ConfigError: unknown type or options of a source.
    """
    out = []
    for k, entry in enumerate(data):
        options = dict(entry)
        kind = options.pop("type", None)
        weight = float(options.pop("weight", 1.0))
        reader = READERS.get(str(kind))
        if reader is None:
            raise ConfigError(f"data[{k}]: unknown source type {kind!r}: choose one of {', '.join(READERS)}")
        try:
            inspect.signature(reader).bind(cache, **options)
        except TypeError as err:
            raise ConfigError(f"data[{k}] ({kind}): {err}") from None
        out.append((reader(cache, **options), weight))
    return out
