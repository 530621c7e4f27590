"""Readers that turn annotated data into object *tracks* for pair sampling.

A :class:`Track` is one object over one or more frames: its category, its boxes (0-based top-left
x, y, w, h, image pixels) and a frame loader. Still images with boxes (COCO, ImageNet DET) give
one-frame tracks; videos (ImageNet VID, GOT-10k, LaSOT, synthetic sequences) give one track per
object. Frames are loaded lazily through a small shared cache.

Layouts read:
    COCO-style JSON     ``{"images": [{id, file_name}], "annotations": [{image_id, bbox, category_id,
                        iscrowd?}], "categories": [...]}``, images under ``images``.
    ImageNet VID / DET  ``Annotations/{VID,DET}/<split>/**.xml`` (PASCAL VOC XML with ``<object>``,
                        ``<name>``, ``<bndbox>``, and ``<trackid>`` for VID); images at the same
                        relative path under ``Data/`` with the ``.JPEG`` extension.
    GOT-10k / LaSOT     any folder holding ``groundtruth.txt`` (one ``x,y,w,h`` line per frame) and
                        its frames (``*.jpg`` beside it, or in ``img/`` for LaSOT), read by the one
                        folder reader ``eval.datasets.folder.read_sequence_folder``; boxes are
                        ``gt - origin`` (LaSOT's are 1-based); frames flagged in ``absence.label``
                        / ``cover.label`` (0) / ``full_occlusion.txt`` / ``out_of_view.txt`` are invalid.
                        Category: ``object_class`` of ``meta_info.ini`` (GOT-10k), else the
                        ``target`` of a ``manifest.json`` in the root or its parent (this project's
                        real data, whose frames are also a stride of the source: ``frame_step``),
                        else the parent folder (LaSOT), else the sequence name. Symlinked sequence
                        folders are entered (``Path.rglob`` does not follow them before Python 3.13).
"""
from __future__ import annotations

import json
import logging
import os
import xml.etree.ElementTree as ET
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Sequence, Tuple, cast

import cv2
import numpy as np
import numpy.typing as npt

from ..errors import DatasetError
from ..eval.datasets.folder import frame_folder, read_sequence_folder

if TYPE_CHECKING:
    from ..eval.datasets.base import Sequence as FolderSequence
    from ..eval.datasets.real_manifest import SequenceFacts

log = logging.getLogger(__name__)
Frame = npt.NDArray[np.uint8]


@dataclass
class Track:
    """One object in one video (or one still image).

    Attributes:
        category: semantic class name (negative pairs are drawn by it).
        boxes_xywh: (N, 4) float32 boxes, 0-based top-left x, y, w, h, image pixels.
        load: frame loader, index 0..N-1 -> (H, W, 3) uint8 BGR.
        valid: (N,) bool, frames where the object is visible.
        video: the video or image the object is in.
        aligned: index i is frame i of the video for every track of this video (rendered sequences,
            still images); then a negative pair may take another object of the same video, at a
            frame where the template's object is outside the search crop. Otherwise negatives come
            from other videos.
        frame_step: source frames between consecutive indices (a strided selection of a clip);
            positive pairs bound their gap in source frames, ``index gap * frame_step``.
        clip: source clip key (parts of one clip share it; a validation split keeps them together).
    """

    category: str
    boxes_xywh: npt.NDArray[np.float32]
    load: Callable[[int], Frame]
    valid: npt.NDArray[np.bool_]
    video: str = ""
    aligned: bool = False
    frame_step: int = 1
    clip: str = ""

    @property
    def valid_frames(self) -> npt.NDArray[np.int64]:
        return np.flatnonzero(self.valid)


class ImageCache:
    """LRU cache of decoded images keyed by path (frames are reused by nearby pairs)."""

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = capacity
        self._items: "OrderedDict[str, Frame]" = OrderedDict()

    def __call__(self, path: str) -> Frame:
        item = self._items.get(path)
        if item is not None:
            self._items.move_to_end(path)
            return item
        image = cast("Frame | None", cv2.imread(path, cv2.IMREAD_COLOR))
        if image is None:
            raise DatasetError(f"cannot read image {path}: check the file or remove it from the dataset")
        self._items[path] = image
        if len(self._items) > self.capacity:
            self._items.popitem(last=False)
        return image


