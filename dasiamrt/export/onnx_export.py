"""Export a SiamRPN network to the split ONNX graphs of :mod:`dasiamrt.spec` plus ``model.json``.

Graphs (F = feature_out, C = backbone channels):
    template.onnx       template (N, 3, 127, 127) -> cls_kernel (N, 10, F, 4, 4), reg_kernel (N, 20, F, 4, 4)
    search.onnx         search (1, 3, H, H), cls_kernel (10, F, 4, 4), reg_kernel (20, F, 4, 4)
                        -> cls (1, 10, S, S), delta (1, 20, S, S), search_features (1, C, S+5, S+5)
    kernel_update.onnx  search_features, window_index (N * 36,), window_weight (N,), acc (10, F, 4, 4), inv_total (1,)
                        -> acc_out, fused (10, F, 4, 4)
The kernels are graph inputs (Conv with non-constant weights), so the runtime swaps or fuses them
without rebuilding anything. Every export is checked: ONNX Runtime against torch on random crops
at 255, 271 and 767 (relative error <= 1e-4).
"""
from __future__ import annotations

import inspect
import logging
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch

from .. import spec
from ..artifacts.model_folder import create_model_folder, publish_model_folder
from ..config import Preset, TrackerConfig
from ..errors import SourceError
from ..model import KernelUpdate, SearchBranch, SiamRPN, TemplateBranch

log = logging.getLogger(__name__)

CHECK_SIZES = (255, 271, 767)
TOLERANCE = 1e-4


@dataclass
class ExportReport:
    """What an export wrote and how well ONNX Runtime matched torch.

    Attributes:
        out_dir: the model folder.
        errors: (graph, size, output) -> relative error max|ort - torch| / max|torch|.
    """

    out_dir: Path
    errors: Dict[Tuple[str, int, str], float] = field(default_factory=dict)

    @property
    def worst(self) -> float:
        return max(self.errors.values(), default=0.0)

    def table(self) -> str:
        rows = ["| graph | size | output | rel. error |", "|---|---|---|---|"]
        rows += [f"| {g} | {s} | {o} | {e:.2e} |" for (g, s, o), e in sorted(self.errors.items())]
        return "\n".join(rows)


def _io_spec(net: SiamRPN) -> Dict[str, Dict[str, Dict[str, List[Any]]]]:
    f, c = net.feature_out, net.network.feature_channels
    return {
        "template": {
            "inputs": {spec.TEMPLATE_INPUT: ["N", 3, 127, 127]},
            "outputs": {spec.CLS_KERNEL: ["N", 10, f, 4, 4], spec.REG_KERNEL: ["N", 20, f, 4, 4]},
        },
        "search": {
            "inputs": {spec.SEARCH_INPUT: [1, 3, "H", "H"], spec.CLS_KERNEL: [10, f, 4, 4],
                       spec.REG_KERNEL: [20, f, 4, 4]},
            "outputs": {spec.CLS_OUTPUT: [1, 10, "S", "S"], spec.REG_OUTPUT: [1, 20, "S", "S"],
                        spec.FEATURE_OUTPUT: [1, c, "S+5", "S+5"]},
        },
        "kernel_update": {
            "inputs": {spec.FEATURE_OUTPUT: [1, c, "S+5", "S+5"], spec.WINDOW_INDEX: ["N*36"],
                       spec.WINDOW_WEIGHT: ["N"], spec.ACC: [10, f, 4, 4], spec.INV_TOTAL: [1]},
            "outputs": {spec.ACC_OUTPUT: [10, f, 4, 4], spec.FUSED_KERNEL: [10, f, 4, 4]},
        },
    }


def _export_one(module: torch.nn.Module, args: Tuple[torch.Tensor, ...], path: Path, io: Dict[str, Any],
                dynamic: Dict[str, Dict[int, str]]) -> None:
    # The TorchScript exporter is used on purpose: it writes Conv with graph-input weights and the
    # dynamic axes above in the form TensorRT 8.5+ and ONNX Runtime accept (checked below).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        _torch_export(module, args, path, io, dynamic)


def _torch_export(module: torch.nn.Module, args: Tuple[torch.Tensor, ...], path: Path, io: Dict[str, Any],
                  dynamic: Dict[str, Dict[int, str]]) -> None:
    options: Dict[str, Any] = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        # torch >= 2.5 has the keyword (and defaults it to True from 2.9); older torch (Python 3.8's
        # newest is 2.4.1) has only the TorchScript exporter and rejects the keyword.
        options["dynamo"] = False
    torch.onnx.export(
        module, args, str(path), input_names=list(io["inputs"]), output_names=list(io["outputs"]),
        dynamic_axes=dynamic, opset_version=spec.OPSET, do_constant_folding=True,
        training=torch.onnx.TrainingMode.EVAL, **options,
    )


