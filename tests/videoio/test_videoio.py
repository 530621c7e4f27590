"""Frame sources and writers: ordering, bad input, atomic outputs."""
from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

from dasiamrt.errors import SourceError
from dasiamrt.tracking.run import run_tracking
from dasiamrt.videoio import BoxWriter, VideoWriter, open_source


def _write_images(folder, names, shape=(20, 30)):
    for i, name in enumerate(names):
        img = np.full((*shape, 3), i * 10, np.uint8)
        cv2.imwrite(str(folder / name), img)


def test_image_folder_natural_order(tmp_path):
    _write_images(tmp_path, ["img10.png", "img2.png", "img1.png"])
    (tmp_path / "notes.txt").write_text("not an image")
    src = open_source(tmp_path)
    assert [p.name for p in src.paths] == ["img1.png", "img2.png", "img10.png"]
    frames = [f for _, f in src]
    assert [int(f[0, 0, 0]) for f in frames] == [20, 10, 0]  # written in the order 10, 2, 1


def test_grayscale_images_become_bgr(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), np.full((8, 8), 7, np.uint8))
    frame = next(iter(open_source(tmp_path)))[1]
    assert frame.shape == (8, 8, 3)


@pytest.mark.parametrize("make", ["empty_dir", "missing", "corrupt", "bad_image"])
def test_bad_sources(tmp_path, make):
    if make == "empty_dir":
        target = tmp_path
    elif make == "missing":
        target = tmp_path / "nope.avi"
    elif make == "corrupt":
        target = tmp_path / "x.mp4"
        target.write_bytes(b"\x00\x01" * 500)
    else:
        (tmp_path / "a.jpg").write_bytes(b"not a jpeg")
        target = tmp_path
    with pytest.raises(SourceError) as err:
        for _ in open_source(target):
            pass
    assert "\n" not in str(err.value)


def test_writers_are_atomic(tmp_path):
    path = tmp_path / "boxes.csv"
    with pytest.raises(RuntimeError):
        with BoxWriter(path) as w:
            w.write(0, (1, 2, 3, 4), 1.0, "tracking")
            raise RuntimeError("crash mid-run")
    assert list(tmp_path.iterdir()) == []
    with BoxWriter(path) as w:
        w.write(0, (1, 2, 3, 4), 1.0, "tracking")
    assert list(csv.reader(path.open()))[1] == ["0", "1.000", "2.000", "3.000", "4.000", "1.00000", "tracking"]
    video = tmp_path / "v.mp4"
    with VideoWriter(video, fps=10) as vw:
        for _ in range(3):
            vw.write(np.zeros((32, 48, 3), np.uint8))
    assert int(cv2.VideoCapture(str(video)).get(cv2.CAP_PROP_FRAME_COUNT)) == 3


def test_output_folder_must_exist(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        BoxWriter(tmp_path / "no" / "boxes.csv")


class _Failing:
    """A tracker whose second track() raises: outputs must not appear."""

    def __init__(self):
        self.calls = 0

    def init(self, frame, box):
        pass

    def track(self, frame):
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("backend died")
        from dasiamrt.runtime.tracker import TrackResult

        return TrackResult((1.0, 1.0, 5.0, 5.0), 0.9)


def test_run_tracking_leaves_nothing_on_failure(tmp_path):
    _write_images(tmp_path, [f"{i:03d}.png" for i in range(5)])
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(RuntimeError):
        run_tracking(_Failing(), str(tmp_path), (2, 2, 5, 5), csv_path=str(out / "b.csv"),
                     video_path=str(out / "v.mp4"), progress=None)
    assert list(out.iterdir()) == []