def _paths_loader(paths: Sequence[str], cache: ImageCache) -> Callable[[int], Frame]:
    return lambda i: cache(paths[i])


def _valid_boxes(boxes: npt.NDArray[np.float32], min_size: float) -> npt.NDArray[np.bool_]:
    finite = np.all(np.isfinite(boxes), axis=1)
    valid: npt.NDArray[np.bool_] = finite & (boxes[:, 2] >= min_size) & (boxes[:, 3] >= min_size)
    return valid


def read_coco(annotations: str, images: str, cache: ImageCache, min_size: float = 8.0) -> List[Track]:
    """One one-frame track per non-crowd box of a COCO-style JSON file."""
    path = Path(annotations)
    if not path.is_file():
        raise DatasetError(f"COCO annotation file not found: {path}")
    try:
        data = json.loads(path.read_text())
        files = {img["id"]: str(Path(images) / img["file_name"]) for img in data["images"]}
        names = {c["id"]: str(c.get("name", c["id"])) for c in data.get("categories", [])}
        tracks = []
        for ann in data["annotations"]:
            if ann.get("iscrowd", 0):
                continue
            box = np.asarray([ann["bbox"]], dtype=np.float32)
            valid = _valid_boxes(box, min_size)
            if valid[0]:
                img = files[ann["image_id"]]
                cat = names.get(ann["category_id"], str(ann["category_id"]))
                tracks.append(Track(cat, box, _paths_loader([img], cache), valid, img))
    except (KeyError, TypeError, ValueError) as err:
        raise DatasetError(f"{path} is not COCO-style JSON ({type(err).__name__}: {err})") from None
    return tracks


def _parse_voc(xml_path: Path) -> List[Tuple[str, str, npt.NDArray[np.float32]]]:
    """(trackid or index, class name, box xywh) for every object of one VOC-style XML file."""
    root = ET.parse(str(xml_path)).getroot()
    out = []
    for k, obj in enumerate(root.iter("object")):
        bb = obj.find("bndbox")
        if bb is None:
            continue
        x1, y1, x2, y2 = (float(bb.findtext(t, "nan")) for t in ("xmin", "ymin", "xmax", "ymax"))
        tid = obj.findtext("trackid", str(k))
        out.append((tid, obj.findtext("name", "object"), np.array([x1, y1, x2 - x1, y2 - y1], np.float32)))
    return out


def read_imagenet(root: str, kind: str, cache: ImageCache, split: str = "train", min_size: float = 8.0) -> List[Track]:
    """Tracks from ImageNet VID (``kind='vid'``: per snippet and trackid) or DET (``'det'``: per box)."""
    if kind not in ("vid", "det"):
        raise DatasetError(f"ImageNet kind must be 'vid' or 'det', not {kind!r}")
    ann_root = Path(root) / "Annotations" / kind.upper() / split
    if not ann_root.is_dir():
        raise DatasetError(f"no ImageNet {kind.upper()} annotations under {ann_root}: give the ILSVRC root")
    data_root = Path(root) / "Data" / kind.upper() / split
    by_folder: Dict[Path, List[Path]] = defaultdict(list)
    for xml_path in sorted(ann_root.rglob("*.xml")):
        by_folder[xml_path.parent].append(xml_path)
    tracks = []
    for folder, xmls in by_folder.items():
        rel = folder.relative_to(ann_root)
        frames = [str(data_root / rel / (x.stem + ".JPEG")) for x in xmls]
        objects = [_parse_voc(x) for x in xmls]
        if kind == "det":
            for frame, objs in zip(frames, objects):
                for _, cls, box in objs:
                    valid = _valid_boxes(box[None], min_size)
                    if valid[0]:
                        tracks.append(Track(cls, box[None], _paths_loader([frame], cache), valid, frame))
            continue
        per_track: Dict[str, Dict[int, npt.NDArray[np.float32]]] = defaultdict(dict)
        classes: Dict[str, str] = {}
        for i, objs in enumerate(objects):
            for tid, cls, box in objs:
                per_track[tid][i] = box
                classes[tid] = cls
        for tid, boxes in per_track.items():
            idx = sorted(boxes)
            arr = np.stack([boxes[i] for i in idx])
            sub = [frames[i] for i in idx]
            tracks.append(Track(classes[tid], arr, _paths_loader(sub, cache), _valid_boxes(arr, min_size), str(rel)))
    return tracks


