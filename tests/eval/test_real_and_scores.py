"""The real-sequence reader, on/off-target score statistics and the thresholds derived from them."""
from __future__ import annotations

import json
from math import erf, sqrt
from types import SimpleNamespace

import numpy as np
import pytest

from dasiamrt.errors import ConfigError, DatasetError
from dasiamrt.eval.datasets import load_dataset
from dasiamrt.eval.evaluation import evaluate
from dasiamrt.eval.report import markdown
from dasiamrt.eval.score_stats import combine_thresholds, derive_thresholds, histogram, on_off_scores

from ..conftest import DATA, ROOT

cv2 = pytest.importorskip("cv2")


def _real(tmp_path, frames=8):
    root = tmp_path / "real"
    entries = []
    for name, dataset in (("SeqA", "OTB100"), ("SeqB", "UAV123@10fps"), ("SeqC", "DTB70")):
        folder = root / "sequences" / name
        folder.mkdir(parents=True)
        rows = []
        for i in range(frames):
            cv2.imwrite(str(folder / f"{i + 1:08d}.jpg"), np.full((60, 80, 3), 50, np.uint8))
            rows.append("nan,nan,nan,nan" if (name == "SeqB" and i == 5) else f"{10 + i},10,20,30")
        (folder / "groundtruth.txt").write_text("\n".join(rows) + "\n")
        entries.append({"name": name, "dataset": dataset, "target": "person"})
    (root / "manifest.json").write_text(json.dumps({"sequences": entries}))
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"validation": ["SeqA", "SeqB"], "thin_targets": ["SeqA"]}))
    return root, split


def test_real_reader_sides_of_a_split_tags_and_absent_frames(tmp_path):
    root, split = _real(tmp_path)
    every = load_dataset("real", root)
    assert [s.name for s in every] == ["SeqA", "SeqB", "SeqC"] and every.kind == "ope"
    val = load_dataset(f"real:{split}", root)
    train = load_dataset(f"real:{split}:train", root / "sequences")
    assert [s.name for s in val] == ["SeqA", "SeqB"] and [s.name for s in train] == ["SeqC"]
    a, b = val
    assert a.tags == ("thin", "ground") and b.tags == ("drone",)
    assert a.init_xywh == (10.0, 10.0, 20.0, 30.0)  # 0-based: no origin shift
    assert b.absent.tolist() == [i == 5 for i in range(8)]
    with pytest.raises(DatasetError, match="--root"):
        load_dataset("real")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"validation": ["Nope"]}))
    with pytest.raises(ConfigError, match="Nope"):
        load_dataset(f"real:{bad}", root)


def test_on_off_split_by_iou_and_absence():
    scores = np.array([1.0, 0.9, 0.8, 0.3, 0.2, 0.7])
    ious = np.array([1.0, 0.8, 0.3, 0.05, -1.0, 0.5])  # -1: invalid ground truth (absent)
    on, off = on_off_scores(scores, ious)
    assert on.tolist() == [0.9, 0.7] and off.tolist() == [0.3, 0.2]  # frame 0 and IoU 0.3 left out
    h = histogram(on, off)
    assert sum(h["on"]) == 2 and sum(h["off"]) == 2 and h["on_median"] == pytest.approx(0.8)


def test_unknown_scores_are_neither_on_nor_off_target():
    """A frame whose score is unknown (NaN in a scores file: a tracker result without ``score``) counts on
    neither side, so the histogram and the thresholds are those of the known frames."""
    scores = np.array([1.0, 0.9, np.nan, 0.8, 0.3, np.nan, 0.2])
    ious = np.array([1.0, 0.8, 0.9, 0.7, 0.05, 0.0, -1.0])
    on, off = on_off_scores(scores, ious)
    assert on.tolist() == [0.9, 0.8] and off.tolist() == [0.3, 0.2]
    known = derive_thresholds([0.9, 0.8], [0.3, 0.2])
    assert derive_thresholds([0.9, np.nan, 0.8], [np.nan, 0.3, 0.2]) == known
    assert all(np.isfinite(v) for v in known.values())
    with pytest.raises(ValueError, match="on-target and off-target"):
        derive_thresholds([np.nan], [0.2])


def test_thresholds_follow_the_quantiles_of_known_distributions():
    rng = np.random.default_rng(0)
    on = rng.uniform(0.5, 1.0, 50000)  # P(on < t) = (t - 0.5) / 0.5: the 2% quantile is 0.51
    background, lookalikes = rng.uniform(0.0, 0.1, 45000), rng.uniform(0.8, 1.0, 5000)
    t = derive_thresholds(on, np.concatenate([background, lookalikes]))
    assert t["enter"] == pytest.approx(0.51, abs=0.005)
    # 10% of the off-target frames are look-alikes, U(0.8, 1.0): the 95th percentile is their median, 0.9
    assert t["leave"] == pytest.approx(0.9, abs=0.005)
    assert t["distractor"] == t["enter"]
    # best single cut: t in (0.1, 0.5] misses no on-target frame and passes the 10% look-alikes: 0.05
    assert t["balanced_error"] == pytest.approx(0.05, abs=0.005)


