"""Photo composites (the ``composite`` training source): the training tracks are the generator's objects."""
from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import DATA

PHOTOS = DATA / "images"
pytestmark = pytest.mark.skipif(not PHOTOS.is_dir(), reason="needs the shared photo folder")


def _in_frame_fraction(box, size):
    x, y, w, h = box
    inside = max(0.0, min(x + w, size[0]) - max(x, 0.0)) * max(0.0, min(y + h, size[1]) - max(y, 0.0))
    return inside / (w * h)


def test_training_tracks_are_the_objects_of_the_sequences():
    from dasiamrt.synthetic.composite import CompositeSequences
    from dasiamrt.train.datasets import ImageCache, read_photo_folder
    from dasiamrt.train.sources import _composite

    tracks = _composite(ImageCache(), str(PHOTOS), sequences=3, length=20, seed=5)
    comp = CompositeSequences(read_photo_folder(str(PHOTOS)), 3, 20, 5)
    objects = comp.objects()
    assert [t.category for t in tracks] == [o.category for o in objects]
    assert all(t.aligned and t.video.startswith("composite5/") for t in tracks)
    for track, obj in zip(tracks, objects):
        np.testing.assert_array_equal(track.boxes_xywh, obj.boxes_xywh)
        np.testing.assert_array_equal(track.load(4), comp.render(int(track.video.split("/")[1]), 4))
    # the top-most object of a sequence is occluded by nothing: visible where >= half its box is in the frame
    top = [o for o in objects if o.video == "composite5/0"][-1]
    expected = [_in_frame_fraction(box, (400, 300)) >= 0.5 for box in top.boxes_xywh]
    np.testing.assert_array_equal(top.valid, expected)
    np.testing.assert_array_equal(top.boxes_xywh, comp.boxes(0))
