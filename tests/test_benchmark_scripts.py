"""Every benchmark script still imports and parses its arguments (they are run by hand, rarely)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dasiamrt.assets import BUNDLED_MODEL

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


def _painted_real_data(tmp_path, frames):
    """A real-data layout of three painted sequences (a box moving 1 px a frame); SeqA, SeqB on the
    validation side of the returned split, SeqC on its training side."""
    import json

    cv2 = pytest.importorskip("cv2")
    np = pytest.importorskip("numpy")
    root = tmp_path / "real"
    for name in ("SeqA", "SeqB", "SeqC"):
        folder = root / "sequences" / name
        folder.mkdir(parents=True)
        rows = []
        for i in range(frames):
            frame = np.full((120, 160, 3), 60, np.uint8)
            cv2.rectangle(frame, (40 + i, 40), (70 + i, 90), (30, 200, 230), -1)
            cv2.imwrite(str(folder / f"{i + 1:08d}.jpg"), frame)
            rows.append(f"{40 + i},40,31,51")
        (folder / "groundtruth.txt").write_text("\n".join(rows) + "\n")
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"validation": ["SeqA", "SeqB"], "thin_targets": ["SeqA"]}))
    return root, split


def test_real_validation_runs_the_bundled_model_by_default(tmp_path):
    """benchmarks/real_validation.py without --model/--weights tracks with the bundled model (its default)
    on a real-data layout: here three painted 8-frame sequences, two on the validation side."""
    import json

    root, split = _painted_real_data(tmp_path, frames=8)
    out = tmp_path / "report"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "real_validation.py"), "--root", str(root),
                           "--split", str(split), "--variants", "plain,+DA", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    plain, da = report["results"]["plain"], report["results"]["+DA"]
    assert list(plain["per_sequence"]) == ["SeqA", "SeqB"]
    assert plain["auc"] > 0.5  # a painted box that moves 1 px a frame
    assert list(plain["aspect_error_1_30"]) == ["SeqA"]  # the split's thin_targets
    interval = plain["auc_interval"]
    assert interval["clusters"] == 2 and interval["low"] <= plain["auc"] <= interval["high"]
    assert interval["low"] >= min(plain["per_sequence"].values()) - 1e-4  # resampled means stay within the runs
    vs = da["vs_first"]  # the paired difference, recomputed from the per-sequence table
    assert vs["variant"] == "plain" and "vs_first" not in plain
    assert vs["estimate"] == pytest.approx(sum(da["per_sequence"][n] - plain["per_sequence"][n] for n in
                                               ("SeqA", "SeqB")) / 2, abs=1e-9)
    # never off target on these sequences: no thresholds per variant (eval.score_stats needs both sides), none
    # combined (tests/eval/test_real_and_scores.py checks the combination)
    assert plain["thresholds"] is None and report["thresholds_all_modes"] is None
    # --base: each variant against the same variant of the run above, here with another motion window
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "real_validation.py"), "--root", str(root),
                           "--split", str(split), "--variants", "+DA", "--set", "window_influence=0.05", "--base",
                           str(out) + ".json", "--out", str(tmp_path / "other")],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    other = json.loads((tmp_path / "other.json").read_text())["results"]["+DA"]
    assert other["vs_base"]["label"] == report["label"]  # the base run names its model
    assert other["vs_base"]["estimate"] == pytest.approx(
        sum(other["per_sequence"][n] - da["per_sequence"][n] for n in ("SeqA", "SeqB")) / 2, abs=1e-9)
    assert f"vs {report['label']} (paired)" in (tmp_path / "other.md").read_text()


def test_real_validation_tracks_the_training_side_from_later_starts(tmp_path):
    """--part train tracks only the split's training side (SeqC); --starts 2 adds the run from the middle
    frame (24 frames: frame 12), named as train.validate.later_starts names it."""
    import json

    root, split = _painted_real_data(tmp_path, frames=24)
    out = tmp_path / "report"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "real_validation.py"), "--root", str(root),
                           "--split", str(split), "--variants", "plain", "--part", "train", "--starts", "2",
                           "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert list(report["results"]["plain"]["per_sequence"]) == ["SeqC", "SeqC@12"]
    assert report["results"]["plain"]["auc_interval"]["clusters"] == 1  # a later start is drawn with its sequence
    assert report["results"]["plain"]["aspect_error_1_30"] == {}  # thin targets are validation sequences
    text = (tmp_path / "report.md").read_text()
    assert "nan" not in text and "thin targets (per variant)" not in text  # no empty aspect-error table


def test_real_validation_refuses_an_unknown_variant_in_one_line():
    """The usage line's spelling '+DA+LT' (the table's is '+DA +LT') is accepted; a variant that does not exist is
    a one-line argparse error, exit 2, before any model is loaded."""
    script = str(REPO / "benchmarks" / "real_validation.py")
    proc = subprocess.run([sys.executable, script, "--variants", "plain,+DA+LT,+XY", "--root", "/nonexistent"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "unknown variant '+XY'" in proc.stderr and "unknown variant '+DA+LT'" not in proc.stderr
    for extra, says in ((["--base", script], "is not a real_validation.py --out JSON"),
                        ([], "real-data folder /nonexistent does not exist")):
        proc = subprocess.run([sys.executable, script, *extra, "--root", "/nonexistent"],
                              cwd=REPO, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr and says in proc.stderr


def test_tune_real_ranks_settings_with_paired_intervals_against_the_best(tmp_path):
    """benchmarks/tune_real.py: one row per setting, best first; later rows carry their paired difference from
    the best (on painted sequences where the box moves 1 px a frame)."""
    root, split = _painted_real_data(tmp_path, frames=12)
    out = tmp_path / "tune.md"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "tune_real.py"), "--model",
                           str(BUNDLED_MODEL), "--root", str(root), "--split",
                           str(split), "--window", "0.2,0.5", "--starts", "2", "--threads", "1", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [line.split(" | ") for line in out.read_text().splitlines() if line.startswith("| 0.") or
            line.startswith("| 1.")]
    assert len(rows) == 2 and float(rows[0][0][2:]) >= float(rows[1][0][2:])
    assert rows[0][1] == "-" and "[" in rows[1][1]
    diff = float(rows[1][1].split(" ")[0])  # cells have 3 decimals
    assert diff <= 0 and diff == pytest.approx(float(rows[1][0][2:]) - float(rows[0][0][2:]), abs=2e-3)
