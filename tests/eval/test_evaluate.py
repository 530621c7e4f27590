"""Running, scoring and reporting; OPE numbers checked against the independent ``got10k`` package."""
from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from dasiamrt import cli
from dasiamrt.errors import DatasetError
from dasiamrt.eval import results as rio
from dasiamrt.eval.datasets import load_dataset
from dasiamrt.eval.evaluation import evaluate
from dasiamrt.synthetic.sequences import make_sequence, write_otb_layout

cv2 = pytest.importorskip("cv2")


class ShiftTracker:
    """Test double: answers the init box moved by ``step`` px per frame; counts its calls."""

    def __init__(self, step=(0.0, 0.0)):
        self.step = np.asarray(step, float)
        self.inits = []
        self.tracks = 0

    def init(self, frame, bbox_xywh):
        assert frame.ndim == 3 and frame.dtype == np.uint8
        self.box = np.asarray(bbox_xywh, float)
        self.inits.append(tuple(bbox_xywh))

    def track(self, frame):
        self.tracks += 1
        self.box = self.box + np.r_[self.step, 0, 0]
        return SimpleNamespace(bbox_xywh=tuple(self.box), score=1.0, state="tracking")


@pytest.fixture(scope="module")
def otb_fixture(tmp_path_factory):
    """An OTB-layout dataset (1-based files) and two result folders from noisy 'trackers'."""
    root = tmp_path_factory.mktemp("otb")
    seqs = [make_sequence(p, s, num_frames=30, size=(128, 96)) for p, s in
            (("plain", 1), ("distractors", 2), ("occlusion", 3))]
    write_otb_layout(seqs, root / "data")
    rng = np.random.default_rng(0)
    for name, sigma in (("good", 2.0), ("bad", 12.0)):
        for seq in seqs:
            gt = np.loadtxt(root / "data" / seq.name / "groundtruth_rect.txt", delimiter=",")
            pred = gt + rng.normal(0, sigma, gt.shape) * [1, 1, 0.5, 0.5]
            pred[:, 2:] = np.maximum(pred[:, 2:], 1.0)  # got10k has no rule for empty boxes; the OTB toolkit has
            pred[0] = gt[0]
            rio.write_boxes(root / name / f"{seq.name}.txt", pred)
    return root


def _got10k_reference(root: Path, tracker: str, tmp: Path):
    """Score with got10k's own OTB reader and ExperimentOTB.report (no download, no run)."""
    from got10k.datasets.otb import OTB
    from got10k.experiments.otb import ExperimentOTB

    data = root / "data"
    dataset = OTB.__new__(OTB)
    dataset.root_dir, dataset.version = str(data), "fixture"
    dataset.anno_files = sorted(str(p) for p in data.glob("*/groundtruth_rect.txt"))
    dataset.seq_dirs = [str(Path(f).parent) for f in dataset.anno_files]
    dataset.seq_names = [Path(d).name for d in dataset.seq_dirs]
    experiment = ExperimentOTB.__new__(ExperimentOTB)
    experiment.dataset = dataset
    experiment.result_dir, experiment.report_dir = str(root), str(tmp / "got10k_reports")
    experiment.nbins_iou, experiment.nbins_ce = 21, 51
    experiment.plot_curves = lambda *a, **k: None
    return experiment.report([tracker])[tracker]["overall"]


