"""Produce the CPU table of benchmarks/README.md: ONNX Runtime, vot and tiny networks, 255 and 767, DA off/on.

    python benchmarks/cpu_bench.py [--frames 20] [--json benchmarks/cpu_bench.json]

Random weights (speed does not depend on them), the bundled real clip, one run; the table is
printed in markdown. Quote ratios from one run only: the machine is shared and noisy.
"""
from __future__ import annotations

import argparse
import json
import sys

from dasiamrt.artifacts.model_folder import read_model_dir
from dasiamrt.bench.run import random_model_dir, run_bench
from dasiamrt.runtime.tracker import Tracker


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--presets", default="vot,tiny")
    parser.add_argument("--sizes", default="255,767")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    reports = []
    for preset in args.presets.split(","):
        model = str(random_model_dir(preset))
        info = read_model_dir(model)

        def make(changes, model=model, info=info):
            return Tracker.from_model(model, backend="ort", config=info.tracker.replace(**changes))

        report = run_bench(make, f"{preset} (random weights)", [int(s) for s in args.sizes.split(",")],
                           [False, True], args.frames, 3, None, None)
        print(f"\n### {preset}\n\n{report.table()}")
        reports.append(report.to_json())
    machine = reports[0]["machine"]
    print(f"\n{machine['cpu']}, {machine['cores']} cores, onnxruntime {machine.get('onnxruntime')}, "
          f"{args.frames} frames per row")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(reports, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
