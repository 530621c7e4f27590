"""Training pairs (paper Sec. 3.2): positive pairs and semantic negative pairs, augmented.

A pair is a template crop (127 x 127, context 0.5 around the object, as the tracker's template)
and a search crop (``instance_size``) whose region is s_x = s_z * instance_size / 127 around the
object of the search frame, shifted by up to ``shift`` crop pixels and resized by 0.85..1.15 (the
target then appears at 1/r of its size; per axis with ``independent_scale``). A pair may be
stretched as a whole (``stretch``: template and search see the scene with its x and y axes scaled,
so thin and wide objects are common whatever the data holds). Positive pairs take two frames of
one track at most ``max_gap`` *source* frames apart (index gap times the track's ``frame_step``;
a still image pairs with itself). Negative pairs centre the search crop on
another object: of the same category (fine-grained distractors) or of a different one (drift to
arbitrary objects), from another video, or from the same rendered video at a frame where the
template's object lies outside every crop the augmentation can draw: never the target itself.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import numpy.typing as npt

from .. import spec
from ..errors import ConfigError
from .augment import AugmentConfig, draw_stretch, grayscale, photometric
from .datasets import Frame, Track
from .geometry import box_in_rect, context_size, crop_rect, generate_anchors, search_side
from .targets import LabelConfig, anchor_targets, far_from_target

POSITIVE, NEGATIVE_SAME, NEGATIVE_OTHER = "positive", "negative_same", "negative_other"


@dataclass(frozen=True)
class SamplerConfig:
    """Pair sampling.

    Attributes:
        instance_size: search crop side (255: score map 17 x 17).
        context_amount: template context (0.5).
        max_gap: largest distance of a positive video pair in source frames (paper: < 100); a
            track's ``frame_step`` converts index gaps.
        negative_same: share of pairs that are same-category negatives.
        negative_other: share of pairs that are different-category negatives.
        augment: crop augmentation.
        labels: anchor labelling.
    """

    instance_size: int = 255
    context_amount: float = 0.5
    max_gap: int = 99
    negative_same: float = 0.1
    negative_other: float = 0.1
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    labels: LabelConfig = field(default_factory=LabelConfig)

    def __post_init__(self) -> None:
        spec.check_search_size(self.instance_size)
        if self.negative_same < 0 or self.negative_other < 0 or self.negative_same + self.negative_other > 1:
            raise ConfigError("negative_same and negative_other must be >= 0 and sum to at most 1")


@dataclass
class Pair:
    """One training pair.

    Attributes:
        template: (127, 127, 3) uint8 BGR.
        search: (H, H, 3) uint8 BGR.
        box: the template's object in the search crop, (cx, cy, w, h) crop pixels from the crop
            centre; None for a negative pair.
        other_box: for a negative pair, the other object the search crop is centred on (same frame).
        kind: "positive", "negative_same" or "negative_other".
    """

    template: Frame
    search: Frame
    box: Optional[npt.NDArray[np.float32]]
    other_box: Optional[npt.NDArray[np.float32]]
    kind: str


class PairSampler:
    """Draws pairs from weighted track sources.

    Args:
        sources: (tracks, weight) per data source; a source is picked by weight, then a track
            uniformly.
        cfg: sampling settings.

    Raises:
        ConfigError: no source has a track with a visible frame.
    """

    def __init__(self, sources: Sequence[Tuple[List[Track], float]], cfg: SamplerConfig) -> None:
        self.cfg = cfg
        self.sources = [([t for t in tracks if t.valid.any()], float(w)) for tracks, w in sources]
        self.sources = [(t, w) for t, w in self.sources if t and w > 0]
        if not self.sources:
            raise ConfigError("the training data holds no visible object: check the data sources of the config")
        weights = np.array([w for _, w in self.sources])
        self.source_p = weights / weights.sum()
        self.all_tracks = [t for tracks, _ in self.sources for t in tracks]
        self.by_category: Dict[str, List[Track]] = defaultdict(list)
        for t in self.all_tracks:
            self.by_category[t.category].append(t)
        self.anchors = generate_anchors(spec.score_size(cfg.instance_size))

    def _track(self, rng: np.random.Generator) -> Track:
        tracks = self.sources[int(rng.choice(len(self.sources), p=self.source_p))][0]
        return tracks[int(rng.integers(len(tracks)))]

    def _other(self, rng: np.random.Generator, track: Track, same: bool) -> Optional[Track]:
        pool = self.by_category[track.category] if same else self.all_tracks
        for _ in range(20):
            other = pool[int(rng.integers(len(pool)))]
            if other is track or (not same and other.category == track.category):
                continue
            if other.video != track.video or (other.aligned and track.aligned):
                return other
        return None

    def _negative_frame(self, rng: np.random.Generator, track: Track, other: Track) -> Optional[int]:
        """A visible frame of ``other`` whose search crop cannot hold ``track``'s object (None: none found)."""
        frames = other.valid_frames
        for _ in range(10):
            j = int(frames[rng.integers(frames.size)])
            if (other.video != track.video or not track.valid[j]
                    or self._apart(track.boxes_xywh[j], other.boxes_xywh[j])):
                return j
        return None

    def _apart(self, box: npt.NDArray[np.float32], other_box: npt.NDArray[np.float32]) -> bool:
        """True when no part of ``box`` can fall in any search crop sampled around ``other_box``."""
        aug = self.cfg.augment
        ox, oy, ow, oh = (float(v) for v in other_box)
        s_x = search_side(context_size((ow, oh), self.cfg.context_amount), self.cfg.instance_size) * aug.scale_max
        if aug.stretch > 0:  # a stretched region is up to sqrt(max_stretch) longer along one axis
            s_x *= float(np.sqrt(aug.max_stretch)) * 2.0
        reach = s_x / 2 + aug.shift * s_x / self.cfg.instance_size
        x, y, w, h = (float(v) for v in box)
        dx = abs(x + w / 2 - ox - ow / 2) - w / 2
        dy = abs(y + h / 2 - oy - oh / 2) - h / 2
        return max(dx, dy) > reach

    def _template(self, track: Track, i: int, stretch: Tuple[float, float] = (1.0, 1.0)) -> Tuple[Frame, float]:
        """Template crop of frame ``i`` (stretched by ``stretch``) and its s_z in stretched pixels."""
        frame = track.load(i)
        x, y, w, h = (float(v) for v in track.boxes_xywh[i])
        fx, fy = stretch
        s_z = context_size((w * fx, h * fy), self.cfg.context_amount)
        mean = frame.mean(axis=(0, 1))
        return crop_rect(frame, (x + w / 2, y + h / 2), (s_z / fx, s_z / fy), spec.EXEMPLAR_SIZE, mean), s_z

    def _search(self, rng: np.random.Generator, track: Track, j: int, stretch: Tuple[float, float] = (1.0, 1.0)
                ) -> Tuple[Frame, npt.NDArray[np.float32]]:
        """Search crop around the object of frame ``j`` (shifted, resized, stretched) and that object in it."""
        aug, size = self.cfg.augment, self.cfg.instance_size
        frame = track.load(j)
        x, y, w, h = (float(v) for v in track.boxes_xywh[j])
        fx, fy = stretch
        s_x = search_side(context_size((w * fx, h * fy), self.cfg.context_amount), size)
        kx = float(rng.uniform(aug.scale_min, aug.scale_max))
        ky = float(rng.uniform(aug.scale_min, aug.scale_max)) if aug.independent_scale else kx
        region = (s_x * kx / fx, s_x * ky / fy)
        shift = rng.uniform(-aug.shift, aug.shift, 2) / size
        center = (x + w / 2 + shift[0] * region[0], y + h / 2 + shift[1] * region[1])
        crop = crop_rect(frame, center, region, size, frame.mean(axis=(0, 1)))
        return crop, box_in_rect((x, y, w, h), center, region, size)

    def _positive_frame(self, rng: np.random.Generator, track: Track, i: int) -> int:
        """A visible frame at most ``max_gap`` source frames from ``i`` (``i`` itself only when alone)."""
        valid = track.valid_frames
        near = valid[np.abs(valid - i) * max(track.frame_step, 1) <= self.cfg.max_gap]
        if near.size > 1:
            near = near[near != i]
        return int(near[rng.integers(near.size)])

    def sample(self, rng: np.random.Generator) -> Pair:
        """One augmented pair (kind drawn with the configured proportions)."""
        cfg = self.cfg
        u = rng.random()
        kind = (NEGATIVE_SAME if u < cfg.negative_same
                else NEGATIVE_OTHER if u < cfg.negative_same + cfg.negative_other
                else POSITIVE)
        track = self._track(rng)
        valid = track.valid_frames
        i = int(valid[rng.integers(valid.size)])
        stretch = draw_stretch(rng, (float(track.boxes_xywh[i, 2]), float(track.boxes_xywh[i, 3])), cfg.augment)
        template, _ = self._template(track, i, stretch)
        other = self._other(rng, track, kind == NEGATIVE_SAME) if kind != POSITIVE else None
        j_other = self._negative_frame(rng, track, other) if other is not None else None
        if other is None or j_other is None:
            kind = POSITIVE
            search, box = self._search(rng, track, self._positive_frame(rng, track, i), stretch)
            pair = Pair(template, search, box, None, kind)
        else:
            search, other_box = self._search(rng, other, j_other, stretch)
            pair = Pair(template, search, None, other_box, kind)
        pair.template = photometric(pair.template, rng, cfg.augment)
        pair.search = photometric(pair.search, rng, cfg.augment)
        if rng.random() < cfg.augment.grayscale:
            pair.template, pair.search = grayscale(pair.template), grayscale(pair.search)
        return pair

    def batch(self, rng: np.random.Generator, n: int) -> Dict[str, np.ndarray]:
        """``n`` pairs as arrays: template (n, 3, 127, 127) and search (n, 3, H, H) float32 BGR 0..255,
        labels (n, A*S*S) int64, deltas (n, 4, A*S*S) float32, positive (n,) bool; with
        ``labels.hard_negatives`` also far (n, A*S*S) bool, the hard-negative candidates."""
        pairs = [self.sample(rng) for _ in range(n)]
        targets = [anchor_targets(self.anchors, p.box, rng, self.cfg.labels, p.other_box) for p in pairs]
        extra = ({"far": np.stack([far_from_target(self.anchors, p.box) for p in pairs])}
                 if self.cfg.labels.hard_negatives > 0 else {})
        return {
            **extra,
            "template": np.stack([p.template.transpose(2, 0, 1) for p in pairs]).astype(np.float32),
            "search": np.stack([p.search.transpose(2, 0, 1) for p in pairs]).astype(np.float32),
            "labels": np.stack([t[0] for t in targets]),
            "deltas": np.stack([t[1] for t in targets]),
            "positive": np.array([p.box is not None for p in pairs]),
        }
