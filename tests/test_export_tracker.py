"""``dasiamrt export --tracker FILE``: a model's own thresholds go into model.json and are printed."""
from __future__ import annotations

import json
import subprocess
import sys

from dasiamrt.artifacts.model_folder import read_model_dir
from dasiamrt.cli import main
from dasiamrt.config import PRESETS


def test_export_stores_and_prints_the_models_thresholds(tmp_path, capsys):
    settings = tmp_path / "tracker.json"
    settings.write_text(json.dumps({"_comment": "derived on validation", "long_term": {
        "enter_threshold": 0.42, "leave_threshold": 0.77}, "distractor": {"threshold": 0.31}}))
    out = tmp_path / "model"
    assert main(["export", "--random", "0", "--preset", "tiny", "--out", str(out), "--tracker", str(settings)]) == 0
    printed = capsys.readouterr().out
    assert "long-term enter/leave 0.42/0.77" in printed and "distractor threshold h 0.31" in printed
    tracker = read_model_dir(str(out)).tracker
    assert (tracker.long_term.enter_threshold, tracker.long_term.leave_threshold) == (0.42, 0.77)
    assert tracker.distractor.threshold == 0.31
    # everything else is the preset's, and the presets themselves are untouched
    assert tracker.penalty_k == PRESETS["tiny"].tracker.penalty_k and tracker.long_term.enabled is False
    assert (PRESETS["vot"].tracker.long_term.enter_threshold, PRESETS["vot"].tracker.long_term.leave_threshold) \
        == (0.8, 0.95)


def test_bad_tracker_settings_are_one_line_errors(tmp_path):
    for content, message in (('{"long_term": {"enter_threshold": 0.9, "leave_threshold": 0.5}}', "enter_threshold"),
                             ('{"bogus": 1}', "bogus"), ("[1]", "JSON object"), ("{", "not valid JSON")):
        settings = tmp_path / "t.json"
        settings.write_text(content)
        out = tmp_path / "m"
        proc = subprocess.run([sys.executable, "-m", "dasiamrt.cli", "export", "--random", "0", "--preset", "tiny",
                               "--out", str(out), "--tracker", str(settings), "--no-check"],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert message in proc.stderr and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and not out.exists()
