"""The got10k adapter: ExperimentOTB runs dasiamrt on a local OTB folder; its report equals `dasiamrt eval`'s."""
from __future__ import annotations

import json

import numpy as np
import pytest

from dasiamrt import cli

#: OTB-2015 names, so got10k's OTB reader (which lists sequences by name) finds the generated ones.
NAMES = {("plain", 1): "Basketball", ("distractors", 2): "Biker", ("occlusion", 3): "Bird1"}


@pytest.fixture(scope="module")
def otb_root(tmp_path_factory):
    pytest.importorskip("cv2")
    from dasiamrt.synthetic.sequences import make_sequence, write_otb_layout

    root = tmp_path_factory.mktemp("otb")
    for (preset, seed), name in NAMES.items():
        (folder,) = write_otb_layout([make_sequence(preset, seed, num_frames=40, size=(192, 144))], root)
        folder.rename(root / name)
    return root


def _experiment(monkeypatch, root, tmp_path):
    pytest.importorskip("got10k")
    import got10k.experiments.otb as otb_module
    from got10k.datasets.otb import OTB
    from got10k.experiments import ExperimentOTB

    # the real reader, told not to fetch the other 97 sequences (it warns that they are missing)
    monkeypatch.setattr(otb_module, "OTB", lambda root, version, download=True: OTB(root, version, download=False))
    return ExperimentOTB(str(root), version=2015, result_dir=str(tmp_path / "results"),
                         report_dir=str(tmp_path / "reports"))


def test_experiment_otb_runs_dasiamrt_and_reports_like_dasiamrt_eval(monkeypatch, otb_root, tmp_path):
    pytest.importorskip("onnxruntime")
    from got10k.trackers import Tracker as Got10kBase

    from dasiamrt.integrations.got10k import GOT10kTracker
    from dasiamrt.runtime.tracker_options import default_model

    tracker = GOT10kTracker.from_model(str(default_model()), name="dasiamrt-tiny")
    assert isinstance(tracker, Got10kBase) and tracker.is_deterministic
    experiment = _experiment(monkeypatch, otb_root, tmp_path)
    experiment.run(tracker)
    ours = experiment.report([tracker.name])[tracker.name]["overall"]
    tracker.close()
    result_dir = tmp_path / "results" / "OTB2015" / tracker.name
    assert sorted(p.stem for p in result_dir.glob("*.txt")) == sorted(NAMES.values())

    out = tmp_path / "eval"
    assert cli.main(["eval", "--dataset", "otb", "--root", str(otb_root), "--results", str(result_dir), "--out",
                     str(out), "--no-plots"]) == 0
    summary = json.loads((out / "report.json").read_text())["trackers"][tracker.name]["summary"]
    assert summary["auc"] == pytest.approx(ours["success_score"], abs=1e-4)
    assert summary["precision_20"] == pytest.approx(ours["precision_score"], abs=1e-4)
    assert 0.2 < summary["auc"] < 1.0  # it tracked: far above a tracker that stands still on these sequences


def test_origin_one_gives_dasiamrt_eval_boxes(monkeypatch, otb_root, tmp_path):
    """With origin=1 (OTB's 1-based files), the adapter inside got10k's loop tracks as `dasiamrt eval` does."""
    pytest.importorskip("onnxruntime")
    from dasiamrt.integrations.got10k import GOT10kTracker
    from dasiamrt.runtime.tracker_options import default_model

    experiment = _experiment(monkeypatch, otb_root, tmp_path)
    tracker = GOT10kTracker.from_model(str(default_model()), name="one-based", origin=1.0)
    experiment.run(tracker)
    tracker.close()
    assert cli.main(["eval", "--dataset", "otb", "--root", str(otb_root), "--out", str(tmp_path / "eval"),
                     "--name", "ours", "--no-plots", "--quiet"]) == 0
    for name in NAMES.values():
        theirs = np.loadtxt(tmp_path / "results" / "OTB2015" / "one-based" / f"{name}.txt", delimiter=",")
        ours = np.loadtxt(tmp_path / "eval" / "results" / "ours" / f"{name}.txt", delimiter=",")
        # PIL and OpenCV decode the same JPEG files; a decoder difference may move boxes a little
        assert np.abs(theirs - ours).max() < 0.5, name


def test_missing_got10k_is_a_one_line_install_hint(monkeypatch):
    import sys

    import dasiamrt.integrations.got10k as adapter
    from dasiamrt.errors import MissingDependencyError

    monkeypatch.setattr(adapter, "_CLASS", None)
    monkeypatch.setitem(sys.modules, "got10k.trackers", None)
    with pytest.raises(MissingDependencyError, match=r"pip install got10k"):
        getattr(adapter, "GOT10kTracker")  # noqa: B009 - the lazy attribute is what is tested
