"""Anchors and motion windows of the score map, precomputed once per search size.

Layout: proposals are flattened anchor-major, row ``a * S * S + y * S + x`` (a: anchor shape,
y: score-map row, x: column). Anchor centres are crop offsets from the search-crop centre:
``ori + 8 * x`` with ``ori = -(S // 2) * 8`` (integer division, as the official code under
Python 2; true division shifts the grid by half a cell: a known bug of Python-3 ports).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from numpy.typing import NDArray

from .. import spec


def base_anchor_sizes(ratios: Sequence[float], scales: Sequence[float], stride: int) -> NDArray[np.float32]:
    """(A, 2) anchor widths and heights in crop pixels: ratio 0.33 -> 104x32, 1 -> 64x64, 3 -> 32x96."""
    area = stride * stride
    sizes = []
    for ratio in ratios:
        ws = int(math.sqrt(area / ratio))
        hs = int(ws * ratio)
        for scale in scales:
            sizes.append((ws * scale, hs * scale))
    return np.array(sizes, dtype=np.float32)


def generate_anchors(
    score_size: int, ratios: Sequence[float], scales: Sequence[float], stride: int = spec.TOTAL_STRIDE
) -> NDArray[np.float32]:
    """(A * S * S, 4) anchors (cx, cy, w, h) in crop pixels relative to the crop centre."""
    sizes = base_anchor_sizes(ratios, scales, stride)
    ori = -(score_size // 2) * stride
    grid = ori + stride * np.arange(score_size, dtype=np.float32)
    xx, yy = np.meshgrid(grid, grid)
    a = len(sizes)
    anchors = np.empty((a, score_size * score_size, 4), dtype=np.float32)
    anchors[:, :, 0] = xx.ravel()
    anchors[:, :, 1] = yy.ravel()
    anchors[:, :, 2] = sizes[:, 0:1]
    anchors[:, :, 3] = sizes[:, 1:2]
    return anchors.reshape(-1, 4)


def motion_window(score_size: int, anchor_num: int, windowing: str = "cosine") -> NDArray[np.float64]:
    """(A * S * S,) Hann window (outer product of symmetric numpy Hann windows) tiled per anchor."""
    if windowing == "cosine":
        hann = np.hanning(score_size)
        window = np.outer(hann, hann)
    else:
        window = np.ones((score_size, score_size))
    return np.tile(window.ravel(), anchor_num)


@dataclass(frozen=True)
class SearchGrid:
    """Everything the post-processing needs for one search size, built once.

    Attributes:
        instance_size: search-crop side (pixels).
        score_size: S.
        anchors: (A * S * S, 4) float32 (cx, cy, w, h), crop pixels from the crop centre.
        window: (A * S * S,) float64 motion window.
    """

    instance_size: int
    score_size: int
    anchors: NDArray[np.float32]
    window: NDArray[np.float64]

    @classmethod
    def build(
        cls, instance_size: int, ratios: Sequence[float], scales: Sequence[float], windowing: str = "cosine"
    ) -> "SearchGrid":
        s = spec.score_size(instance_size)
        anchors = generate_anchors(s, ratios, scales)
        return cls(instance_size, s, anchors, motion_window(s, len(ratios) * len(scales), windowing))
