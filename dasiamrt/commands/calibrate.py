"""``dasiamrt calibrate``: tracking crops -> calibration set -> INT8 Q/DQ graphs (see :mod:`dasiamrt.calib`)."""
from __future__ import annotations

import argparse
from typing import Optional

TARGET_CHOICES = ("all", "cpu", "trt", "trt-strongly-typed")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "calibrate", help="collect tracking crops and write INT8 (Q/DQ) template and search graphs",
        description="Collects template crops and 255/767 search crops with the runtime's crop code along "
                    "ground-truth boxes (synthetic:<preset>:<count>:<seed>, an OTB-style folder) or along the "
                    "fp32 tracker's boxes on a clip (--init), writes calibration.npz + calibration.json, then the "
                    "INT8 forms of the template and search graphs (recorded in model.json): int8 (weakly typed "
                    "TensorRT), int8-cpu (ONNX Runtime on a CPU with VNNI / ARM dot product), int8-cpu-w7 (7-bit "
                    "weights: ONNX Runtime on x86 without VNNI), int8-fp16 (strongly typed TensorRT). --precision "
                    "int8 picks the right one.")
    p.add_argument("--model", required=True, metavar="DIR", help="exported model folder (fp32 graphs)")
    p.add_argument("--source", action="append", default=[], metavar="SRC",
                   help="clip, image folder, OTB-style folder, GOT-10k/LaSOT-style folder (groundtruth.txt) "
                        "or a folder of them, or synthetic:<preset>:<count>:<seed> (repeatable)")
    p.add_argument("--init", action="append", default=[], metavar="X,Y,W,H",
                   help="first-frame box of each clip without ground truth, in --source order ('-' for a dataset)")
    p.add_argument("--out", metavar="DIR",
                   help="write a copy of the model with the calibration set and INT8 graphs here (default: into "
                        "--model itself; required for the bundled model, which lives inside the package)")
    p.add_argument("--target", action="append", choices=TARGET_CHOICES, default=None,
                   help="which INT8 forms to write (repeatable): cpu (int8-cpu and int8-cpu-w7), trt (int8), "
                        "trt-strongly-typed (int8-fp16), or all (default)")
    p.add_argument("--per-input", type=int, default=32, metavar="N", help="crops per input and search size (32)")
    p.add_argument("--seed", type=int, default=0, help="frame choice and jitter seed")
    p.add_argument("--max-frames", type=int, default=300, help="frames tracked per clip without ground truth")
    p.add_argument("--method", choices=("entropy", "percentile", "minmax"), default=None,
                   help="activation range method (default: percentile, see benchmarks/int8.md)")
    p.add_argument("--scope", choices=("backbone", "all"), default="backbone",
                   help="quantise the backbone only (default) or the constant-weight heads too")
    p.add_argument("--quantize-conv-outputs", action="store_true",
                   help="the same as --target cpu (kept for old scripts)")
    p.add_argument("--float-limit", type=_limit, default=0.1, metavar="X|off",
                   help="TensorRT forms: keep in float each backbone node whose quantisation alone moves the "
                        "graph's output by more than X (relative L2 on calibration crops; default 0.1, off: none)")
    p.add_argument("--cpu-float-limit", type=_limit, default=None, metavar="X|off",
                   help="the same for the CPU forms (default off: every node quantised, the fast form; a float node "
                        "there costs speed, see benchmarks/int8.md)")
    p.add_argument("--from-set", metavar="NPZ", help="skip collection: quantise with this calibration set")
    p.add_argument("--collect-only", action="store_true", help="write the calibration set, no INT8 graphs")
    p.set_defaults(func=run)


def _limit(text: str) -> Optional[float]:
    """A --float-limit value: a relative error > 0, or 'off'."""
    if text.strip().lower() == "off":
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a relative error > 0 or 'off' (e.g. 0.1)")
    return value


def run(args: argparse.Namespace) -> int:
    from ..calib.api import CalibrateOptions, calibrate
    from ..calib.progress import ProgressBar
    from ..int8_forms import forms_for_targets
    from ..runtime.geometry import parse_box

    targets = list(args.target or []) + (["cpu"] if args.quantize_conv_outputs else [])
    options = CalibrateOptions(out_dir=args.out, per_input=args.per_input, seed=args.seed, method=args.method,
                               scope=args.scope, quantize=not args.collect_only, from_set=args.from_set,
                               max_frames=args.max_frames, forms=forms_for_targets(targets or ["all"]),
                               float_limit=args.float_limit, cpu_float_limit=args.cpu_float_limit)
    options.check(args.model, args.source)
    inits = [None if s.strip() in ("", "-") else parse_box(s) for s in args.init]
    bar = ProgressBar()
    try:
        report = calibrate(args.model, args.source, inits, options, progress=bar)
    finally:
        bar.close()
    print(f"dasiamrt calibrate: {report.line()}")
    return 0
