"""Tracker settings sweep on one side of the real split (plain tracking: DA and LT off).

Every combination of the given values of instance_size, penalty_k, window_influence and lr is run
over the validation side of ``configs/real_split.json`` (``--part train``: its training side, where
settings can be chosen without touching the validation sequences they are reported on); mean OPE
success AUC and precision@20 are printed as a table, best first. ``--starts N`` also runs each
sequence from N - 1 later start frames
(evenly spaced, initialised on the ground truth there, as OTB's temporal robustness TRE) and reports
the mean over all runs beside the one-pass AUC: ten one-pass runs are a noisy basis for choosing.
Each row after the best carries its paired difference from the best over all runs, with a 95%
bootstrap interval over the source sequences (``eval.confidence``): an interval holding 0 means the
split does not tell the two settings apart.
Tuning and reporting on one split flatters the chosen settings: say so wherever they are quoted. Usage:

    python benchmarks/tune_real.py --model DIR --instance-size 255,287 --penalty-k 0.05,0.1,0.2 \\
        --window 0.25,0.4 --lr 0.35,0.5 [--out X.md]
"""
from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

from dasiamrt.artifacts.model_folder import read_model_dir
from dasiamrt.eval.confidence import paired_difference
from dasiamrt.eval.datasets.real import load
from dasiamrt.runtime.tracker import Tracker
from dasiamrt.train.validate import run_sequence, start_source, summarize, with_later_starts

ROOT = Path(__file__).resolve().parents[1]


def _floats(text: str) -> list:
    return [float(v) for v in text.split(",")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--split", default=str(ROOT / "configs" / "real_split.json"))
    parser.add_argument("--root", default=str(ROOT.parent / "shared" / "data" / "real"))
    parser.add_argument("--part", default="validation", choices=("validation", "train"))
    parser.add_argument("--instance-size", default="255")
    parser.add_argument("--penalty-k", default="0.1")
    parser.add_argument("--window", default="0.4")
    parser.add_argument("--lr", default="0.35")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--starts", type=int, default=1, help="start points per sequence (1: one pass)")
    parser.add_argument("--out")
    args = parser.parse_args()
    dataset = load(Path(args.root), args.split, args.part)
    sequences = with_later_starts(dataset, args.starts)  # the first len(dataset) are the one-pass runs
    base = read_model_dir(args.model).tracker.replace(distractor={"enabled": False}, long_term={"enabled": False})
    rows = []
    grid = itertools.product([int(v) for v in args.instance_size.split(",")], _floats(args.penalty_k),
                             _floats(args.window), _floats(args.lr))
    for size, k, window, lr in grid:
        config = base.replace(instance_size=size, penalty_k=k, window_influence=window, lr=lr)
        with Tracker.from_model(args.model, config=config, threads=args.threads) as tracker:
            runs = [run_sequence(tracker, seq) for seq in sequences]
            result, every = summarize(runs[:len(dataset)]), summarize(runs)
        rows.append((every["auc"], result["auc"], result["precision_20"], size, k, window, lr, every["per_sequence"]))
        print(f"size {size} penalty_k {k} window {window} lr {lr}: AUC {result['auc']:.3f} "
              f"P@20 {result['precision_20']:.3f} all starts {every['auc']:.3f}", file=sys.stderr)
    where = ("tuned and reported on the same split" if args.part == "validation" else
             "the model was trained on these sequences; report the chosen settings on the validation side")
    lines = [f"Model `{args.model}`, {args.part} side of `{args.split}` ({len(dataset)} sequences), DA/LT off; "
             f"{where}.", "",
             f"| AUC, {args.starts} start(s) per sequence | vs best, paired [95%] | one-pass AUC | precision@20 | "
             "instance_size | penalty_k | window_influence | lr |", "|---|---|---|---|---|---|---|---|"]
    ranked = sorted(rows, key=lambda r: r[:7], reverse=True)
    best = ranked[0][7]
    for every_auc, auc, p20, size, k, window, lr, per_run in ranked:
        clusters = {n: start_source(n) for n in best}
        vs = "-" if per_run is best else paired_difference(per_run, best, clusters).text(signed=True)
        lines.append(f"| {every_auc:.3f} | {vs} | {auc:.3f} | {p20:.3f} | {size} | {k} | {window} | {lr} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
