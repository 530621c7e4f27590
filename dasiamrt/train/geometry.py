"""Crop and anchor geometry for training, identical in convention to the tracker's.

Coordinates: image pixels for ``center_xy``/``bbox_xywh``; anchors and target boxes of a search
crop are offsets in *crop* pixels from the crop's centre (the point the tracker adds its decoded
deltas to), format (cx, cy, w, h).

The crop reproduces the tracker's square sub-window: side ``original_size`` image pixels around
``center_xy``, resized to ``model_size`` with bilinear interpolation, padded with the image's mean
colour, and sitting ~1 px up-left of the centre like the official ``get_subwindow_tracking``
(a MATLAB legacy). It is one ``cv2.warpAffine``, so the training-time scale and shift augmentation
cost nothing extra (``runtime.crop.get_subwindow`` takes an integer side and no shift). Anchors and
s_z are the runtime's own functions.
"""
from __future__ import annotations

from typing import Sequence, Tuple, cast

import cv2
import numpy as np
import numpy.typing as npt

from ..runtime import anchors as runtime_anchors
from ..runtime import geometry as runtime_geometry
from ..spec import EXEMPLAR_SIZE, TOTAL_STRIDE

RATIOS: Tuple[float, ...] = (0.33, 0.5, 1.0, 2.0, 3.0)
SCALES: Tuple[float, ...] = (8.0,)


def generate_anchors(
    score_size: int, ratios: Sequence[float] = RATIOS, scales: Sequence[float] = SCALES, stride: int = TOTAL_STRIDE
) -> npt.NDArray[np.float32]:
    """Anchors of an S x S score map, anchor-major (row ``a*S*S + y*S + x``): the runtime's own.

    Returns:
        (A*S*S, 4) float32 (cx, cy, w, h) in crop pixels from the crop centre; grid origin
        ``-(S // 2) * stride``.
    """
    return runtime_anchors.generate_anchors(score_size, ratios, scales, stride)


def iou_cxcywh(boxes: npt.NDArray[np.floating], box: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """IoU of each row of ``boxes`` (N, 4) with one ``box`` (4,), both (cx, cy, w, h)."""
    b = np.asarray(box, dtype=np.float64)
    x1 = np.maximum(boxes[:, 0] - boxes[:, 2] / 2, b[0] - b[2] / 2)
    y1 = np.maximum(boxes[:, 1] - boxes[:, 3] / 2, b[1] - b[3] / 2)
    x2 = np.minimum(boxes[:, 0] + boxes[:, 2] / 2, b[0] + b[2] / 2)
    y2 = np.minimum(boxes[:, 1] + boxes[:, 3] / 2, b[1] + b[3] / 2)
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    union = boxes[:, 2] * boxes[:, 3] + b[2] * b[3] - inter
    return cast("npt.NDArray[np.float32]", (inter / np.maximum(union, 1e-12)).astype(np.float32))


def context_size(size_wh: Sequence[float], context_amount: float = 0.5) -> float:
    """s_z: side of the template region, sqrt((w + c(w+h)) (h + c(w+h))) in image pixels (the runtime's)."""
    return runtime_geometry.context_size(size_wh, context_amount)


def search_side(s_z: float, instance_size: int) -> float:
    """s_x: side in image pixels of the search region that maps to ``instance_size`` at scale_z = 127 / s_z.

    The s_x of :func:`dasiamrt.runtime.geometry.search_region` (which returns (scale_z, s_x)), unrounded:
    training crops take a float side.
    """
    return s_z * instance_size / EXEMPLAR_SIZE


def crop_square(
    image: npt.NDArray[np.uint8],
    center_xy: Sequence[float],
    original_size: float,
    model_size: int,
    pad_value: Sequence[float],
) -> npt.NDArray[np.uint8]:
    """Square sub-window of side ``original_size`` around ``center_xy``, resized to ``model_size``.

    Args:
        image: (H, W, 3) uint8 BGR frame.
        center_xy: crop centre, image pixels.
        original_size: side of the region in image pixels (s_z or s_x).
        model_size: output side (127 or the search size).
        pad_value: BGR fill for the parts outside the image (the frame's mean colour).

    Returns:
        (model_size, model_size, 3) uint8.
    """
    return crop_rect(image, center_xy, (original_size, original_size), model_size, pad_value)


def crop_rect(
    image: npt.NDArray[np.uint8],
    center_xy: Sequence[float],
    region_wh: Sequence[float],
    model_size: int,
    pad_value: Sequence[float],
) -> npt.NDArray[np.uint8]:
    """Sub-window of ``region_wh`` image pixels around ``center_xy``, resized to a ``model_size`` square.

    A non-square region stretches the image: a region of (s / f_x, s / f_y) shows the scene as if its
    x axis were scaled by f_x and its y axis by f_y before a square crop of side s (the aspect-ratio
    augmentation). Each axis keeps :func:`crop_square`'s alignment.

    Returns:
        (model_size, model_size, 3) uint8.
    """
    ax, ay = float(region_wh[0]) / model_size, float(region_wh[1]) / model_size
    # Output pixel u samples image x = x0 + a*(u + 0.5) - 0.5 with x0 = cx - (sz + 1) / 2: the
    # official crop's alignment (its centre lands ~1 px up-left of cx), without its integer rounding.
    ox = float(center_xy[0]) - (float(region_wh[0]) + 1) / 2 + 0.5 * ax - 0.5
    oy = float(center_xy[1]) - (float(region_wh[1]) + 1) / 2 + 0.5 * ay - 0.5
    matrix = np.array([[ax, 0.0, ox], [0.0, ay, oy]], dtype=np.float64)
    fill = tuple(float(v) for v in pad_value[:3])
    return cast("npt.NDArray[np.uint8]", cv2.warpAffine(
        image, matrix, (model_size, model_size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT, borderValue=fill,
    ))


def box_in_crop(
    bbox_xywh: Sequence[float], center_xy: Sequence[float], original_size: float, model_size: int
) -> npt.NDArray[np.float32]:
    """An image box as (cx, cy, w, h) crop-pixel offsets from the crop centre (the anchors' frame)."""
    scale = model_size / float(original_size)
    x, y, w, h = (float(v) for v in bbox_xywh)
    return np.array(
        [(x + w / 2 - center_xy[0]) * scale, (y + h / 2 - center_xy[1]) * scale, w * scale, h * scale],
        dtype=np.float32,
    )


def box_in_rect(
    bbox_xywh: Sequence[float], center_xy: Sequence[float], region_wh: Sequence[float], model_size: int
) -> npt.NDArray[np.float32]:
    """:func:`box_in_crop` for a :func:`crop_rect` region (per-axis scales)."""
    sx, sy = model_size / float(region_wh[0]), model_size / float(region_wh[1])
    x, y, w, h = (float(v) for v in bbox_xywh)
    return np.array(
        [(x + w / 2 - center_xy[0]) * sx, (y + h / 2 - center_xy[1]) * sy, w * sx, h * sy],
        dtype=np.float32,
    )