def _sample_inputs(net: SiamRPN, size: int, gen: torch.Generator) -> Dict[str, torch.Tensor]:
    f, c = net.feature_out, net.network.feature_channels
    s = spec.score_size(size)
    return {
        "template": torch.rand((2, 3, 127, 127), generator=gen) * 255,
        "search": torch.rand((1, 3, size, size), generator=gen) * 255,
        "cls_kernel": torch.randn((10, f, 4, 4), generator=gen) * 0.01,
        "reg_kernel": torch.randn((20, f, 4, 4), generator=gen) * 0.01,
        "features": torch.randn((1, c, s + 5, s + 5), generator=gen),
        "window_index": torch.from_numpy(spec.window_indices([(0, 0), (s // 2, s // 3), (s - 1, s - 1)], s + 5)),
        "window_weight": torch.tensor([1.0, -0.25, -0.25]),
        "acc": torch.randn((10, f, 4, 4), generator=gen) * 0.01,
        "inv_total": torch.tensor([0.25]),
    }


def _graph_args(role: str, x: Dict[str, torch.Tensor]) -> Tuple[torch.Tensor, ...]:
    if role == "template":
        return (x["template"],)
    if role == "search":
        return (x["search"], x["cls_kernel"], x["reg_kernel"])
    return (x["features"], x["window_index"], x["window_weight"], x["acc"], x["inv_total"])


def _check(modules: Dict[str, torch.nn.Module], out_dir: Path, net: SiamRPN, report: ExportReport) -> None:
    import onnxruntime as ort

    io = _io_spec(net)
    gen = torch.Generator().manual_seed(0)
    sessions = {r: ort.InferenceSession(str(out_dir / f"{r}.onnx"), providers=["CPUExecutionProvider"])
                for r in modules}
    for size in CHECK_SIZES:
        x = _sample_inputs(net, size, gen)
        for role, module in modules.items():
            if role == "template" and size != CHECK_SIZES[0]:
                continue
            args = _graph_args(role, x)
            with torch.no_grad():
                expected = module(*args)
            got = sessions[role].run(None, {n: a.numpy() for n, a in zip(io[role]["inputs"], args)})
            for name, e, g in zip(io[role]["outputs"], expected, got):
                e = e.numpy()
                report.errors[(role, size, name)] = float(np.abs(g - e).max() / max(np.abs(e).max(), 1e-12))


def export_model(net: SiamRPN, preset: Preset, out_dir: str | os.PathLike[str],
                 tracker: Optional[TrackerConfig] = None, check: bool = True,
                 extra: Optional[Dict[str, Any]] = None) -> ExportReport:
    """Write the three graphs and ``model.json`` into ``out_dir`` (atomically, via a temp folder).

    Args:
        net: network in eval mode (weights loaded).
        preset: preset whose name is recorded; ``tracker`` defaults to its tracker settings.
        out_dir: destination folder (created; existing graphs are replaced).
        tracker: tracker settings stored in ``model.json``.
        check: compare ONNX Runtime with torch and fail above :data:`TOLERANCE`.
        extra: more keys for ``model.json`` (e.g. the weights' sha256).

    Raises:
        SourceError: ``out_dir`` cannot be created or written.
        RuntimeError: when the ONNX Runtime check exceeds the tolerance (an exporter bug).
    """
    net = net.eval()
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise SourceError(f"{out_dir} is a file: give a folder for the model (--out DIR)")
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}."))
    except OSError as err:
        raise SourceError(f"cannot write {out_dir}: {err.strerror or err}") from None
    try:
        report = _write(net, preset, tmp, tracker or preset.tracker, check, extra or {})
        publish_model_folder(tmp, out_dir)
        report.out_dir = out_dir
        return report
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write(net: SiamRPN, preset: Preset, tmp: Path, tracker: TrackerConfig, check: bool,
           extra: Dict[str, Any]) -> ExportReport:
    io = _io_spec(net)
    modules: Dict[str, torch.nn.Module] = {
        "template": TemplateBranch(net).eval(), "search": SearchBranch(net).eval(),
        "kernel_update": KernelUpdate(net).eval(),
    }
    dynamic = {
        "template": {spec.TEMPLATE_INPUT: {0: "N"}, spec.CLS_KERNEL: {0: "N"}, spec.REG_KERNEL: {0: "N"}},
        "search": {spec.SEARCH_INPUT: {2: "H", 3: "H"}, spec.CLS_OUTPUT: {2: "S", 3: "S"},
                   spec.REG_OUTPUT: {2: "S", 3: "S"}, spec.FEATURE_OUTPUT: {2: "Hf", 3: "Hf"}},
        "kernel_update": {spec.FEATURE_OUTPUT: {2: "Hf", 3: "Hf"}, spec.WINDOW_INDEX: {0: "N36"},
                          spec.WINDOW_WEIGHT: {0: "N"}},
    }
    x = _sample_inputs(net, 271, torch.Generator().manual_seed(1))
    for role, module in modules.items():
        log.info("exporting %s graph", role)
        _export_one(module, _graph_args(role, x), tmp / f"{role}.onnx", io[role], dynamic[role])
    report = ExportReport(tmp)
    if check:
        _check(modules, tmp, net, report)
        log.info("ONNX Runtime vs torch, worst relative error %.2e", report.worst)
        if report.worst > TOLERANCE:
            raise RuntimeError(f"exported graphs differ from torch (relative error {report.worst:.2e}):\n"
                               f"{report.table()}")
    check_block = {"max_rel_error": report.worst, "sizes": list(CHECK_SIZES)} if check else None
    create_model_folder(tmp, preset.name, net.network, tracker,
                        {role: {"file": f"{role}.onnx", **io[role]} for role in modules},
                        {"check": check_block, **extra})
    return report
