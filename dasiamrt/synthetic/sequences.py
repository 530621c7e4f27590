"""Synthetic tracking sequences with exact ground truth, rendered from a seed.

A textured target moves smoothly (translation, scale, aspect and rotation change, motion blur) over a
photo or procedural background seen by a shaking, drifting camera. Presets add what makes tracking
hard: look-alike distractors crossing the target (``distractors``), full occlusions (``occlusion``),
exits from the frame and re-entries (``out-of-view``), or all of them (``mixed``); ``plain`` has none.

Ground truth: ``boxes_xywh[t]`` is the axis-aligned bounding box of the target's (rotated) rectangle
in frame t, 0-based top-left (x, y, w, h) in pixels, clipped to the frame; NaN when the target is
entirely out of view. Under occlusion the box is where the target is, hidden or not (as in LaSOT
and GOT-10k). Pixel convention: pixel (i, j) covers [i, i+1) x [j, j+1), so the box covers the
pixels whose centres the target covers (see ``render.py``).

Frames are rendered on access (about a millisecond each at 480x360): ``seq.frames[t]`` or iterate.
Same preset + seed + size + textures -> identical frames and boxes.
"""
from __future__ import annotations

import dataclasses
import logging
import zlib
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..errors import ConfigError
from ..fileio import atomic_write_bytes, atomic_write_text
from . import render
from .scene import SceneSpec, build_layers
from .textures import list_photos

log = logging.getLogger(__name__)

#: Scene contents of each preset.
PRESETS: Dict[str, SceneSpec] = {
    "plain": SceneSpec(),
    "distractors": SceneSpec(n_lookalikes=3, n_others=1),
    "occlusion": SceneSpec(n_occlusions=2, n_others=1),
    "out-of-view": SceneSpec(n_out_of_view=1, n_others=1),
    "mixed": SceneSpec(n_lookalikes=2, n_others=1, n_occlusions=1, n_out_of_view=1),
}

#: Frames after the target comes back (from out of view or full occlusion) flagged ``reappeared``.
REAPPEARED_SPAN = 30
#: Per-frame attributes written by :func:`write_otb_layout` (and read back by the OTB reader).
ATTRIBUTES = ("full_occlusion", "out_of_view", "occluded", "distractor_near", "reappeared")
#: Layer kinds, in the vocabulary of :class:`~dasiamrt.synthetic.render.Layer`.
KINDS = ("target", "lookalike", "other", "occluder")


class FrameList(Sequence[np.ndarray]):
    """Frames of a :class:`SyntheticSequence`, rendered when indexed: (H, W, 3) uint8 BGR each."""

    def __init__(self, sequence: "SyntheticSequence") -> None:
        self._sequence = sequence

    def __len__(self) -> int:
        return len(self._sequence.boxes_xywh)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"frame {index} out of range for {n} frames")
        return self._sequence.render(index % n)

    def __iter__(self) -> Iterator[np.ndarray]:
        for t in range(len(self)):
            yield self._sequence.render(t)


