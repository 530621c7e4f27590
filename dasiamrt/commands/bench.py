"""``dasiamrt bench``: FPS and per-stage latency on real frames (see :mod:`dasiamrt.bench`)."""
from __future__ import annotations

import argparse
import sys
from typing import Any, Dict


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="time the tracking loop and each stage (FPS, median/p90 ms)",
                       description="With no --model, times the preset's network with seeded random weights "
                                   "(speed does not depend on the weights) on the bundled clip.")
    p.add_argument("--model", metavar="DIR", help="exported model folder (default: random weights of --preset)")
    p.add_argument("--preset", default="vot", help="network when no --model is given (default: vot)")
    p.add_argument("--backend", choices=("ort", "torch", "trt"), default="ort")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for ONNX Runtime (0: one per core)")
    p.add_argument("--sizes", default="255,767", help="comma-separated search sizes (default: 255,767)")
    p.add_argument("--da", choices=("off", "on", "both"), default="both", help="distractor-aware rows")
    p.add_argument("--frames", type=int, default=20, help="measured frames per case (default: 20)")
    p.add_argument("--warmup", type=int, default=3, help="tracked frames discarded per case")
    p.add_argument("--source", help="video to use instead of the bundled clip (needs --init)")
    p.add_argument("--init", metavar="X,Y,W,H", help="initial box on --source's first frame")
    p.add_argument("--json", metavar="FILE", help="also write the results and machine description here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..bench import random_model_dir, run_bench, write_json_atomic
    from ..runtime.model_dir import read_model_dir
    from ..runtime.tracker import Tracker
    from ..spec import check_search_size
    from ..tracking import parse_box

    sizes = [check_search_size(int(s)) for s in args.sizes.split(",") if s.strip()]
    model = args.model or str(random_model_dir(args.preset))
    info = read_model_dir(model)
    options: Dict[str, Any] = {"threads": args.threads} if args.backend == "ort" else {}
    da_modes = {"off": [False], "on": [True], "both": [False, True]}[args.da]

    def make_tracker(changes: Dict[str, Any]) -> Tracker:
        return Tracker.from_model(model, backend=args.backend, config=info.tracker.replace(**changes), **options)

    name = args.model or f"{args.preset} (random weights)"
    print(f"dasiamrt bench: {name}, backend {args.backend}, {args.frames} frames per case", file=sys.stderr)
    report = run_bench(make_tracker, name, sizes, da_modes, args.frames, args.warmup, args.source,
                       parse_box(args.init) if args.init else None)
    print(report.table())
    machine = report.machine
    print(f"\n{machine['cpu']}, {machine['cores']} cores; onnxruntime {machine.get('onnxruntime', '-')}")
    if args.json:
        write_json_atomic(args.json, report.to_json())
    return 0
