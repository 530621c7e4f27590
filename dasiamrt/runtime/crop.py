"""Mean-padded square sub-window crops (the official ``get_subwindow_tracking``, made allocation-light).

The crop of side ``original_size`` (image pixels) starts at ``round(center - (original_size + 1) / 2)``
(Python-2 rounding), so its pixel centre sits ~1 px up-left of ``center_xy``: a legacy of the
MATLAB code that the official numbers depend on. Pixels outside the image take ``pad_value``, the
first frame's per-channel mean truncated to uint8. The region is resized bilinearly
(``cv2.INTER_LINEAR``) on uint8 data to ``model_size``.

:func:`template_crop` and :func:`search_crop` are THE crop recipe (s_z, s_x and rounding of
:mod:`.geometry`): the tracker makes its crops with them, and so does everything that must see the
tracker's own crops (calibration crops, accuracy comparisons). Training crops
(:func:`dasiamrt.train.geometry.crop_square`) follow the same convention with a float side and
augmentation in one warp.
"""
from __future__ import annotations

from typing import Tuple

import cv2
import numpy as np
from numpy.typing import NDArray

from .. import spec
from .geometry import Coords, context_size, round_half_away, search_region, xywh_to_center


def channel_mean(image: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Per-channel mean of a frame truncated to uint8 (3,): the official padding value."""
    mean: NDArray[np.uint8] = np.mean(image, axis=(0, 1)).astype(np.uint8)
    return mean


def get_subwindow(
    image: NDArray[np.uint8],
    center_xy: Coords,
    model_size: int,
    original_size: int,
    pad_value: NDArray[np.uint8],
) -> NDArray[np.uint8]:
    """Crop a square region around ``center_xy`` and resize it.

    Args:
        image: (H, W, 3) uint8 BGR frame.
        center_xy: region centre, image pixels.
        model_size: side of the returned crop (127, 255, 271, 767...).
        original_size: side of the region in image pixels (an integer, already rounded).
        pad_value: (3,) uint8 fill for pixels outside the frame.

    Returns:
        (model_size, model_size, 3) uint8 crop.
    """
    size = int(original_size)
    if size < 1:
        raise ValueError(f"crop side must be >= 1 px, got {original_size}")
    c = (size + 1) / 2
    x0 = round_half_away(float(center_xy[0]) - c)
    y0 = round_half_away(float(center_xy[1]) - c)
    height, width = image.shape[:2]
    if x0 >= 0 and y0 >= 0 and x0 + size <= width and y0 + size <= height:
        patch = image[y0 : y0 + size, x0 : x0 + size]
    else:
        ix0, iy0 = max(x0, 0), max(y0, 0)
        ix1, iy1 = min(x0 + size, width), min(y0 + size, height)
        if ix1 > ix0 and iy1 > iy0:
            # One C pass: copy the visible part and pad around it with the mean colour.
            patch = cv2.copyMakeBorder(  # type: ignore[assignment]
                image[iy0:iy1, ix0:ix1], iy0 - y0, y0 + size - iy1, ix0 - x0, x0 + size - ix1,
                cv2.BORDER_CONSTANT, value=tuple(int(v) for v in pad_value),
            )
        else:
            patch = np.empty((size, size, image.shape[2]), dtype=np.uint8)
            patch[:] = pad_value
    if size != model_size:
        patch = cv2.resize(patch, (model_size, model_size))  # type: ignore[assignment]
    return patch


def to_blob(patch: NDArray[np.uint8]) -> NDArray[np.float32]:
    """(H, W, 3) uint8 crop -> (1, 3, H, W) float32 network input (BGR, 0..255, no normalisation)."""
    return np.ascontiguousarray(patch.transpose(2, 0, 1)[None], dtype=np.float32)


def template_crop(frame: NDArray[np.uint8], bbox_xywh: Coords, pad_value: NDArray[np.uint8], context_amount: float,
                  exemplar_size: int = spec.EXEMPLAR_SIZE) -> NDArray[np.uint8]:
    """The exemplar crop of ``Tracker.init``: side s_z (rounded) around the box, resized to 127.

    Args:
        frame: (H, W, 3) uint8 BGR.
        bbox_xywh: target box, 0-based image pixels.
        pad_value: (3,) uint8 padding (the first frame's channel mean).
        context_amount: template context (the tracker setting).

    Returns:
        (exemplar_size, exemplar_size, 3) uint8.
    """
    center, size = xywh_to_center([float(v) for v in bbox_xywh])
    s_z = round_half_away(context_size(size, context_amount))
    return get_subwindow(frame, center, exemplar_size, s_z, pad_value)


def search_crop(frame: NDArray[np.uint8], center_xy: Coords, size_wh: Coords, instance_size: int,
                pad_value: NDArray[np.uint8], context_amount: float,
                exemplar_size: int = spec.EXEMPLAR_SIZE) -> Tuple[NDArray[np.uint8], float]:
    """The search crop of ``Tracker.track`` around a state (centre, size): side s_x (rounded), resized to H.

    Returns:
        ((instance_size, instance_size, 3) uint8 crop, scale_z = 127 / s_z: image pixels -> crop pixels).
    """
    s_z = context_size(size_wh, context_amount)
    scale_z, s_x = search_region(s_z, instance_size, exemplar_size)
    return get_subwindow(frame, center_xy, instance_size, round_half_away(s_x), pad_value), scale_z
