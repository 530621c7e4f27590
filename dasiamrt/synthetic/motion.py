"""Smooth per-frame signals for synthetic sequences: wandering paths, crossings, excursions, shake.

Every function returns arrays over frames t = 0..T-1 and draws its randomness from the given
``numpy.random.Generator``. Positions are in pixels of the world canvas (see ``synthetic.py``).
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

FloatArray = np.ndarray


def smooth_signal(rng: np.random.Generator, num_frames: int, amplitude: float, cycles: Tuple[float, float],
                  components: int = 3) -> FloatArray:
    """Sum of sinusoids with random phases, bounded by ``amplitude`` in absolute value.

    Args:
        rng: random source.
        num_frames: T.
        amplitude: bound of |signal|.
        cycles: (low, high) number of periods per 100 frames of each component.
        components: number of sinusoids.

    Returns:
        (T,) float64; its frame-to-frame change is at most ~2*pi*amplitude*cycles[1]/100.
    """
    t = np.arange(num_frames, dtype=np.float64) / 100.0
    weights = rng.dirichlet(np.ones(components))
    freqs = rng.uniform(cycles[0], cycles[1], components)
    phases = rng.uniform(0, 2 * np.pi, components)
    return amplitude * np.sum(weights[:, None] * np.sin(2 * np.pi * freqs[:, None] * t + phases[:, None]), axis=0)


def ease(x: FloatArray) -> FloatArray:
    """Smoothstep on [0, 1] (0 below, 1 above), zero slope at both ends."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def excursion(num_frames: int, start: int, ramp: int, hold: int) -> FloatArray:
    """A bump 0 -> 1 (over ``ramp`` frames) -> 1 (``hold`` frames) -> 0 (over ``ramp`` frames).

    Returns:
        (T,) float64 in [0, 1], 1 on frames [start + ramp, start + ramp + hold).
    """
    t = np.arange(num_frames, dtype=np.float64)
    up = ease((t - start) / max(ramp, 1))
    down = ease((t - (start + ramp + hold)) / max(ramp, 1))
    return up - down


def crossing_offsets(rng: np.random.Generator, num_frames: int, reach: float, lateral: float,
                     period: Tuple[float, float]) -> FloatArray:
    """Offset of an object relative to the target that swings across it again and again.

    The offset is ``dir * reach * sin(w t + phi) + perp * lateral``: it passes within ``lateral`` of
    the target every half period, from one side then the other.

    Returns:
        (T, 2) float64 offsets (dx, dy) in pixels.
    """
    angle = rng.uniform(0, 2 * np.pi)
    direction = np.array([np.cos(angle), np.sin(angle)])
    perp = np.array([-direction[1], direction[0]])
    t = np.arange(num_frames, dtype=np.float64)
    omega = 2 * np.pi / rng.uniform(*period)
    swing = reach * np.sin(omega * t + rng.uniform(0, 2 * np.pi))
    side = lateral * rng.uniform(-1, 1)
    return swing[:, None] * direction[None, :] + side * perp[None, :]


def visit(target_xy: FloatArray, start_xy: FloatArray, end_xy: FloatArray, t_in: int, ramp: int,
          hold: int) -> FloatArray:
    """Path of an object that waits at ``start_xy``, joins the target, stays on it, then leaves to ``end_xy``.

    Args:
        target_xy: (T, 2) target centre.
        start_xy, end_xy: (2,) rest positions before and after the visit.
        t_in: first frame of the approach; the object sits on the target on
            [t_in + ramp, t_in + ramp + hold).
        ramp: frames to join and to leave.
        hold: frames on the target.

    Returns:
        (T, 2) float64 centre of the visiting object.
    """
    t = np.arange(len(target_xy), dtype=np.float64)
    g_in = ease((t - t_in) / max(ramp, 1))[:, None]
    g_out = ease((t - (t_in + ramp + hold)) / max(ramp, 1))[:, None]
    joined = (1 - g_in) * start_xy[None, :] + g_in * target_xy
    return (1 - g_out) * joined + g_out * end_xy[None, :]


def camera_offsets(rng: np.random.Generator, num_frames: int, shake: float, pan: float) -> np.ndarray:
    """Integer camera offsets: a slow pan plus jitter (camera shake).

    Args:
        shake: amplitude in pixels of the frame-to-frame jitter (0: none).
        pan: amplitude in pixels of the slow drift.

    Returns:
        (T, 2) int64 offsets (ox, oy) with |o| <= ceil(shake + pan).
    """
    drift = np.stack([smooth_signal(rng, num_frames, pan, (0.2, 0.8)) for _ in range(2)], axis=1)
    jitter = rng.uniform(-shake, shake, size=(num_frames, 2)) if shake > 0 else np.zeros((num_frames, 2))
    return np.rint(drift + jitter).astype(np.int64)
