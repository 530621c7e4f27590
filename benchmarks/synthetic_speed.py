"""How fast synthetic sequences are made and rendered (``python benchmarks/synthetic_speed.py [--frames N]``).

Prints one row per preset: the time to build a sequence (trajectories, textures, ground truth,
attributes; no frame rendered) and to render a frame at 480x360, as median wall and CPU time.
The machine is often shared: compare CPU times, and rerun before quoting.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dasiamrt.synthetic.sequences import PRESETS, make_sequence  # noqa: E402


def _timed(fn, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=150, help="frames per sequence")
    parser.add_argument("--sequences", type=int, default=10, help="sequences per preset")
    parser.add_argument("--textures", default=None, help="image folder (default: bundled photos)")
    args = parser.parse_args()
    make_sequence("plain", 0, textures=args.textures)  # load photos once
    print(f"{args.sequences} sequences x {args.frames} frames per preset, 480x360, medians\n")
    print("| preset | build ms (wall / cpu) | render ms/frame (wall / cpu) |")
    print("|---|---|---|")
    for preset in PRESETS:
        build_w, build_c, frame_w, frame_c = [], [], [], []
        for seed in range(args.sequences):
            seq, w, c = _timed(make_sequence, preset, seed, num_frames=args.frames, textures=args.textures)
            build_w.append(w)
            build_c.append(c)
            _, w, c = _timed(list, seq.frames)
            frame_w.append(w / args.frames)
            frame_c.append(c / args.frames)
        print(f"| {preset} | {1e3 * statistics.median(build_w):.1f} / {1e3 * statistics.median(build_c):.1f} | "
              f"{1e3 * statistics.median(frame_w):.2f} / {1e3 * statistics.median(frame_c):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
