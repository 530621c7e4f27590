"""Merging bench reports from several machines, and the environment probe."""

from __future__ import annotations

import json

import pytest

from dasiamrt.bench.env import machine_label, system_info
from dasiamrt.bench.merge import merge_reports
from dasiamrt.errors import DatasetError


def _report(path, gpu, rows):
    path.write_text(json.dumps({"env": {"cpu": "EPYC", "gpu": {"name": gpu} if gpu else None}, "rows": rows}))
    return path


def test_merge_two_machines(tmp_path):
    a = _report(
        tmp_path / "a.json",
        "Orin",
        [
            {"backend": "trt", "precision": "fp16", "size": 255, "ms": 4.0},
            {"backend": "trt", "precision": "fp16", "size": 767, "fps": 50.0},
        ],
    )
    b = _report(tmp_path / "b.json", None, [{"backend": "ort", "precision": "fp32", "size": 255, "ms": 115.0}])
    md, png = merge_reports([a, b], tmp_path / "chart.png")
    lines = md.strip().splitlines()
    assert lines[0] == "| configuration | Orin | EPYC |"
    assert "| trt fp16 255 | 4.0 ms (250 FPS) | - |" in lines
    assert "| trt fp16 767 | 20.0 ms (50 FPS) | - |" in lines  # ms derived from fps
    assert "| ort fp32 255 | - | 115.0 ms (9 FPS) |" in lines
    if png is not None:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_reads_the_bench_command_report(tmp_path):
    result = {
        "case": {"backend": "trt", "precision": "fp16", "search_size": 767, "da": True},
        "frames": 30,
        "fps": 40.0,
        "loop_ms": {"median": 24.0, "p90": 30.0},
        "stage_ms": {},
        "template_ms": 1.0,
    }
    path = tmp_path / "r.json"
    path.write_text(
        json.dumps({"model": "m", "machine": {"cpu": "Cortex-A78AE", "gpu": {"name": "Orin"}}, "results": [result]})
    )
    md, _ = merge_reports([path], tmp_path / "c.png")
    assert "| configuration | Orin · m |" in md and "| trt fp16 767 DA | 24.0 ms (40 FPS) |" in md


def test_same_gpu_twice_gets_distinct_columns(tmp_path):
    a = _report(tmp_path / "a.json", "Orin", [{"backend": "trt", "ms": 1.0}])
    b = _report(tmp_path / "b.json", "Orin", [{"backend": "trt", "ms": 2.0}])
    md, _ = merge_reports([a, b], tmp_path / "c.png")
    assert "| Orin | Orin (2) |" in md.splitlines()[0]


def test_bad_report_is_a_one_line_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(DatasetError, match="dasiamrt bench --json"):
        merge_reports([bad])


def test_system_info_never_raises_and_labels():
    env = system_info()
    assert env["cpu"] and env["python"]
    json.dumps(env)  # JSON-friendly
    assert machine_label(env) == ((env["gpu"] or {}).get("name") or env["cpu"])
