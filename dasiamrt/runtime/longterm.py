"""Local-to-global search state machine for long-term tracking (paper Sec. 3.4).

Two states: ``tracking`` (search the normal region, e.g. 255) and ``lost`` (search one enlarged
region, 767 in the paper, around the last position, motion window almost off). Hysteresis:
enter ``lost`` when the best score drops below ``enter_threshold`` (0.8), leave it when the best
score rises above ``leave_threshold`` (0.95). The paper found one step of growth sufficient.
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


def next_state(state: str, score: float, config: LongTermConfig) -> str:
    """Hysteresis transition on the best raw score of the frame just searched."""
    if not config.enabled:
        return TRACKING
    if state == TRACKING and score < config.enter_threshold:
        return LOST
    if state == LOST and score > config.leave_threshold:
        return TRACKING
    return state


def accept_result(state: str, score: float, config: LongTermConfig) -> bool:
    """Whether a frame's result may move the box.

    In plain tracking every result is applied (official behaviour). With long-term tracking a
    result that sends the tracker into ``lost``, or that comes while lost without re-detecting the
    target (score <= leave_threshold), leaves the box where it was.
    """
    if not config.enabled:
        return True
    return next_state(state, score, config) == TRACKING
