"""Geometry and compositing of textured, rotated, motion-blurred sprites for synthetic sequences.

Continuous image coordinates: pixel (i, j) covers [i, i+1) x [j, j+1), so its centre is (i+0.5, j+0.5)
and a box (x, y, w, h) covers exactly the pixels whose centres fall inside it. A sprite of (tw, th)
pixels is mapped onto a rectangle of size (w, h) centred at (cx, cy), rotated by ``angle_deg``
(counter-clockwise on screen is negative: image y points down).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence, Tuple

import numpy as np

_UNIT_CORNERS = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])


def _cv2() -> Any:
    import cv2  # lazy

    return cv2


@dataclass
class Layer:
    """One object of a scene, over all frames, in world (canvas) coordinates.

    Attributes:
        kind: "target", "lookalike", "other" or "occluder".
        sprite: (th, tw, 3) float32 BGR texture.
        center_xy: (T, 2) centre.
        size_wh: (T, 2) size of the unrotated rectangle.
        angle_deg: (T,) rotation in degrees.
        depth: drawing order; larger is nearer the camera. The target has depth 0.
    """

    kind: str
    sprite: np.ndarray
    center_xy: np.ndarray
    size_wh: np.ndarray
    angle_deg: np.ndarray
    depth: float


def rotation(angle_deg: np.ndarray) -> np.ndarray:
    """(..., 2, 2) rotation matrices for angles in degrees."""
    a = np.deg2rad(angle_deg)
    c, s = np.cos(a), np.sin(a)
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)


def rotate(points: np.ndarray, angle_deg: np.ndarray, inverse: bool = False) -> np.ndarray:
    """Rotate (T, K, 2) points about the origin by per-frame angles (T,) in degrees (or by minus them)."""
    a = np.deg2rad(angle_deg)[:, None]
    c, s = np.cos(a), np.sin(a) * (-1.0 if inverse else 1.0)
    x, y = points[..., 0], points[..., 1]
    return np.stack([c * x - s * y, s * x + c * y], axis=-1)


def corners(center_xy: np.ndarray, size_wh: np.ndarray, angle_deg: np.ndarray) -> np.ndarray:
    """Corners of rotated rectangles.

    Args:
        center_xy: (T, 2). size_wh: (T, 2). angle_deg: (T,).

    Returns:
        (T, 4, 2) corner coordinates.
    """
    local = _UNIT_CORNERS[None, :, :] * size_wh[:, None, :]
    return center_xy[:, None, :] + rotate(local, angle_deg)


def in_view(layer: Layer, cam_xy: np.ndarray, frame_wh: Tuple[int, int]) -> np.ndarray:
    """(T,) bool: the layer's axis-aligned bounds overlap the frame (cheap; no polygon clipping)."""
    pts = corners(layer.center_xy - cam_xy, layer.size_wh, layer.angle_deg)
    lo, hi = pts.min(axis=1), pts.max(axis=1)
    return np.all((hi > 0) & (lo < np.asarray(frame_wh, dtype=np.float64)), axis=1)


def visible_boxes(layer: Layer, cam_xy: np.ndarray, frame_wh: Tuple[int, int]) -> np.ndarray:
    """Axis-aligned boxes of a layer in frame coordinates, clipped to the frame.

    Args:
        layer: the object.
        cam_xy: (T, 2) camera offsets (frame = world - cam).
        frame_wh: (W, H).

    Returns:
        (T, 4) float64 (x, y, w, h), 0-based top-left; NaN rows where under half a pixel is in view.
    """
    pts = corners(layer.center_xy - cam_xy, layer.size_wh, layer.angle_deg)
    limit = np.asarray(frame_wh, dtype=np.float64)
    lo, hi = pts.min(axis=1), pts.max(axis=1)
    for t in np.nonzero(np.any(lo < 0, axis=1) | np.any(hi > limit, axis=1))[0]:
        # the box of the visible part of the rotated rectangle, not the clipped box of the whole
        poly = _clip_polygon(pts[t], limit)
        if len(poly):
            lo[t], hi[t] = poly.min(axis=0), poly.max(axis=0)
        else:
            lo[t] = hi[t] = 0.0
    lo, hi = np.clip(lo, 0.0, limit), np.clip(hi, 0.0, limit)
    boxes = np.concatenate([lo, hi - lo], axis=1)
    boxes[(boxes[:, 2] <= 0.5) | (boxes[:, 3] <= 0.5)] = np.nan
    return boxes


