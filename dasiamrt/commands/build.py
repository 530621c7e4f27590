"""``dasiamrt build``: TensorRT engines (+ manifests) from an exported model folder."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("build", help="build TensorRT engines from an exported model",
                              description="Build TensorRT engines (plan + JSON manifest each) from a model folder "
                                          "written by 'dasiamrt export': the template engine, the search engine "
                                          "with one profile and execution context per search size (the model's "
                                          "sizes plus 767 for long-term mode, plus --sizes), and kernel_update. "
                                          "Build on the device that runs them: plans do not move between GPUs "
                                          "or TensorRT versions. --print-trtexec shows the equivalent commands.")
    p.add_argument("--model", required=True, type=Path, metavar="DIR", help="model folder written by `dasiamrt export`")
    p.add_argument("--precision", choices=("fp32", "fp16", "int8"), default="fp16",
                   help="engine precision (default: fp16)")
    p.add_argument("--workspace", type=int, default=None, metavar="MB", help="builder workspace limit in MiB")
    p.add_argument("--timing-cache", type=Path, default=None, metavar="FILE", help="read and update this timing cache")
    p.add_argument(
        "--strongly-typed",
        action="store_true",
        help="TensorRT 10: build fp16 from the fp16 graph, strongly typed (always so on 11)",
    )
    p.add_argument("--sizes", default="", metavar="H,H", help="extra search sizes to build profiles for (e.g. 287)")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="engine folder (default MODEL/engines/PRECISION)")
    p.add_argument("--calibrator", choices=("entropy",), default=None,
                   help="with --precision int8 on TensorRT <= 10: the legacy route, fp32 graphs calibrated by "
                        "TensorRT with an entropy calibrator fed from MODEL/calibration.npz (default: the Q/DQ graphs)")
    p.add_argument("--calibration", type=Path, default=None, metavar="NPZ",
                   help="with --calibrator: this calibration set (calibration.npz or its folder) instead of "
                        "MODEL/calibration.npz")
    p.add_argument("--print-trtexec", action="store_true", help="print the equivalent trtexec commands, build nothing")
    p.add_argument("--trt-version", default=None, metavar="X.Y.Z",
                   help="with --print-trtexec: flags for this TensorRT (e.g. 8.5.2)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..engine.builder import BuildOptions, build_engines, trtexec_lines
    from ._common import parse_search_sizes

    sizes = parse_search_sizes(args.sizes)
    options = BuildOptions(
        precision=args.precision,
        workspace_mb=args.workspace,
        timing_cache=args.timing_cache,
        strongly_typed=args.strongly_typed,
        extra_sizes=sizes,
        out_dir=args.out,
        calibrator=args.calibrator,
        calibration=args.calibration,
    )
    if args.print_trtexec:
        for line in trtexec_lines(args.model, options, args.trt_version):
            print(line)
        return 0
    for path in build_engines(args.model, options):
        print(path)
    return 0
