"""``dasiamrt eval``: run the tracker on a benchmark and/or score result folders, write a report.

Examples::

    dasiamrt eval --dataset otb2015 --root data/OTB100 --model models/vot --out runs/otb
    dasiamrt eval --dataset vot2018 --root data/VOT2018 --results runs/a runs/b --out runs/cmp
    dasiamrt eval --dataset synthetic:distractors:10:0 --model models/vot --da --out runs/syn
    dasiamrt eval --dataset real:configs/real_split.json --root ../shared/data/real --out runs/real-val

Without --model/--weights/--results, the bundled model runs. Tracker results go to
<out>/results/<name>; a sequence whose result file exists there is skipped (resume). One-pass
reports include the tracker's score histogram on/off target and the long-term/distractor
thresholds it suggests for the model.
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ._common import add_model_args, add_tracker_switches, make_tracker


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("eval", help="benchmark the tracker (OTB, VOT, UAV, LaSOT, GOT-10k, synthetic)",
                              description=__doc__.replace('``', '').replace('::', ':'),
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True,
                   help="otb, otb2013, otb2015, tb50, vot2016..vot2019, uav123, uav20l, lasot, lasot-all, "
                        "got10k-val, got10k-test, pysot:<file.json>, synthetic:<preset>:<count>:<seed>[:<frames>], "
                        "real, real:<split.json>[:train] (this project's real sequences; --root ../shared/data/real)")
    p.add_argument("--root", help="folder that holds the dataset (not needed for synthetic sets)")
    p.add_argument("--results", nargs="+", metavar="DIR",
                   help="result folders to score (no images needed); alone, no tracker runs")
    add_model_args(p)
    add_tracker_switches(p)
    p.add_argument("--name", help="label of the tracker's results (default: model name + switches)")
    p.add_argument("--out", help="report folder (default: runs/eval/<dataset>)")
    p.add_argument("--no-plots", action="store_true", help="write the JSON and markdown report only")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="run sequences on Ray workers, one model load each (one per GPU, else per CPU): a local "
                        "cluster, or the cluster at ADDRESS ('auto', 'ray://head:10001'); needs dasiamrt[ray]")
    p.add_argument("--workers", type=int, default=None, metavar="N", help="with --ray: number of workers")
    p.add_argument("--sweep", metavar="SPEC",
                   help="run every combination of tracker settings, e.g. 'penalty_k=0.04,0.1;window_influence=0.3,"
                        "0.44': one results folder each, one report ranking them (sweep.md)")
    p.set_defaults(func=run)


def _wants_tracker(args: argparse.Namespace) -> bool:
    return bool(args.model or args.weights or not args.results)


def _default_name(args: argparse.Namespace) -> str:
    """Results of different models/switches must not share a folder (runs resume by file presence)."""
    from pathlib import Path

    name = Path(args.weights).stem if args.weights else Path(args.model).name if args.model else "bundled"
    for flag, on, off in (("da", "-da", "-noda"), ("long_term", "-lt", "-nolt")):
        value = getattr(args, flag, None)
        if value is not None:
            name += on if value else off
    if getattr(args, "search_size", None):
        name += f"-s{args.search_size}"
    # the network's numbers differ by backend, precision and device, and --preset with --model swaps the
    # settings: each gets its own folder, or a run would "resume" from another configuration's boxes
    if args.model and getattr(args, "preset", None):
        name += f"-{args.preset}"
    for flag in ("backend", "precision", "device"):
        value = getattr(args, flag, None)
        if value and value not in ("ort", "fp32"):
            name += f"-{str(value).replace(':', '')}"
    return name


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


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..eval.evaluation import evaluate
    from ..eval.report import markdown

    out = Path(args.out) if args.out else Path("runs") / "eval" / args.dataset.replace(":", "_").replace("/", "_")
    from ._eval_scale import check_workers, run_scaled

    check_workers(args)
    if args.sweep or args.ray is not None:
        return run_scaled(args, out, _default_name(args), _Bar() if not args.quiet else None)
    tracker = make_tracker(args) if _wants_tracker(args) else None
    try:
        report = evaluate(args.dataset, root=args.root, tracker=tracker, tracker_name=args.name or _default_name(args),
                          results=args.results or (), out_dir=out,
                          progress=_Bar() if tracker is not None and not args.quiet else None,
                          plots=not args.no_plots)
    except KeyboardInterrupt as err:  # exit 130/143; results are written per sequence, atomically
        from ..interrupts import Interrupted, signal_of

        if tracker is not None and not args.quiet:
            sys.stderr.write("\n")  # end the progress bar's line
        raise Interrupted(signal_of(err), f"finished sequences are kept in {out / 'results'}; "
                                          "the same command resumes from there") from None
    finally:
        if tracker is not None:
            tracker.close()
    if "submit" in report:
        print(f"no ground truth to score: submit {report['submit']} to the benchmark's server")
        return 0
    print(markdown(report), end="")
    print(f"report: {out / 'report.md'} (+ report.json{', plots' if not args.no_plots else ''})")
    return 0
