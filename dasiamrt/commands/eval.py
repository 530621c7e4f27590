"""``dasiamrt eval``: run the tracker on a benchmark and/or score result folders, write a report.

Examples::

    dasiamrt eval --dataset otb2015 --root data/OTB100 --model models/vot --out runs/otb
    dasiamrt eval --dataset vot2018 --root data/VOT2018 --results runs/a runs/b --out runs/cmp
    dasiamrt eval --dataset synthetic:mixed:10:0 --model models/vot --out runs/syn
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("eval", help="benchmark the tracker (OTB, VOT, UAV, LaSOT, GOT-10k, synthetic)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True,
                   help="otb, otb2013, otb2015, tb50, vot2016..vot2019, uav123, uav20l, lasot, lasot-all, "
                        "got10k-val, got10k-test, pysot:<file.json>, synthetic:<preset>:<count>:<seed>[:<frames>]")
    p.add_argument("--root", help="folder that holds the dataset (not needed for synthetic sets)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", help="exported model folder (model.json + graphs) to run")
    src.add_argument("--weights", help="PyTorch checkpoint to run with the torch backend")
    src.add_argument("--results", nargs="+", metavar="DIR", help="result folders to score (no images needed)")
    p.add_argument("--backend", default="ort", choices=("ort", "trt", "torch"), help="backend for --model")
    p.add_argument("--preset", default="vot", help="preset of --weights (big, vot, otb, paper, tiny)")
    p.add_argument("--name", default="dasiamrt", help="label of the tracker's results (default: dasiamrt)")
    p.add_argument("--out", help="report folder (default: runs/eval/<dataset>)")
    p.add_argument("--no-plots", action="store_true", help="write the JSON and markdown report only")
    p.set_defaults(func=run)


class _Bar:
    """One status line on stderr: sequence i/n, frame t/T, overall frames per second."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.frames = 0
        self.index = -1
        self.last = 0

    def __call__(self, index: int, count: int, name: str, frame: int, frames: int) -> None:
        if index != self.index:
            self.index, self.last = index, 0
        self.frames += max(frame - self.last, 0)
        self.last = frame
        fps = self.frames / max(time.perf_counter() - self.start, 1e-9)
        width = 20
        done = int(width * (index + frame / max(frames, 1)) / count)
        sys.stderr.write(f"\r[{'#' * done}{'.' * (width - done)}] {index + 1}/{count} {name[:24]:<24} "
                         f"{frame}/{frames} {fps:5.1f} fps")
        if index + 1 == count and frame == frames:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _tracker(args: argparse.Namespace) -> Any:
    if args.model is None and args.weights is None:
        return None
    from ..runtime.tracker import Tracker

    if args.model is not None:
        return Tracker.from_model(args.model, backend=args.backend)
    return Tracker.from_weights(args.weights, preset=args.preset, backend="torch")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..eval.evaluate import evaluate
    from ..eval.report import markdown

    out = Path(args.out) if args.out else Path("runs") / "eval" / args.dataset.replace(":", "_").replace("/", "_")
    tracker = _tracker(args)
    try:
        report = evaluate(args.dataset, root=args.root, tracker=tracker, tracker_name=args.name,
                          results=args.results or (), out_dir=out, progress=_Bar() if tracker else None,
                          plots=not args.no_plots)
    finally:
        if tracker is not None and hasattr(tracker, "close"):
            tracker.close()
    print(markdown(report), end="")
    print(f"report: {out / 'report.md'} (+ report.json{', plots' if not args.no_plots else ''})")
    return 0
