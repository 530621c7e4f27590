"""Local-to-global search state machine for long-term tracking (paper Sec. 3.4).

Two states: ``tracking`` (search the normal region, e.g. 255) and ``lost`` (search one enlarged
region, 767 in the paper, around the last position, motion window almost off). Hysteresis:
enter ``lost`` when the best score drops below ``enter_threshold`` (0.8), leave it when the best
score rises above ``leave_threshold`` (0.95). The paper found one step of growth sufficient. Which
results move the box: :func:`accept_result`.
``patience`` > 1 asks for that many consecutive low-score frames before ``lost``: a short dip on
target (a lighting change, a blur) then does not open the global search, where a look-alike that
scores at least ``enter_threshold`` would take the box.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..config import LongTermConfig, TrackerConfig

TRACKING = "tracking"
LOST = "lost"


@dataclass(frozen=True)
class SearchPlan:
    """How to search the next frame: crop side and motion-window weight."""

    instance_size: int
    window_influence: float


def plan_search(state: str, base_instance_size: int, config: TrackerConfig) -> SearchPlan:
    """The search region for a frame given the current long-term ``state``."""
    if state == LOST and config.long_term.enabled:
        return SearchPlan(config.long_term.lost_instance_size, config.long_term.lost_window_influence)
    return SearchPlan(base_instance_size, config.window_influence)


def low_run(previous: int, score: float, config: LongTermConfig) -> int:
    """Consecutive frames scoring below ``enter_threshold``, this frame included."""
    return previous + 1 if score < config.enter_threshold else 0


def next_state(state: str, score: float, config: LongTermConfig, previous_low_run: int = 0) -> str:
    """Hysteresis transition on the best raw score of the frame just searched.

    Args:
        previous_low_run: consecutive low-score frames before this one (see :func:`low_run`).
    """
    if not config.enabled:
        return TRACKING
    if state == TRACKING and low_run(previous_low_run, score, config) >= config.patience:
        return LOST
    if state == LOST and score > config.leave_threshold:
        return TRACKING
    return state


def accept_result(next_mode: str, score: float, config: LongTermConfig) -> bool:
    """Whether a frame's result may move the box, given the state :func:`next_state` returned for it.

    In plain tracking every result is applied (official behaviour: :func:`next_state` stays
    ``tracking``). With long-term tracking a result moves the box when its score reaches
    ``enter_threshold``, in either state (pysot's ``SiamRPNLTTracker`` gate): a frame that sends the
    tracker into ``lost`` leaves the box where it was, and while lost the enlarged search's winner
    takes the box once it scores as a tracked target does, the state staying ``lost`` (767 search,
    motion window off, no distractor learning) until a score above ``leave_threshold``. Low-score
    frames within the ``patience`` move it as plain tracking does.

    Holding the box for the whole lost spell (the rule until 2026-11-30) made ``lost`` a trap when
    ``leave_threshold`` sits above the scores a re-found target gets in the 767 search: on the
    training side (28 sequences x 5 starts, the bundled MobileNetV2) this gate scored +0.009
    [+0.002, +0.019] with +LT and +0.019 [+0.009, +0.031] with +DA +LT over it
    (``train_logs/real/lt_rules/mobile_gate.md``).
    """
    return next_mode == TRACKING or (config.enabled and score >= config.enter_threshold)
