from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dasiamrt.errors import ConfigError, DatasetError
from dasiamrt.synthetic import render
from dasiamrt.synthetic.sequences import PRESETS, make_sequence, make_set, write_otb_layout

cv2 = pytest.importorskip("cv2")
PHOTOS = Path("/work/shared/data/images")


def _alpha_box(seq, t, half=True):
    """Box of the target's pixels, from two renders of it alone on black and on white.

    255 * (1 - alpha) is their difference: ``half`` keeps pixels at least half covered, else any
    pixel the target touches (a "non-background" pixel).
    """
    black = seq.render(t, kinds=("target",), background=0).astype(np.int32)
    white = seq.render(t, kinds=("target",), background=255).astype(np.int32)
    diff = (white - black).max(axis=2)
    ys, xs = np.nonzero(diff <= 127 if half else diff < 255)
    if len(xs) == 0:
        return None
    return np.array([xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()], float)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_same_seed_same_frames_and_other_seed_differs(preset):
    a = make_sequence(preset, 7, num_frames=30)
    b = make_sequence(preset, 7, num_frames=30)
    c = make_sequence(preset, 8, num_frames=30)
    np.testing.assert_array_equal(a.boxes_xywh, b.boxes_xywh)
    for t in (0, 13, 29):
        assert a.frames[t].shape == (360, 480, 3) and a.frames[t].dtype == np.uint8
        np.testing.assert_array_equal(a.frames[t], b.frames[t])
    assert not np.array_equal(a.frames[0], c.frames[0])
    assert a.name == f"{preset}-7" and len(a.frames) == 30 == len(a.boxes_xywh)
    for key in ("occluded", "out_of_view", "distractor_near"):
        assert a.attributes[key].shape == (30,) and a.attributes[key].dtype == bool


@pytest.mark.parametrize("preset,blur,half,tol", [
    ("plain", 0.0, False, 1.15), ("mixed", 0.0, False, 1.15),  # any touched pixel: ~1 px (measured 1.09)
    ("out-of-view", 0.0, True, 1.0), ("mixed", 0.0, True, 1.0),  # half-covered pixels: measured 0.68 px
    ("mixed", 0.6, True, 2.1),  # motion blur smears the edges: measured 2.03 px
])
def test_boxes_match_rendered_pixels(preset, blur, half, tol):
    seq = make_sequence(preset, 3, num_frames=90, blur=blur)
    checked = 0
    for t in range(0, 90, 3):
        measured = _alpha_box(seq, t, half)
        box = seq.boxes_xywh[t]
        if np.isnan(box).any():
            assert measured is None
            continue
        if min(box[2:]) < 6:  # slivers at the border: too thin for pixel centres to trace the polygon
            continue
        np.testing.assert_allclose(measured[:2], box[:2], atol=tol)
        np.testing.assert_allclose(measured[:2] + measured[2:], box[:2] + box[2:], atol=tol)
        checked += 1
    assert checked >= 15


def test_target_moves_scales_and_rotates():
    seq = make_sequence("plain", 11, num_frames=150)
    centres = seq.boxes_xywh[:, :2] + seq.boxes_xywh[:, 2:] / 2
    assert np.ptp(centres[:, 0]) > 40 and np.ptp(centres[:, 1]) > 20
    area = seq.boxes_xywh[:, 2] * seq.boxes_xywh[:, 3]
    assert area.max() / area.min() > 1.2
    assert np.ptp(seq.target.angle_deg) > 5
    # smooth: no jump larger than a few target sizes per frame
    assert np.abs(np.diff(centres, axis=0)).max() < 0.5 * np.sqrt(area.min())


def test_out_of_view_spans_leave_and_reenter():
    seq = make_sequence("out-of-view", 5, num_frames=150)
    out = seq.attributes["out_of_view"]
    assert out.any() and not out[0] and not out[-1]
    np.testing.assert_array_equal(out, np.isnan(seq.boxes_xywh[:, 0]))
    for t in np.nonzero(out)[0][:5]:  # nothing of the target is drawn while it is out of view
        assert _alpha_box(seq, int(t)) is None


