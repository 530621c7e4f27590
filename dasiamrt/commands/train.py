"""``dasiamrt train --config FILE``: distractor-aware SiamRPN training (see ``dasiamrt/train/config.py``)."""
from __future__ import annotations

import argparse
import json
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
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError, MissingDependencyError

    MissingDependencyError.require(("torch",), "train", "pip install 'dasiamrt[train]'")
    from ..train.config import TrainConfig
    from ..train.loop import train

    path = Path(args.config)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = json.loads(path.read_text())
    except ValueError as err:
        raise ConfigError(f"{path} is not valid JSON ({err})") from None
    if args.out:
        data["out_dir"] = args.out
    if args.epochs:
        data["epochs"] = args.epochs
    progress = train(TrainConfig.from_dict(data), resume=args.resume)
    if os.environ.get("RANK", "0") != "0":
        return 0
    best = (f"best validation AUC {progress.best_auc:.4f}" if progress.best_auc >= 0
            else f"best monitor loss {progress.best_val:.4f}")
    weights = Path(data.get("out_dir", "runs/train")) / "best.pt"
    print(f"trained {progress.global_step} steps; {best}; weights: {weights}")
    return 0
