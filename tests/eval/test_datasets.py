from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dasiamrt.errors import DatasetError
from dasiamrt.eval.datasets import load_dataset


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _boxes(n, start=1.0):
    return np.array([[start + i, 2.0 * i + 3, 10.0 + i, 20.0] for i in range(n)])


def _lines(boxes, sep=","):
    return "\n".join(sep.join("NaN" if np.isnan(v) else f"{v:g}" for v in row) for row in boxes) + "\n"


# ----------------------------------------------------------------------------------------------- OTB
def test_otb_separators_origin_and_frames(tmp_path):
    for name, sep in (("Comma", ","), ("Tab", "\t"), ("Space", " ")):
        _write(tmp_path / name / "groundtruth_rect.txt", _lines(_boxes(3), sep))
    (tmp_path / "Comma" / "img").mkdir()
    for i in (1, 2, 3):
        (tmp_path / "Comma" / "img" / f"{i:04d}.jpg").write_bytes(b"x")
    ds = load_dataset("otb", tmp_path)
    assert [s.name for s in ds] == ["Comma", "Space", "Tab"] and ds.kind == "ope"
    for seq in ds:
        np.testing.assert_array_equal(seq.gt, _boxes(3))
        assert seq.origin == 1.0 and seq.init_xywh == (0.0, 2.0, 10.0, 20.0)
    assert [p.name for p in ds["Comma"].frames] == ["0001.jpg", "0002.jpg", "0003.jpg"]
    assert all(p.exists() for p in ds["Comma"].frames)


def test_otb_special_ranges_and_two_targets(tmp_path):
    _write(tmp_path / "David" / "groundtruth_rect.txt", _lines(_boxes(771 - 300)))   # range-length file
    _write(tmp_path / "Tiger1" / "groundtruth_rect.txt", _lines(_boxes(354)))        # whole-video file
    _write(tmp_path / "Jogging" / "groundtruth_rect.1.txt", _lines(_boxes(4)))
    _write(tmp_path / "Jogging" / "groundtruth_rect.2.txt", _lines(_boxes(4, start=50)))
    _write(tmp_path / "Human4" / "groundtruth_rect.1.txt", "")
    _write(tmp_path / "Human4" / "groundtruth_rect.2.txt", _lines(_boxes(5)))
    _write(tmp_path / "Board" / "groundtruth_rect.txt", _lines(_boxes(2)))
    ds = load_dataset("otb", tmp_path)
    assert [s.name for s in ds] == ["Board", "David", "Human4", "Jogging.1", "Jogging.2", "Tiger1"]
    david, tiger = ds["David"], ds["Tiger1"]
    assert len(david) == 471 and david.frames[0].name == "0300.jpg" and david.frames[-1].name == "0770.jpg"
    assert len(tiger) == 349 and tiger.frames[0].name == "0006.jpg"
    np.testing.assert_array_equal(tiger.gt[0], _boxes(354)[5])  # line 6 of the file is frame 6
    assert ds["Jogging.2"].gt[0, 0] == 50 and ds["Board"].frames[0].name == "00001.jpg"


def test_otb_errors_name_file_and_line(tmp_path):
    _write(tmp_path / "Bad" / "groundtruth_rect.txt", "1,2,3,4\n1,2,3\n")
    with pytest.raises(DatasetError, match=r"groundtruth_rect.txt:2: expected 4 numbers"):
        load_dataset("otb", tmp_path)
    _write(tmp_path / "Bad" / "groundtruth_rect.txt", "1,2,3,4\n1,x,3,4\n")
    with pytest.raises(DatasetError, match=r"groundtruth_rect.txt:2: expected numbers"):
        load_dataset("otb", tmp_path)
    _write(tmp_path / "David" / "groundtruth_rect.txt", _lines(_boxes(10)))
    (tmp_path / "Bad" / "groundtruth_rect.txt").unlink()
    with pytest.raises(DatasetError, match="range of David"):
        load_dataset("otb", tmp_path)
    with pytest.raises(DatasetError, match="otb2013 sequence folder"):
        load_dataset("otb2013", tmp_path)
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset("otb", tmp_path / "nowhere")


