"""Produce the example evaluation report of this folder (``python benchmarks/eval_example/make_example.py``).

Three result sets on ``synthetic:mixed:4:0:80`` (4 generated sequences of 80 frames, 480x360):

* ``oracle-noise``: a test double that reads the ground truth and adds 3 px of noise -- an upper
  reference that shows what a near-perfect tracker scores under each convention;
* ``static``: a test double that keeps the first box for ever -- a lower reference;
* ``tiny-random``: the real dasiamrt tracker (ONNX Runtime backend, ``tiny`` preset) on a network
  with RANDOM weights (seed 0), exported on the fly. It shows the pipeline end to end; its numbers
  say nothing about DaSiamRPN's accuracy. Needs torch and onnx for the export; skipped without them.

Writes ``report.md``, ``report.json``, ``success.png`` and ``attributes.png`` here; result files go
to a temporary folder.
"""
from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from dasiamrt.eval.datasets import load_dataset  # noqa: E402
from dasiamrt.eval.evaluate import evaluate  # noqa: E402
from dasiamrt.eval.runner import run_dataset  # noqa: E402

DATASET = "synthetic:mixed:4:0:80"


class OracleNoise:
    """Reads the ground truth of the sequence being run (cheats) and adds Gaussian noise."""

    def __init__(self, dataset, sigma=3.0):
        self.gt = {s.gt[0].tobytes(): s.gt for s in dataset}
        self.rng = np.random.default_rng(0)
        self.sigma = sigma

    def init(self, frame, bbox_xywh):
        self.seq = self.gt[np.asarray(bbox_xywh, float).tobytes()]
        self.t = 0
        self.last = np.asarray(bbox_xywh, float)

    def track(self, frame):
        self.t += 1
        truth = self.seq[self.t]
        if np.isfinite(truth).all():
            self.last = truth + self.rng.normal(0, self.sigma, 4) * [1, 1, 0.5, 0.5]
        return SimpleNamespace(bbox_xywh=tuple(self.last))


class Static:
    """Keeps the initial box."""

    def init(self, frame, bbox_xywh):
        self.box = tuple(bbox_xywh)

    def track(self, frame):
        return SimpleNamespace(bbox_xywh=self.box)


def tiny_random_tracker(tmp: Path):
    from dasiamrt.config import get_preset
    from dasiamrt.export import export_model
    from dasiamrt.model import build_network
    from dasiamrt.runtime.tracker import Tracker

    preset = get_preset("tiny")
    export_model(build_network(preset.network, seed=0), preset, tmp / "tiny-random-model")
    return Tracker.from_model(str(tmp / "tiny-random-model"), backend="ort")


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    dataset = load_dataset(DATASET)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        trackers = {"oracle-noise": OracleNoise(dataset), "static": Static()}
        try:
            trackers["tiny-random"] = tiny_random_tracker(tmp)
        except ImportError as err:
            logging.warning("no real tracker in the example (%s)", err)
        folders = []
        for name, tracker in trackers.items():
            run_dataset(tracker, dataset, tmp / name)
            folders.append(tmp / name)
        evaluate(dataset, results=folders, out_dir=HERE)
    (HERE / "precision.png").unlink()  # keep the example small: success curve and attribute bars
    return 0


if __name__ == "__main__":
    sys.exit(main())
