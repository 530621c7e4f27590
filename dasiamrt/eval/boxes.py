"""Box geometry for evaluation: IoU of (x, y, w, h) boxes, polygon overlap (VOT), centre errors.

All boxes are (x, y, w, h) with (x, y) the top-left corner, in continuous coordinates: a box covers
[x, x + w) x [y, y + h) and its area is w * h (no "+1" pixel convention; OTB's ``calcRectInt``,
pysot's ``overlap_ratio`` and got10k's ``rect_iou`` do the same).
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np


def iou_xywh(a: np.ndarray, b: np.ndarray, bound_wh: Optional[Tuple[float, float]] = None) -> np.ndarray:
    """Intersection over union of paired boxes.

    Args:
        a, b: (N, 4) boxes (x, y, w, h).
        bound_wh: (W, H): clip both boxes to [0, W] x [0, H] first (GOT-10k's convention).

    Returns:
        (N,) float64 in [0, 1]; NaN where either box has a NaN, 0 where the union is empty.
    """
    a = np.array(a, dtype=np.float64, ndmin=2)
    b = np.array(b, dtype=np.float64, ndmin=2)
    if bound_wh is not None:
        a, b = clip_xywh(a, bound_wh), clip_xywh(b, bound_wh)
    x1 = np.maximum(a[:, 0], b[:, 0])
    y1 = np.maximum(a[:, 1], b[:, 1])
    x2 = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2])
    y2 = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = np.clip(a[:, 2], 0, None) * np.clip(a[:, 3], 0, None)
    area_b = np.clip(b[:, 2], 0, None) * np.clip(b[:, 3], 0, None)
    union = area_a + area_b - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    iou[np.isnan(a).any(axis=1) | np.isnan(b).any(axis=1)] = np.nan
    return np.clip(iou, 0.0, 1.0)


def clip_xywh(boxes: np.ndarray, bound_wh: Tuple[float, float]) -> np.ndarray:
    """Clip (N, 4) boxes to [0, W] x [0, H] (x, y first, then w, h to what is left)."""
    out = np.array(boxes, dtype=np.float64, ndmin=2)
    out[:, 0] = np.clip(out[:, 0], 0, bound_wh[0])
    out[:, 1] = np.clip(out[:, 1], 0, bound_wh[1])
    out[:, 2] = np.clip(out[:, 2], 0, bound_wh[0] - out[:, 0])
    out[:, 3] = np.clip(out[:, 3], 0, bound_wh[1] - out[:, 1])
    return out


def centers(boxes: np.ndarray) -> np.ndarray:
    """(N, 2) box centres x + w / 2, y + h / 2."""
    boxes = np.asarray(boxes, dtype=np.float64)
    return boxes[:, :2] + boxes[:, 2:] / 2.0


def center_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,) Euclidean distance in pixels between the centres of paired boxes (NaN propagates)."""
    return np.hypot(*(centers(a) - centers(b)).T)


def normalized_center_error(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(N,) centre distance with each axis divided by the ground-truth width / height (TrackingNet, LaSOT)."""
    gt = np.asarray(gt, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        d = (centers(pred) - centers(gt)) / gt[:, 2:]
    return np.hypot(*d.T)


def polygon_to_xywh(poly: np.ndarray) -> np.ndarray:
    """Area-preserving axis-aligned box of a VOT region, as the official DaSiamRPN and pysot VOT code.

    The box keeps the polygon's centre (mean of its points) and scales its bounding box so that the
    areas match: s = sqrt(|p1 - p2| |p2 - p3| / (bw bh)), w = s bw + 1, h = s bh + 1 (the "+1" is theirs).
    4-number regions are returned unchanged.

    Args:
        poly: (8,) x1, y1, ..., x4, y4, or (4,) x, y, w, h.

    Returns:
        (4,) float64 (x, y, w, h).
    """
    poly = np.asarray(poly, dtype=np.float64)
    if poly.size == 4:
        return poly.copy()
    xs, ys = poly[0::2], poly[1::2]
    cx, cy = xs.mean(), ys.mean()
    bw, bh = xs.max() - xs.min(), ys.max() - ys.min()
    a1 = np.linalg.norm(poly[0:2] - poly[2:4]) * np.linalg.norm(poly[2:4] - poly[4:6])
    s = np.sqrt(a1 / (bw * bh)) if bw * bh > 0 else 1.0
    w, h = s * bw + 1, s * bh + 1
    return np.array([cx - w / 2, cy - h / 2, w, h])


def xywh_to_polygon(box: np.ndarray) -> np.ndarray:
    """(4,) box -> (8,) polygon, corners clockwise in image coordinates from the top-left."""
    x, y, w, h = np.asarray(box, dtype=np.float64)
    return np.array([x, y, x + w, y, x + w, y + h, x, y + h])


def _area(pts: np.ndarray) -> float:
    if len(pts) < 3:
        return 0.0
    x, y = pts[:, 0], pts[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _clip(subject: np.ndarray, clip: np.ndarray) -> np.ndarray:
    """Sutherland-Hodgman: ``subject`` (any simple polygon) clipped by the convex polygon ``clip``."""
    if len(clip) < 3:
        return np.zeros((0, 2))
    x, y = clip[:, 0], clip[:, 1]
    orient = np.sign(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))) or 1.0
    out = subject
    for i in range(len(clip)):
        a, b = clip[i], clip[(i + 1) % len(clip)]
        if len(out) == 0:
            break
        side = orient * ((b[0] - a[0]) * (out[:, 1] - a[1]) - (b[1] - a[1]) * (out[:, 0] - a[0]))
        pts = []
        for j in range(len(out)):
            k = (j + 1) % len(out)
            if side[j] >= 0:
                pts.append(out[j])
            if (side[j] >= 0) != (side[k] >= 0):
                u = side[j] / (side[j] - side[k])
                pts.append(out[j] + u * (out[k] - out[j]))
        out = np.array(pts).reshape(-1, 2)
    return out


def region_overlap(pred: np.ndarray, gt: np.ndarray, bound_wh: Optional[Tuple[float, float]] = None) -> float:
    """IoU of two VOT regions (4-number boxes or 8-number polygons), optionally bounded by the image.

    Exact polygon areas (the VOT toolkit rasterises regions to pixels, which can differ by about a
    pixel's share of the area). ``pred`` must be convex when it is a polygon (trackers output boxes or
    rotated rectangles).

    Returns:
        IoU in [0, 1]; NaN when either region has a NaN.
    """
    p = np.asarray(pred, dtype=np.float64).ravel()
    g = np.asarray(gt, dtype=np.float64).ravel()
    if np.isnan(p).any() or np.isnan(g).any():
        return float("nan")
    p_poly = (xywh_to_polygon(p) if p.size == 4 else p).reshape(-1, 2)
    g_poly = (xywh_to_polygon(g) if g.size == 4 else g).reshape(-1, 2)
    if bound_wh is not None:
        frame = xywh_to_polygon(np.array([0.0, 0.0, bound_wh[0], bound_wh[1]])).reshape(-1, 2)
        p_poly, g_poly = _clip(p_poly, frame), _clip(g_poly, frame)
    inter = _area(_clip(g_poly, p_poly)) if len(p_poly) >= 3 and len(g_poly) >= 3 else 0.0
    union = _area(p_poly) + _area(g_poly) - inter
    return float(np.clip(inter / union, 0.0, 1.0)) if union > 0 else 0.0
