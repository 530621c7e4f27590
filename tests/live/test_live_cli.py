"""``dasiamrt live`` end to end: SIGINT/SIGTERM on a real-time clip leave a playable video and complete JSON lines."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from dasiamrt import cli

REPO = Path(__file__).resolve().parents[2]
CLIP = REPO / "dasiamrt" / "assets" / "box.mp4"


def _count_frames(path: Path):
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), f"{path} does not open"
    count, size = 0, None
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        count, size = count + 1, frame.shape[:2]
    cap.release()
    return count, size


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_finalises_video_and_json(tiny_model_dir, tmp_path, signum):
    video, jsonl = tmp_path / "out.mp4", tmp_path / "out.jsonl"
    cmd = [sys.executable, "-m", "dasiamrt.cli", "live", str(CLIP), "--realtime", "--model", str(tiny_model_dir),
           "--threads", "1", "--init", "221,11,225,169", "--json", "-", "--json", str(jsonl), "--save", str(video)]
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        lines = [proc.stdout.readline() for _ in range(5)]  # running and tracking: now interrupt it
        assert all(lines), proc.stderr.read()
        proc.send_signal(signum)
        rest, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signum, err  # the interrupt convention: 130 SIGINT, 143 SIGTERM
    stdout_lines = lines + rest.splitlines(keepends=True)
    records = [json.loads(line) for line in stdout_lines]  # every line complete and valid
    assert all(line.endswith("\n") for line in stdout_lines)
    assert records[0]["state"] == "init" and records[0]["bbox"] == [221.0, 11.0, 225.0, 169.0]
    assert len(records) < 240, "the run should have been interrupted before the clip's end"
    assert [json.loads(line) for line in jsonl.read_text().splitlines()] == records
    frames, size = _count_frames(video)
    assert frames == len(records)  # one overlay frame per record, file finalised and playable
    assert size == (360, 480)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "out.mp4"]  # no temp files left
    assert "dasiamrt live:" in err


def _main(argv, capsys):
    code = cli.main(argv)
    return code, capsys.readouterr().err


def test_select_without_display_is_a_one_line_error(monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    code, err = _main(["live", str(CLIP), "--select"], capsys)
    assert code == 2
    assert "--select needs a window" in err and len(err.strip().splitlines()) == 1


def test_target_is_required_and_realtime_needs_a_file(capsys):
    code, err = _main(["live", str(CLIP)], capsys)
    assert code == 2 and "--init" in err
    code, err = _main(["live", "0", "--realtime", "--init", "1,1,5,5"], capsys)
    assert code == 2 and "--realtime" in err


@pytest.mark.parametrize("flags, message", [(["--max-frames", "0"], "--max-frames must be at least 1"),
                                            (["--realtime", "--fps", "0"], "--fps must be positive")])
def test_numbers_that_would_be_ignored_are_refused(flags, message, capsys):
    code, err = _main(["live", str(CLIP), "--model", "/nonexistent", "--init", "1,1,5,5", *flags], capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_missing_file_fails_before_the_model_loads(capsys):
    code, err = _main(["live", str(CLIP) + ".missing", "--model", "/nonexistent", "--init", "1,1,5,5"], capsys)
    assert code == 2 and "no such file" in err


def test_stdin_control_inits_then_stops(tiny_model_dir, tmp_path):
    cmd = [sys.executable, "-m", "dasiamrt.cli", "live", str(CLIP), "--realtime", "--model", str(tiny_model_dir),
           "--threads", "1", "--control", "-", "--json", "-"]
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=tmp_path)
    try:
        first = json.loads(proc.stdout.readline())
        assert first["state"] == "waiting" and first["bbox"] is None
        proc.stdin.write("not json\n")  # ignored with a warning
        proc.stdin.write('{"cmd": "init", "bbox": [221, 11, 225, 169]}\n')
        proc.stdin.flush()
        records = [first]
        while records[-1]["state"] == "waiting":
            records.append(json.loads(proc.stdout.readline()))
        assert records[-1]["state"] == "init" and records[-1]["bbox"] == [221.0, 11.0, 225.0, 169.0]
        records.append(json.loads(proc.stdout.readline()))
        assert records[-1]["state"] in ("tracking", "lost")
        proc.stdin.write('{"cmd": "stop"}\n')
        proc.stdin.flush()
        rest, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "ignored control message" in err and "stopped by control message" in err
    assert all(json.loads(line)["frame"] > records[-1]["frame"] for line in rest.splitlines())
