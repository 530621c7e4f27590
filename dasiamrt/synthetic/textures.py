"""Textures for synthetic sequences: crops of photos, or procedural patterns when no photo is at hand.

A :class:`TextureBank` hands out target/distractor sprites and backgrounds, all BGR uint8, drawn from
one ``numpy.random.Generator`` so that a seed fixes every pixel. Photos come from an image folder
(``textures=``), else from the few OpenCV sample photos bundled in ``dasiamrt/assets/textures``,
else everything is procedural (offline installs without the assets still work).
"""
from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np

from ..errors import DatasetError

log = logging.getLogger(__name__)

#: Photos shipped with the package (OpenCV sample data, redistributable); may be absent.
BUNDLED_TEXTURES = Path(__file__).resolve().parent.parent / "assets" / "textures"
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def _cv2() -> Any:
    import cv2  # lazy: keep ``import dasiamrt.eval`` light

    return cv2


@functools.lru_cache(maxsize=64)
def _load_photo(path: str) -> np.ndarray:
    image = _cv2().imread(path, _cv2().IMREAD_COLOR)
    if image is None:
        raise DatasetError(f"cannot decode image {path}: remove it from the texture folder or replace it")
    image.setflags(write=False)
    return image


def list_photos(textures: Union[str, Path, None]) -> Tuple[Path, ...]:
    """Resolve the ``textures`` argument of :func:`~dasiamrt.synthetic.sequences.make_sequence` to photo files.

    Args:
        textures: a folder of images; None for the bundled photos (empty when not installed);
            ``"procedural"`` for no photos at all.

    Returns:
        The image files, sorted by name (so a seed picks the same photo on every machine).

    Raises:
        DatasetError: an explicit folder that does not exist or holds no image.
    """
    if textures is None:
        folder = BUNDLED_TEXTURES
        if not folder.is_dir():
            log.debug("bundled textures missing at %s: procedural textures only", folder)
            return ()
    elif str(textures) == "procedural":
        return ()
    else:
        folder = Path(textures)
        if not folder.is_dir():
            raise DatasetError(f"texture folder {folder} does not exist: pass an image folder or 'procedural'")
    photos = tuple(sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES))
    if textures is not None and not photos:
        raise DatasetError(f"texture folder {folder} holds no .jpg/.png image: add some or pass 'procedural'")
    return photos


def procedural_texture(rng: np.random.Generator, size_wh: Tuple[int, int], contrast: float = 1.0) -> np.ndarray:
    """A smooth colourful pattern with some edges (blobs x oriented stripes + a checker), BGR uint8.

    Args:
        rng: random source.
        size_wh: (width, height) in pixels.
        contrast: 1.0 for objects; lower (e.g. 0.5) for backgrounds.

    Returns:
        (height, width, 3) uint8.
    """
    cv2 = _cv2()
    w, h = int(size_wh[0]), int(size_wh[1])
    cells = int(rng.integers(3, 8))
    blobs = cv2.resize(rng.random((cells, cells, 3), dtype=np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    theta = rng.uniform(0, np.pi)
    period = rng.uniform(0.15, 0.5) * max(w, h)
    phase = (xx * np.cos(theta) + yy * np.sin(theta)) * (2 * np.pi / period)
    stripes = 0.5 + 0.5 * np.sin(phase)
    check = ((xx // max(2.0, w / rng.integers(2, 5))) + (yy // max(2.0, h / rng.integers(2, 5)))) % 2
    base = rng.uniform(0.1, 0.9, size=3).astype(np.float32)
    pattern = 0.55 * blobs + 0.3 * stripes[..., None] * rng.uniform(0.3, 1.0, 3).astype(np.float32)
    pattern += 0.15 * check[..., None]
    out = base + contrast * (pattern - pattern.mean(axis=(0, 1)))
    return np.clip(out * 255.0, 0, 255).astype(np.uint8)


def procedural_background(rng: np.random.Generator, size_wh: Tuple[int, int]) -> np.ndarray:
    """Low-contrast clutter: a procedural pattern plus random rectangles and discs, BGR uint8 (H, W, 3)."""
    cv2 = _cv2()
    image = procedural_texture(rng, size_wh, contrast=0.5)
    w, h = size_wh
    for _ in range(int(rng.integers(6, 14))):
        colour = tuple(int(c) for c in rng.integers(30, 220, 3))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        r = int(rng.integers(8, max(9, min(w, h) // 6)))
        if rng.random() < 0.5:
            cv2.circle(image, (x, y), r, colour, -1, cv2.LINE_AA)
        else:
            cv2.rectangle(image, (x - r, y - r // 2), (x + r, y + r // 2), colour, -1, cv2.LINE_AA)
    return cv2.GaussianBlur(image, (0, 0), 1.0)


class TextureBank:
    """Draws sprites and backgrounds from photos when it has them, else procedurally.

    Args:
        photos: photo files (see :func:`list_photos`); empty for procedural only.
        rng: random source shared with the scene, so the seed fixes every choice.
    """

    def __init__(self, photos: Sequence[Path], rng: np.random.Generator) -> None:
        self.photos = tuple(photos)
        self.rng = rng

    def _photo(self) -> Optional[np.ndarray]:
        if not self.photos:
            return None
        return _load_photo(str(self.photos[int(self.rng.integers(len(self.photos)))]))

    def sprite(self, size_wh: Tuple[int, int]) -> np.ndarray:
        """An object texture of (height, width, 3) uint8: a photo crop resized to ``size_wh``, or procedural."""
        photo = self._photo()
        w, h = int(size_wh[0]), int(size_wh[1])
        if photo is None or self.rng.random() < 0.25:
            return procedural_texture(self.rng, (w, h))
        ph, pw = photo.shape[:2]
        zoom = self.rng.uniform(0.6, 1.6)
        cw, ch = min(pw, max(8, int(w * zoom))), min(ph, max(8, int(h * zoom)))
        best, best_detail = None, -1.0
        for _ in range(3):  # the most detailed of a few crops: a flat patch of sky is no target
            x0, y0 = int(self.rng.integers(0, pw - cw + 1)), int(self.rng.integers(0, ph - ch + 1))
            crop = photo[y0:y0 + ch, x0:x0 + cw]
            detail = float(np.abs(np.diff(crop.astype(np.int16), axis=1)).mean())
            if detail > best_detail:
                best, best_detail = crop, detail
        return _cv2().resize(best, (w, h), interpolation=_cv2().INTER_AREA)

    def background(self, size_wh: Tuple[int, int]) -> np.ndarray:
        """A background canvas of (height, width, 3) uint8: a resized photo region, or procedural clutter."""
        photo = self._photo()
        w, h = int(size_wh[0]), int(size_wh[1])
        if photo is None:
            return procedural_background(self.rng, (w, h))
        ph, pw = photo.shape[:2]
        frac = self.rng.uniform(0.6, 1.0)
        aspect = w / h
        ch = int(min(ph, pw / aspect) * frac)
        cw = int(ch * aspect)
        x0, y0 = int(self.rng.integers(0, pw - cw + 1)), int(self.rng.integers(0, ph - ch + 1))
        return _cv2().resize(photo[y0:y0 + ch, x0:x0 + cw], (w, h), interpolation=_cv2().INTER_LINEAR)


def recolour(sprite: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """A look-alike of ``sprite``: per-channel gains in [1 - amount, 1 + amount] and a small offset."""
    gains = 1.0 + rng.uniform(-amount, amount, size=3)
    offset = rng.uniform(-amount, amount) * 60.0
    return np.clip(sprite.astype(np.float32) * gains + offset, 0, 255).astype(np.uint8)
