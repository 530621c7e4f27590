"""``dasiamrt train --config FILE``: distractor-aware SiamRPN training (see ``dasiamrt/train/config.py``)."""
from __future__ import annotations

import argparse
import os
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "train", help="train a SiamRPN network on positive and semantic negative pairs",
        description="Train with a JSON config (layout documented in dasiamrt/train/config.py; "
                    "examples: configs/train_tiny.json, configs/train_real.json). "
                    "Multi-GPU: torchrun --nproc_per_node N -m dasiamrt.cli train ...",
    )
    parser.add_argument("--config", required=True, help="training config, JSON")
    parser.add_argument("--out", help="output folder (overrides out_dir of the config)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    parser.add_argument("--epochs", type=int, help="override the number of epochs")
    parser.add_argument("--max-steps", type=int, metavar="N",
                        help="stop after N steps of this run, checkpoints written (a schedule changed "
                             "mid-run is reproduced as: --max-steps N, then --resume with the new config)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError, MissingDependencyError

    MissingDependencyError.require(("torch",), "train", "pip install 'dasiamrt[train]'")
    from ..train.config import TrainConfig, read_config_file
    from ..train.loop import train

    data = read_config_file(Path(args.config))
    if args.out:
        data["out_dir"] = args.out
    if args.epochs:
        data["epochs"] = args.epochs
    if args.max_steps is not None and args.max_steps < 1:
        raise ConfigError(f"--max-steps must be at least 1, not {args.max_steps}")
    progress = train(TrainConfig.from_dict(data), resume=args.resume, max_steps=args.max_steps)
    if os.environ.get("RANK", "0") != "0":
        return 0
    best = (f"best validation AUC {progress.best_auc:.4f}" if progress.best_auc >= 0
            else f"best monitor loss {progress.best_val:.4f}")
    weights = Path(data.get("out_dir", "runs/train")) / "best.pt"
    print(f"trained {progress.global_step} steps; {best}; weights: {weights}")
    return 0