# ----------------------------------------------------------------------------------------------- VOT
def test_vot_polygons_boxes_tags_and_color_folder(tmp_path):
    _write(tmp_path / "list.txt", "quad\nrect\n")
    poly = "10,10,30,10,30,40,10,40\n12,10,32,12,30,42,10,40\n11,11,31,11,31,41,11,41\n"
    _write(tmp_path / "quad" / "groundtruth.txt", poly)
    _write(tmp_path / "quad" / "camera_motion.tag", "1\n0\n")  # trailing zeros dropped, as VOT ships them
    _write(tmp_path / "quad" / "occlusion.tag", "")
    (tmp_path / "quad" / "color").mkdir()
    _write(tmp_path / "rect" / "groundtruth.txt", "5\t6\t7\t8\n5\t6\t7\t8\n")
    _write(tmp_path / "rect" / "size_change.label", "0\n1\n")
    ds = load_dataset("vot2018", tmp_path)
    assert ds.kind == "vot" and ds.edition == 2018
    quad, rect = ds["quad"], ds["rect"]
    assert quad.polygons.shape == (3, 8) and quad.frames[0] == tmp_path / "quad" / "color" / "00000001.jpg"
    np.testing.assert_array_equal(quad.gt[1], [10, 10, 22, 32])  # axis-aligned bounds of the polygon
    np.testing.assert_array_equal(quad.attributes["camera_motion"], [True, False, False])
    np.testing.assert_array_equal(quad.attributes["empty"], [False, True, True])
    assert quad.init_xywh == pytest.approx((9.5, 9.5, 21.0, 31.0))  # s = 1: bounds + the official "+1"
    np.testing.assert_array_equal(rect.polygons[0], [5, 6, 12, 6, 12, 14, 5, 14])
    np.testing.assert_array_equal(rect.attributes["size_change"], [False, True])


def test_vot_errors(tmp_path):
    with pytest.raises(DatasetError, match="list.txt is missing"):
        load_dataset("vot2016", tmp_path)
    _write(tmp_path / "list.txt", "a\nmissing\n")
    _write(tmp_path / "a" / "groundtruth.txt", "1,2,3,4,5,6\n")
    with pytest.raises(DatasetError, match=r"groundtruth.txt:1: expected 4 or 8 numbers"):
        load_dataset("vot2016", tmp_path)
    _write(tmp_path / "a" / "groundtruth.txt", "1,2,3,4\n")
    with pytest.raises(DatasetError, match=r"list.txt:2: sequence folder .*missing"):
        load_dataset("vot2016", tmp_path)
    _write(tmp_path / "list.txt", "a\n")
    _write(tmp_path / "a" / "occlusion.tag", "0\n1\n1\n")
    with pytest.raises(DatasetError, match="3 labels for 1 frames"):
        load_dataset("vot2016", tmp_path)


# -------------------------------------------------------------------------------------------- UAV123
def test_uav123_subsequence_ranges_nan_rows_and_attributes(tmp_path):
    boxes = _boxes(1477 - 775 + 1)
    boxes[3:6] = np.nan
    _write(tmp_path / "anno" / "UAV123" / "bird1_2.txt", _lines(boxes))
    _write(tmp_path / "anno" / "UAV123" / "boat1.txt", _lines(_boxes(4)))
    _write(tmp_path / "anno" / "UAV123" / "att" / "boat1.txt", "1,0,0,0,0,0,1,0,0,0,0,1\n")
    _write(tmp_path / "anno" / "UAV20L" / "bird1.txt", _lines(_boxes(7)))
    (tmp_path / "data_seq").mkdir()
    ds = load_dataset("uav123", tmp_path)
    bird = ds["bird1_2"]
    assert len(bird) == 703 and bird.frames[0] == tmp_path / "data_seq" / "UAV123" / "bird1" / "000775.jpg"
    np.testing.assert_array_equal(np.nonzero(bird.absent)[0], [3, 4, 5])
    assert ds["boat1"].tags == ("SV", "OV", "SOB") and ds["boat1"].frames[-1].name == "000004.jpg"
    long = load_dataset("uav20l", tmp_path)
    assert [s.name for s in long] == ["bird1"] and long["bird1"].frames[-1].name == "000007.jpg"
    _write(tmp_path / "anno" / "UAV123" / "bird1_2.txt", _lines(_boxes(10)))
    with pytest.raises(DatasetError, match="10 boxes for frames 775-1477"):
        load_dataset("uav123", tmp_path)


# --------------------------------------------------------------------------------------------- LaSOT
def test_lasot_absent_flags_and_test_split(tmp_path):
    for name in ("airplane-1", "airplane-2"):
        folder = tmp_path / "airplane" / name
        _write(folder / "groundtruth.txt", _lines(_boxes(4)))
        _write(folder / "full_occlusion.txt", "0,0,1,0")
        _write(folder / "out_of_view.txt", "0,0,0,1\n")
    ds = load_dataset("lasot", tmp_path)
    assert [s.name for s in ds] == ["airplane-1", "airplane-2"]
    seq = ds["airplane-1"]
    np.testing.assert_array_equal(seq.absent, [False, False, True, True])
    assert seq.frames[1].name == "00000002.jpg" and seq.frames[1].parent.name == "img" and seq.origin == 1.0
    _write(tmp_path / "testing_set.txt", "airplane-2\n")
    assert [s.name for s in load_dataset("lasot", tmp_path)] == ["airplane-2"]
    assert len(load_dataset("lasot-all", tmp_path)) == 2
    _write(tmp_path / "testing_set.txt", "airplane-2\nbear-3\n")
    with pytest.raises(DatasetError, match="test sequence"):
        load_dataset("lasot", tmp_path)
    _write(tmp_path / "airplane" / "airplane-1" / "out_of_view.txt", "0,0,1,0,1,1")
    with pytest.raises(DatasetError, match="6 labels for 4 frames"):
        load_dataset("lasot-all", tmp_path)


