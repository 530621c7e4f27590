"""Sweep the tracker's penalty_k / window_influence / lr on *validation* synthetic seeds, with `eval --sweep`'s engine.

Validation seeds start at 500000: neither training (1000..1299) nor the held-out test set (900000..).
Every combination runs into its own results folder under --out (resumable), and one ranking is
printed and written to <out>/sweep.md (success AUC, ``dasiamrt.eval.sweep``). Add --ray to run on Ray.

    python benchmarks/tune_tracker.py [--model DIR | --weights dasiamrt/assets/mobile.pt --preset mobile]
        [--count 3] [--frames 80]
"""
from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dasiamrt.cpu_features import detect  # noqa: E402
from dasiamrt.eval.datasets.base import Dataset  # noqa: E402
from dasiamrt.eval.datasets.synthetic_set import from_synthetic  # noqa: E402
from dasiamrt.eval.sweep import parse_sweep, run_sweep, sweep_markdown  # noqa: E402
from dasiamrt.synthetic.sequences import make_set  # noqa: E402

VAL_SEED0 = 500000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model folder (default: the bundled one; ONNX Runtime)")
    parser.add_argument("--weights", default=None, help="a checkpoint instead (torch backend, --preset's layout)")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--count", type=int, default=3)
    parser.add_argument("--frames", type=int, default=80)
    parser.add_argument("--presets", default="plain,distractors,mixed")
    parser.add_argument("--penalty-k", default="0.1,0.2,0.3")
    parser.add_argument("--window", default="0.4")
    parser.add_argument("--lr", default="0.35,0.2")
    parser.add_argument("--sweep", default=None, help="a full --sweep spec instead of the three lists")
    parser.add_argument("--out", default="runs/tune", help="results and sweep.md go here")
    parser.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()

    from dasiamrt.runtime.tracker_options import TrackerOptions, open_tracker

    model = TrackerOptions(model=args.model, weights=args.weights, preset=args.preset if args.weights else None,
                           threads=1)
    spec = args.sweep or f"penalty_k={args.penalty_k};window_influence={args.window};lr={args.lr}"
    seqs = [from_synthetic(s) for p in args.presets.split(",")
            for s in make_set(p, args.count, seed=VAL_SEED0, num_frames=args.frames)]
    dataset = Dataset(name=f"synthetic-validation ({args.presets}, seeds {VAL_SEED0}.., {args.frames} frames)",
                      root=None, sequences=seqs)
    if args.ray is not None:
        from dasiamrt.eval.parallel import RayPool

        runner = RayPool(functools.partial(open_tracker, model), address=args.ray, workers=args.workers)
    else:
        runner = open_tracker(model)
    try:
        report = run_sweep(dataset, runner, parse_sweep(spec, runner.config), Path(args.out), name="tune",
                           plots=False)
    finally:
        runner.close()
    print(sweep_markdown(report, report["sweep"]), end="")
    print(f"\nCPU: {detect().summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
