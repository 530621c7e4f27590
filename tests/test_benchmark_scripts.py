"""Every benchmark script still imports and parses its arguments (they are run by hand, rarely)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((REPO / "benchmarks").glob("*.py"))


def test_there_are_benchmark_scripts():
    assert len(SCRIPTS) >= 8


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_benchmark_script_help(script):
    proc = subprocess.run([sys.executable, str(script), "--help"], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "usage:" in proc.stdout


def test_gpu_check_on_a_cpu_skips_with_reasons_and_exits_0(tmp_path):
    """benchmarks/gpu_check.py is run later on a GPU machine in one command; here (no GPU) every
    GPU section must say why it skipped, and the report files must be written."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root), PYTHONUNBUFFERED="1")
    run = subprocess.run([sys.executable, str(root / "benchmarks" / "gpu_check.py"), "--out", str(tmp_path),
                          "--budget", "120"], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    status = {s["section"]: s for s in report["sections"]}
    assert status["versions"]["status"] == "ok" and "cpu_flags" in status["versions"]["result"]
    gpu_sections = [s for name, s in status.items() if name != "versions"]
    if not report["sections"][0]["result"].get("gpu"):
        assert all(s["status"] == "skipped" and s["result"] for s in gpu_sections)
    assert (tmp_path / "gpu_check.md").read_text().startswith("| section | status | result |")
    assert "gpu_check: TensorRT" in run.stderr  # progress lines
