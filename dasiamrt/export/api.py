"""The export entry point used by the CLI and by benchmarks."""
from __future__ import annotations

from typing import Any, Dict, Optional

from ..config import Preset, TrackerConfig
from ..errors import ConfigError, MissingDependencyError
from ..fileio import sha256_file
from .onnx_export import TOLERANCE, ExportReport, export_model

FORMATS = ("dasiamrt", "opencv")


def export_from_args(preset: Preset, weights: Optional[str], seed: Optional[int], out_dir: str,
                     check: bool = True, precision: str = "fp32", fmt: str = "dasiamrt",
                     tracker: Optional[TrackerConfig] = None) -> ExportReport:
    """Load ``weights`` (or random weights from ``seed``) into ``preset``'s network and export it.

    ``fmt`` "dasiamrt": the split graphs + ``model.json``; "opencv": the three files of
    ``cv2.TrackerDaSiamRPN`` (:mod:`dasiamrt.export.opencv`), checked with ``cv2.dnn`` against torch.
    ``tracker``: the settings stored in ``model.json`` (default: the preset's), e.g. the model's own
    long-term and distractor thresholds derived on validation data (ignored by the OpenCV format,
    which has no settings file).

    Raises:
        ConfigError: an unknown format, fp16 with the OpenCV format, or a layout OpenCV cannot run.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if fmt == "opencv" and precision != "fp32":
        raise ConfigError("OpenCV's tracker runs fp32 files only: drop --precision with --format opencv")
    if fmt == "opencv" and preset.network.feature_out != 256:  # before torch loads anything
        raise ConfigError(f"OpenCV's TrackerDaSiamRPN supports the 256-channel vot/otb layouts only, not "
                          f"{preset.name} ({preset.network.feature_out} channels): use --preset vot or otb")
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
    if fmt == "opencv":
        return _export_opencv(net, out_dir, check)
    report = export_model(net, preset, out_dir, tracker=tracker, check=check, extra=extra)
    if precision == "fp16":
        from .fp16 import write_fp16_variants

        write_fp16_variants(report.out_dir)
    return report


def _export_opencv(net: Any, out_dir: str, check: bool) -> ExportReport:
    """The OpenCV files, then (``check``) the ``cv2.dnn`` run against torch."""
    from pathlib import Path

    from .opencv import check_with_opencv, export_opencv

    export_opencv(net, out_dir)
    report = ExportReport(Path(out_dir))
    if check:
        report.errors[("opencv", 271, "kernels, deltas, scores")] = error = check_with_opencv(net, out_dir)
        if error > TOLERANCE:
            raise RuntimeError(f"OpenCV's run of the exported files differs from torch (relative error {error:.2e})")
    return report