def test_two_gaussians_balanced_error_and_ordering_rules():
    rng = np.random.default_rng(1)
    t = derive_thresholds(rng.normal(0.7, 0.08, 20000), rng.normal(0.4, 0.08, 20000))
    # equal spreads: the least balanced error is at the midpoint, Phi(-0.15 / 0.08) = 0.0304
    assert t["balanced_error"] == pytest.approx(0.5 * (1 + erf(-0.15 / 0.08 / sqrt(2))), abs=0.004)
    assert t["enter"] == pytest.approx(0.7 - 2.054 * 0.08, abs=0.01)  # 2% quantile of N(0.7, 0.08)
    assert t["leave"] == pytest.approx(0.4 + 1.645 * 0.08, abs=0.01)  # 95% quantile of N(0.4, 0.08)
    separable = derive_thresholds([0.9, 0.95, 0.85], [0.1, 0.2, 0.3])
    assert separable["balanced_error"] == 0 and separable["leave"] >= separable["enter"] > 0.8
    high_off = derive_thresholds([0.6, 0.62, 0.64], [0.9] * 5 + [0.1] * 20)
    assert high_off["leave"] >= high_off["enter"]
    with pytest.raises(ValueError):
        derive_thresholds([], [0.1])


def test_combined_thresholds_keep_every_modes_error_rates():
    """Two modes (plain; a DA-like one whose on-target scores have a longer low tail and whose off-target
    scores sit higher): with the combined thresholds neither mode enters lost on more than 2% of its
    on-target frames nor counts more than 5% of its off-target frames as found; each mode's own thresholds
    break the other's rate."""
    rng = np.random.default_rng(2)
    modes = {"plain": (rng.uniform(0.8, 1.0, 40000), rng.uniform(0.0, 0.5, 40000)),
             "da": (rng.uniform(0.5, 1.0, 40000), rng.uniform(0.2, 0.99, 40000))}
    own = {name: derive_thresholds(on, off) for name, (on, off) in modes.items()}
    both = combine_thresholds(list(own.values()))
    for on, off in modes.values():
        assert np.mean(on < both["enter"]) <= 0.02 + 0.003
        assert np.mean(off > both["leave"]) <= 0.05 + 0.003
    assert np.mean(modes["da"][0] < own["plain"]["enter"]) > 0.3  # plain's enter: DA would drop out on target
    assert np.mean(modes["da"][1] > own["plain"]["leave"]) > 0.2   # plain's leave: DA's look-alikes count as found
    assert both["distractor"] == both["enter"] == own["da"]["enter"]
    assert both["balanced_error"] == max(t["balanced_error"] for t in own.values())
    assert combine_thresholds([own["plain"]]) == own["plain"]
    with pytest.raises(ValueError):
        combine_thresholds([])


class HalfTracker:
    """Test double: on the ground truth (score 0.9) for the first half, far away (score 0.2) after."""

    def __init__(self, gt):
        self.gt, self.t = gt, 0

    def init(self, frame, box):
        self.t = 0

    def track(self, frame):
        self.t += 1
        x, y, w, h = self.gt[self.t]
        if self.t < len(self.gt) // 2:
            return SimpleNamespace(bbox_xywh=(x, y, w, h), score=0.9, state="tracking")
        return SimpleNamespace(bbox_xywh=(x + 45, y + 25, w, h), score=0.2, state="tracking")


def test_eval_report_has_score_histograms_and_thresholds(tmp_path):
    root, split = _real(tmp_path)
    ds = load_dataset("real", root)
    seq = ds[0]
    ds.sequences = [seq]
    report = evaluate(ds, tracker=HalfTracker(seq.gt), tracker_name="half", out_dir=tmp_path / "out", plots=False)
    sec = report["trackers"]["half"]["scores"]
    # frames 1..3 on target (score 0.9), frames 4..7 off target (score 0.2)
    assert (sec["histogram"]["on_frames"], sec["histogram"]["off_frames"]) == (3, 4)
    assert sec["thresholds"]["enter"] == pytest.approx(0.9) and sec["thresholds"]["leave"] == pytest.approx(0.9)
    text = markdown(report)
    assert "Tracker score on target" in text and "| half | 3 | 4 | 0.900 | 0.200 |" in text
    assert (tmp_path / "out" / "results" / "half" / "scores" / "SeqA_score.txt").is_file()


@pytest.mark.skipif(not (DATA / "real" / "manifest.json").is_file(), reason="no ../shared/data/real")
def test_project_validation_split_reads_as_a_dataset():
    ds = load_dataset(f"real:{ROOT / 'configs' / 'real_split.json'}", DATA / "real")
    assert len(ds) >= 8 and sum("thin" in s.tags for s in ds) >= 4
    assert {"ground", "drone"} <= {t for s in ds for t in s.tags}
