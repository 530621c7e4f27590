"""Faults: signals mid-run keep what was done, killed runs leave nothing a rerun trips over, no path escapes.

Every command runs as a separate process, as a user runs it.
"""
from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import cv2
import pytest

from dasiamrt.assets import DEMO_CLIP

from .runner import env, snapshot

INIT = "221,11,225,169"


def _cli(*args: str) -> List[str]:
    return [sys.executable, "-m", "dasiamrt.cli", *args]


def _as_from_a_terminal() -> None:
    """Child setup: SIGINT back to its default. A job a shell starts in the background (``.ci/run &``, some CI
    runners) inherits SIGINT ignored, and Python then installs no KeyboardInterrupt handler: the signal these
    tests send would do nothing. (As it should for a real background job; the tests play Ctrl-C.)"""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    """The demo clip three times over (720 frames): a run lasts long enough to be interrupted."""
    cap = cv2.VideoCapture(str(DEMO_CLIP))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    path = tmp_path_factory.mktemp("clips") / "long.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (480, 360))
    for frame in frames * 3:
        writer.write(frame)
    writer.release()
    return path


def _decoded_frames(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), f"{path} does not open"
    count = 0
    while cap.read()[0]:
        count += 1
    return count


def _wait_for_temp(folder: Path, suffix: str, min_bytes: int, proc: subprocess.Popen, timeout: float = 120.0) -> Path:
    """The hidden temp file of a running output, once it holds ``min_bytes``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        temps = [p for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(suffix)]
        if temps and temps[0].stat().st_size >= min_bytes:
            return temps[0]
        time.sleep(0.05)
    raise AssertionError("the run wrote nothing in time")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_mid_track_keeps_a_complete_csv_and_a_playable_video(long_clip, tmp_path, signum):
    out, video = tmp_path / "boxes.csv", tmp_path / "tracked.mp4"
    proc = subprocess.Popen(_cli("track", str(long_clip), "--init", INIT, "--threads", "1", "--out", str(out),
                                 "--save", str(video)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env(), preexec_fn=_as_from_a_terminal)
    try:
        _wait_for_temp(tmp_path, ".mp4", 150_000, proc)  # some tens of frames tracked
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signum, err  # 130 / 143
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and f"interrupted by {signal.Signals(signum).name}" in lines[0], err
    rows = list(csv.reader(out.open()))
    tracked = len(rows) - 1
    assert 2 <= tracked < 720, "the run should have been interrupted mid-way"
    assert f"{tracked} frames tracked, kept in {out} and {video}" in lines[0]
    assert [int(r[0]) for r in rows[1:]] == list(range(tracked))  # every frame, in order, each row whole
    assert out.read_text().endswith("\n")
    assert _decoded_frames(video) == tracked  # finalised: a player reads every tracked frame
    assert sorted(p.name for p in tmp_path.iterdir()) == ["boxes.csv", "tracked.mp4"]  # no temp files
    # the kept rows are exactly those of an uninterrupted run over the same frames
    again = tmp_path / "again.csv"
    subprocess.run(_cli("track", str(long_clip), "--init", INIT, "--threads", "1", "--max-frames", str(tracked),
                        "--out", str(again)), check=True, capture_output=True, env=env(), timeout=300)
    assert again.read_text() == out.read_text()


def test_kill_9_leaves_named_temp_files_that_the_next_run_removes(long_clip, tmp_path):
    out, video = tmp_path / "boxes.csv", tmp_path / "tracked.mp4"
    cmd = _cli("track", str(long_clip), "--init", INIT, "--threads", "1", "--out", str(out), "--save", str(video))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(),
                            preexec_fn=_as_from_a_terminal)
    try:
        _wait_for_temp(tmp_path, ".mp4", 50_000, proc)
        # while it runs, a second run aimed at the same files is refused, not raced
        second = subprocess.run(cmd + ["--max-frames", "3"], capture_output=True, text=True, env=env(), timeout=120)
        assert second.returncode == 2 and "is being written by another running dasiamrt" in second.stderr
        assert f"(pid {proc.pid})" in second.stderr
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    stale = sorted(p.name for p in tmp_path.iterdir())
    assert len(stale) == 2 and all(n.startswith((".boxes.csv.dasiamrt-", ".tracked.mp4.dasiamrt-")) for n in stale)
    assert all(f"-{proc.pid}-" in n for n in stale)  # named after the run that left them
    rerun = subprocess.run(cmd + ["--max-frames", "3"], capture_output=True, text=True, env=env(), timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["boxes.csv", "tracked.mp4"]
    assert rerun.stderr.count("left behind by an interrupted run") == 2
    assert len(list(csv.reader(out.open()))) == 4


def test_traversal_in_a_dataset_file_writes_nothing_outside_out(tmp_path):
    """A pysot JSON naming a sequence '../../../escaped' must not write escaped.txt above --out."""
    data = tmp_path / "data"
    (data / "seq" / "img").mkdir(parents=True)
    cap = cv2.VideoCapture(str(DEMO_CLIP))
    names = []
    for i in range(3):
        cv2.imwrite(str(data / "seq" / "img" / f"{i:04d}.jpg"), cap.read()[1])
        names.append(f"seq/img/{i:04d}.jpg")
    entry = {"video_dir": "seq", "init_rect": [222, 12, 225, 169], "img_names": names,
             "gt_rect": [[222, 12, 225, 169]] * 3, "attr": []}
    for n, name in enumerate(("../../../escaped", str(tmp_path / "abs_escaped"))):
        (data / f"d{n}.json").write_text(json.dumps({name: entry}))
        before = snapshot(tmp_path)
        out = tmp_path / "a" / "b" / f"out{n}"
        proc = subprocess.run(_cli("eval", "--dataset", f"pysot:{data / f'd{n}.json'}", "--out", str(out),
                                   "--no-plots"), capture_output=True, text=True, env=env(), timeout=120)
        assert proc.returncode == 2 and "cannot be a file name" in proc.stderr, proc.stderr
        assert snapshot(tmp_path) == before  # nothing anywhere: not outside --out, not inside it


def test_truncated_video_is_reported_and_its_frames_kept(tmp_path):
    cap = cv2.VideoCapture(str(DEMO_CLIP))
    full = tmp_path / "full.avi"
    writer = cv2.VideoWriter(str(full), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (480, 360))
    for _ in range(60):
        writer.write(cap.read()[1])
    writer.release()
    data = full.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])  # the header still announces 60 frames
    readable = _decoded_frames(cut)
    assert 10 < readable < 55
    out = tmp_path / "boxes.csv"
    proc = subprocess.run(_cli("track", str(cut), "--init", INIT, "--out", str(out)), capture_output=True, text=True,
                          env=env(), timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"the stream ended after {readable} frames (the file announces 60)" in proc.stderr
    assert len(out.read_text().splitlines()) == readable + 1
    assert f"wrote {out}" in proc.stdout


def test_live_json_file_grows_line_by_line_and_signals_exit_128_plus_n(tmp_path):
    jsonl = tmp_path / "out.jsonl"
    proc = subprocess.Popen(_cli("live", str(DEMO_CLIP), "--realtime", "--init", INIT, "--threads", "1",
                                 "--json", str(jsonl)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env(), preexec_fn=_as_from_a_terminal)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (not jsonl.exists() or jsonl.read_text().count("\n") < 5):
            assert proc.poll() is None, proc.communicate()[1]
            time.sleep(0.05)
        seen = jsonl.read_text()  # while the run goes on: what `tail -f` shows
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    complete = seen[: seen.rfind("\n") + 1]
    assert [json.loads(line)["frame"] for line in complete.splitlines()][:1] == [0]
    final = jsonl.read_text()
    assert final.startswith(complete) and final.endswith("\n")
    assert all(json.loads(line)["v"] == 1 for line in final.splitlines())
    assert proc.returncode == 143 and "interrupted by SIGTERM" in err
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_eval_interrupted_keeps_finished_sequences_and_resumes(tmp_path):
    out = tmp_path / "ev"
    cmd = _cli("eval", "--dataset", "synthetic:plain:40:0:40", "--out", str(out), "--no-plots", "--threads", "1")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(),
                            preexec_fn=_as_from_a_terminal)
    results = out / "results" / "bundled"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and len(list(results.glob("*.txt"))) < 2:
            assert proc.poll() is None, proc.communicate()[1]
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted by SIGINT: finished sequences are kept in" in err
    done = sorted(p.name for p in results.glob("*.txt"))
    assert 2 <= len(done) < 40
    assert not [p for p in results.rglob(".*")]  # no half-written result or temp file
    for path in results.glob("*.txt"):
        assert len(path.read_text().splitlines()) == 40  # each kept sequence is whole


def test_bench_interrupted_writes_no_report(tmp_path):
    from dasiamrt.assets import BUNDLED_MODEL

    report = tmp_path / "bench.json"
    proc = subprocess.Popen(_cli("bench", "--model", str(BUNDLED_MODEL), "--sizes", "255,767", "--frames", "200",
                                 "--threads", "1", "--json", str(report)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env(), preexec_fn=_as_from_a_terminal)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any(p.name.startswith(".bench.json.") for p in tmp_path.iterdir()):
            time.sleep(0.05)
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err
    assert "interrupted by SIGTERM: no report written" in err
    assert list(tmp_path.iterdir()) == []
