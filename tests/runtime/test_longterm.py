"""Local-to-global state machine: enter/stay/leave with hysteresis, 767 while lost, box held."""
from __future__ import annotations

import numpy as np
import pytest

from dasiamrt.config import PRESETS, LongTermConfig
from dasiamrt.runtime import longterm as lt
from dasiamrt.runtime.tracker import Tracker
from tests.fakes import ScriptedBackend

LT = LongTermConfig(enabled=True)


def _walk(scores):
    state, states = lt.TRACKING, []
    for s in scores:
        state = lt.next_state(state, s, LT)
        states.append(state)
    return states


def test_hysteresis():
    #            stay   enter  stay(0.9 < 0.95)  leave  stay(0.85 >= 0.8)  enter
    scores = [0.9, 0.79, 0.9, 0.94, 0.96, 0.85, 0.5]
    assert _walk(scores) == ["tracking", "lost", "lost", "lost", "tracking", "tracking", "lost"]


def test_thresholds_are_strict():
    assert _walk([0.8]) == ["tracking"]
    assert _walk([0.7, 0.95]) == ["lost", "lost"]


def test_disabled_never_lost():
    off = LongTermConfig(enabled=False)
    assert lt.next_state(lt.TRACKING, 0.01, off) == lt.TRACKING
    assert lt.next_state(lt.LOST, 0.01, off) == lt.TRACKING


@pytest.mark.parametrize("enter, leave", [(0.9, 0.5), (-0.1, 0.5)])
def test_bad_thresholds(enter, leave):
    from dasiamrt.errors import ConfigError

    with pytest.raises(ConfigError):
        PRESETS["paper"].tracker.replace(long_term={"enter_threshold": enter, "leave_threshold": leave})


INIT = (200, 150, 60, 40)


def _track(scores, **long_term):
    """The paper preset (DA off, ``long_term`` changes) on a flat frame, one scripted search per score."""
    backend = ScriptedBackend(scores)
    tracker = Tracker(backend, PRESETS["paper"].tracker.replace(distractor={"enabled": False}, long_term=long_term))
    frame = np.full((360, 480, 3), 90, np.uint8)
    tracker.init(frame, INIT)
    return [tracker.track(frame) for _ in scores], backend


def test_tracker_switches_search_region_and_holds_the_box():
    results, backend = _track([0.9, 0.5, 0.6, 0.97, 0.9])
    assert [r.state for r in results] == ["tracking", "lost", "lost", "tracking", "tracking"]
    # The frame after each transition uses the new region: 255, 255, 767, 767, 255.
    assert backend.search_sizes == [255, 255, 767, 767, 255]
    assert [r.search_size for r in results] == backend.search_sizes
    # Frames that enter or stay lost do not move the box; the re-detection (0.97) does.
    assert results[1].bbox_xywh == results[0].bbox_xywh == results[2].bbox_xywh
    assert results[3].bbox_xywh != results[2].bbox_xywh


def test_while_lost_a_result_that_scores_as_a_tracked_target_moves_the_box():
    """pysot's long-term gate: 0.85 while lost (>= enter 0.8, <= leave 0.95) moves the box and keeps the 767 search;
    0.6 while lost holds it; a frame that enters lost holds it; leaving (0.97) moves it."""
    results, backend = _track([0.5, 0.85, 0.6, 0.85, 0.97])
    assert [r.state for r in results] == ["lost", "lost", "lost", "lost", "tracking"]
    assert backend.search_sizes == [255, 767, 767, 767, 767]
    boxes = [INIT] + [r.bbox_xywh for r in results]
    moved = [boxes[i] != boxes[i - 1] for i in range(1, len(boxes))]
    assert moved == [False, True, False, True, True]  # (the scripted winner changes the size only)
    # the rule itself: plain tracking always applies; long-term by the state after the frame or the score
    on = LongTermConfig(enabled=True)
    assert lt.accept_result(lt.TRACKING, 0.1, LongTermConfig(enabled=False))
    assert lt.accept_result(lt.LOST, 0.8, on) and not lt.accept_result(lt.LOST, 0.79, on)
    assert lt.accept_result(lt.TRACKING, 0.5, LongTermConfig(enabled=True, patience=3))  # a dip within patience


def test_grids_are_built_once_per_size():
    tracker = Tracker(ScriptedBackend([0.5]), PRESETS["paper"].tracker.replace(distractor={"enabled": False}))
    assert sorted(tracker.grids) == [255, 767]


def test_patience_counts_consecutive_low_frames():
    cfg = LongTermConfig(enabled=True, patience=3)
    state, run, states = lt.TRACKING, 0, []
    #         low  low  high (resets) low  low  low -> lost  high but < leave: stays lost
    for s in (0.5, 0.5, 0.9, 0.5, 0.5, 0.5, 0.9):
        state, run = lt.next_state(state, s, cfg, run), lt.low_run(run, s, cfg)
        states.append(state)
    assert states == ["tracking"] * 5 + ["lost", "lost"]


def test_patience_one_is_the_paper_rule():
    scores = [0.9, 0.79, 0.9, 0.94, 0.96, 0.85, 0.5]
    cfg = LongTermConfig(enabled=True, patience=1)
    state, run, states = lt.TRACKING, 0, []
    for s in scores:
        state, run = lt.next_state(state, s, cfg, run), lt.low_run(run, s, cfg)
        states.append(state)
    assert states == _walk(scores)


@pytest.mark.parametrize("patience", [0, 2.5, True])
def test_bad_patience(patience):
    from dasiamrt.errors import ConfigError

    with pytest.raises(ConfigError, match="patience"):
        LongTermConfig(enabled=True, patience=patience)


def test_tracker_moves_the_box_through_a_dip_shorter_than_patience():
    results, backend = _track([0.9, 0.5, 0.5, 0.9, 0.5, 0.5, 0.5, 0.97], patience=3)
    assert [r.state for r in results] == ["tracking"] * 6 + ["lost", "tracking"]
    assert backend.search_sizes == [255] * 7 + [767]
    # The two-frame dips move the box as plain tracking does; the third low frame in a row holds it.
    moved = [results[i].bbox_xywh != results[i - 1].bbox_xywh for i in range(1, len(results))]
    assert moved == [True, True, True, True, True, False, True]
