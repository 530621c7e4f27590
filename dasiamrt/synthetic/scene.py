"""Scene layouts for synthetic sequences: the target's motion and the objects that test a tracker.

:class:`SceneSpec` says what a scene contains; :func:`build_layers` turns a spec and random
generators into :class:`~dasiamrt.synthetic.render.Layer` objects (world coordinates, all frames).
Each group of objects draws from its own generator, so removing a group (or changing the
background) leaves the target's path unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np

from . import motion
from .render import Layer
from .textures import TextureBank, recolour


@dataclass(frozen=True)
class SceneSpec:
    """What a synthetic scene contains (presets in ``synthetic.PRESETS``; override fields by keyword).

    Attributes:
        n_lookalikes: distractors with the target's texture, recoloured by ``lookalike_colour``, that
            swing across the target again and again (some in front of it, some behind).
        n_others: other objects (different textures) wandering over the frame.
        n_occlusions: events where an opaque occluder 1.5x the target's size covers it fully.
        n_out_of_view: events where the target leaves the frame and comes back.
        background: "photo" (falls back to procedural without photos), "procedural" or "uniform".
        background_value: grey level of a "uniform" background.
        blur: motion-blur length as a fraction of the per-frame motion (0: none).
        shake: camera-shake amplitude in pixels (integer jitter of the whole frame).
        pan: slow camera drift amplitude in pixels.
        rotation_deg: amplitude of the target's rotation.
        scale_change: amplitude of log-scale change (0.35: x0.7 .. x1.42).
        aspect_change: amplitude of log-aspect change.
        target_size: (low, high) side of the target as a fraction of min(W, H).
        speed: multiplier of the target's path frequencies.
        lookalike_colour: per-channel gain change of look-alikes (0.12: +-12%).
    """

    n_lookalikes: int = 0
    n_others: int = 0
    n_occlusions: int = 0
    n_out_of_view: int = 0
    background: str = "photo"
    background_value: int = 128
    blur: float = 0.6
    shake: float = 1.5
    pan: float = 8.0
    rotation_deg: float = 15.0
    scale_change: float = 0.35
    aspect_change: float = 0.15
    target_size: Tuple[float, float] = (0.10, 0.20)
    speed: float = 1.0
    lookalike_colour: float = 0.12


def _streams(seed_seq: np.random.SeedSequence) -> Dict[str, np.random.Generator]:
    names = ("target", "events", "lookalike", "other", "occluder", "camera", "texture", "background")
    return {name: np.random.default_rng(child) for name, child in zip(names, seed_seq.spawn(len(names)))}


def _target(spec: SceneSpec, rng: np.random.Generator, bank: TextureBank, frame_wh: Tuple[int, int],
            margin: int, num_frames: int) -> Layer:
    width, height = frame_wh
    side = rng.uniform(*spec.target_size) * min(width, height)
    aspect = np.exp(rng.uniform(-0.5, 0.5))
    base_wh = np.array([side * np.sqrt(aspect), side / np.sqrt(aspect)])
    scale = np.exp(motion.smooth_signal(rng, num_frames, spec.scale_change, (0.2, 0.8)))
    stretch = np.exp(motion.smooth_signal(rng, num_frames, spec.aspect_change, (0.2, 0.8)))
    size_wh = base_wh[None, :] * scale[:, None] * np.stack([np.sqrt(stretch), 1 / np.sqrt(stretch)], 1)
    reach = np.maximum(np.array(frame_wh) / 2 - 0.75 * size_wh.max(), 0.0)
    cycles = (0.2 * spec.speed, 1.0 * spec.speed)
    center = np.stack([margin + width / 2 + motion.smooth_signal(rng, num_frames, reach[0], cycles),
                       margin + height / 2 + motion.smooth_signal(rng, num_frames, reach[1], cycles)], 1)
    angle = motion.smooth_signal(rng, num_frames, spec.rotation_deg, (0.2, 0.8))
    sprite = bank.sprite((max(8, int(round(base_wh[0] * 1.3))), max(8, int(round(base_wh[1] * 1.3)))))
    return Layer("target", sprite.astype(np.float32), center, size_wh, angle, 0.0)


def _schedule(spec: SceneSpec, rng: np.random.Generator, num_frames: int) -> List[Tuple[str, int, int]]:
    """Disjoint time slots (kind, first frame, slot length) for occlusion and out-of-view events."""
    kinds = ["occlusion"] * spec.n_occlusions + ["out-of-view"] * spec.n_out_of_view
    rng.shuffle(kinds)
    if not kinds:
        return []
    start, stop = int(0.12 * num_frames), int(0.95 * num_frames)
    slot = (stop - start) // len(kinds)
    return [(kind, start + i * slot, slot) for i, kind in enumerate(kinds)]


def _out_of_view(target: Layer, rng: np.random.Generator, frame_wh: Tuple[int, int], first: int, slot: int) -> None:
    ramp = max(2, min(15, slot // 4))
    hold = max(1, int(rng.uniform(0.3, 0.5) * (slot - 2 * ramp)))
    bump = motion.excursion(len(target.center_xy), first + int(rng.integers(0, max(1, slot - 2 * ramp - hold))),
                            ramp, hold)
    axis = int(rng.integers(2))
    sign = 1.0 if rng.random() < 0.5 else -1.0
    push = frame_wh[axis] + 2.0 * target.size_wh.max()
    target.center_xy[:, axis] += sign * push * bump


def _occluder(target: Layer, rng: np.random.Generator, bank: TextureBank, first: int, slot: int) -> Layer:
    num_frames = len(target.center_xy)
    ramp = max(2, min(12, slot // 4))
    hold = max(1, int(rng.uniform(0.2, 0.4) * (slot - 2 * ramp)))
    t_in = first + int(rng.integers(0, max(1, slot - 2 * ramp - hold)))
    side = 1.6 * float(target.size_wh.max() * 1.45)  # covers the rotated target at any angle
    size_wh = np.tile([side * rng.uniform(1.0, 1.3), side], (num_frames, 1))
    angles = rng.uniform(0, 2 * np.pi, 2)
    ends = [target.center_xy[min(t, num_frames - 1)] + 2.5 * side * np.array([np.cos(a), np.sin(a)])
            for t, a in zip((t_in, t_in + 2 * ramp + hold), angles)]
    center = motion.visit(target.center_xy, ends[0], ends[1], t_in, ramp, hold)
    sprite = bank.sprite((int(size_wh[0, 0]), int(side))).astype(np.float32)
    return Layer("occluder", sprite, center, size_wh, np.zeros(num_frames), 10.0)


def _lookalike(target: Layer, rng: np.random.Generator, colour: float, index: int) -> Layer:
    num_frames = len(target.center_xy)
    side = float(np.sqrt(np.prod(target.size_wh, axis=1)).mean())
    offsets = motion.crossing_offsets(rng, num_frames, rng.uniform(1.5, 3.0) * side, 0.4 * side, (40.0, 90.0))
    size_wh = target.size_wh * rng.uniform(0.85, 1.15)
    angle = target.angle_deg + motion.smooth_signal(rng, num_frames, 10.0, (0.2, 0.8))
    sprite = recolour(target.sprite.astype(np.uint8), rng, colour).astype(np.float32)
    depth = (1.0 if rng.random() < 0.4 else -1.0) * (1 + index)
    return Layer("lookalike", sprite, target.center_xy + offsets, size_wh, angle, depth)


def _other(target: Layer, rng: np.random.Generator, bank: TextureBank, frame_wh: Tuple[int, int], margin: int,
           index: int) -> Layer:
    num_frames = len(target.center_xy)
    side = float(np.sqrt(np.prod(target.size_wh, axis=1)).mean()) * rng.uniform(0.7, 1.5)
    aspect = np.exp(rng.uniform(-0.6, 0.6))
    size_wh = np.tile([side * np.sqrt(aspect), side / np.sqrt(aspect)], (num_frames, 1))
    center = np.stack([margin + frame_wh[0] / 2 + motion.smooth_signal(rng, num_frames, frame_wh[0] / 2, (0.2, 0.8)),
                       margin + frame_wh[1] / 2 + motion.smooth_signal(rng, num_frames, frame_wh[1] / 2, (0.2, 0.8))],
                      1)
    angle = motion.smooth_signal(rng, num_frames, 30.0, (0.1, 0.5))
    sprite = bank.sprite((int(size_wh[0, 0]) + 1, int(size_wh[0, 1]) + 1)).astype(np.float32)
    depth = (1.0 if rng.random() < 0.5 else -1.0) * (5 + index)
    return Layer("other", sprite, center, size_wh, angle, depth)


def build_layers(spec: SceneSpec, seed_seq: np.random.SeedSequence, photos: Sequence[Path], frame_wh: Tuple[int, int],
                 margin: int, num_frames: int) -> Tuple[List[Layer], np.ndarray, np.ndarray]:
    """Every object of the scene, the camera path and the background canvas.

    Args:
        spec: scene contents.
        seed_seq: the sequence's seed.
        photos: photo files for textures (may be empty).
        frame_wh: (W, H) of the frames.
        margin: canvas margin around the frame, at least the camera's largest offset.
        num_frames: T.

    Returns:
        (layers sorted by depth, (T, 2) int64 camera offsets of the frame in the canvas,
        (H + 2 margin, W + 2 margin, 3) uint8 canvas).
    """
    rng = _streams(seed_seq)
    bank = TextureBank(photos, rng["texture"])
    target = _target(spec, rng["target"], bank, frame_wh, margin, num_frames)
    layers = [target]
    events = _schedule(spec, rng["events"], num_frames)
    for kind, first, slot in events:
        if kind == "out-of-view":
            _out_of_view(target, rng["events"], frame_wh, first, slot)
    for kind, first, slot in events:  # after the excursions: occluders follow the final path
        if kind == "occlusion":
            layers.append(_occluder(target, rng["occluder"], bank, first, slot))
    layers += [_lookalike(target, rng["lookalike"], spec.lookalike_colour, i) for i in range(spec.n_lookalikes)]
    layers += [_other(target, rng["other"], bank, frame_wh, margin, i) for i in range(spec.n_others)]
    cam = margin + motion.camera_offsets(rng["camera"], num_frames, spec.shake, spec.pan)
    canvas_wh = (frame_wh[0] + 2 * margin, frame_wh[1] + 2 * margin)
    if spec.background == "uniform":
        canvas = np.full((canvas_wh[1], canvas_wh[0], 3), spec.background_value, np.uint8)
    elif spec.background == "procedural" or not photos:
        from .textures import procedural_background

        canvas = procedural_background(rng["background"], canvas_wh)
    else:
        canvas = TextureBank(photos, rng["background"]).background(canvas_wh)
    return sorted(layers, key=lambda layer: layer.depth), cam, canvas
