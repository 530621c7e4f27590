"""The DaSiamRPN tracker: ``init(frame, bbox_xywh)`` then ``track(frame) -> TrackResult``.

With distractor-aware and long-term tracking off, every step reproduces the official tracker
(``foolwood/DaSiamRPN`` run under Python 2, as it was meant to run). The network runs behind a
:class:`~dasiamrt.runtime.backends.base.Backend`; all tracking math here is numpy.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Optional, Sequence, Tuple

import numpy as np
from numpy.typing import NDArray

from .. import spec
from ..config import TrackerConfig
from ..errors import BackendError, SourceError
from . import distractor as da
from . import longterm as lt
from .anchors import SearchGrid
from .backends.base import Backend
from .crop import channel_mean, search_crop, template_crop, to_blob
from .geometry import center_to_xywh, check_init_box, xywh_to_center
from .postprocess import Selection, decode, foreground_scores, select
from .timing import StageTimer

if TYPE_CHECKING:
    from .tracker_options import TrackerOptions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrackResult:
    """Result of one frame.

    Attributes:
        bbox_xywh: (x, y, w, h) 0-based top-left box, image pixels.
        score: raw foreground probability of the chosen proposal.
        state: "tracking" or "lost" (long-term state after this frame).
        search_size: side of the search crop used for this frame.
        distractors: number of distractors found this frame (distractor-aware mode).
    """

    bbox_xywh: Tuple[float, float, float, float]
    score: float
    state: str = lt.TRACKING
    search_size: int = 0
    distractors: int = 0


@dataclass
class TrackState:
    """Explicit per-sequence state (image pixels).

    Attributes:
        center_xy: (2,) float64 target centre.
        size_wh: (2,) float64 target size.
        image_wh: frame width and height.
        pad_value: (3,) uint8 padding (first frame's channel mean).
        instance_size: normal search side for this sequence (271, 287 for small BIG targets, 255...).
        mode: long-term state.
        score: last best score.
        low_run: consecutive frames whose best score was below the long-term enter threshold.
    """

    center_xy: NDArray[np.float64]
    size_wh: NDArray[np.float64]
    image_wh: Tuple[int, int]
    pad_value: NDArray[np.uint8]
    instance_size: int
    mode: str = lt.TRACKING
    score: float = 1.0
    low_run: int = 0


class Tracker:
    """Single-object DaSiamRPN tracker.

    Args:
        backend: runs the template and search graphs.
        config: tracker hyper-parameters (a preset's ``tracker`` or a variant of it).

    Raises:
        BackendError: distractor-aware tracking is on but ``backend`` cannot fuse kernels.
    """

    def __init__(self, backend: Backend, config: TrackerConfig) -> None:
        if config.distractor.enabled and not backend.supports_fusion:
            raise BackendError(f"distractor-aware tracking needs kernel fusion, which the {backend.name} backend lacks "
                               "here (no kernel_update graph/engine): re-export or rebuild the model, or use --no-da")
        self.backend = backend
        self.config = config
        self.grids: Dict[int, SearchGrid] = {
            size: SearchGrid.build(size, config.ratios, config.scales, config.windowing)
            for size in config.search_sizes()
        }
        self.state: Optional[TrackState] = None
        self.fusion = da.FusionState()
        self.timer = StageTimer()
        # a backend that fuses on the device reads the search features there: never copy them back
        self._want_features = config.distractor.enabled and not backend.fuses_on_device

    @property
    def stage_seconds(self) -> Dict[str, float]:
        """Seconds spent in each stage of the last ``init``/``track`` call (crop, template, search, post,
        fusion), for benchmarks."""
        return self.timer.seconds

    # -- construction helpers --------------------------------------------------------------------
    @classmethod
    def from_model(cls, model_dir: str | os.PathLike[str], backend: str = "ort", config: Optional[TrackerConfig] = None,
                   **options: object) -> "Tracker":
        """A tracker on an exported model folder (``model.json`` + graphs); ``config`` overrides its settings."""
        from ..artifacts.model_folder import read_model_dir
        from .backends.factory import create_backend

        info = read_model_dir(model_dir)
        return cls(create_backend(backend, info, **options), config or info.tracker)

    @classmethod
    def from_options(cls, options: "TrackerOptions", config: Optional[TrackerConfig] = None) -> "Tracker":
        """The tracker ``options`` describe: a model folder, a checkpoint or the bundled model, on the backend
        they choose, with their switches (:func:`~dasiamrt.runtime.tracker_options.open_tracker`, the policy the
        CLI uses too)."""
        from .tracker_options import open_tracker

        return open_tracker(options, config)

    @classmethod
    def from_weights(cls, weights: str, preset: str = "vot", backend: str = "torch",
                     config: Optional[TrackerConfig] = None, **options: Any) -> "Tracker":
        """A tracker on a PyTorch checkpoint (``backend="torch"``): the reference path, and the GPU
        path without TensorRT (``device="cuda"``, ``precision="fp16"``; see the torch backend)."""
        from ..config import get_preset
        from .backends.factory import create_backend

        chosen = get_preset(preset)
        return cls(create_backend(backend, weights=weights, network=chosen.network, **options),
                   config or chosen.tracker)

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> "Tracker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- tracking --------------------------------------------------------------------------------
    def init(self, frame: NDArray[np.uint8], bbox_xywh: Sequence[float]) -> None:
        """Start tracking the object in ``bbox_xywh`` (0-based x, y, w, h) of ``frame`` (H, W, 3) uint8 BGR."""
        _check_frame(frame)
        box = check_init_box(bbox_xywh, frame.shape)
        cfg = self.config
        center, size = xywh_to_center(box)
        height, width = frame.shape[:2]
        instance = cfg.instance_size
        if cfg.small_instance_size is not None and size[0] * size[1] / float(height * width) < cfg.small_target_ratio:
            instance = cfg.small_instance_size
        timer = self.timer.start()
        pad_value = channel_mean(frame)
        z_blob = to_blob(template_crop(frame, box, pad_value, cfg.context_amount, cfg.exemplar_size))
        timer.lap("crop")
        cls_kernels, reg_kernels = self.backend.template(z_blob)
        self.backend.set_kernels(cls_kernels[0], reg_kernels[0])
        timer.lap("template")
        self.state = TrackState(center, size, (width, height), pad_value, instance)
        self.fusion = da.FusionState()
        if cfg.distractor.enabled:
            b1 = da.beta(1, cfg.distractor.eta)
            self.backend.reset_fusion(da.difference_form(cls_kernels[0]), b1)
            self.fusion = da.FusionState(t=1, total=b1)

    def track(self, frame: NDArray[np.uint8]) -> TrackResult:
        """Locate the target in the next frame: crop the search region, run the network, pick the best
        proposal, move the box, switch the long-term state, learn this frame's distractors."""
        state = self._state_for(frame)
        cfg = self.config
        plan = lt.plan_search(state.mode, state.instance_size, cfg)
        grid = self.grids[plan.instance_size]
        timer = self.timer.start()
        x_crop, scale_z = search_crop(frame, state.center_xy, state.size_wh, plan.instance_size, state.pad_value,
                                      cfg.context_amount, cfg.exemplar_size)
        x_blob = to_blob(x_crop)
        timer.lap("crop")
        out = self.backend.search(x_blob, want_features=self._want_features)
        timer.lap("search")
        scores, boxes = foreground_scores(out.cls), decode(out.delta, grid.anchors)
        sel = select(scores, boxes, grid.window, state.size_wh * scale_z, cfg.penalty_k, plan.window_influence)
        self._update_state(state, sel, scale_z)
        timer.lap("post")
        distractors = 0
        if cfg.distractor.enabled and state.mode == lt.TRACKING:
            distractors = self._learn_distractors(scores, boxes, sel.index, grid)
        timer.lap("fusion")
        return TrackResult(
            center_to_xywh(state.center_xy, state.size_wh), sel.score, state.mode, plan.instance_size, distractors
        )

    def _state_for(self, frame: NDArray[np.uint8]) -> TrackState:
        """The state to track ``frame`` from (after ``init``, same frame size)."""
        if self.state is None:
            raise RuntimeError("Tracker.track() called before init()")
        _check_frame(frame, self.state.image_wh)
        return self.state

    def _update_state(self, state: TrackState, sel: Selection, scale_z: float) -> None:
        """Apply the frame's winner (unless long-term tracking holds the box) and step the long-term state."""
        cfg = self.config
        mode = lt.next_state(state.mode, sel.score, cfg.long_term, state.low_run)
        if lt.accept_result(mode, sel.score, cfg.long_term):
            self._update_box(state, sel.box_crop, sel.score * sel.penalty * cfg.lr, scale_z)
        state.mode = mode
        state.low_run = lt.low_run(state.low_run, sel.score, cfg.long_term)
        state.score = sel.score

    def _update_box(self, state: TrackState, box_crop: NDArray[np.float32], lr: float, scale_z: float) -> None:
        """Move the centre by the winner's offset and blend the size with rate ``lr``; clip to the frame."""
        target = box_crop.astype(np.float64) / scale_z
        center = state.center_xy + target[:2]
        size = state.size_wh * (1 - lr) + target[2:] * lr
        width, height = state.image_wh
        min_size = self.config.min_size
        state.center_xy = np.array([max(0.0, min(width, center[0])), max(0.0, min(height, center[1]))])
        state.size_wh = np.array([max(min_size, min(width, size[0])), max(min_size, min(height, size[1]))])

    def _learn_distractors(
        self, scores: NDArray[np.float32], boxes: NDArray[np.float32], target_index: int, grid: SearchGrid
    ) -> int:
        """Fold this frame's target and distractors into the fused kernel (Eq. 4) for the next frame."""
        cfg = self.config.distractor
        found = da.find_distractors(scores, boxes, target_index, cfg)
        s = grid.score_size
        target_cell = da.box_cell(boxes[:, target_index], s, spec.TOTAL_STRIDE)
        cells = [da.box_cell(boxes[:, k], s, spec.TOTAL_STRIDE) for k in found]
        t = self.fusion.t + 1
        b_t = da.beta(t, cfg.eta)
        fuse_cells, weights = da.frame_terms(target_cell, cells, b_t, cfg)
        total = self.fusion.total + b_t
        self.backend.fuse(spec.window_indices(fuse_cells, s + spec.TEMPLATE_FEATURE_SIZE - 1), weights, 1.0 / total)
        self.fusion.t, self.fusion.total = t, total
        return len(found)


def _check_frame(frame: NDArray[np.uint8], image_wh: Optional[Tuple[int, int]] = None) -> None:
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        got = getattr(frame, "shape", type(frame).__name__)
        raise SourceError(f"frames must be HxWx3 uint8 BGR images, got {got}")
    if image_wh is not None and (frame.shape[1], frame.shape[0]) != tuple(image_wh):
        raise SourceError(
            f"frame size changed from {image_wh[0]}x{image_wh[1]} to {frame.shape[1]}x{frame.shape[0]}: "
            "re-initialise the tracker for the new stream"
        )
