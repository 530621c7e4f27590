"""One reader of GOT-10k / LaSOT sequence folders (issue 15, move 3): training and evaluation agree.

``train.datasets.read_sequence_folders`` and the evaluation's ``lasot`` / ``got10k`` readers both read a
folder through ``eval.datasets.folder.read_sequence_folder``. The round trip writes tiny folders in the two
layouts and checks that every training track is the evaluation sequence's ``gt - origin`` with its absent
frames invalid; the origin test paints the target into the frames and finds it again from the pixels.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from dasiamrt.errors import DatasetError
from dasiamrt.eval.datasets import load_dataset
from dasiamrt.eval.datasets.folder import read_sequence_folder
from dasiamrt.train.datasets import ImageCache, read_sequence_folders

H, W = 48, 64


def _frame(path, box_xywh):
    """A dark frame with the 0-based box ``(x, y, w, h)`` (integers) painted white."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.zeros((H, W, 3), np.uint8)
    x, y, w, h = box_xywh
    image[y:y + h, x:x + w] = 255
    cv2.imwrite(str(path), image)


def _painted_box(image):
    """The 0-based (x, y, w, h) of the white pixels, found from the image alone."""
    ys, xs = np.nonzero(image[..., 1] > 127)
    return [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]


# 0-based boxes painted into the frames; frame 2 is flagged (occluded / absent)
BOXES = [(10, 8, 20, 16), (14, 10, 20, 16), (18, 12, 20, 16), (22, 14, 20, 16)]


def _lasot(root):
    """``<root>/bear/bear-1`` with ``img/`` frames and 1-based boxes (LaSOT's toolkit convention)."""
    seq = root / "bear" / "bear-1"
    for i, box in enumerate(BOXES):
        _frame(seq / "img" / f"{i + 1:08d}.jpg", box)
    (seq / "groundtruth.txt").write_text("".join(f"{x + 1},{y + 1},{w},{h}\n" for x, y, w, h in BOXES))
    (seq / "full_occlusion.txt").write_text("0,0,1,0")
    (seq / "out_of_view.txt").write_text("0,0,0,0")
    return seq


def _got10k(root):
    """``<root>/val/GOT-10k_Val_000001`` with frames beside 0-based, whitespace-separated boxes."""
    seq = root / "val" / "GOT-10k_Val_000001"
    for i, box in enumerate(BOXES):
        _frame(seq / f"{i + 1:08d}.jpg", box)
    (seq / "groundtruth.txt").write_text("".join(f"{x} {y} {w} {h}\n" for x, y, w, h in BOXES))
    (seq / "absence.label").write_text("0\n0\n1\n0\n")
    (seq / "cover.label").write_text("8\n8\n0\n8\n")
    (seq / "meta_info.ini").write_text("[METAINFO]\nobject_class: bear\nresolution: (64, 48)\n")
    (root / "val" / "list.txt").write_text("GOT-10k_Val_000001\n")
    return seq


@pytest.mark.parametrize("layout, dataset", [("lasot", "lasot-all"), ("got10k", "got10k-val")])
def test_training_tracks_are_the_evaluation_sequences_minus_origin(tmp_path, layout, dataset):
    seq_dir = (_lasot if layout == "lasot" else _got10k)(tmp_path)
    (seq,) = load_dataset(dataset, tmp_path)
    (track,) = read_sequence_folders(str(tmp_path), ImageCache(), min_size=1.0)
    expected = seq.gt.copy()
    expected[:, :2] -= seq.origin
    np.testing.assert_array_equal(track.boxes_xywh, expected.astype(np.float32))
    np.testing.assert_array_equal(track.valid, ~seq.absent)
    assert track.valid.tolist() == [True, True, False, True]
    assert track.category == "bear" and track.video == str(seq_dir)
    for t in range(len(seq)):
        np.testing.assert_array_equal(track.load(t), seq.frame(t))


@pytest.mark.parametrize("layout", ["lasot", "got10k"])
def test_boxes_land_on_the_painted_target(tmp_path, layout):
    """LaSOT's 1-based numbers and GOT-10k's 0-based ones both give the pixels the target covers."""
    (_lasot if layout == "lasot" else _got10k)(tmp_path)
    (track,) = read_sequence_folders(str(tmp_path), ImageCache(), min_size=1.0)
    for t, box in enumerate(BOXES):
        assert _painted_box(track.load(t)) == list(box)
        np.testing.assert_array_equal(track.boxes_xywh[t], box)


def test_lasot_origin_is_one_and_got10k_zero(tmp_path):
    lasot, got = _lasot(tmp_path / "l"), _got10k(tmp_path / "g")
    assert read_sequence_folder(lasot, lengths="shorter").origin == 1.0
    assert read_sequence_folder(got, lengths="shorter").origin == 0.0
    assert load_dataset("lasot-all", tmp_path / "l")[0].init_xywh == tuple(float(v) for v in BOXES[0])


def test_length_policies(tmp_path):
    seq = _got10k(tmp_path)
    (seq / "00000004.jpg").unlink()
    with pytest.raises(DatasetError, match="3 frames but 4 boxes"):
        read_sequence_folder(seq, lengths="equal")
    short = read_sequence_folder(seq, lengths="shorter")
    assert len(short) == len(short.frames) == len(short.absent) == 3
    (seq / "cover.label").unlink()  # (a short cover.label is padded with 0 = absent, as GOT-10k's reader did)
    padded = read_sequence_folder(seq, lengths="frames", length=6)
    assert len(padded) == 6 and np.isnan(padded.gt[4:]).all() and padded.frames[5].name == "00000006.jpg"
    assert padded.absent.tolist() == [False, False, True, False, False, False]  # padding is not "absent"
    with pytest.raises(DatasetError, match="lengths must be"):
        read_sequence_folder(seq, lengths="longest")


def test_a_malformed_folder_is_skipped_for_training_and_an_error_for_evaluation(tmp_path, caplog):
    _got10k(tmp_path)
    bad = tmp_path / "val" / "GOT-10k_Val_000002"
    _frame(bad / "00000001.jpg", BOXES[0])
    (bad / "groundtruth.txt").write_text("1,2,3,4,5\n")
    (tmp_path / "val" / "list.txt").write_text("GOT-10k_Val_000001\nGOT-10k_Val_000002\n")
    tracks = read_sequence_folders(str(tmp_path), ImageCache(), min_size=1.0)
    assert [t.video for t in tracks] == [str(tmp_path / "val" / "GOT-10k_Val_000001")]
    assert "GOT-10k_Val_000002" in caplog.text
    with pytest.raises(DatasetError, match="expected 4 numbers per line"):
        load_dataset("got10k-val", tmp_path)
