"""SiamRPN networks in PyTorch (official ``foolwood/DaSiamRPN`` layouts) and checkpoint loading.

This package imports torch; the runtime never imports it.
"""
from __future__ import annotations

from .checkpoint import detect_network, load_checkpoint, load_network, save_checkpoint
from .siamrpn import (
    KernelHead,
    KernelUpdate,
    SearchBranch,
    SiamRPN,
    SiamRPNBIG,
    SiamRPNotb,
    SiamRPNtiny,
    SiamRPNvot,
    TemplateBranch,
    build_network,
)

__all__ = [
    "KernelHead", "KernelUpdate", "SearchBranch", "SiamRPN", "SiamRPNBIG", "SiamRPNotb", "SiamRPNtiny", "SiamRPNvot",
    "TemplateBranch", "build_network", "detect_network", "load_checkpoint", "load_network",
    "save_checkpoint",
]
