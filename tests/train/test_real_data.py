"""Real-data reading for training: symlinked roots, manifest categories and strides, the validation guard."""
from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from dasiamrt.errors import ConfigError
from dasiamrt.eval.datasets.real_manifest import read_manifest, target_category
from dasiamrt.eval.datasets.real_split import read_split
from dasiamrt.train.datasets import ImageCache, Track, read_sequence_folders
from dasiamrt.train.real_data import check_not_validation, read_real
from dasiamrt.train.sampler import PairSampler, SamplerConfig

from ..conftest import DATA, ROOT
from .test_sampler import PLAIN

#: name -> (target, stride, dataset, img_dir_in_repo): three parts of one clip, two other clips
SEQUENCES = {
    "group1_1": ("person (tall/thin) in a group", 8, "UAV123@10fps", "UAV123_10fps/data_seq/group1"),
    "group1_3": ("person (tall/thin) in a group", 7, "UAV123@10fps", "UAV123_10fps/data_seq/group1"),
    "car10": ("car", 8, "UAV123@10fps", "UAV123_10fps/data_seq/car10"),
    "Dog": ("dog", 1, "OTB100", "pytracking/Dog/img"),
}


def _sequence(folder: Path, frames: int = 4, nan_rows=()) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(frames):
        cv2.imwrite(str(folder / f"{i + 1:08d}.jpg"), np.full((60, 80, 3), 40 + i, np.uint8))
        rows.append("nan,nan,nan,nan" if i in nan_rows else f"{10 + i},12,20,30")
    (folder / "groundtruth.txt").write_text("\n".join(rows) + "\n")


def _real_root(tmp_path: Path) -> Path:
    root = tmp_path / "real"
    entries = []
    for name, (target, stride, dataset, img_dir) in SEQUENCES.items():
        _sequence(root / "sequences" / name, nan_rows=(2,) if name == "car10" else ())
        entries.append({"name": name, "target": target, "selection": {"stride": stride}, "dataset": dataset,
                        "img_dir_in_repo": img_dir})
    (root / "manifest.json").write_text(json.dumps({"sequences": entries}))
    stills = root / "stills"
    (stills / "images").mkdir(parents=True)
    cv2.imwrite(str(stills / "images" / "1.jpg"), np.full((50, 50, 3), 90, np.uint8))
    ann = {"images": [{"id": 1, "file_name": "1.jpg"}], "categories": [{"id": 1, "name": "person"}],
           "annotations": [{"image_id": 1, "bbox": [1, 1, 20, 30], "category_id": 1},
                           {"image_id": 1, "bbox": [25, 5, 20, 30], "category_id": 1}]}
    (stills / "annotations.json").write_text(json.dumps(ann))
    return root


def _split(tmp_path: Path, root: Path, validation=("group1_1", "Dog")) -> Path:
    path = tmp_path / "split.json"
    thin = [n for n in validation if n == "group1_1"]
    path.write_text(json.dumps({"root": str(root), "validation": list(validation), "thin_targets": thin}))
    return path


def test_target_text_gives_the_category_word():
    assert [target_category(t) for t in ("person (tall/thin) in a group", "bird (gull)", "car", "person on bicycle")] \
        == ["person", "bird", "car", "person"]


def test_symlinked_sequence_folders_are_found(tmp_path):
    _sequence(tmp_path / "store" / "seqA")
    _sequence(tmp_path / "store" / "seqB")
    links = tmp_path / "links"
    links.mkdir()
    os.symlink(tmp_path / "store" / "seqA", links / "seqA")
    os.symlink(tmp_path / "store" / "seqB", links / "seqB")
    os.symlink(links, links / "loop")  # a cycle must not hang or duplicate
    tracks = read_sequence_folders(str(links), ImageCache())
    assert sorted(Path(t.video).name for t in tracks) == ["seqA", "seqB"]


def test_manifest_gives_category_stride_and_clip(tmp_path):
    root = _real_root(tmp_path)
    tracks = {Path(t.video).name: t for t in read_sequence_folders(str(root / "sequences"), ImageCache())}
    assert tracks["group1_3"].category == "person" and tracks["group1_3"].frame_step == 7
    assert tracks["Dog"].category == "dog" and tracks["Dog"].frame_step == 1
    assert tracks["group1_1"].clip == tracks["group1_3"].clip != tracks["car10"].clip
    assert tracks["car10"].valid.tolist() == [True, True, False, True]  # the nan frame is skipped
    facts = read_manifest(root / "manifest.json")
    assert facts["group1_1"].clip == "UAV123@10fps/group1" and facts["Dog"].clip == "OTB100/Dog"


