"""Wall time of `dasiamrt eval` on a synthetic set, serial vs `--ray` (``python benchmarks/eval_scale.py``).

Runs the CLI as a user would (each run in a fresh output folder, the bundled model, ONNX Runtime):
serial with ONNX Runtime's default threads (one per core), serial with one thread, and on a local Ray
cluster with --workers N (one thread each; Ray's start-up included in the wall time). Checks that
every run wrote byte-identical result files and prints one markdown table with the CPU. The machine
may be shared: rerun before quoting, and quote ratios from one run.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dasiamrt.cpu_features import detect  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _files(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*.txt") if "time" not in p.name}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="synthetic:mixed:20:0", help="what to evaluate (default: 20 x 150 frames)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    runs = [("serial, ONNX Runtime threads = cores", []), ("serial, 1 thread", ["--threads", "1"]),
            (f"--ray, {args.workers} workers x 1 thread", ["--ray", "--workers", str(args.workers)])]
    frames = None
    rows, outputs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (label, extra) in enumerate(runs):
            out = Path(tmp) / f"run{i}"
            cmd = [sys.executable, "-m", "dasiamrt.cli", "eval", "--dataset", args.dataset, "--out", str(out),
                   "--name", "run", "--no-plots", "--quiet", *extra]
            start = time.perf_counter()
            proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
            wall = time.perf_counter() - start
            if proc.returncode != 0:
                print(proc.stderr[-2000:], file=sys.stderr)
                return 1
            outputs.append(_files(out / "results" / "run"))
            frames = sum(len((out / "results" / "run" / name).read_text().splitlines()) for name in outputs[-1])
            rows.append((label, wall))
    same = all(o == outputs[0] for o in outputs)
    print(f"`dasiamrt eval --dataset {args.dataset}` ({len(outputs[0])} sequences, {frames} frames), bundled model\n")
    print("| run | wall s | frames/s | vs serial |")
    print("|---|---:|---:|---:|")
    for label, wall in rows:
        print(f"| {label} | {wall:.1f} | {frames / wall:.1f} | {rows[0][1] / wall:.2f}x |")
    print(f"\nResult files identical across runs: {'yes' if same else 'NO'}")
    print(f"CPU: {detect().summary()}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
