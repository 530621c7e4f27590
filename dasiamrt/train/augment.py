"""Photometric augmentation of training crops (paper Sec. 3.2 and 4.1).

Geometric augmentation (translation up to ``shift`` px, resize 0.85-1.15, per axis when
``independent_scale``, and the aspect-ratio stretch drawn by :func:`draw_stretch`) is applied while
cropping (``sampler.py``); here: illumination (brightness/contrast/colour gain), motion blur (a
line kernel of random length and angle) and grayscale (applied to both crops of a pair).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple, cast

import cv2
import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation settings.

    Attributes:
        shift: search-crop translation, uniform in [-shift, shift] crop pixels per axis (paper: 12).
        scale_min: smallest random resize of the search region (paper: 0.85).
        scale_max: largest random resize (paper: 1.15).
        grayscale: probability that a pair is converted to grayscale (paper: 0.25).
        blur: probability of motion blur on each crop.
        max_blur: longest blur kernel, pixels.
        illumination: strength of the brightness/contrast/colour jitter (0 disables it).
        independent_scale: draw the search resize per axis (x and y each in [scale_min, scale_max]):
            the target's aspect ratio then differs between template and search, as between frames.
        stretch: probability that a pair (template and search alike) is stretched so that its
            object's w/h becomes a value drawn log-uniformly in [aspect_min, aspect_max].
        aspect_min: thinnest drawn w/h (0.15: a standing person seen from afar).
        aspect_max: widest drawn w/h.
        max_stretch: the stretch changes an object's w/h by at most this factor (either way).
    """

    shift: float = 12.0
    scale_min: float = 0.85
    scale_max: float = 1.15
    grayscale: float = 0.25
    blur: float = 0.2
    max_blur: int = 9
    illumination: float = 0.2
    independent_scale: bool = False
    stretch: float = 0.0
    aspect_min: float = 0.15
    aspect_max: float = 6.0
    max_stretch: float = 4.0

    def __post_init__(self) -> None:
        from ..errors import ConfigError

        if not 0 < self.scale_min <= self.scale_max:
            raise ConfigError("augment needs 0 < scale_min <= scale_max")
        if not 0 < self.aspect_min <= self.aspect_max or self.max_stretch < 1:
            raise ConfigError("augment needs 0 < aspect_min <= aspect_max and max_stretch >= 1")
        for name in ("grayscale", "blur", "stretch"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"augment {name} is a probability: give a value in [0, 1]")


def draw_stretch(rng: np.random.Generator, size_wh: Tuple[float, float], cfg: AugmentConfig) -> Tuple[float, float]:
    """Axis factors (f_x, f_y), f_x * f_y = 1, that give the object ``size_wh`` a drawn aspect ratio.

    With probability ``cfg.stretch`` a target w/h is drawn log-uniformly in [aspect_min, aspect_max];
    the change of w/h, target / current, is clipped to [1 / max_stretch, max_stretch]. Else (1, 1).
    The stretched object is (w f_x, h f_y): its area is kept.
    """
    if cfg.stretch <= 0 or rng.random() >= cfg.stretch:
        return 1.0, 1.0
    w, h = float(size_wh[0]), float(size_wh[1])
    aspect = float(np.exp(rng.uniform(np.log(cfg.aspect_min), np.log(cfg.aspect_max))))
    change = float(np.clip(aspect / max(w / max(h, 1e-6), 1e-6), 1.0 / cfg.max_stretch, cfg.max_stretch))
    return float(np.sqrt(change)), float(1.0 / np.sqrt(change))


def illumination(crop: npt.NDArray[np.uint8], rng: np.random.Generator, strength: float) -> npt.NDArray[np.uint8]:
    """Random contrast, brightness and per-channel gain, each within +-``strength`` (relative)."""
    if strength <= 0:
        return crop
    contrast = 1.0 + rng.uniform(-strength, strength)
    brightness = 255.0 * rng.uniform(-strength, strength) / 2
    gain = 1.0 + rng.uniform(-strength, strength, size=3) / 2
    out = crop.astype(np.float32) * (contrast * gain) + brightness
    return np.clip(out, 0, 255).astype(np.uint8)


def motion_blur(crop: npt.NDArray[np.uint8], rng: np.random.Generator, max_length: int) -> npt.NDArray[np.uint8]:
    """Blur along a random direction with a line kernel of 3..``max_length`` pixels."""
    length = int(rng.integers(3, max(4, max_length + 1)))
    kernel = np.zeros((length, length), dtype=np.float32)
    kernel[length // 2, :] = 1.0
    angle = float(rng.uniform(0, 180))
    rot = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), angle, 1.0)
    kernel = cast("npt.NDArray[np.float32]", cv2.warpAffine(kernel, rot, (length, length)))
    kernel /= max(float(kernel.sum()), 1e-6)
    return cast("npt.NDArray[np.uint8]", cv2.filter2D(crop, -1, kernel))


def grayscale(crop: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Gray copy, still 3 channels."""
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    return cast("npt.NDArray[np.uint8]", cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))


def photometric(crop: npt.NDArray[np.uint8], rng: np.random.Generator, cfg: AugmentConfig) -> npt.NDArray[np.uint8]:
    """Illumination always (random strength), motion blur with probability ``cfg.blur``."""
    crop = illumination(crop, rng, cfg.illumination)
    if cfg.blur > 0 and rng.random() < cfg.blur:
        crop = motion_blur(crop, rng, cfg.max_blur)
    return crop
