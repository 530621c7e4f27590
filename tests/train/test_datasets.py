from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from dasiamrt.errors import ConfigError, DatasetError
from dasiamrt.train.datasets import ImageCache, read_coco, read_imagenet, read_sequence_folders
from dasiamrt.train.sources import build_sources


def _image(path, value=50):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((40, 60, 3), value, np.uint8))


def test_coco_reader_keeps_non_crowd_boxes_with_names(tmp_path):
    _image(tmp_path / "img" / "a.jpg")
    ann = {"images": [{"id": 7, "file_name": "a.jpg"}], "categories": [{"id": 1, "name": "cat"}],
           "annotations": [{"image_id": 7, "bbox": [1, 2, 20, 10], "category_id": 1},
                           {"image_id": 7, "bbox": [0, 0, 30, 30], "category_id": 1, "iscrowd": 1},
                           {"image_id": 7, "bbox": [0, 0, 2, 2], "category_id": 1}]}
    (tmp_path / "ann.json").write_text(json.dumps(ann))
    tracks = read_coco(str(tmp_path / "ann.json"), str(tmp_path / "img"), ImageCache())
    assert len(tracks) == 1 and tracks[0].category == "cat"
    np.testing.assert_array_equal(tracks[0].boxes_xywh, [[1, 2, 20, 10]])
    assert tracks[0].load(0).shape == (40, 60, 3)


VOC = """<annotation><object><trackid>{tid}</trackid><name>n0001</name>
<bndbox><xmax>{x2}</xmax><xmin>{x1}</xmin><ymax>30</ymax><ymin>10</ymin></bndbox></object></annotation>"""


def test_imagenet_vid_groups_frames_by_track(tmp_path):
    for i, x1 in enumerate((5, 9)):
        ann = tmp_path / "Annotations" / "VID" / "train" / "snip" / f"{i:06d}.xml"
        ann.parent.mkdir(parents=True, exist_ok=True)
        ann.write_text(VOC.format(tid=0, x1=x1, x2=x1 + 20))
        _image(tmp_path / "Data" / "VID" / "train" / "snip" / f"{i:06d}.JPEG", 10 * i)
    tracks = read_imagenet(str(tmp_path), "vid", ImageCache())
    assert len(tracks) == 1 and tracks[0].category == "n0001"
    np.testing.assert_array_equal(tracks[0].boxes_xywh, [[5, 10, 20, 20], [9, 10, 20, 20]])
    assert tracks[0].load(1).mean() == pytest.approx(10, abs=1)


def test_got10k_and_lasot_folders(tmp_path):
    got = tmp_path / "got" / "GOT-10k_Train_000001"
    for i in range(3):
        _image(got / f"{i + 1:08d}.jpg")
    (got / "groundtruth.txt").write_text("1,2,10,10\n1,2,10,10\n3,4,10,10\n")
    (got / "absence.label").write_text("0\n1\n0\n")
    (got / "meta_info.ini").write_text("[METAINFO]\nobject_class: zebra\n")
    lasot = tmp_path / "lasot" / "bear" / "bear-1"
    for i in range(2):
        _image(lasot / "img" / f"{i + 1:08d}.jpg")
    (lasot / "groundtruth.txt").write_text("1,2,10,10\n3,4,10,10\n")
    (lasot / "full_occlusion.txt").write_text("0,1")
    (got_t,) = read_sequence_folders(str(tmp_path / "got"), ImageCache())
    (las_t,) = read_sequence_folders(str(tmp_path / "lasot"), ImageCache())
    assert got_t.category == "zebra" and got_t.valid.tolist() == [True, False, True]
    assert las_t.category == "bear" and las_t.valid.tolist() == [True, False]


def test_sources_reject_unknown_types_and_options(tmp_path):
    with pytest.raises(ConfigError):
        build_sources([{"type": "nope"}], ImageCache())
    with pytest.raises(ConfigError):
        build_sources([{"type": "coco", "annotations": "x", "bogus": 1}], ImageCache())
    with pytest.raises(DatasetError):
        build_sources([{"type": "coco", "annotations": str(tmp_path / "missing.json"), "images": "."}], ImageCache())


def test_synthetic_source_gives_the_target_and_its_lookalikes_one_category():
    (tracks, weight), = build_sources([{"type": "synthetic", "presets": ["distractors"], "count": 1, "num_frames": 5,
                                        "size": [160, 120], "textures": "procedural", "weight": 2}], ImageCache())
    assert weight == 2.0
    cats = [t.category for t in tracks]
    assert cats.count("distractors-1000/target") == 4  # target + 3 look-alikes
    assert all(t.aligned and t.load(4).shape == (120, 160, 3) for t in tracks)
