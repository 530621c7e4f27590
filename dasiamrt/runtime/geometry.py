"""Box and crop geometry shared by the tracker, calibration and training.

Coordinate frames:
    image pixels: x right, y down, 0-based; a box ``bbox_xywh`` = (x, y, w, h) has top-left (x, y).
    ``center_xy`` = (x + w / 2, y + h / 2) (the official tracker's convention for 0-based boxes).
    crop pixels (suffix ``_crop``): offsets from the centre of a search crop, in the crop's resized
    pixels; ``scale_z`` = 127 / s_z converts image pixels to crop pixels.

Crop sides:
    s_z  side of the template region around the target:
         sqrt((w + context (w + h)) * (h + context (w + h))).
    s_x  side of the search region: s_z + 2 * ((instance_size - 127) / 2) / scale_z.
"""
from __future__ import annotations

import math
from typing import Any, Sequence, Tuple, Union

import numpy as np
from numpy.typing import NDArray

from ..errors import BoxError

#: A pair or quadruple of coordinates: a sequence of floats or a float numpy array.
Coords = Union[Sequence[float], NDArray[Any]]


def round_half_away(value: float) -> int:
    """Round half away from zero (Python 2 ``round``, which the official results depend on)."""
    return int(math.floor(abs(value) + 0.5)) * (1 if value >= 0 else -1)


def context_size(size_wh: Coords, context_amount: float) -> float:
    """s_z, the side of the square template region (image pixels, not rounded)."""
    w, h = float(size_wh[0]), float(size_wh[1])
    pad = context_amount * (w + h)
    return math.sqrt((w + pad) * (h + pad))


def search_region(s_z: float, instance_size: int, exemplar_size: int) -> Tuple[float, float]:
    """(scale_z, s_x) for a search crop of ``instance_size`` pixels around a template region s_z."""
    scale_z = exemplar_size / s_z
    d_search = (instance_size - exemplar_size) / 2
    return scale_z, s_z + 2 * (d_search / scale_z)


def xywh_to_center(bbox_xywh: Sequence[float]) -> Tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(center_xy, size_wh) float64 of a 0-based top-left box."""
    x, y, w, h = (float(v) for v in bbox_xywh)
    return np.array([x + w / 2, y + h / 2]), np.array([w, h])


def center_to_xywh(center_xy: Coords, size_wh: Coords) -> Tuple[float, float, float, float]:
    """0-based top-left box of a centre and size."""
    w, h = float(size_wh[0]), float(size_wh[1])
    return (float(center_xy[0]) - w / 2, float(center_xy[1]) - h / 2, w, h)


def check_init_box(bbox_xywh: Sequence[float], image_shape: Sequence[int]) -> Tuple[float, float, float, float]:
    """Validate an initial box against the frame.

    Raises:
        BoxError: wrong length, non-finite values, a side under one pixel (no template crop can be cut
            around it), a side over twice the frame's (a typo that would make crops of gigabytes; the
            tracker never lets the box grow past the frame anyway), or no overlap with the frame.
    """
    values = tuple(float(v) for v in bbox_xywh)
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise BoxError(f"initial box must be 4 finite numbers x,y,w,h, got {bbox_xywh!r}")
    x, y, w, h = values
    height, width = int(image_shape[0]), int(image_shape[1])
    if w <= 0 or h <= 0:
        raise BoxError(f"initial box {x:g},{y:g},{w:g},{h:g} has no area: width and height must be > 0")
    if w < 1 or h < 1:
        raise BoxError(f"initial box {x:g},{y:g},{w:g},{h:g} is smaller than a pixel: width and height must be >= 1")
    if w > 2 * width or h > 2 * height:
        raise BoxError(f"initial box {x:g},{y:g},{w:g},{h:g} is over twice the size of the {width}x{height} frame: "
                       "give x,y,w,h in pixels of the first frame")
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise BoxError(
            f"initial box {x:g},{y:g},{w:g},{h:g} lies outside the {width}x{height} frame: "
            "give x,y,w,h in pixels of the first frame (0-based top-left)"
        )
    return values


def parse_box(text: str) -> Tuple[float, float, float, float]:
    """``"x,y,w,h"`` (an ``--init`` value) -> floats (checked against the frame later, :func:`check_init_box`).

    Raises:
        BoxError: not four numbers.
    """
    parts = [p for p in text.replace(" ", "").split(",") if p]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise BoxError(f"--init must be x,y,w,h numbers, got {text!r}") from None
    if len(values) != 4:
        raise BoxError(f"--init must have 4 numbers x,y,w,h, got {text!r}")
    return values[0], values[1], values[2], values[3]


def iou_xywh(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """IoU of boxes (..., 4) in x, y, w, h (broadcasting); 0 where the union is empty.

    A box covers [x, x + w) x [y, y + h) with area w * h (no "+1" pixel convention); a negative
    width or height gives no intersection, so IoU 0. :func:`dasiamrt.eval.boxes.iou_xywh` adds the
    benchmark conventions (NaN boxes, clipping to the image) on top of this one.
    """
    ax2, ay2 = a[..., 0] + a[..., 2], a[..., 1] + a[..., 3]
    bx2, by2 = b[..., 0] + b[..., 2], b[..., 1] + b[..., 3]
    iw = np.clip(np.minimum(ax2, bx2) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(ay2, by2) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    union = a[..., 2] * a[..., 3] + b[..., 2] * b[..., 3] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