class SyntheticSequence:
    """One generated sequence (build with :func:`make_sequence`).

    Attributes:
        name: "<preset>-<seed>", also its folder name in the OTB layout.
        frames: lazy list of (H, W, 3) uint8 BGR frames.
        boxes_xywh: (T, 4) float64 target boxes, 0-based (x, y, w, h); NaN rows when out of view.
        attributes: per-frame (T,) bool arrays: ``occluded`` (>= 50% hidden by objects in front),
            ``full_occlusion`` (>= 99% hidden), ``out_of_view`` (no part in the frame),
            ``distractor_near`` (a look-alike in view, centre within 2 target sides), ``reappeared``
            (the :data:`REAPPEARED_SPAN` frames after an out-of-view or full-occlusion span: re-detection).
        visible_fraction: (T,) float64, share of the target neither hidden nor outside the frame
            (coarse: 8x8 samples).
        size_wh: (W, H) of the frames.
    """

    def __init__(self, name: str, spec: SceneSpec, layers: List[render.Layer], cam_xy: np.ndarray,
                 canvas: np.ndarray, size_wh: Tuple[int, int]) -> None:
        self.name = name
        self.spec = spec
        self.layers = layers
        self.cam_xy = cam_xy
        self.canvas = canvas
        self.size_wh = size_wh
        self.target = next(layer for layer in layers if layer.kind == "target")
        self.boxes_xywh = render.visible_boxes(self.target, cam_xy, size_wh)
        self.attributes, self.visible_fraction = self._attributes()
        self.frames = FrameList(self)

    def __len__(self) -> int:
        return len(self.boxes_xywh)

    def _attributes(self) -> Tuple[Dict[str, np.ndarray], np.ndarray]:
        front = [layer for layer in self.layers if layer.depth > 0]
        hidden = render.coverage(self.target, front)
        out = np.isnan(self.boxes_xywh[:, 0])
        box_area = np.nan_to_num(self.boxes_xywh[:, 2] * self.boxes_xywh[:, 3])
        inside = box_area / np.prod(self.target.size_wh, axis=1)  # approximate for rotated targets
        visible = np.where(out, 0.0, np.clip(np.minimum(1.0 - hidden, inside), 0.0, 1.0))
        near = np.zeros(len(out), dtype=bool)
        side = np.sqrt(np.prod(self.target.size_wh, axis=1))
        for layer in self.layers:
            if layer.kind != "lookalike":
                continue
            in_view = render.in_view(layer, self.cam_xy, self.size_wh)
            dist = np.hypot(*(layer.center_xy - self.target.center_xy).T)
            near |= in_view & ~out & (dist < 2.0 * side)
        full = (hidden >= 0.99) & ~out
        attrs = {"occluded": (hidden >= 0.5) & ~out, "full_occlusion": full, "out_of_view": out,
                 "distractor_near": near, "reappeared": frames_after(out | full, REAPPEARED_SPAN) & ~out & ~full}
        return attrs, visible

    def object_boxes(self, kinds: Iterable[str] = KINDS) -> List[Tuple[str, np.ndarray]]:
        """Boxes of every object of the given kinds (e.g. look-alikes as hard negatives for training).

        Returns:
            [(kind, (T, 4) float64 boxes (x, y, w, h), 0-based, clipped, NaN when out of view)], in
            drawing order (back to front); the target's entry equals :attr:`boxes_xywh`.
        """
        kinds = tuple(kinds)
        return [(layer.kind, render.visible_boxes(layer, self.cam_xy, self.size_wh))
                for layer in self.layers if layer.kind in kinds]

    def render(self, t: int, kinds: Iterable[str] = KINDS, background: Optional[int] = None) -> np.ndarray:
        """Render frame ``t``.

        Args:
            t: frame index, 0-based.
            kinds: which layer kinds to draw (e.g. ``("target",)`` for the target alone).
            background: a grey level to draw on instead of the scene's background.

        Returns:
            (H, W, 3) uint8 BGR frame.
        """
        width, height = self.size_wh
        ox, oy = (int(v) for v in self.cam_xy[t])
        if background is None:
            frame = self.canvas[oy:oy + height, ox:ox + width].copy()
        else:
            frame = np.full((height, width, 3), background, np.uint8)
        kinds = tuple(kinds)
        for layer in self.layers:
            if layer.kind not in kinds:
                continue
            velocity = layer.center_xy[t] - layer.center_xy[max(t - 1, 0)]
            render.draw(frame, layer.sprite, layer.center_xy[t] - self.cam_xy[t], layer.size_wh[t],
                        float(layer.angle_deg[t]), velocity, self.spec.blur)
        return frame


def frames_after(mask: np.ndarray, span: int) -> np.ndarray:
    """(T,) bool: the ``span`` frames that follow the end of each run of True in ``mask`` (T,)."""
    mask = np.asarray(mask, dtype=bool)
    out = np.zeros_like(mask)
    ends = np.nonzero(mask[:-1] & ~mask[1:])[0] + 1  # first frame after each run
    for end in ends:
        out[end:end + span] = True
    return out


