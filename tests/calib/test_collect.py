"""Collected crops are the tracker's own crops; the set on disk round-trips; bad sets are refused."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from dasiamrt.artifacts.calibset import (
    CalibrationSet,
    check_model,
    load_calibration,
    save_calibration,
    search_key,
    validate,
)
from dasiamrt.artifacts.model_folder import read_model_dir
from dasiamrt.assets import DEMO_CLIP, DEMO_INIT_XYWH
from dasiamrt.calib.collect import CollectConfig, Jitter, Trajectory, collect_crops
from dasiamrt.calib.trajectories import gt_trajectory, load_trajectories, tracked_trajectory
from dasiamrt.errors import CalibrationError
from dasiamrt.runtime.backends.ort import OrtBackend
from dasiamrt.runtime.tracker import Tracker


class Recording(OrtBackend):
    """ONNX Runtime backend that keeps every crop the tracker feeds it."""

    def __init__(self, info):
        super().__init__(info)
        self.templates, self.searches = [], []

    def template(self, crops):
        self.templates.append(crops.copy())
        return super().template(crops)

    def search(self, crop, want_features=False):
        self.searches.append(crop.copy())
        return super().search(crop, want_features)


def _digest(blob) -> str:
    return hashlib.sha256(np.ascontiguousarray(blob, dtype=np.uint8).tobytes()).hexdigest()


def test_collected_crops_equal_the_trackers_crops(tiny_model_dir, clip_frames):
    frames = 12
    info = read_model_dir(tiny_model_dir)
    backend = Recording(info)
    tracker = Tracker(backend, info.tracker)
    tracker.init(clip_frames[0], DEMO_INIT_XYWH)
    for frame in clip_frames[1:frames + 1]:
        tracker.track(frame)
    traj = tracked_trajectory(str(DEMO_CLIP), DEMO_INIT_XYWH, str(tiny_model_dir), max_samples=frames,
                              rng=np.random.default_rng(0), max_frames=frames,
                              context_amount=info.tracker.context_amount)
    assert len(traj.samples) == frames
    cfg = CollectConfig(per_input=frames, seed=5, search_sizes=(info.tracker.instance_size,), jitter=Jitter.none())
    calib = collect_crops([traj], cfg)
    # every frame is used once (a seeded permutation), so the two multisets of crops must be equal
    collected = sorted(_digest(c) for c in calib.arrays[search_key(info.tracker.instance_size)])
    tracked = sorted(_digest(c[0]) for c in backend.searches)
    assert collected == tracked
    np.testing.assert_array_equal(calib.arrays["kernel_template"][0], backend.templates[0][0].astype(np.uint8))


def test_jitter_changes_crops_but_keeps_them_seeded(tiny_model_dir, clip_frames):
    boxes = np.array([DEMO_INIT_XYWH] * 6, dtype=np.float64)
    traj = gt_trajectory("clip", clip_frames[:6], boxes, 5, np.random.default_rng(0), 0.5)
    a = collect_crops([traj], CollectConfig(per_input=4, seed=1, search_sizes=(255,)))
    b = collect_crops([traj], CollectConfig(per_input=4, seed=1, search_sizes=(255,)))
    still = collect_crops([traj], CollectConfig(per_input=4, seed=1, search_sizes=(255,), jitter=Jitter.none()))
    np.testing.assert_array_equal(a.arrays["search_255"], b.arrays["search_255"])
    assert not np.array_equal(a.arrays["search_255"], still.arrays["search_255"])


def test_ground_truth_skips_unknown_boxes(clip_frames):
    boxes = np.array([DEMO_INIT_XYWH] * 8, dtype=np.float64)
    boxes[3] = np.nan  # frames 3 (no target) and 4 (no prior) cannot be used
    traj = gt_trajectory("clip", clip_frames[:8], boxes, 100, np.random.default_rng(0), 0.5)
    assert len(traj.samples) == 5 and all(np.isfinite(s.prior_xywh).all() for s in traj.samples)


def test_set_round_trip_and_manifest(tmp_path, clip_frames):
    boxes = np.array([DEMO_INIT_XYWH] * 10, dtype=np.float64)
    traj = gt_trajectory("clip", clip_frames[:10], boxes, 9, np.random.default_rng(0), 0.5)
    calib = collect_crops([traj], CollectConfig(per_input=8, search_sizes=(255, 767)), {"source": ["clip"]})
    npz = save_calibration(calib, tmp_path)
    loaded = load_calibration(tmp_path)
    assert loaded.counts() == {"template": 8, "search_255": 8, "search_767": 8}
    for name in ("template", "search_255", "search_767", "kernel_template"):
        np.testing.assert_array_equal(loaded.arrays[name], calib.arrays[name])
    manifest = json.loads((tmp_path / "calibration.json").read_text())
    mean = calib.arrays["search_767"].astype(np.float64).mean(axis=(0, 2, 3))
    np.testing.assert_allclose(manifest["stats"]["search_767"]["mean"], mean, atol=1e-3)
    assert manifest["source"] == ["clip"] and manifest["seed"] == 0 and npz.name == "calibration.npz"


def _minimal(n_template=8, side=255, n_search=8) -> CalibrationSet:
    z = np.zeros((n_template, 3, 127, 127), np.uint8)
    x = np.zeros((n_search, 3, side, side), np.uint8)
    return CalibrationSet({"template": z, "kernel_template": z[:1], f"search_{side}": x,
                           f"search_{side}_kernel": np.zeros(n_search, np.int32)}, {})


@pytest.mark.parametrize("calib, words", [
    (_minimal(n_template=0), "0 crop"),
    (_minimal(n_search=3), "fewer than 8"),
])
def test_empty_or_tiny_sets_are_refused(calib, words):
    with pytest.raises(CalibrationError, match=words) as err:
        validate(calib)
    assert "\n" not in str(err.value)


def test_crops_of_the_wrong_size_are_refused(tmp_path):
    bad = _minimal()
    bad.arrays["search_255"] = np.zeros((8, 3, 271, 271), np.uint8)  # labelled 255, holds 271 crops
    with pytest.raises(CalibrationError, match=r"search_255 .*expected uint8 \(3, 255, 255\)"):
        validate(bad)
    odd = _minimal(side=260)
    with pytest.raises(CalibrationError, match="search size 260"):
        validate(odd)
    wrong_template = _minimal()
    wrong_template.arrays["template"] = np.zeros((8, 3, 128, 128), np.uint8)
    save_calibration(wrong_template, tmp_path)
    with pytest.raises(CalibrationError, match="template"):
        load_calibration(tmp_path)


def test_tampered_or_missing_set_is_refused(tmp_path):
    save_calibration(_minimal(), tmp_path)
    with open(tmp_path / "calibration.npz", "ab") as fh:
        fh.write(b"x")
    with pytest.raises(CalibrationError, match="does not match the sha256"):
        load_calibration(tmp_path)
    with pytest.raises(CalibrationError, match="no calibration set"):
        load_calibration(tmp_path / "elsewhere")


def test_no_frames_and_no_init_are_clear_errors(tiny_model_dir):
    empty = Trajectory("empty", [], np.zeros(3, np.uint8), np.zeros((127, 127, 3), np.uint8), "ground truth")
    with pytest.raises(CalibrationError, match="no usable frames"):
        collect_crops([empty], CollectConfig(per_input=4))
    with pytest.raises(CalibrationError, match="--init"):
        load_trajectories([str(DEMO_CLIP)], [None], str(tiny_model_dir), 4, 0, 0.5)


def test_set_for_another_model_is_refused(int8_model, tmp_path):
    from dasiamrt.config import PRESETS
    from dasiamrt.export import export_model
    from dasiamrt.model import build_network

    other = tmp_path / "other"
    export_model(build_network(PRESETS["tiny"].network, seed=7), PRESETS["tiny"], other, check=False)
    calib = load_calibration(int8_model)
    check_model(calib, read_model_dir(int8_model))  # its own model: accepted
    with pytest.raises(CalibrationError, match="made for another model") as err:
        check_model(calib, read_model_dir(other))
    assert "\n" not in str(err.value)
    from dasiamrt.calib.variants import write_int8_variant

    with pytest.raises(CalibrationError, match="another model"):
        write_int8_variant(other, calib)
    assert not (other / "search.int8.onnx").exists()


def _write_sequence_folder(folder, boxes, layout: str) -> None:
    """Frames t filled with 10 * t (so a sample names its frame) and the layout's ground truth: "real"
    (GOT-10k / ../shared/data/real: ``groundtruth.txt`` 0-based beside the frames), "lasot" (1-based,
    frames in ``img/``), "otb" (``groundtruth_rect.txt`` 1-based, ``img/0001.jpg``)."""
    import cv2

    frames = folder if layout == "real" else folder / "img"
    frames.mkdir(parents=True)
    for t in range(len(boxes)):
        name = f"{t + 1:04d}.jpg" if layout == "otb" else f"{t + 1:08d}.png"
        cv2.imwrite(str(frames / name), np.full((120, 160, 3), 10 * t, np.uint8))
    written = boxes if layout == "real" else boxes + np.array([1.0, 1.0, 0.0, 0.0])
    gt = "groundtruth_rect.txt" if layout == "otb" else "groundtruth.txt"
    (folder / gt).write_text("\n".join(",".join(f"{v:g}" for v in b) for b in written) + "\n")


@pytest.mark.parametrize("layout", ["real", "lasot", "otb"])
def test_groundtruth_folders_calibrate_on_their_0_based_boxes(tmp_path, tiny_model_dir, layout):
    # before: a groundtruth.txt folder (GOT-10k, LaSOT, ../shared/data/real) was taken for an image
    # folder and refused without --init; and OTB's origin came off w and h too (1 px small boxes)
    boxes = np.array([[40 + 3 * t, 30 + 2 * t, 30, 50] for t in range(6)], np.float64)
    _write_sequence_folder(tmp_path / "seqs" / "a", boxes, layout)
    _write_sequence_folder(tmp_path / "seqs" / "b", boxes + [5, 5, 0, 0], layout)
    one = load_trajectories([str(tmp_path / "seqs" / "a")], [None], str(tiny_model_dir), 10, 0, 0.5)
    both = load_trajectories([str(tmp_path / "seqs")], [None], str(tiny_model_dir), 10, 0, 0.5)
    assert [t.name for t in one] == ["a"] and [t.name for t in both] == ["a", "b"]
    for traj, shift in ((one[0], 0), (both[0], 0), (both[1], 5)):
        assert traj.boxes_from == "ground truth" and len(traj.samples) == 5  # frames 1..5: prior and target known
        for sample in traj.samples:
            t = int(sample.frame[0, 0, 0]) // 10
            np.testing.assert_allclose(sample.target_xywh, boxes[t] + [shift, shift, 0, 0])
            np.testing.assert_allclose(sample.prior_xywh, boxes[t - 1] + [shift, shift, 0, 0])
