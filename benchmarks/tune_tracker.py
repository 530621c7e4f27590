"""Sweep the tracker's penalty_k / window_influence / lr for trained weights on *validation* synthetic seeds.

Validation seeds start at 500000: neither training (1000..1299) nor the held-out test set (900000..).
Prints the success AUC (``dasiamrt.eval.metrics``) per setting.

    python benchmarks/tune_tracker.py --weights dasiamrt/assets/tiny.pt [--count 3] [--frames 80]
"""
from __future__ import annotations

import argparse
import itertools
import sys

import torch

from dasiamrt.calib.compare import track_boxes
from dasiamrt.config import get_preset
from dasiamrt.eval.metrics import ope_sequence, ope_summary
from dasiamrt.eval.synthetic import make_set
from dasiamrt.runtime.tracker import Tracker

VAL_SEED0 = 500000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="dasiamrt/assets/tiny.pt")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--count", type=int, default=3)
    parser.add_argument("--frames", type=int, default=80)
    parser.add_argument("--presets", default="plain,distractors,mixed")
    parser.add_argument("--penalty-k", default="0.1,0.2,0.3")
    parser.add_argument("--window", default="0.4")
    parser.add_argument("--lr", default="0.35,0.2")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seqs = [s for p in args.presets.split(",") for s in make_set(p, args.count, seed=VAL_SEED0, num_frames=args.frames)]
    base = get_preset(args.preset).tracker
    grid = itertools.product(*(map(float, v.split(",")) for v in (args.penalty_k, args.window, args.lr)))
    for penalty_k, window, lr in grid:
        config = base.replace(penalty_k=penalty_k, window_influence=window, lr=lr)
        tracker = Tracker.from_weights(args.weights, preset=args.preset, backend="torch", config=config)
        boxes = [track_boxes(tracker, s.frames, s.boxes_xywh[0], len(s.frames)) for s in seqs]
        auc = ope_summary([ope_sequence(b, s.boxes_xywh) for b, s in zip(boxes, seqs)])["auc"]
        print(f"penalty_k {penalty_k:.2f} window_influence {window:.2f} lr {lr:.2f}: AUC {auc:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