def _clip_polygon(poly: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """Sutherland-Hodgman clipping of a convex (N, 2) polygon to [0, W] x [0, H]; (M, 2), maybe empty."""
    for axis in (0, 1):
        for bound, sign in ((0.0, 1.0), (float(limit[axis]), -1.0)):
            if len(poly) == 0:
                return poly
            inside = sign * (poly[:, axis] - bound) >= 0
            out = []
            for i in range(len(poly)):
                p, q = poly[i], poly[(i + 1) % len(poly)]
                if inside[i]:
                    out.append(p)
                if inside[i] != inside[(i + 1) % len(poly)]:
                    u = (bound - p[axis]) / (q[axis] - p[axis])
                    out.append(p + u * (q - p))
            poly = np.array(out).reshape(-1, 2)
    return poly


def coverage(target: Layer, front: Sequence[Layer], grid: int = 8) -> np.ndarray:
    """Fraction of the target's area hidden by the layers drawn in front of it, per frame.

    Sampled on a ``grid`` x ``grid`` lattice of points inside the target rectangle.

    Returns:
        (T,) float64 in [0, 1].
    """
    u = (np.arange(grid) + 0.5) / grid - 0.5
    local = np.stack(np.meshgrid(u, u), -1).reshape(-1, 2)
    pts = target.center_xy[:, None, :] + rotate(local[None, :, :] * target.size_wh[:, None, :], target.angle_deg)
    hidden = np.zeros(pts.shape[:2], dtype=bool)
    for layer in front:
        back = rotate(pts - layer.center_xy[:, None, :], layer.angle_deg, inverse=True)  # R^T (p - c)
        half = layer.size_wh[:, None, :] / 2
        hidden |= np.all(np.abs(back) <= half, axis=-1)
    return hidden.mean(axis=1)


def _blur_kernel(velocity_xy: np.ndarray, strength: float) -> np.ndarray:
    length = float(np.hypot(*velocity_xy)) * strength
    if length < 1.5:
        return np.ones((1, 1), np.float32)
    size = int(np.ceil(min(length, 15.0))) | 1
    kernel = np.zeros((size, size), np.float32)
    half = (size - 1) / 2
    d = velocity_xy / (np.hypot(*velocity_xy) + 1e-9) * half
    _cv2().line(kernel, (int(round(half - d[0])), int(round(half - d[1]))),
                (int(round(half + d[0])), int(round(half + d[1]))), 1.0, 1, _cv2().LINE_AA)
    return kernel / kernel.sum()


def _coverage(dsize: Tuple[int, int], center_xy: Tuple[float, float], size_wh: Tuple[float, float], c: float,
              s: float) -> np.ndarray:
    """Anti-aliased mask of a rotated rectangle: 0.5 + the signed distance of each pixel centre to its edge.

    A pixel is at least half covered exactly when its centre is inside, and nothing is drawn more than
    half a pixel outside the rectangle (a bilinear warp of a mask would bleed a whole texel).

    Returns:
        (dsize[1], dsize[0]) float32 in [0, 1].
    """
    xs = np.arange(dsize[0], dtype=np.float32) + 0.5 - center_xy[0]
    ys = np.arange(dsize[1], dtype=np.float32) + 0.5 - center_xy[1]
    u = np.abs(c * xs[None, :] + s * ys[:, None])  # local coordinates (rotation by -angle)
    v = np.abs(-s * xs[None, :] + c * ys[:, None])
    inside = np.minimum(size_wh[0] / 2 - u, size_wh[1] / 2 - v)
    return np.clip(inside + 0.5, 0.0, 1.0).astype(np.float32)


def draw(frame: np.ndarray, sprite: np.ndarray, center_xy: np.ndarray, size_wh: np.ndarray, angle_deg: float,
         velocity_xy: np.ndarray, blur: float) -> None:
    """Composite a sprite onto ``frame`` in place (bilinear texture, anti-aliased edges, optional motion blur).

    Args:
        frame: (H, W, 3) uint8 BGR, modified in place.
        sprite: (th, tw, 3) float32 texture.
        center_xy: (2,) centre in frame coordinates.
        size_wh: (2,) rectangle size.
        angle_deg: rotation.
        velocity_xy: (2,) motion in pixels per frame (direction and length of the blur).
        blur: blur length as a fraction of the motion (0: none).
    """
    cv2 = _cv2()
    th, tw = sprite.shape[:2]
    kernel = _blur_kernel(velocity_xy, blur) if blur > 0 else np.ones((1, 1), np.float32)
    pad = kernel.shape[0] // 2 + 2
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)
    cx, cy = float(center_xy[0]), float(center_xy[1])
    w, h = float(size_wh[0]), float(size_wh[1])
    half_x, half_y = (abs(c) * w + abs(s) * h) / 2, (abs(s) * w + abs(c) * h) / 2  # rotated box extents
    height, width = frame.shape[:2]
    x0, y0 = max(math.floor(cx - half_x) - pad, 0), max(math.floor(cy - half_y) - pad, 0)
    x1, y1 = min(math.ceil(cx + half_x) + pad, width), min(math.ceil(cy + half_y) + pad, height)
    if x1 <= x0 or y1 <= y0:
        return
    sx, sy = w / tw, h / th
    # continuous map p = lin (q - (tw/2, th/2)) + centre; in index coordinates dst + 0.5 = lin (src + 0.5) + ...
    a00, a01, a10, a11 = c * sx, -s * sy, s * sx, c * sy
    bx = cx - (a00 * tw + a01 * th) / 2 + (a00 + a01) / 2 - 0.5 - x0
    by = cy - (a10 * tw + a11 * th) / 2 + (a10 + a11) / 2 - 0.5 - y0
    matrix = np.array([[a00, a01, bx], [a10, a11, by]], dtype=np.float64)
    dsize = (x1 - x0, y1 - y0)
    colour = cv2.warpAffine(sprite, matrix, dsize, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    alpha = _coverage(dsize, (cx - x0, cy - y0), (w, h), c, s)
    colour *= alpha[..., None]  # premultiplied
    if kernel.shape[0] > 1:
        colour = cv2.filter2D(colour, -1, kernel, borderType=cv2.BORDER_CONSTANT)
        alpha = cv2.filter2D(alpha, -1, kernel, borderType=cv2.BORDER_CONSTANT)
    roi = frame[y0:y1, x0:x1]
    out = roi.astype(np.float32) * (1.0 - alpha[..., None]) + colour
    np.clip(out, 0, 255, out=out)
    roi[...] = (out + 0.5).astype(np.uint8)
