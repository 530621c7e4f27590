"""Load and save SiamRPN weights, official files included.

The published ``SiamRPNBIG.model``, ``SiamRPNVOT.model`` and ``SiamRPNOTB.model`` are plain
state_dicts written by ``torch.save`` under PyTorch 0.3 (legacy, non-zip serialization, possibly
from CUDA tensors, no BatchNorm ``num_batches_tracked``). They load here strictly, as they are.
dasiamrt's own training checkpoints wrap the state_dict (``{"model": ..., ...}``); both load.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Mapping

import torch

from ..config import ALEXNET, MOBILENETV2, NETWORKS, NetworkConfig
from ..errors import CheckpointError
from ..fileio import AtomicFile
from .siamrpn import SiamRPN

_FIRST_CONV = "featureExtract.0.weight"
_CLS_HEAD = "conv_cls1.weight"
_MOBILE_STEM = "featureExtract.blocks.0.0.weight"


def load_checkpoint(path: str | os.PathLike[str]) -> Dict[str, torch.Tensor]:
    """Read a weights file into a CPU state_dict with the official key names.

    Accepts legacy (pre-1.6) and zip ``torch.save`` files, tensors saved from CUDA or CPU, plain
    state_dicts or dicts holding one under ``"model"``/``"state_dict"``, and DDP ``module.`` prefixes.

    Raises:
        CheckpointError: missing file, or a file that is not a PyTorch checkpoint of tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"weights file not found: {path} (give the path of a .model/.pt file)")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any failure to unpickle a user file is a user error
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{path} is not a readable PyTorch checkpoint ({first[:120]})") from None
    if isinstance(obj, Mapping):
        for key in ("model", "state_dict"):
            if key in obj and isinstance(obj[key], Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path} holds no state_dict of tensors; expected a SiamRPN weights file")
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in obj.items()}


def detect_network(state_dict: Mapping[str, torch.Tensor]) -> List[NetworkConfig]:
    """The layouts whose tensor shapes this state_dict fits (vot and otb share one layout)."""
    if _CLS_HEAD not in state_dict:
        return []
    f = state_dict[_CLS_HEAD].shape[0] // 10
    if _MOBILE_STEM in state_dict:
        return [n for n in NETWORKS.values() if n.backbone == MOBILENETV2 and n.feature_out == f]
    if _FIRST_CONV not in state_dict:
        return []
    c1 = state_dict[_FIRST_CONV].shape[0]
    return [n for n in NETWORKS.values() if n.backbone == ALEXNET and n.channels[0] == c1 and n.feature_out == f]


def load_network(path: str | os.PathLike[str], network: NetworkConfig) -> SiamRPN:
    """Build ``network`` and load ``path`` into it strictly; returns the net in eval mode.

    Raises:
        CheckpointError: unreadable file, or weights of another layout (the message names the preset
            the file does fit).
    """
    state = dict(load_checkpoint(path))
    net = SiamRPN(network)
    expected = net.state_dict()
    fits = detect_network(state)
    if network not in fits and not any(f.backbone == network.backbone and f.channels == network.channels
                                       and f.feature_out == network.feature_out for f in fits):
        if fits:
            names = "/".join(f.name for f in fits)
            raise CheckpointError(
                f"{path} has the layout of preset {names}, not {network.name}: use --preset {fits[0].name}"
            )
        raise CheckpointError(f"{path} is not a SiamRPN checkpoint (no {_FIRST_CONV!r}/{_CLS_HEAD!r} tensors)")
    # PyTorch 0.3 files predate BatchNorm's step counter; it does not affect inference.
    for key, value in expected.items():
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = torch.zeros_like(value)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as err:
        detail = " ".join(str(err).split())[:200]
        raise CheckpointError(f"{path} does not match the {network.name} layout: {detail}") from None
    return net.eval()


def save_checkpoint(
    state_dict: Mapping[str, torch.Tensor], path: str | os.PathLike[str], legacy: bool = False, **extra: Any
) -> None:
    """Write weights atomically (temp file + rename).

    Args:
        state_dict: network weights.
        path: destination.
        legacy: write exactly like the official files: a bare state_dict, legacy serialization,
            no ``num_batches_tracked``, no ``extra``.
        extra: stored beside ``"model"`` (optimizer state, epoch, ...) when not legacy.
    """
    if legacy:
        obj: Any = {k: v for k, v in state_dict.items() if not k.endswith("num_batches_tracked")}
    else:
        obj = {"model": dict(state_dict), **extra}
    with AtomicFile(path, ".tmp", make_parents=True) as out:
        torch.save(obj, str(out.tmp), _use_new_zipfile_serialization=not legacy)
