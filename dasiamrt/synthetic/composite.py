"""Photo-composite training sequences: real-photo objects moving over real-photo backgrounds.

Each sequence pans over a region of one photo (the background) and moves 1 + k rectangular patches
cut from photos (the objects) along smooth random walks with scale changes; objects are drawn in a
fixed random depth order, so they occlude each other. An object's category is the photo its patch
comes from, so two patches of one photo are a *same-category* pair (hard, look-alike negatives) and
patches of different photos a *different-category* pair. Every object is a training track (:class:`CompositeObject`).

Rendering is lazy and deterministic in (seed, sequence, frame): nothing is stored but trajectories.
Training reads it as the ``composite`` source (``configs/train_tiny.json``, the bundled model's recipe);
:mod:`.sequences` is the scene generator with exact ground truth that evaluation, training and calibration use.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, List, NamedTuple, Sequence, Tuple, cast

import cv2
import numpy as np
import numpy.typing as npt

Frame = npt.NDArray[np.uint8]


class CompositeObject(NamedTuple):
    """One object of one composite sequence (a training track).

    Attributes:
        category: the photo its patch is cut from (two patches of one photo are look-alikes).
        boxes_xywh: (T, 4) float32 boxes, 0-based top-left x, y, w, h, frame pixels.
        load: frame loader, index 0..T-1 -> (H, W, 3) uint8 BGR.
        valid: (T,) bool, frames where at least half of the box is unoccluded and in the frame.
        video: ``composite<seed>/<sequence>``.
    """

    category: str
    boxes_xywh: npt.NDArray[np.float32]
    load: Callable[[int], Frame]
    valid: npt.NDArray[np.bool_]
    video: str


@dataclass
class _Object:
    photo: int
    src_xywh: Tuple[int, int, int, int]
    centers: npt.NDArray[np.float32]  # (T, 2)
    sizes: npt.NDArray[np.float32]  # (T, 2)


@dataclass
class _Scene:
    background: int
    bg_origin: npt.NDArray[np.float32]  # (T, 2) top-left of the viewed region in the photo
    bg_scale: float  # photo pixels per frame pixel
    objects: List[_Object]  # in drawing order (last on top)


def _walk(rng: np.random.Generator, length: int, start: npt.NDArray[np.float64], speed: float,
          low: npt.NDArray[np.float64], high: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    """Smooth random walk (AR(1) velocity) reflected at [low, high]; (T, 2)."""
    pos = np.empty((length, 2))
    p, v = start.astype(np.float64), rng.normal(0, speed, 2)
    for t in range(length):
        pos[t] = p
        v = 0.9 * v + rng.normal(0, speed * 0.45, 2)
        p = p + v
        for k in range(2):
            if p[k] < low[k] or p[k] > high[k]:
                v[k] = -v[k]
                p[k] = min(max(p[k], low[k]), high[k])
    return pos.astype(np.float32)


class CompositeSequences:
    """Lazily rendered composite sequences and their object tracks.

    Args:
        photos: (name, BGR image) pairs, e.g. from :func:`dasiamrt.train.datasets.read_photo_folder`.
        n_sequences: number of sequences.
        length: frames per sequence.
        seed: generator seed (sequence i uses ``default_rng([seed, i])``).
        frame_size: (W, H) of the frames.
        max_distractors: up to this many extra objects per sequence.
        same_category: probability that an extra object is cut from the target's photo.
        speed: typical per-frame motion of objects, pixels.
    """

    def __init__(self, photos: Sequence[Tuple[str, Frame]], n_sequences: int, length: int = 100, seed: int = 0,
                 frame_size: Tuple[int, int] = (400, 300), max_distractors: int = 3, same_category: float = 0.5,
                 speed: float = 3.0) -> None:
        self.photos = [(name, _limit(img, 800)) for name, img in photos]
        self.length = length
        self.seed = seed
        self.frame_size = frame_size
        self.scenes = [self._scene(np.random.default_rng([seed, i]), max_distractors, same_category, speed)
                       for i in range(n_sequences)]
        self._cache: "OrderedDict[Tuple[int, int], Frame]" = OrderedDict()

    def _scene(self, rng: np.random.Generator, max_distractors: int, same_category: float, speed: float) -> _Scene:
        w, h = self.frame_size
        n_photos = len(self.photos)
        bg = int(rng.integers(n_photos))
        ph, pw = self.photos[bg][1].shape[:2]
        bg_scale = float(rng.uniform(0.5, 1.0)) * min(pw / w, ph / h)
        room = np.array([pw - w * bg_scale, ph - h * bg_scale])
        bg_origin = _walk(rng, self.length, rng.uniform(0, 1, 2) * room, 0.5, np.zeros(2), room)
        target_photo = int(rng.integers(n_photos))
        photos = [target_photo]
        for _ in range(int(rng.integers(0, max_distractors + 1))):
            photos.append(target_photo if rng.random() < same_category else int(rng.integers(n_photos)))
        objects = [self._object(rng, p, speed) for p in photos]
        order = rng.permutation(len(objects))
        return _Scene(bg, bg_origin, bg_scale, [objects[k] for k in order])

    def _object(self, rng: np.random.Generator, photo: int, speed: float) -> _Object:
        img = self.photos[photo][1]
        ph, pw = img.shape[:2]
        aspect = float(np.exp(rng.uniform(np.log(0.4), np.log(2.5))))
        side = rng.uniform(0.12, 0.45) * min(pw, ph)
        sw, sh = max(8, int(min(side * np.sqrt(aspect), pw))), max(8, int(min(side / np.sqrt(aspect), ph)))
        sx, sy = int(rng.integers(0, pw - sw + 1)), int(rng.integers(0, ph - sh + 1))
        w, h = self.frame_size
        area = float(rng.uniform(22, 80)) ** 2
        base = np.array([np.sqrt(area * aspect), np.sqrt(area / aspect)])
        t = np.arange(self.length)
        zoom = np.exp(rng.uniform(0.05, 0.3) * np.sin(2 * np.pi * t / rng.uniform(40, 160) + rng.uniform(0, 6.3)))
        sizes = (base[None] * zoom[:, None]).astype(np.float32)
        margin = base * 0.3
        centers = _walk(rng, self.length, rng.uniform([0.2 * w, 0.2 * h], [0.8 * w, 0.8 * h]),
                        speed * rng.uniform(0.3, 1.5), margin, np.array([w, h]) - margin)
        return _Object(photo, (sx, sy, sw, sh), centers, sizes)

    def render(self, seq: int, t: int) -> Frame:
        """Frame ``t`` of sequence ``seq``: (H, W, 3) uint8 BGR."""
        key = (seq, t)
        frame = self._cache.get(key)
        if frame is not None:
            return frame
        scene = self.scenes[seq]
        w, h = self.frame_size
        ox, oy = scene.bg_origin[t]
        s = scene.bg_scale
        matrix = np.array([[s, 0, ox], [0, s, oy]], dtype=np.float64)
        frame = cast("Frame", cv2.warpAffine(self.photos[scene.background][1], matrix, (w, h),
                                             flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                             borderMode=cv2.BORDER_REFLECT))
        for obj in scene.objects:
            _paste(frame, self.photos[obj.photo][1], obj.src_xywh, _box(obj, t))
        self._cache[key] = frame
        if len(self._cache) > 64:
            self._cache.popitem(last=False)
        return frame

    def objects(self) -> List[CompositeObject]:
        """Every object of every sequence (visible: >= 50% of its box unoccluded in the frame)."""
        out = []
        for i, scene in enumerate(self.scenes):
            for k, obj in enumerate(scene.objects):
                boxes = np.stack([_box(obj, t) for t in range(self.length)]).astype(np.float32)
                valid = np.array([self._visible(scene, k, t) >= 0.5 for t in range(self.length)])
                load = (lambda seq: (lambda t: self.render(seq, t)))(i)
                out.append(CompositeObject(self.photos[obj.photo][0], boxes, load, valid, f"composite{self.seed}/{i}"))
        return out

    def boxes(self, seq: int, index: int = -1) -> npt.NDArray[np.float32]:
        """(T, 4) boxes x, y, w, h of object ``index`` (default: the top-most one) of sequence ``seq``."""
        obj = self.scenes[seq].objects[index]
        return np.stack([_box(obj, t) for t in range(self.length)]).astype(np.float32)

    def _visible(self, scene: _Scene, k: int, t: int) -> float:
        x, y, bw, bh = _box(scene.objects[k], t)
        w, h = self.frame_size
        area = bw * bh
        inside = _overlap((x, y, bw, bh), (0, 0, w, h))
        hidden = sum(_overlap((x, y, bw, bh), _box(o, t)) for o in scene.objects[k + 1:])
        return max(0.0, inside - hidden) / max(area, 1e-6)


def _box(obj: _Object, t: int) -> Tuple[float, float, float, float]:
    (cx, cy), (w, h) = obj.centers[t], obj.sizes[t]
    return float(cx - w / 2), float(cy - h / 2), float(w), float(h)


def _overlap(a: Sequence[float], b: Sequence[float]) -> float:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(0.0, w) * max(0.0, h)


def _paste(frame: Frame, photo: Frame, src_xywh: Tuple[int, int, int, int], box: Sequence[float]) -> None:
    """Draw the photo patch ``src_xywh`` into ``box`` (x, y, w, h, sub-pixel) of ``frame``, clipped."""
    sx, sy, sw, sh = src_xywh
    x, y, w, h = box
    fh, fw = frame.shape[:2]
    x0, y0 = max(0, int(np.floor(x))), max(0, int(np.floor(y)))
    x1, y1 = min(fw, int(np.ceil(x + w))), min(fh, int(np.ceil(y + h)))
    if x1 <= x0 or y1 <= y0:
        return
    a, b = sw / w, sh / h  # patch pixels per frame pixel
    matrix = np.array([[a, 0, sx + (x0 - x) * a + 0.5 * a - 0.5], [0, b, sy + (y0 - y) * b + 0.5 * b - 0.5]])
    patch = cv2.warpAffine(photo, matrix, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_REPLICATE)
    frame[y0:y1, x0:x1] = patch


def _limit(image: Frame, max_side: int) -> Frame:
    scale = max_side / max(image.shape[:2])
    if scale >= 1:
        return image
    return cast("Frame", cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))
