"""The console script: outputs of track/bench, one-line errors for user mistakes, nothing half-written."""
from __future__ import annotations

import csv
import subprocess
import sys

import pytest

from dasiamrt.assets import DEMO_CLIP, DEMO_INIT_XYWH
from dasiamrt.cli import main

INIT = ",".join(str(v) for v in DEMO_INIT_XYWH)


def test_track_writes_csv_and_video(tiny_model_dir, tmp_path, capsys):
    out, video = tmp_path / "boxes.csv", tmp_path / "out.mp4"
    rc = main(["track", str(DEMO_CLIP), "--init", INIT, "--model", str(tiny_model_dir), "--max-frames", "8",
               "--out", str(out), "--save", str(video), "--quiet", "--da", "--long-term"])
    assert rc == 0
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["frame", "x", "y", "w", "h", "score", "state"]
    assert len(rows) == 9 and rows[1][:5] == ["0", *(f"{v:.3f}" for v in DEMO_INIT_XYWH)]
    assert {r[6] for r in rows[1:]} <= {"tracking", "lost"}
    import cv2

    cap = cv2.VideoCapture(str(video))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 8
    assert "8 frames" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["boxes.csv", "out.mp4"]  # no temp files left


@pytest.mark.parametrize(
    "args, message",
    [
        (["track", "/no/such/video.mp4", "--init", "1,2,3,4"], "no such file"),
        (["track", str(DEMO_CLIP), "--init", "2000,2000,10,10"], "outside the 480x360 frame"),
        (["track", str(DEMO_CLIP), "--init", "1,2,3"], "4 numbers"),
        (["track", str(DEMO_CLIP), "--init", "1,2,3,4", "--model", "/no/model"], "not a dasiamrt model folder"),
        (["track", str(DEMO_CLIP), "--init", "1,2,3,4", "--search-size", "300"], "search size 300"),
        (["bench", "--sizes", "300"], "search size 300"),
        (["bench", "--sizes", "abc"], "abc"),
        (["bench", "--json", "/nonexistent/folder/bench.json"], "does not exist"),
        (["track", str(DEMO_CLIP), "--init", "1,2,3,4", "--max-frames", "0"], "--max-frames must be at least 1"),
        (["bench", "--preset", "nope"], "unknown preset 'nope'"),
        (["build", "--model", "MODEL", "--print-trtexec", "--trt-version", "10.3", "--sizes", "abc"], "--sizes takes"),
        (["build", "--model", "MODEL", "--print-trtexec", "--trt-version", "7.2"], "8.5 or newer"),
        (["build", "--model", "MODEL", "--print-trtexec", "--trt-version", "latest"], "--trt-version takes"),
        (["export", "--random", "0", "--preset", "tiny", "--out", "/proc/no/model"], "cannot write"),
    ],
)
def test_user_errors_are_one_line(tiny_model_dir, tmp_path, args, message):
    if "--model" not in args and args[0] == "track":
        args = args + ["--model", str(tiny_model_dir)]
    args = [str(tiny_model_dir) if a == "MODEL" else a for a in args]
    out = tmp_path / "boxes.csv"
    proc = subprocess.run([sys.executable, "-m", "dasiamrt.cli", *args, "--out", str(out)] if args[0] == "track"
                          else [sys.executable, "-m", "dasiamrt.cli", *args],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in proc.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_corrupt_video(tmp_path, tiny_model_dir):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00garbage" * 100)
    rc = main(["track", str(bad), "--init", "1,2,3,4", "--model", str(tiny_model_dir)])
    assert rc == 2
    # FFmpeg's own "moov atom not found" must not come before the one error line
    proc = subprocess.run([sys.executable, "-m", "dasiamrt.cli", "track", str(bad), "--init", "1,2,3,4", "--model",
                           str(tiny_model_dir)], capture_output=True, text=True, timeout=120)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "cannot open video" in lines[0], proc.stderr


@pytest.mark.parametrize("frames, warmup", [(0, 3), (5, -1)])
def test_bench_refuses_nothing_to_measure(frames, warmup):
    from dasiamrt.bench.run import run_bench
    from dasiamrt.errors import ConfigError

    def no_tracker(changes):
        raise AssertionError("no tracker may be built")

    with pytest.raises(ConfigError, match="--frames must be >= 1 and --warmup >= 0"):
        run_bench(no_tracker, "m", [255], [False], frames, warmup, None, None, progress=None)


def test_output_path_that_is_a_folder(tmp_path, tiny_model_dir, capsys):
    (tmp_path / "out").mkdir()
    rc = main(["track", str(DEMO_CLIP), "--init", INIT, "--model", str(tiny_model_dir), "--max-frames", "2",
               "--out", str(tmp_path / "out"), "--quiet"])
    assert rc == 2 and "is a folder" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["out"] and not list((tmp_path / "out").iterdir())


def test_bench_prints_table_and_json(tiny_model_dir, tmp_path, capsys):
    report = tmp_path / "bench.json"
    rc = main(["bench", "--model", str(tiny_model_dir), "--sizes", "255", "--frames", "3", "--warmup", "1",
               "--json", str(report)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "| ort | fp32 | 255 | off |" in out and "| ort | fp32 | 255 | on |" in out
    from dasiamrt.cpu_features import detect

    assert f"{detect().summary()}, " in out  # every CPU table names the CPU's flags (AVX2, AVX-512, VNNI)
    import json

    data = json.loads(report.read_text())
    assert data["machine"]["cores"] >= 1 and len(data["results"]) == 2
    assert data["results"][0]["frames"] == 3


def test_demo_with_a_model_folder(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "demo"
    rc = main(["demo", "--model", str(tiny_model_dir), "--out", str(out), "--threads", "1", "--no-da"])
    assert rc == 0
    rows = list(csv.reader((out / "boxes.csv").open()))
    import cv2

    frames = int(cv2.VideoCapture(str(DEMO_CLIP)).get(cv2.CAP_PROP_FRAME_COUNT))
    assert len(rows) == frames + 1 and rows[1][:5] == ["0", *(f"{v:.3f}" for v in DEMO_INIT_XYWH)]
    assert sorted(p.name for p in out.iterdir()) == ["boxes.csv", "tracked.mp4"]
    assert f"{frames} frames" in capsys.readouterr().out
