"""Plain vs +DA vs +LT vs both, on synthetic sequences with look-alike distractors and out-of-view spans.

Success AUC (OTB convention, :func:`dasiamrt.eval.metrics.ope_summary`) per preset and variant, on
held-out seeds (training uses seeds below 100000). Usage:

    python benchmarks/da_lt_ablation.py [--model DIR] [--count 8] [--frames 150] [--out benchmarks/da_lt_ablation.md]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from dasiamrt.artifacts.model_folder import read_model_dir
from dasiamrt.eval.metrics import ope_sequence, ope_summary
from dasiamrt.runtime.loop import track_boxes
from dasiamrt.runtime.tracker import Tracker
from dasiamrt.runtime.tracker_options import default_model
from dasiamrt.synthetic.sequences import make_set

VARIANTS = {
    "plain": {"distractor": {"enabled": False}, "long_term": {"enabled": False}},
    "+DA": {"distractor": {"enabled": True}, "long_term": {"enabled": False}},
    "+LT": {"distractor": {"enabled": False}, "long_term": {"enabled": True}},
    "+DA +LT": {"distractor": {"enabled": True}, "long_term": {"enabled": True}},
}
PRESETS = ("distractors", "out-of-view", "mixed")
SEED0 = 900000  # held out: never used for training


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--count", type=int, default=8)
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    model = Path(args.model) if args.model else default_model()
    info = read_model_dir(model)
    rows = {}
    start = time.time()
    for preset in PRESETS:
        seqs = make_set(preset, args.count, seed=SEED0, num_frames=args.frames)
        for name, changes in VARIANTS.items():
            tracker = Tracker.from_model(str(model), config=info.tracker.replace(**changes))
            curves = [ope_sequence(track_boxes(tracker, s.frames, s.boxes_xywh[0], len(s.frames)), s.boxes_xywh)
                      for s in seqs]
            rows[(preset, name)] = ope_summary(curves)["auc"]
            print(f"{preset:12s} {name:8s} AUC {rows[(preset, name)]:.3f}  ({time.time() - start:.0f} s)",
                  file=sys.stderr)
    lines = [f"Model: `{model}` ({info.preset}); {args.count} sequences x {args.frames} frames per preset, seeds "
             f"{SEED0}..{SEED0 + args.count - 1}; success AUC (OTB convention).", "",
             "| preset | " + " | ".join(VARIANTS) + " |", "|---|" + "---|" * len(VARIANTS)]
    for preset in PRESETS:
        lines.append(f"| {preset} | " + " | ".join(f"{rows[(preset, v)]:.3f}" for v in VARIANTS) + " |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
