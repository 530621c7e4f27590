"""``dasiamrt export --format opencv``: files cv2.TrackerDaSiamRPN loads; it tracks like dasiamrt (same weights)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from dasiamrt.assets import DEMO_CLIP, DEMO_INIT_XYWH
from dasiamrt.cli import main

cv2 = pytest.importorskip("cv2")
pytest.importorskip("torch")
pytest.importorskip("onnx")

INIT = ",".join(str(int(v)) for v in DEMO_INIT_XYWH)
FRAMES = 25
#: OpenCV's tracker settings (tracker_dasiamrpn.cpp trackerConfig): window influence, lr, penalty_k, search.
OPENCV_SETTINGS = dict(window_influence=0.43, lr=0.4, penalty_k=0.055, instance_size=271)


@pytest.fixture(scope="module")
def vot_weights(tmp_path_factory, vot_net):
    from dasiamrt.model import save_checkpoint

    path = tmp_path_factory.mktemp("weights") / "SiamRPNVOT.model"
    save_checkpoint(vot_net.state_dict(), path, legacy=True)
    return path


@pytest.fixture(scope="module")
def opencv_dir(tmp_path_factory, vot_weights):
    out = tmp_path_factory.mktemp("opencv")
    assert main(["export", "--weights", str(vot_weights), "--preset", "vot", "--format", "opencv",
                 "--out", str(out)]) == 0
    return out


def _opencv_tracker(folder):
    if not hasattr(cv2, "TrackerDaSiamRPN"):
        pytest.skip("this OpenCV build has no TrackerDaSiamRPN (needs the dnn module)")
    params = cv2.TrackerDaSiamRPN_Params()
    params.model = str(folder / "dasiamrpn_model.onnx")
    params.kernel_r1 = str(folder / "dasiamrpn_kernel_r1.onnx")
    params.kernel_cls1 = str(folder / "dasiamrpn_kernel_cls1.onnx")
    return cv2.TrackerDaSiamRPN_create(params)


def _frames():
    from dasiamrt.bench.run import load_frames

    return load_frames(None, FRAMES)


def _opencv_boxes(folder, frames):
    tracker = _opencv_tracker(folder)
    tracker.init(frames[0], tuple(int(v) for v in DEMO_INIT_XYWH))
    boxes = []
    for frame in frames[1:]:
        ok, box = tracker.update(frame)
        assert ok
        boxes.append(box)
    return np.asarray(boxes, dtype=np.float64)


def test_export_writes_the_three_files_with_the_layers_opencv_looks_up(opencv_dir, capsys):
    import onnx

    assert sorted(p.name for p in opencv_dir.iterdir()) == [
        "dasiamrpn_kernel_cls1.onnx", "dasiamrpn_kernel_r1.onnx", "dasiamrpn_model.onnx"]
    model = onnx.load(str(opencv_dir / "dasiamrpn_model.onnx"))
    outputs = {o for n in model.graph.node for o in n.output}
    assert {"63", "65", "68"} <= outputs and [o.name for o in model.graph.output] == ["66", "68"]
    correlations = [n for n in model.graph.node if n.op_type == "Conv" and n.output[0] in ("65", "68")]
    shapes = {n.output[0]: next(i.dims for i in model.graph.initializer if i.name == n.input[1]) for n in correlations}
    assert shapes == {"65": [20, 256, 4, 4], "68": [10, 256, 4, 4]}  # the weights the tracker replaces


def test_opencv_dnn_runs_the_files_like_torch(opencv_dir, vot_net):
    from dasiamrt.export.opencv import check_with_opencv

    assert check_with_opencv(vot_net, opencv_dir, seed=5) < 1e-4


@pytest.mark.parametrize("preset", ["big", "tiny"])
def test_layouts_opencv_cannot_run_are_refused(preset, tmp_path, capsys):
    out = tmp_path / "ocv"
    assert main(["export", "--random", "0", "--preset", preset, "--format", "opencv", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "256-channel vot/otb layouts only" in err[0]
    assert not out.exists()


def test_opencv_tracker_follows_dasiamrt_on_the_same_weights(opencv_dir, vot_weights, tmp_path):
    from dasiamrt.config import get_preset
    from dasiamrt.export import export_model
    from dasiamrt.model import load_network
    from dasiamrt.runtime.geometry import iou_xywh
    from dasiamrt.runtime.tracker import Tracker

    frames = _frames()
    cv_boxes = _opencv_boxes(opencv_dir, frames)
    model = tmp_path / "vot"
    export_model(load_network(vot_weights, get_preset("vot").network), get_preset("vot"), model, check=False)

    # 1. dasiamrt with OpenCV's settings and OpenCV's own window: the same tracker up to OpenCV's
    #    integer output boxes and its rounded (not truncated) padding colour
    tracker = Tracker.from_model(str(model), config=get_preset("vot").tracker.replace(**OPENCV_SETTINGS))
    window = cv2.createHanningWindow((19, 19), cv2.CV_32F).astype(np.float64)
    tracker.grids[271] = dataclasses.replace(tracker.grids[271], window=np.tile(window.ravel(), 5))
    tracker.init(frames[0], DEMO_INIT_XYWH)
    ours = np.asarray([tracker.track(f).bbox_xywh for f in frames[1:]])
    iou = iou_xywh(cv_boxes, ours)
    assert np.median(iou) > 0.95 and np.mean(iou > 0.9) >= 0.9, iou.round(3)

    # 2. 'dasiamrt track' as it ships (vot settings, the official window) on the same weights
    csv = tmp_path / "boxes.csv"
    assert main(["track", str(DEMO_CLIP), "--init", INIT, "--model", str(model), "--max-frames", str(FRAMES),
                 "--out", str(csv), "--quiet"]) == 0
    rows = np.loadtxt(csv, delimiter=",", skiprows=1, usecols=(1, 2, 3, 4))[1:]
    shipped = iou_xywh(cv_boxes[:len(rows)], rows)
    assert np.all(shipped[:5] > 0.9), shipped.round(3)  # together at the start; the settings differ after


def test_the_tracker_uses_the_kernels_of_its_init_frame(opencv_dir, tmp_path):
    """The tracker replaces the placeholder kernels at init: files with other placeholders track the same."""
    import onnx
    from onnx import numpy_helper

    other = tmp_path / "other"
    other.mkdir()
    for name in ("dasiamrpn_kernel_r1.onnx", "dasiamrpn_kernel_cls1.onnx"):
        (other / name).write_bytes((opencv_dir / name).read_bytes())
    model = onnx.load(str(opencv_dir / "dasiamrpn_model.onnx"))
    weights = {n.input[1] for n in model.graph.node if n.output[0] in ("65", "68")}
    for init in model.graph.initializer:
        if init.name in weights:
            init.CopyFrom(numpy_helper.from_array(np.full(tuple(init.dims), 0.5, np.float32), init.name))
    onnx.save(model, str(other / "dasiamrpn_model.onnx"))
    frames = _frames()[:6]
    np.testing.assert_array_equal(_opencv_boxes(other, frames), _opencv_boxes(opencv_dir, frames))
