"""``dasiamrt export --weights FILE --preset P --out DIR``: split ONNX graphs + model.json."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import TrackerConfig


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("export", help="export weights to the split ONNX graphs (template, search, kernel_update)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--weights", metavar="FILE", help="PyTorch checkpoint (official SiamRPN*.model files too)")
    src.add_argument("--random", type=int, metavar="SEED", help="random weights with this seed (for speed tests)")
    p.add_argument("--preset", required=True, help="big, vot, otb, paper or tiny")
    p.add_argument("--out", required=True, metavar="DIR", help="model folder to write")
    p.add_argument("--precision", choices=("fp32", "fp16"), default="fp32",
                   help="also write fp16 graphs (fp32 always written)")
    p.add_argument("--no-check", dest="check", action="store_false", help="skip the ONNX Runtime vs torch check")
    p.add_argument("--tracker", metavar="JSON",
                   help="tracker settings to store in model.json over the preset's (e.g. the model's own "
                        "long_term enter/leave and distractor thresholds: configs/tiny_tracker.json)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..config import get_preset
    from ..export.api import export_from_args

    preset = get_preset(args.preset)
    tracker = _tracker_settings(args.tracker, preset.tracker) if args.tracker else preset.tracker
    report = export_from_args(preset, args.weights, args.random, args.out, args.check, args.precision, tracker)
    if report.errors:
        print(report.table())
    lt, da = tracker.long_term, tracker.distractor
    print(f"tracker settings in model.json: penalty_k {tracker.penalty_k}, window_influence "
          f"{tracker.window_influence}, lr {tracker.lr}; long-term enter/leave {lt.enter_threshold}/"
          f"{lt.leave_threshold}; distractor threshold h {da.threshold}")
    print(f"dasiamrt export: wrote {report.out_dir} (worst relative error vs torch {report.worst:.1e})")
    return 0


def _tracker_settings(path: str, base: "TrackerConfig") -> "TrackerConfig":
    """``base`` with the fields of a JSON file (nested ``long_term``/``distractor`` objects allowed)."""
    import json
    from pathlib import Path

    from ..errors import ConfigError

    try:
        changes = json.loads(Path(path).read_text())
    except OSError:
        raise ConfigError(f"tracker settings file {path} not found") from None
    except ValueError as err:
        raise ConfigError(f"{path} is not valid JSON ({err})") from None
    if not isinstance(changes, dict):
        raise ConfigError(f"{path} must hold a JSON object of tracker settings")
    changes = {k: v for k, v in changes.items() if not k.startswith("_")}  # "_comment" keys
    try:
        return base.replace(**changes)
    except TypeError as err:
        raise ConfigError(f"{path}: unknown tracker setting ({err})") from None
