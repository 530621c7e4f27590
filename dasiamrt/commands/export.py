"""``dasiamrt export --weights FILE --preset P --out DIR``: split ONNX graphs + model.json."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("export", help="export weights to the split ONNX graphs (template, search, kernel_update)",
                       description="Export a PyTorch checkpoint (the official SiamRPN*.model files load as they are) "
                                   "or seeded random weights to a model folder: template.onnx, search.onnx (the "
                                   "correlation kernels are inputs), kernel_update.onnx and model.json, each graph "
                                   "checked against torch at 255/271/767 unless --no-check. Needs torch and onnx "
                                   "(pip install 'dasiamrt[export]'); the folder then runs anywhere without torch.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--weights", metavar="FILE", help="PyTorch checkpoint (official SiamRPN*.model files too)")
    src.add_argument("--random", type=int, metavar="SEED", help="random weights with this seed (for speed tests)")
    p.add_argument("--preset", required=True,
                   help="network layout and tracker settings: big, vot, otb, paper, tiny or mobile")
    p.add_argument("--out", required=True, metavar="DIR", help="model folder to write")
    p.add_argument("--precision", choices=("fp32", "fp16"), default="fp32",
                   help="also write fp16 graphs (fp32 always written)")
    p.add_argument("--format", dest="fmt", choices=("dasiamrt", "opencv"), default="dasiamrt",
                   help="dasiamrt: split graphs + model.json (default); opencv: dasiamrpn_model.onnx, "
                        "dasiamrpn_kernel_r1.onnx, dasiamrpn_kernel_cls1.onnx for cv2.TrackerDaSiamRPN "
                        "(vot/otb layouts only)")
    p.add_argument("--no-check", dest="check", action="store_false", help="skip the ONNX Runtime vs torch check")
    p.add_argument("--tracker", metavar="JSON",
                   help="tracker settings to store in model.json over the preset's, e.g. the model's own "
                        "long_term enter/leave and distractor thresholds that 'dasiamrt eval' derives from "
                        "its score histograms")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..config import get_preset, read_tracker_settings
    from ..errors import MissingDependencyError

    preset = get_preset(args.preset)
    MissingDependencyError.require(("torch", "onnx"), "export", "pip install 'dasiamrt[export]'")
    from ..export.api import export_from_args

    tracker = read_tracker_settings(args.tracker, preset.tracker) if args.tracker else preset.tracker
    report = export_from_args(preset, args.weights, args.random, args.out, args.check, args.precision, args.fmt,
                              tracker)
    if report.errors and args.fmt != "opencv":
        print(report.table())
    if args.fmt != "opencv":
        lt, da = tracker.long_term, tracker.distractor
        print(f"tracker settings in model.json: penalty_k {tracker.penalty_k}, window_influence "
              f"{tracker.window_influence}, lr {tracker.lr}; long-term enter/leave {lt.enter_threshold}/"
              f"{lt.leave_threshold}; distractor threshold h {da.threshold}")
    checked = f" (worst relative error vs torch {report.worst:.1e})" if report.errors else ""
    what = "the cv2.TrackerDaSiamRPN files to " if args.fmt == "opencv" else ""
    print(f"dasiamrt export: wrote {what}{report.out_dir}{checked}")
    return 0

