"""A long-term rule tried on the training side: while ``lost``, a candidate within the normal search region's
reach of the frozen box (|centre offset| <= (instance - exemplar) / 2 crop pixels: what a 255 search would
have covered) that scores >= enter_threshold resumes tracking there; a far candidate still needs
> leave_threshold. benchmarks/real_validation.py with Tracker.track patched for the run (the product's rule:
dasiamrt.runtime.longterm). Usage:

    python train_logs/real/lt_rules/local_variant.py --part train --starts 5 --variants plain,+LT,+DA+LT --out OUT
"""
import runpy
import sys
from pathlib import Path

import numpy as np

from dasiamrt.runtime import longterm as lt
from dasiamrt.runtime import tracker as T
from dasiamrt.runtime.crop import search_crop, to_blob
from dasiamrt.runtime.postprocess import decode, foreground_scores, select


def track(self, frame):
    state = self._state_for(frame)
    cfg = self.config
    plan = lt.plan_search(state.mode, state.instance_size, cfg)
    grid = self.grids[plan.instance_size]
    x_crop, scale_z = search_crop(frame, state.center_xy, state.size_wh, plan.instance_size, state.pad_value,
                                  cfg.context_amount, cfg.exemplar_size)
    out = self.backend.search(to_blob(x_crop), want_features=self._want_features)
    scores, boxes = foreground_scores(out.cls), decode(out.delta, grid.anchors)
    sel = select(scores, boxes, grid.window, state.size_wh * scale_z, cfg.penalty_k, plan.window_influence)
    if state.mode == lt.LOST and cfg.long_term.enabled:
        reach = (cfg.instance_size - cfg.exemplar_size) / 2
        near = (np.abs(boxes[0]) <= reach) & (np.abs(boxes[1]) <= reach)
        local = select(np.where(near, scores, 0).astype(scores.dtype), boxes, grid.window,
                       state.size_wh * scale_z, cfg.penalty_k, plan.window_influence)
        if local.score >= cfg.long_term.enter_threshold and not sel.score > cfg.long_term.leave_threshold:
            self._update_box(state, local.box_crop, local.score * local.penalty * cfg.lr, scale_z)
            state.mode, state.low_run, state.score = lt.TRACKING, 0, local.score
            return T.TrackResult(T.center_to_xywh(state.center_xy, state.size_wh), local.score, state.mode,
                                 plan.instance_size, 0)
    self._update_state(state, sel, scale_z)
    distractors = 0
    if cfg.distractor.enabled and state.mode == lt.TRACKING:
        distractors = self._learn_distractors(scores, boxes, sel.index, grid)
    return T.TrackResult(T.center_to_xywh(state.center_xy, state.size_wh), sel.score, state.mode,
                         plan.instance_size, distractors)


T.Tracker.track = track
sys.argv = ["real_validation.py"] + sys.argv[1:]
runpy.run_path(str(Path(__file__).resolve().parents[3] / "benchmarks" / "real_validation.py"), run_name="__main__")
