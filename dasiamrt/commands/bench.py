"""``dasiamrt bench``: FPS and per-stage latency on real frames (see :mod:`dasiamrt.bench`)."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from ._common import add_backend_args


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("bench", help="time the tracking loop and each stage (FPS, median/p90 ms)",
                       description="With no --model, times the preset's network with seeded random weights "
                                   "(speed does not depend on the weights) on the bundled clip. --device cuda times "
                                   "the torch backend on the GPU (with --precision fp16: half precision).")
    p.add_argument("--model", metavar="DIR", help="exported model folder (default: random weights of --preset)")
    p.add_argument("--preset", default="vot", help="network when no --model is given (default: vot)")
    p.add_argument("--weights", metavar="FILE", help="PyTorch checkpoint of --preset for the torch backend")
    add_backend_args(p, "ort (ONNX Runtime; the default), trt (TensorRT engines built by 'dasiamrt build') or torch "
                        "(--weights, or random weights of --preset; the default with --weights or --device)")
    p.add_argument("--sizes", default="255,767", help="comma-separated search sizes (default: 255,767)")
    p.add_argument("--da", choices=("off", "on", "both"), default="both", help="distractor-aware rows")
    p.add_argument("--frames", type=int, default=20, help="measured frames per case (default: 20)")
    p.add_argument("--warmup", type=int, default=3, help="tracked frames discarded per case")
    p.add_argument("--source", help="video to use instead of the bundled clip (needs --init)")
    p.add_argument("--init", metavar="X,Y,W,H", help="initial box on --source's first frame")
    p.add_argument("--ort-device", choices=("cpu", "cuda", "tensorrt"), default=None,
                   help="ONNX Runtime execution provider (onnxruntime-gpu for cuda/tensorrt; default: best available)")
    p.add_argument("--json", metavar="FILE", help="also write the results and machine description here")
    p.add_argument("--merge", nargs="+", metavar="JSON",
                   help="instead of measuring: merge bench reports (e.g. from several GPUs) into one markdown "
                        "table and a PNG bar chart (--png)")
    p.add_argument("--png", metavar="FILE", help="chart path for --merge (default: bench_merged.png beside the first)")
    p.epilog = ("Without --model, the preset's network is exported once with random weights into "
                "$XDG_CACHE_HOME/dasiamrt (default ~/.cache/dasiamrt; ~112 MB for vot, needs torch) and reused; "
                "delete that folder to free the space. Ctrl-C stops with exit status 130 and writes no report.")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.merge:
        return _merge(args)
    import json

    from ..config import get_preset
    from ..fileio import AtomicFile, check_distinct
    from ..interrupts import Interrupted, signal_of
    from ..runtime.geometry import parse_box
    from ..runtime.tracker_options import TrackerOptions
    from ._common import parse_search_sizes

    options = TrackerOptions(model=args.model, weights=args.weights, backend=args.backend, device=args.device,
                             precision=args.precision, threads=args.threads)
    options.backend_name()  # --device and --backend agree, before anything else
    sizes = parse_search_sizes(args.sizes, allow_empty=False)
    init = parse_box(args.init) if args.init else None
    check_distinct({"--source": args.source}, {"--json": args.json})
    if not args.model:
        get_preset(args.preset)
    json_out = AtomicFile(args.json, ".json") if args.json else None  # a bad path fails before measuring
    try:
        report = _measure(args, options, sizes, init)
        if json_out is not None:
            json_out.tmp.write_text(json.dumps(report.to_json(), indent=2))
            json_out.commit()
            print(f"dasiamrt bench: wrote {args.json}", file=sys.stderr)
    except KeyboardInterrupt as err:
        raise Interrupted(signal_of(err), "no report written (one of some cases would look complete)") from None
    finally:
        if json_out is not None:
            json_out.abort()
    return 0


def _measure(args: argparse.Namespace, options: Any, sizes: Any, init: Any) -> Any:
    """Run the cases and print the table; returns the :class:`~dasiamrt.bench.run.BenchReport`."""
    from ..bench.cases import case_trackers
    from ..bench.run import run_bench

    make_tracker, name, setting = case_trackers(options, args.preset, args.ort_device)
    da_modes = {"off": [False], "on": [True], "both": [False, True]}[args.da]
    report = run_bench(make_tracker, name, sizes, da_modes, args.frames, args.warmup, args.source, init,
                       setting=setting)
    print(report.table())
    for line in report.notes():
        print(f"\n{line}")
    return report


def _merge(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..bench.merge import merge_reports
    from ..fileio import check_distinct

    check_distinct({f"--merge {p}": p for p in args.merge}, {"--png": args.png})
    markdown, png = merge_reports([Path(p) for p in args.merge], Path(args.png) if args.png else None)
    print(markdown)
    if png is not None:
        print(f"dasiamrt bench: chart written to {png}", file=sys.stderr)
    return 0
