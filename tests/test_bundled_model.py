"""The bundled model really tracks: held-out synthetic sequences (exact ground truth), against random weights.

A guard on the shipped assets (weights, exported graphs, tracker settings in model.json): a broken
export, a mismatched preset or lost weights would drop the score to the random-weight level.
"""
from __future__ import annotations

import pytest

from dasiamrt.assets import BUNDLED_MODEL
from dasiamrt.eval.metrics import ope_sequence, ope_summary
from dasiamrt.runtime.loop import track_boxes
from dasiamrt.runtime.tracker import Tracker
from dasiamrt.synthetic.sequences import make_set

pytestmark = pytest.mark.skipif(not (BUNDLED_MODEL / "model.json").is_file(), reason="no bundled model in this tree")


def _auc(model_dir, sequences) -> float:
    with Tracker.from_model(str(model_dir), threads=1) as tracker:
        curves = [ope_sequence(track_boxes(tracker, s.frames, s.boxes_xywh[0], len(s.frames)), s.boxes_xywh)
                  for s in sequences]
    return float(ope_summary(curves)["auc"])


def test_bundled_model_tracks_held_out_sequences_far_better_than_random_weights(tiny_model_dir):
    # seeds >= 900000 are never used in training (configs/train_tiny*.json use 1000..1299)
    sequences = make_set("plain", 3, seed=900100, num_frames=60)
    trained, random = _auc(BUNDLED_MODEL, sequences), _auc(tiny_model_dir, sequences)
    assert trained > 0.45, trained
    assert random < 0.2, random