def _spec(preset: str, overrides: Dict[str, object]) -> SceneSpec:
    if preset not in PRESETS:
        raise ConfigError(f"unknown synthetic preset {preset!r}: choose one of {', '.join(PRESETS)}")
    names = {f.name for f in dataclasses.fields(SceneSpec)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ConfigError(f"unknown scene option(s) {', '.join(unknown)}: valid are {', '.join(sorted(names))}")
    spec = dataclasses.replace(PRESETS[preset], **overrides)  # type: ignore[arg-type]
    if spec.background not in ("photo", "procedural", "uniform"):
        raise ConfigError(f"background must be 'photo', 'procedural' or 'uniform', not {spec.background!r}")
    return spec


def make_sequence(preset: str, seed: int, num_frames: int = 150, size: Tuple[int, int] = (480, 360),
                  textures: Union[str, Path, None] = None, **overrides: object) -> SyntheticSequence:
    """Generate one synthetic sequence with ground truth.

    Args:
        preset: one of :data:`PRESETS` ("plain", "distractors", "occlusion", "out-of-view", "mixed").
        seed: any non-negative int; fixes every pixel and box.
        num_frames: T, at least 2.
        size: (W, H) of the frames in pixels.
        textures: image folder for target/background textures; None for the bundled photos (procedural
            when they are not installed); "procedural" for no photos.
        **overrides: fields of :class:`~dasiamrt.synthetic.scene.SceneSpec` replacing the preset's values.

    Returns:
        The sequence; frames render on access.

    Raises:
        ConfigError: unknown preset or option, num_frames < 2, size under 64x64, seed < 0.
        DatasetError: ``textures`` names a missing or empty folder.
    """
    spec = _spec(preset, overrides)
    if num_frames < 2 or seed < 0 or min(size) < 64:
        raise ConfigError(f"need num_frames >= 2, seed >= 0 and size >= 64x64, got {num_frames}, {seed}, {size}")
    photos = list_photos(textures)
    frame_wh = (int(size[0]), int(size[1]))
    margin = int(np.ceil(spec.shake + spec.pan)) + 1
    seed_seq = np.random.SeedSequence([int(seed), zlib.crc32(preset.encode("utf-8"))])
    layers, cam, canvas = build_layers(spec, seed_seq, photos, frame_wh, margin, num_frames)
    return SyntheticSequence(f"{preset}-{seed}", spec, layers, cam, canvas, frame_wh)


def make_set(preset: str, count: int, seed: int = 0, **kwargs: object) -> List[SyntheticSequence]:
    """``count`` sequences of one preset with seeds ``seed, seed + 1, ...`` (kwargs as :func:`make_sequence`)."""
    if count < 1:
        raise ConfigError(f"need at least one synthetic sequence, got {count}")
    return [make_sequence(preset, seed + i, **kwargs) for i in range(count)]  # type: ignore[arg-type]


def write_otb_layout(sequences: Iterable[SyntheticSequence], root: Union[str, Path], quality: int = 95) -> List[Path]:
    """Write sequences to disk in the OTB layout, readable by any OTB tool.

    Per sequence: ``root/<name>/img/0001.jpg ...`` and ``groundtruth_rect.txt`` (one ``x,y,w,h`` line
    per frame, 1-based as OTB's MATLAB-era files; ``NaN,NaN,NaN,NaN`` out of view, as UAV123), plus
    LaSOT-style attribute files ``<attribute>.txt`` for each of :data:`ATTRIBUTES` (one comma-separated
    line of 0/1 per file). Each file is written atomically.

    Returns:
        The sequence folders, in input order.
    """
    import cv2

    root = Path(root)
    folders = []
    for seq in sequences:
        folder = root / seq.name
        for t, frame in enumerate(seq.frames):
            ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
            if not ok:  # pragma: no cover - cv2 encodes any uint8 BGR image
                raise RuntimeError(f"JPEG encoding failed for {seq.name} frame {t}")
            atomic_write_bytes(folder / "img" / f"{t + 1:04d}.jpg", data.tobytes())
        lines = []
        for box in seq.boxes_xywh:
            lines.append("NaN,NaN,NaN,NaN" if np.isnan(box).any()
                         else ",".join(f"{v:.3f}" for v in (box[0] + 1, box[1] + 1, box[2], box[3])))
        atomic_write_text(folder / "groundtruth_rect.txt", "\n".join(lines) + "\n")
        for key in ATTRIBUTES:
            flags = ",".join(str(int(v)) for v in seq.attributes[key])
            atomic_write_text(folder / f"{key}.txt", flags + "\n")
        folders.append(folder)
        log.debug("wrote %s (%d frames)", folder, len(seq))
    return folders