def test_cli_scores_otb_results_like_got10k(otb_fixture, tmp_path, capsys):
    pytest.importorskip("got10k")  # the independent implementation (dev extra)
    pytest.importorskip("matplotlib")
    out = tmp_path / "report"
    code = cli.main(["eval", "--dataset", "otb", "--root", str(otb_fixture / "data"), "--results",
                     str(otb_fixture / "good"), str(otb_fixture / "bad"), "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    for name in ("good", "bad"):
        ref = _got10k_reference(otb_fixture, name, tmp_path)
        ours = report["trackers"][name]["summary"]
        assert ours["auc"] == pytest.approx(ref["success_score"], abs=1e-4)
        assert ours["precision_20"] == pytest.approx(ref["precision_score"], abs=1e-4)
        np.testing.assert_allclose(ours["success_curve"], ref["success_curve"], atol=1e-9)
        row = re.search(rf"\| {name} \| ([0-9.]+) \| ([0-9.]+) \|", printed)  # what the user reads
        assert float(row.group(1)) == pytest.approx(ref["success_score"], abs=1e-4)
        assert float(row.group(2)) == pytest.approx(ref["precision_score"], abs=1e-4)
    assert report["trackers"]["good"]["summary"]["auc"] > report["trackers"]["bad"]["summary"]["auc"]
    # intervals: each around its tracker's AUC; the paired difference is the difference of got10k's scores
    refs = {name: _got10k_reference(otb_fixture, name, tmp_path)["success_score"] for name in ("good", "bad")}
    for name in ("good", "bad"):
        iv = report["trackers"][name]["summary"]["auc_interval"]
        assert iv["low"] <= iv["estimate"] <= iv["high"] and iv["estimate"] == pytest.approx(refs[name], abs=1e-4)
    diff = report["comparisons"]["bad"]
    assert diff["baseline"] == "good" and "good" not in report["comparisons"]
    assert diff["auc_difference"]["estimate"] == pytest.approx(refs["bad"] - refs["good"], abs=1e-4)
    assert f"- bad: AUC {report['trackers']['bad']['summary']['auc']:.4f} [" in printed and "; vs good: -" in printed
    assert {p.name for p in out.iterdir()} >= {"report.json", "report.md", "success.png", "precision.png",
                                              "attributes.png"}


def test_run_writes_otb_layout_and_resumes(tmp_path):
    ds = load_dataset("synthetic:plain:2:0:12")
    tracker = ShiftTracker(step=(1.0, 0.0))
    report = evaluate(ds, tracker=tracker, tracker_name="shift", out_dir=tmp_path, plots=False)
    assert tracker.tracks == 2 * 11 and len(tracker.inits) == 2
    boxes = np.loadtxt(tmp_path / "results" / "shift" / "plain-0.txt", delimiter=",")
    seq = ds["plain-0"]
    np.testing.assert_allclose(boxes[0], seq.gt[0], atol=1e-4)
    np.testing.assert_allclose(boxes[5], seq.gt[0] + [5, 0, 0, 0], atol=1e-4)
    assert (tmp_path / "results" / "shift" / "times" / "plain-0_time.txt").is_file()
    assert report["trackers"]["shift"]["summary"]["sequences"] == 2
    (tmp_path / "results" / "shift" / "plain-1.txt").unlink()
    again = ShiftTracker()
    evaluate(ds, tracker=again, tracker_name="shift", out_dir=tmp_path, plots=False)
    assert len(again.inits) == 1 and again.tracks == 11  # only the missing sequence ran


def test_vot_run_resets_five_frames_after_failure(tmp_path):
    pytest.importorskip("matplotlib")
    root = tmp_path / "vot"
    (root / "s").mkdir(parents=True)
    (root / "list.txt").write_text("s\n")
    (root / "s" / "groundtruth.txt").write_text("".join("10,10,20,20\n" for _ in range(20)))
    (root / "s" / "occlusion.tag").write_text("0\n1\n1\n1\n")  # frames 1-3: two boxes and the failure
    for i in range(1, 21):
        cv2.imwrite(str(root / "s" / f"{i:08d}.jpg"), np.zeros((60, 80, 3), np.uint8))
    ds = load_dataset("vot2016", root)
    tracker = ShiftTracker(step=(7.0, 0.0))  # 20 px wide: overlap reaches 0 at the 3rd tracked frame
    report = evaluate(ds, tracker=tracker, tracker_name="shift", out_dir=tmp_path / "out")
    assert (tmp_path / "out" / "eao.png").is_file() and (tmp_path / "out" / "attributes.png").is_file()
    lines = (tmp_path / "out" / "results" / "shift" / "baseline" / "s" / "s_001.txt").read_text().split()
    codes = [line if "," not in line else "box" for line in lines]
    # init, 2 boxes, failure at 3, skip 4-7, re-init at 8 = 3 + 5, ... failure at 11, init at 16, ...
    assert codes[:9] == ["1", "box", "box", "2", "0", "0", "0", "0", "1"]
    assert codes[11] == "2" and codes[16] == "1" and codes.count("2") == 3
    summary = report["trackers"]["shift"]["summary"]
    assert summary["failures"] == 3 and summary["robustness"] == pytest.approx(100 * 3 / 20)
    assert tracker.inits[1] == pytest.approx((9.5, 9.5, 21.0, 21.0))  # polygon -> area-preserving box, +1
    occlusion = report["trackers"]["shift"]["attributes"]["occlusion"]
    # frames 1-3: two boxes inside the 10-frame burn-in (no accuracy) and the failure
    assert occlusion == {"accuracy": None, "failures": 1, "frames": 3}


def test_got10k_scoring_from_files(tmp_path):
    seq = tmp_path / "val" / "GOT-10k_Val_000001"
    seq.mkdir(parents=True)
    (tmp_path / "val" / "list.txt").write_text("GOT-10k_Val_000001\n")
    (seq / "groundtruth.txt").write_text("0,0,10,10\n" * 4)
    (seq / "absence.label").write_text("0\n0\n1\n0\n")
    (seq / "cover.label").write_text("8\n8\n0\n8\n")
    (seq / "meta_info.ini").write_text("resolution: (100, 100)\n")
    run = tmp_path / "mine" / "GOT-10k_Val_000001"
    run.mkdir(parents=True)
    (run / "GOT-10k_Val_000001_001.txt").write_text("0,0,10,10\n0,0,5,10\n50,50,2,2\n0,0,10,10\n")
    report = evaluate("got10k-val", root=tmp_path, results=[tmp_path / "mine"], plots=False)
    summary = report["trackers"]["mine"]["summary"]
    assert summary["ao"] == pytest.approx(0.75) and summary["sr_50"] == 0.5 and summary["frames"] == 2


def test_scoring_errors_name_the_file(tmp_path, otb_fixture):
    bad = tmp_path / "bad"
    bad.mkdir()
    with pytest.raises(DatasetError, match="no result for sequence distractors-2 .*distractors-2.txt"):
        evaluate("otb", root=otb_fixture / "data", results=[bad], plots=False)
    (bad / "distractors-2.txt").write_text("1,2,3,4\n")
    with pytest.raises(DatasetError, match="distractors-2.txt: 1 boxes for 30 frames"):
        evaluate("otb", root=otb_fixture / "data", results=[bad], plots=False)
    with pytest.raises(DatasetError, match="nothing to evaluate"):
        evaluate("otb", root=otb_fixture / "data")
    assert cli.main(["eval", "--dataset", "otb", "--root", str(tmp_path / "nope"), "--results", str(bad)]) == 2


def test_cli_runs_the_real_tracker_and_resumes(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["eval", "--dataset", "synthetic:plain:2:3:6", "--model", str(tiny_model_dir), "--out", str(out),
            "--no-plots"]
    assert cli.main(argv) == 0
    captured = capsys.readouterr()
    assert "2/2" in captured.err and "| tiny |" in captured.out  # progress on stderr, table on stdout
    folder = out / "results" / "tiny"
    boxes = np.loadtxt(folder / "plain-3.txt", delimiter=",")
    assert boxes.shape == (6, 4) and np.isfinite(boxes).all()
    np.testing.assert_allclose(boxes[0], load_dataset("synthetic:plain:1:3:6")["plain-3"].gt[0], atol=1e-4)
    config = json.loads((folder / "config.json").read_text())
    assert config["instance_size"] == 255
    stamp = (folder / "plain-3.txt").stat().st_mtime_ns
    assert cli.main(argv) == 0  # resumed: nothing left to run
    assert (folder / "plain-3.txt").stat().st_mtime_ns == stamp
    # the same folder with other switches is refused rather than mixed
    assert cli.main(argv + ["--name", "tiny", "--search-size", "271"]) == 2
    assert "another tracker config" in capsys.readouterr().err


def test_got10k_test_split_runs_for_submission(tmp_path):
    seq = tmp_path / "test" / "GOT-10k_Test_000001"
    seq.mkdir(parents=True)
    (tmp_path / "test" / "list.txt").write_text("GOT-10k_Test_000001\n")
    (seq / "groundtruth.txt").write_text("4,5,20,10\n")
    for i in range(1, 6):
        cv2.imwrite(str(seq / f"{i:08d}.jpg"), np.zeros((40, 50, 3), np.uint8))
    report = evaluate("got10k-test", root=tmp_path, tracker=ShiftTracker(), tracker_name="shift",
                      out_dir=tmp_path / "out", plots=False)
    result = tmp_path / "out" / "results" / "shift" / "GOT-10k_Test_000001" / "GOT-10k_Test_000001_001.txt"
    assert report["trackers"] == {} and report["submit"] == str(result.parent.parent)
    np.testing.assert_allclose(np.loadtxt(result, delimiter=","), [[4, 5, 20, 10]] * 5)
    # the folder is the submission: one folder per sequence with its _001.txt and _time.txt, nothing else
    assert [p.name for p in result.parent.parent.iterdir()] == ["GOT-10k_Test_000001"]
    assert sorted(p.name for p in result.parent.iterdir()) == ["GOT-10k_Test_000001_001.txt",
                                                               "GOT-10k_Test_000001_time.txt"]
    with pytest.raises(DatasetError, match="submitted to the GOT-10k server"):
        evaluate("got10k-test", root=tmp_path, results=[result.parent.parent])


def test_package_level_evaluate_stays_the_function():
    """``dasiamrt.eval.evaluate`` (the README's entry point) must not turn into a module once the
    implementing submodule is imported (a submodule named like the function replaces it)."""
    import importlib

    import dasiamrt.eval as package

    first = package.evaluate
    importlib.import_module("dasiamrt.eval.evaluation")
    assert callable(first) and package.evaluate is evaluate and first is evaluate
