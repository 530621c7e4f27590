"""`dasiamrt live`'s checks live in the library (issue 15, move 4): LiveOptions.plan() refuses what the command
refused, in the same order, before a model is loaded."""
from __future__ import annotations

import pytest

from dasiamrt.assets import DEMO_CLIP
from dasiamrt.errors import BoxError, ConfigError
from dasiamrt.live.options import TOKEN_VARIABLE, LiveOptions

CLIP = str(DEMO_CLIP)


@pytest.mark.parametrize("options, error, message", [
    (LiveOptions(CLIP, init="1,2,3,4", select=True), ConfigError, "not both"),
    (LiveOptions(CLIP, json=["-"]), ConfigError, "choose the target"),
    (LiveOptions(CLIP, init="1,2,3,4", reconnect=-1), ConfigError, "--reconnect must be >= 0"),
    (LiveOptions(CLIP, init="1,2,3,4", max_frames=0), ConfigError, "--max-frames must be at least 1"),
    (LiveOptions(CLIP, init="1,2,3,4", fps=0.0), ConfigError, "--fps must be positive"),
    (LiveOptions(CLIP, init="1,2,3,4", json=["a.jsonl", "a.jsonl"]), ConfigError, "name the same file"),
    (LiveOptions(CLIP, init="1,2,3,4", save="o.xyz"), ConfigError, "has '.xyz'"),
    (LiveOptions(CLIP, init="x"), BoxError, "--init must"),
    (LiveOptions(CLIP, init="1,2,3,4", gimbal_follow=True), ConfigError, "add --mavlink"),
    (LiveOptions("0", init="1,2,3,4", realtime=True), ConfigError, "--realtime"),
    (LiveOptions(CLIP, csi=0, init="1,2,3,4"), ConfigError, "exactly one"),
])
def test_plan_refuses(options, error, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(error, match=message):
        options.plan()


def test_plan_resolves_box_source_settings_and_token(monkeypatch):
    monkeypatch.setenv(TOKEN_VARIABLE, "s3cret")
    plan = LiveOptions(CLIP, init="10,20,30,40", max_frames=5, reconnect=2, control="udp://5006", json=["-"]).plan()
    assert plan.settings.init_box == (10.0, 20.0, 30.0, 40.0) and plan.settings.max_frames == 5
    assert plan.settings.policy.attempts == 2 and not plan.settings.show
    assert plan.token == "s3cret" and plan.json == ("-",) and plan.control == "udp://5006"
    assert plan.source.lossless and not plan.source.live and plan.mavlink is None
    assert LiveOptions(CLIP, init="1,2,3,4", control_token="given").plan().token == "given"
