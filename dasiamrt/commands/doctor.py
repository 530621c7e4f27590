"""``dasiamrt doctor [--model DIR] [--strict]``: what works on this machine, and the fix for what does not."""
from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("doctor", help="check Python, OpenCV/GStreamer, ONNX Runtime, TensorRT, CUDA, CPU, engines",
                       description="One line per item: verdict, what was found, and the fix. Exit 0 unless --strict "
                                   "and an item FAILs.")
    p.add_argument("--model", type=Path, default=None, metavar="DIR",
                   help="also check that this model's engines match this GPU and TensorRT")
    p.add_argument("--strict", action="store_true", help="exit 1 when any item FAILs")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..doctor import FAIL, run_checks

    checks = run_checks(args.model)
    for check in checks:
        print(check.line())
    failed = [c for c in checks if c.verdict == FAIL]
    return 1 if args.strict and failed else 0