def _category(seq: "FolderSequence", folder: Path, fact: "Optional[SequenceFacts]", lasot: bool) -> str:
    """The manifest's category (unless a ``meta_info.ini`` is there), else ``object_class``, else by layout."""
    has_meta = (folder / "meta_info.ini").is_file()
    if fact is not None and not has_meta:
        return fact.category
    if "object_class" in seq.meta:
        return str(seq.meta["object_class"])
    return folder.parent.name if lasot else folder.name


def sequence_track(seq: "FolderSequence", folder: Path, cache: ImageCache, min_size: float,
                   fact: "Optional[SequenceFacts]" = None) -> Track:
    """The training track of one folder's sequence: boxes ``gt - origin`` (0-based), absent frames invalid."""
    boxes = seq.gt_xywh().astype(np.float32)
    valid = _valid_boxes(boxes, min_size)
    if seq.absent is not None:
        valid &= ~np.asarray(seq.absent, dtype=bool)
    lasot = frame_folder(folder) != folder
    return Track(_category(seq, folder, fact, lasot), boxes, _paths_loader([str(p) for p in seq.frames], cache),
                 valid, str(folder), frame_step=fact.stride if fact is not None else 1,
                 clip=fact.clip if fact is not None else "")


def find_files(base: Path, name: str) -> List[Path]:
    """Every file called ``name`` under ``base``, entering symlinked folders (each real folder once), sorted."""
    found, seen = [], set()
    for folder, dirs, files in os.walk(base, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:  # a link cycle or a second link to one folder
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        if name in files:
            found.append(Path(folder) / name)
    return sorted(found)


def read_sequence_folders(root: str, cache: ImageCache, min_size: float = 4.0) -> List[Track]:
    """Tracks from GOT-10k / LaSOT style folders (every ``groundtruth.txt`` under ``root``).

    Each folder is read by ``eval.datasets.folder.read_sequence_folder`` (frames and boxes cut to the
    shorter); a folder it rejects (malformed boxes or labels) is skipped with a warning.
    """
    from ..eval.datasets.real_manifest import find_manifest, read_manifest

    base = Path(root)
    if not base.is_dir():
        raise DatasetError(f"sequence root not found: {base}")
    manifest = find_manifest(base)
    facts = read_manifest(manifest) if manifest is not None else {}
    tracks = []
    for gt in find_files(base, "groundtruth.txt"):
        folder = gt.parent
        try:
            seq = read_sequence_folder(folder, lengths="shorter")
        except DatasetError as err:
            log.warning("skipping %s: %s", folder, err)
            continue
        if len(seq) == 0:
            log.warning("skipping %s: no frames", folder)
            continue
        tracks.append(sequence_track(seq, folder, cache, min_size, facts.get(folder.name)))
    if not tracks:
        raise DatasetError(f"no groundtruth.txt sequences under {base}: give a GOT-10k or LaSOT root")
    return tracks


def read_photo_folder(root: str) -> List[Tuple[str, Frame]]:
    """(name, image) for every readable photo in ``root`` (jpg/png), sorted by name."""
    base = Path(root)
    if not base.is_dir():
        raise DatasetError(f"photo folder not found: {base}")
    photos = []
    for path in sorted(base.iterdir()):
        if path.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp"):
            image = cast("Frame | None", cv2.imread(str(path), cv2.IMREAD_COLOR))
            if image is not None:
                photos.append((path.stem, image))
    if len(photos) < 2:
        raise DatasetError(f"{base} holds fewer than 2 readable photos; composite sequences need several")
    return photos


__all__ = ["ImageCache", "Track", "find_files", "read_coco", "read_imagenet", "read_photo_folder",
           "read_sequence_folders", "sequence_track"]
