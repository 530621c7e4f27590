"""Success AUC of trained weights vs the same network with random weights, on held-out synthetic sequences.

The tracker is ``dasiamrt.runtime.tracker.Tracker`` (torch backend, the preset's tracker settings,
DA and LT as in the preset: off for ``tiny``); the score is the OPE success AUC of
``dasiamrt.eval.metrics`` (mean of the 21-point success curve, each sequence weighing the same).
Sequences are ``dasiamrt.synthetic.sequences.make_set(preset, count, seed=SEED0)`` with the bundled
textures: seeds from 900000 are never used for training (``configs/train_tiny.json`` uses 1000..1299).

    python benchmarks/trained_vs_random.py [--weights W.pt --preset P] [--count 8] [--frames 150]
        [--presets plain,distractors,occlusion,out-of-view,mixed] [--out train_logs/tiny/eval.md]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import numpy as np
import torch

from dasiamrt.assets import BUNDLED_MODEL, BUNDLED_WEIGHTS
from dasiamrt.config import NETWORKS, get_preset
from dasiamrt.eval.metrics import ope_sequence, ope_summary
from dasiamrt.model import build_network, save_checkpoint
from dasiamrt.runtime.loop import track_boxes
from dasiamrt.runtime.tracker import Tracker
from dasiamrt.synthetic.sequences import make_set

SEED0 = 900000


def evaluate(weights: str, preset: str, sets: Dict[str, List], overrides: Dict[str, float]) -> Dict[str, float]:  # type: ignore[type-arg]
    config = get_preset(preset).tracker.replace(**overrides)
    tracker = Tracker.from_weights(weights, preset=preset, backend="torch", config=config)
    out = {}
    for name, seqs in sets.items():
        boxes = [track_boxes(tracker, s.frames, s.boxes_xywh[0], len(s.frames)) for s in seqs]
        out[name] = ope_summary([ope_sequence(b, s.boxes_xywh) for b, s in zip(boxes, seqs)])["auc"]
    out["all"] = float(np.mean([out[k] for k in sets]))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=str(BUNDLED_WEIGHTS), help="checkpoint (default: the bundled model's)")
    parser.add_argument("--preset", default=None, help="its preset (default: the bundled model's)")
    parser.add_argument("--count", type=int, default=8)
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--presets", default="plain,distractors,occlusion,out-of-view,mixed")
    parser.add_argument("--random-seed", type=int, default=0, help="seed of build_network for the random baseline")
    parser.add_argument("--skip-random", action="store_true")
    parser.add_argument("--skip-trained", action="store_true", help="only the random baseline")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tracker", default="{}", help='tracker overrides, JSON, e.g. \'{"penalty_k": 0.3}\'')
    parser.add_argument("--out", default=None, help="also write the table (markdown) here")
    args = parser.parse_args()
    if args.preset is None:
        from dasiamrt.artifacts.model_folder import read_model_dir

        args.preset = read_model_dir(BUNDLED_MODEL).preset
    torch.set_num_threads(args.threads)
    overrides = json.loads(args.tracker)
    start = time.time()
    sets = {p: make_set(p, args.count, seed=SEED0, num_frames=args.frames) for p in args.presets.split(",")}
    rows = {} if args.skip_trained else {"trained": evaluate(args.weights, args.preset, sets, overrides)}
    if not args.skip_random:
        with tempfile.TemporaryDirectory() as tmp:
            path = str(Path(tmp) / "random.pt")
            save_checkpoint(build_network(NETWORKS[args.preset], seed=args.random_seed).state_dict(), path, legacy=True)
            rows[f"random (build_network seed={args.random_seed})"] = evaluate(path, args.preset, sets, overrides)
    cols = list(sets) + ["all"]
    lines = [
        f"Success AUC (OPE, dasiamrt.eval.metrics), tracker preset `{args.preset}` "
        f"(overrides: {overrides or 'none'}), torch backend; "
        f"{args.count} held-out sequences x {args.frames} frames per synthetic preset, "
        f"seeds {SEED0}..{SEED0 + args.count - 1}.",
        "",
        "| weights | " + " | ".join(cols) + " |",
        "|---" * (len(cols) + 1) + "|",
    ]
    for name, res in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{res[c]:.3f}" for c in cols) + " |")
    trained = "" if args.skip_trained else f"trained weights: `{args.weights}`; "
    lines += ["", f"{trained}{time.time() - start:.0f} s on this machine."]
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
