"""Test fixture: a random-weight network exported with the lead's exporter to a model folder."""

from __future__ import annotations

from pathlib import Path

from dasiamrt.config import get_preset
from dasiamrt.export import export_model
from dasiamrt.model import build_network


def export_tiny(out_dir: Path, preset: str = "tiny", seed: int = 0) -> tuple:
    """Write template/search/kernel_update graphs and model.json; returns (out_dir, torch net)."""
    p = get_preset(preset)
    net = build_network(p.network, seed=seed)
    export_model(net, p, out_dir, check=False)
    return Path(out_dir), net