# ------------------------------------------------------------------------------------------- GOT-10k
def test_got10k_val_and_test(tmp_path):
    seq = tmp_path / "val" / "GOT-10k_Val_000001"
    _write(tmp_path / "val" / "list.txt", "GOT-10k_Val_000001\n")
    _write(seq / "groundtruth.txt", _lines(_boxes(4)))
    _write(seq / "absence.label", "0\n0\n1\n0\n")
    _write(seq / "cover.label", "8\n0\n0\n5\n")
    _write(seq / "meta_info.ini", "[METAINFO]\nurl: x\nresolution: (1280, 720)\n")
    ds = load_dataset("got10k-val", tmp_path)
    s = ds["GOT-10k_Val_000001"]
    assert ds.kind == "got10k" and s.meta["resolution"] == (1280.0, 720.0)
    np.testing.assert_array_equal(s.absent, [False, True, True, False])  # absence or zero cover
    np.testing.assert_array_equal(s.meta["cover"], [8, 0, 0, 5])
    test = tmp_path / "test" / "GOT-10k_Test_000001"
    _write(tmp_path / "test" / "list.txt", "GOT-10k_Test_000001\n")
    _write(test / "groundtruth.txt", "1,2,3,4\n")
    for i in range(1, 6):
        (test / f"{i:08d}.jpg").write_bytes(b"x")
    t = load_dataset("got10k-test", tmp_path)["GOT-10k_Test_000001"]
    assert len(t) == 5 and np.isnan(t.gt[1:]).all() and t.init_xywh == (1.0, 2.0, 3.0, 4.0)


# --------------------------------------------------------------------------------- pysot JSON, registry
def test_pysot_json_and_errors(tmp_path):
    data = {"Seq": {"video_dir": "Seq", "init_rect": [1, 2, 3, 4],
                    "img_names": ["Seq/img/0001.jpg", "Seq/img/0002.jpg"],
                    "gt_rect": [[1, 2, 3, 4], [2, 3, 4, 5]], "attr": ["IV", "OCC"], "absent": [1, 0]}}
    path = _write(tmp_path / "OTB100.json", json.dumps(data))
    ds = load_dataset(f"pysot:{path}")
    seq = ds["Seq"]
    assert ds.kind == "ope" and seq.tags == ("IV", "OCC") and seq.frames[1] == tmp_path / "Seq/img/0002.jpg"
    np.testing.assert_array_equal(seq.absent, [False, True])
    vot = {"v": {"img_names": ["v/1.jpg"], "gt_rect": [[1, 1, 5, 1, 5, 5, 1, 5]], "camera_motion": [1]}}
    ds = load_dataset(f"pysot:{_write(tmp_path / 'VOT2016.json', json.dumps(vot))}")
    assert ds.kind == "vot" and ds.edition == 2016 and ds["v"].attributes["camera_motion"].tolist() == [True]
    _write(tmp_path / "bad.json", '{"a": \n [1,,]}')
    with pytest.raises(DatasetError, match=r"bad.json:2: invalid JSON"):
        load_dataset(f"pysot:{tmp_path / 'bad.json'}")
    short = {"s": {"img_names": ["a.jpg"], "gt_rect": [[1, 2, 3, 4], [1, 2, 3, 4]]}}
    _write(tmp_path / "short.json", json.dumps(short))
    with pytest.raises(DatasetError, match="for 1 images"):
        load_dataset(f"pysot:{tmp_path / 'short.json'}")


def test_registry_and_synthetic_sets():
    with pytest.raises(DatasetError, match="unknown dataset"):
        load_dataset("imagenet", "/tmp")
    with pytest.raises(DatasetError, match="needs --root"):
        load_dataset("otb2015")
    ds = load_dataset("synthetic:occlusion:2:4:20")
    assert [s.name for s in ds] == ["occlusion-4", "occlusion-5"] and len(ds["occlusion-4"]) == 20
    assert ds["occlusion-4"].frame(3).shape == (360, 480, 3)
    with pytest.raises(DatasetError, match="must be integers"):
        load_dataset("synthetic:mixed:x")
