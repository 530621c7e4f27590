"""The export entry point used by the CLI and by benchmarks."""
from __future__ import annotations

from typing import Any, Dict, Optional

from ..config import Preset, TrackerConfig
from ..errors import MissingDependencyError
from ..fileio import sha256_file
from .onnx_export import ExportReport, export_model


def export_from_args(preset: Preset, weights: Optional[str], seed: Optional[int], out_dir: str,
                     check: bool = True, precision: str = "fp32",
                     tracker: Optional[TrackerConfig] = None) -> ExportReport:
    """Load ``weights`` (or random weights from ``seed``) into ``preset``'s network and export it.

    ``tracker``: the settings stored in ``model.json`` (default: the preset's), e.g. the model's own
    long-term and distractor thresholds derived on validation data.
    """
    try:
        import onnx  # noqa: F401
        import torch  # noqa: F401
    except ImportError as err:
        raise MissingDependencyError(err.name or "torch", "export", "pip install 'dasiamrt[export]'") from None
    from ..model import build_network, load_network

    if weights is not None:
        net = load_network(weights, preset.network)
        extra: Dict[str, Any] = {"weights_sha256": sha256_file(weights)}
    else:
        net = build_network(preset.network, seed=seed if seed is not None else 0)
        extra = {"random_weights_seed": seed}
    report = export_model(net, preset, out_dir, tracker=tracker, check=check, extra=extra)
    if precision == "fp16":
        from .fp16 import write_fp16_variants

        write_fp16_variants(report.out_dir)
    return report
