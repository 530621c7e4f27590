"""Photometric augmentation of training crops (paper Sec. 3.2 and 4.1).

Geometric augmentation (translation up to ``shift`` px, resize 0.85-1.15) is applied while
cropping (``sampler.py``); here: illumination (brightness/contrast/colour gain), motion blur (a
line kernel of random length and angle) and grayscale (applied to both crops of a pair).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import cast

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
    """

    shift: float = 12.0
    scale_min: float = 0.85
    scale_max: float = 1.15
    grayscale: float = 0.25
    blur: float = 0.2
    max_blur: int = 9
    illumination: float = 0.2


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