def test_positive_gap_is_bounded_in_source_frames():
    boxes = np.tile(np.array([[100, 100, 40, 40]], np.float32), (60, 1))
    frame = np.full((300, 300, 3), 128, np.uint8)

    def gaps(step: int) -> np.ndarray:
        track = Track("x", boxes, lambda i: frame, np.ones(60, bool), "v", frame_step=step)
        sampler = PairSampler([([track], 1.0)], SamplerConfig(max_gap=30, negative_same=0, negative_other=0,
                                                                augment=PLAIN))
        rng = np.random.default_rng(0)
        return np.array([abs(sampler._positive_frame(rng, track, 30) - 30) for _ in range(400)])

    strided, dense = gaps(10), gaps(1)
    assert strided.max() == 3 and strided.min() == 1  # 3 kept frames = 30 source frames
    assert dense.max() == 30


def test_read_real_leaves_out_the_validation_side_and_keeps_stills(tmp_path):
    root = _real_root(tmp_path)
    split = _split(tmp_path, root)
    tracks = read_real(str(root), ImageCache(), split=str(split))
    names = sorted(Path(t.video).name for t in tracks)
    # group1_1 and Dog are validation; group1_3 shares group1_1's source clip: all three are left out
    assert "group1_1" not in names and "Dog" not in names and "group1_3" not in names and "car10" in names
    stills = [t for t in tracks if t.video.endswith("1.jpg")]
    assert len(stills) == 2 and all(t.aligned and t.category == "person" for t in stills)


def test_training_refuses_a_validation_sequence_or_a_part_of_its_clip(tmp_path):
    root = _real_root(tmp_path)
    split = read_split(str(_split(tmp_path, root)))
    assert split.clips == {"UAV123@10fps/group1", "OTB100/Dog"}
    every = read_sequence_folders(str(root / "sequences"), ImageCache())
    with pytest.raises(ConfigError, match="a validation sequence"):
        check_not_validation([(every, 1.0)], split)
    sibling = [t for t in every if Path(t.video).name == "group1_3"]  # not listed, but the same clip
    with pytest.raises(ConfigError, match="'group1_3', part of validation clip UAV123@10fps/group1"):
        check_not_validation([(sibling, 1.0)], split)
    check_not_validation([([t for t in every if Path(t.video).name == "car10"], 1.0)], split)


def test_split_naming_an_unknown_sequence_is_a_config_error(tmp_path):
    root = _real_root(tmp_path)
    with pytest.raises(ConfigError, match="nope"):
        read_split(str(_split(tmp_path, root, ("nope",))))
    stray = tmp_path / "stray.json"
    stray.write_text(json.dumps({"validation": ["Dog"], "thin_targets": ["group1_3"]}))
    with pytest.raises(ConfigError, match="thin target.*group1_3.*not in its 'validation'"):
        read_split(str(stray))


def test_both_sides_of_the_split_agree_on_source_clips(tmp_path):
    """The evaluation reader's train side leaves out a validation sequence's clip-mates, as training does."""
    from dasiamrt.eval.datasets.real import load

    root = _real_root(tmp_path)
    split = _split(tmp_path, root)  # validation: group1_1 (group1_3 is part of its clip) and Dog
    trainable = sorted({Path(t.video).name for t in read_real(str(root), ImageCache(), str(split), stills=False)})
    assert trainable == ["car10"]
    assert [s.name for s in load(root, str(split), "train")] == trainable


def test_project_split_is_by_source_clip_and_covers_both_kinds():
    path = ROOT / "configs" / "real_split.json"
    data = json.loads(path.read_text())
    assert len(data["validation"]) >= 8
    assert set(data["thin_targets"]) <= set(data["validation"])
    if not (DATA / "real" / "manifest.json").is_file():
        pytest.skip("no ../shared/data/real")
    facts = read_manifest(DATA / "real" / "manifest.json")
    val_clips = {facts[n].clip for n in data["validation"]}
    train = [n for n in facts if n not in data["validation"]]
    assert not any(facts[n].clip in val_clips for n in train)  # no clip on both sides
    kinds = {"ground" if facts[n].clip.startswith("OTB") else "drone" for n in data["validation"]}
    assert kinds == {"ground", "drone"}


def test_validation_root_comes_from_the_split_file_unless_given(tmp_path):
    from dasiamrt.train.validate import ValidationConfig

    root = _real_root(tmp_path)
    split = _split(tmp_path, root)
    assert read_split(str(split)).root == str(root)
    assert ValidationConfig(split=str(split)).data_root() == str(root)
    assert ValidationConfig(split=str(split), root="elsewhere").data_root() == "elsewhere"
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps({"validation": ["Dog"]}))
    with pytest.raises(ConfigError, match="needs a 'root'"):
        ValidationConfig(split=str(bare)).data_root()