def test_full_occlusion_hides_the_target():
    seq = make_sequence("occlusion", 2, num_frames=150)
    full = np.nonzero(seq.attributes["full_occlusion"])[0]
    assert len(full) >= 5
    for t in full[:: max(1, len(full) // 4)]:
        x, y, w, h = (int(round(v)) for v in seq.boxes_xywh[t])
        with_target = seq.render(int(t))[y:y + h, x:x + w].astype(int)
        without = seq.render(int(t), kinds=("lookalike", "other", "occluder"))[y:y + h, x:x + w].astype(int)
        assert (np.abs(with_target - without).max(axis=2) > 2).mean() < 0.02
    assert seq.attributes["occluded"][full].all()
    assert not seq.attributes["occluded"][:10].any()


def test_lookalikes_are_recoloured_copies_that_come_near():
    seq = make_sequence("distractors", 4, num_frames=150)
    assert seq.attributes["distractor_near"].sum() >= 10
    looks = [layer for layer in seq.layers if layer.kind == "lookalike"]
    assert len(looks) == 3
    for layer in looks:
        diff = np.abs(layer.sprite - seq.target.sprite).mean()
        assert 0.5 < diff < 0.25 * 255
        # independent check of distractor_near: the distance of centres in frame coordinates
        dist = np.hypot(*(layer.center_xy - seq.target.center_xy).T)
        assert dist.min() < np.sqrt(np.prod(seq.target.size_wh, axis=1)).mean()


def test_textures_procedural_and_folder(tmp_path):
    proc = make_sequence("plain", 1, num_frames=3, textures="procedural", size=(160, 120))
    assert proc.frames[2].shape == (120, 160, 3)
    if PHOTOS.is_dir():
        photo = make_sequence("plain", 1, num_frames=3, textures=PHOTOS, size=(160, 120))
        assert not np.array_equal(photo.frames[0], proc.frames[0])
    with pytest.raises(DatasetError, match="does not exist"):
        make_sequence("plain", 1, textures=tmp_path / "missing")
    with pytest.raises(DatasetError, match="no .jpg"):
        make_sequence("plain", 1, textures=tmp_path)


def test_bad_arguments_raise_config_errors():
    with pytest.raises(ConfigError, match="unknown synthetic preset"):
        make_sequence("nope", 0)
    with pytest.raises(ConfigError, match="unknown scene option"):
        make_sequence("plain", 0, n_dragons=3)
    with pytest.raises(ConfigError):
        make_sequence("plain", 0, num_frames=1)
    with pytest.raises(ConfigError):
        make_set("plain", 0)


def test_write_otb_layout_round_trip(tmp_path):
    seqs = make_set("out-of-view", 2, seed=5, num_frames=40, size=(160, 120))
    folders = write_otb_layout(seqs, tmp_path)
    assert [f.name for f in folders] == ["out-of-view-5", "out-of-view-6"]
    for seq, folder in zip(seqs, folders):
        images = sorted((folder / "img").glob("*.jpg"))
        assert [p.name for p in images[:2]] == ["0001.jpg", "0002.jpg"] and len(images) == 40
        decoded = cv2.imread(str(images[10])).astype(int)
        assert np.abs(decoded - seq.frames[10].astype(int)).mean() < 4.0
        gt = np.loadtxt(folder / "groundtruth_rect.txt", delimiter=",")
        expected = seq.boxes_xywh + np.array([1, 1, 0, 0])
        np.testing.assert_allclose(gt, expected, atol=1e-3)
        flags = np.loadtxt(folder / "out_of_view.txt", delimiter=",").astype(bool)
        np.testing.assert_array_equal(flags, seq.attributes["out_of_view"])
    assert not list(tmp_path.rglob("*.tmp"))


def test_written_files_get_ordinary_permissions(tmp_path):
    import os
    import stat

    from dasiamrt.fileio import atomic_write_text

    path = atomic_write_text(tmp_path / "a" / "b.txt", "x")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask and path.read_text() == "x"


def test_object_boxes_match_their_pixels():
    seq = make_sequence("distractors", 6, num_frames=40, blur=0.0)
    np.testing.assert_array_equal(dict(seq.object_boxes(("target",)))["target"], seq.boxes_xywh)
    looks = [layer for layer in seq.layers if layer.kind == "lookalike"]
    boxes = [b for kind, b in seq.object_boxes() if kind == "lookalike"]
    assert len(looks) == len(boxes) == 3
    layer, layer_boxes = looks[0], boxes[0]
    checked = 0
    for t in range(0, 40, 7):
        box = layer_boxes[t]
        if np.isnan(box).any():
            continue
        frames = []
        for grey in (0, 255):  # this look-alike alone, on black and on white
            frame = np.full((360, 480, 3), grey, np.uint8)
            render.draw(frame, layer.sprite, layer.center_xy[t] - seq.cam_xy[t], layer.size_wh[t],
                        float(layer.angle_deg[t]), np.zeros(2), 0.0)
            frames.append(frame.astype(int))
        ys, xs = np.nonzero((frames[1] - frames[0]).max(axis=2) <= 127)
        np.testing.assert_allclose([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1],
                                   [box[0], box[1], box[0] + box[2], box[1] + box[3]], atol=1.0)
        checked += 1
    assert checked >= 2


def test_frames_after_and_reappeared():
    from dasiamrt.synthetic.sequences import frames_after

    mask = np.array([0, 1, 1, 0, 0, 0, 1, 0, 0], bool)
    np.testing.assert_array_equal(frames_after(mask, 2), [0, 0, 0, 1, 1, 0, 0, 1, 1])
    np.testing.assert_array_equal(frames_after(np.ones(4, bool), 2), np.zeros(4, bool))  # never ends
    seq = make_sequence("out-of-view", 5, num_frames=150)
    back = np.nonzero(seq.attributes["reappeared"])[0]
    last_out = np.nonzero(seq.attributes["out_of_view"])[0].max()
    assert back[0] == last_out + 1 and len(back) == 30 and np.isfinite(seq.boxes_xywh[back]).all()
