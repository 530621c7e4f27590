"""Test fixture: the tiny network exported to a model folder (template, search, kernel_update, model.json).

Uses the lead's ``dasiamrt.export.export_model`` where it exists; until then a local torch.onnx
export of the same contract (dasiamrt.spec names, dynamic N and H).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from torch import nn

from dasiamrt import spec
from dasiamrt.config import get_preset
from dasiamrt.model import SearchBranch, TemplateBranch, build_network


class KernelUpdate(nn.Module):
    """acc_out = acc + sum_ij w_ij conv_cls1(window_ij); fused = acc_out * inv_total (contract of kernel_update.onnx)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, search_features, weight_map, acc, inv_total):
        heads = self.net.conv_cls1(search_features)[0]  # (10F, S+3, S+3): K(window_ij) = heads[:, i:i+4, j:j+4]
        s = weight_map.shape[-1]
        w = weight_map.reshape(-1, 1)  # (S*S, 1)
        # out[:, u, v] = sum_ij w_ij heads[:, i+u, j+v]: 16 shifted (S, S) views, each one MatMul with w.
        cols = torch.stack([heads[:, u:u + s, v:v + s].reshape(heads.shape[0], -1) for u in range(4) for v in range(4)])
        summed = torch.matmul(cols, w)[..., 0].transpose(0, 1)  # (10F, 16)
        acc_out = acc + summed.reshape(acc.shape)
        return acc_out, acc_out * inv_total


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export_tiny(out_dir: Path, preset: str = "tiny", seed: int = 0) -> tuple:
    """Write the three graphs and model.json; returns (out_dir, torch net)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    p = get_preset(preset)
    net = build_network(p.network, seed=seed)
    f, c = p.network.feature_out, p.network.feature_channels
    z = torch.rand(1, 3, 127, 127) * 255
    x = torch.rand(1, 3, 255, 255) * 255
    ck, rk = torch.randn(10, f, 4, 4), torch.randn(20, f, 4, 4)
    kw = dict(opset_version=spec.OPSET, dynamo=False)
    with torch.no_grad():
        torch.onnx.export(TemplateBranch(net), (z,), str(out_dir / "template.onnx"), input_names=[spec.TEMPLATE_INPUT],
                          output_names=[spec.CLS_KERNEL, spec.REG_KERNEL],
                          dynamic_axes={spec.TEMPLATE_INPUT: {0: "N"}, spec.CLS_KERNEL: {0: "N"}, spec.REG_KERNEL: {0: "N"}}, **kw)
        torch.onnx.export(SearchBranch(net), (x, ck, rk), str(out_dir / "search.onnx"),
                          input_names=[spec.SEARCH_INPUT, spec.CLS_KERNEL, spec.REG_KERNEL],
                          output_names=[spec.CLS_OUTPUT, spec.REG_OUTPUT, spec.FEATURE_OUTPUT],
                          dynamic_axes={spec.SEARCH_INPUT: {2: "H", 3: "W"}}, **kw)
        feats = torch.randn(1, c, 22, 22)
        torch.onnx.export(KernelUpdate(net), (feats, torch.rand(1, 1, 17, 17), torch.randn(10, f, 4, 4), torch.ones(1)),
                          str(out_dir / "kernel_update.onnx"),
                          input_names=[spec.FEATURE_OUTPUT, "weight_map", "acc", "inv_total"], output_names=["acc_out", "fused"],
                          dynamic_axes={spec.FEATURE_OUTPUT: {2: "F", 3: "F"}, "weight_map": {2: "S", 3: "S"}}, **kw)
    graphs = {name: {"file": f"{name}.onnx", "sha256": _sha(out_dir / f"{name}.onnx")}
              for name in ("template", "search", "kernel_update")}
    manifest = {
        "format": "dasiamrt-model/1", "preset": preset,
        "network": {"name": p.network.name, "width": p.network.width, "feature_out": f, "feature_channels": c},
        "tracker": p.tracker.to_dict(), "opset": spec.OPSET, "precision": "fp32", "graphs": graphs,
    }
    (out_dir / spec.MODEL_MANIFEST).write_text(json.dumps(manifest, indent=2))
    return out_dir, net
