"""Geometry and compositing of textured, rotated, motion-blurred sprites for synthetic sequences.

Continuous image coordinates: pixel (i, j) covers [i, i+1) x [j, j+1), so its centre is (i+0.5, j+0.5)
and a box (x, y, w, h) covers exactly the pixels whose centres fall inside it. A sprite of (tw, th)
pixels is mapped onto a rectangle of size (w, h) centred at (cx, cy), rotated by ``angle_deg``
(counter-clockwise on screen is negative: image y points down).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Tuple

import numpy as np

_UNIT_CORNERS = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])


def _cv2():
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


def corners(center_xy: np.ndarray, size_wh: np.ndarray, angle_deg: np.ndarray) -> np.ndarray:
    """Corners of rotated rectangles.

    Args:
        center_xy: (T, 2). size_wh: (T, 2). angle_deg: (T,).

    Returns:
        (T, 4, 2) corner coordinates.
    """
    local = _UNIT_CORNERS[None, :, :] * size_wh[:, None, :]
    return center_xy[:, None, :] + np.einsum("tij,tkj->tki", rotation(angle_deg), local)


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
    pts = target.center_xy[:, None, :] + np.einsum(
        "tij,tkj->tki", rotation(target.angle_deg), local[None, :, :] * target.size_wh[:, None, :])
    hidden = np.zeros(pts.shape[:2], dtype=bool)
    for layer in front:
        rel = pts - layer.center_xy[:, None, :]
        back = np.einsum("tji,tkj->tki", rotation(layer.angle_deg), rel)  # R^T rel
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


def draw(frame: np.ndarray, sprite: np.ndarray, center_xy: np.ndarray, size_wh: np.ndarray, angle_deg: float,
         velocity_xy: np.ndarray, blur: float) -> None:
    """Composite a sprite onto ``frame`` in place (bilinear, anti-aliased edges, optional motion blur).

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
    pts = corners(center_xy[None], size_wh[None], np.array([angle_deg]))[0]
    height, width = frame.shape[:2]
    x0, y0 = max(int(np.floor(pts[:, 0].min())) - pad, 0), max(int(np.floor(pts[:, 1].min())) - pad, 0)
    x1, y1 = min(int(np.ceil(pts[:, 0].max())) + pad, width), min(int(np.ceil(pts[:, 1].max())) + pad, height)
    if x1 <= x0 or y1 <= y0:
        return
    lin = rotation(np.array(angle_deg)) @ np.diag([size_wh[0] / tw, size_wh[1] / th])
    offset = np.asarray(center_xy) - lin @ np.array([tw / 2.0, th / 2.0])
    # index coordinates: dst + 0.5 = lin (src + 0.5) + offset, then shift into the ROI
    shift = lin @ np.array([0.5, 0.5]) + offset - 0.5 - np.array([x0, y0])
    matrix = np.hstack([lin, shift[:, None]]).astype(np.float64)
    dsize = (x1 - x0, y1 - y0)
    colour = cv2.warpAffine(sprite, matrix, dsize, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    alpha = cv2.warpAffine(np.ones((th, tw), np.float32), matrix, dsize, flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT)
    if kernel.shape[0] > 1:
        colour = cv2.filter2D(colour, -1, kernel, borderType=cv2.BORDER_CONSTANT)
        alpha = cv2.filter2D(alpha, -1, kernel, borderType=cv2.BORDER_CONSTANT)
    roi = frame[y0:y1, x0:x1]
    out = roi.astype(np.float32) * (1.0 - alpha[..., None]) + colour
    np.clip(out, 0, 255, out=out)
    roi[...] = (out + 0.5).astype(np.uint8)
