"""How steady the box is on the bundled real clip: frame-to-frame acceleration of the box centre.

The printed box in ``dasiamrt/assets/box.mp4`` is moved slowly by hand, so a good tracker's box
centre changes smoothly; |c[t+1] - 2 c[t] + c[t-1]| (pixels) measures the jitter the tracker adds.
Also prints the width/height range and the boxes at a few frames (for checking the video by eye).

    python benchmarks/box_jitter.py WEIGHTS.pt [WEIGHTS.pt ...] [--preset P]   (default: the bundled model's
                                                                               preset; torch backend)
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from dasiamrt.assets import BUNDLED_MODEL, DEMO_CLIP, DEMO_INIT_XYWH
from dasiamrt.runtime.loop import track_boxes
from dasiamrt.runtime.tracker import Tracker
from dasiamrt.videoio import open_source

SHOWN = (0, 40, 80, 120, 160, 200, 239)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights", nargs="+")
    parser.add_argument("--preset", default=None, help="the weights' preset (default: the bundled model's)")
    args = parser.parse_args()
    if args.preset is None:
        from dasiamrt.artifacts.model_folder import read_model_dir

        args.preset = read_model_dir(BUNDLED_MODEL).preset
    torch.set_num_threads(1)
    for weights in args.weights:
        with open_source(str(DEMO_CLIP)) as src, Tracker.from_weights(weights, preset=args.preset) as tracker:
            boxes = track_boxes(tracker, (f for _, f in src), DEMO_INIT_XYWH, 10_000)
        centre = boxes[:, :2] + boxes[:, 2:] / 2
        accel = np.linalg.norm(np.diff(centre, 2, axis=0), axis=1)
        (w0, w1), (h0, h1) = (boxes[:, 2].min(), boxes[:, 2].max()), (boxes[:, 3].min(), boxes[:, 3].max())
        print(f"{weights}: centre acceleration median {np.median(accel):.1f} px, "
              f"p90 {np.percentile(accel, 90):.1f} px; width {w0:.0f}-{w1:.0f}, height {h0:.0f}-{h1:.0f}")
        print("  frame: x, y, w, h  " + "  ".join(f"{t}: {', '.join(f'{v:.0f}' for v in boxes[t])}"
                                              for t in SHOWN if t < len(boxes)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
