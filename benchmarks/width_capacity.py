"""Capacity vs speed: backbone width -> parameters, GFLOP, exported size and tracking FPS (ORT fp32, 255).

Networks: the AlexNet-like SiamRPN at width 0.25 (the bundled ``tiny``), 0.375 and 0.5 (half), with
F = 256 x width correlation channels, and any named preset's network (``--presets mobile``: the
MobileNetV2 backbone); seeded random weights (speed and size do not depend on the
values), exported by the project's exporter. FPS: the whole tracking loop (crop, search, post) on the
bundled demo clip, ONNX Runtime fp32, search 255, DA/LT off, 2 threads, after 5 warm-up frames.
Validation AUC is filled in from training runs where a width was trained (``--auc 0.25=0.47``).

    python benchmarks/width_capacity.py [--frames 120] [--widths 0.25,0.375,0.5] [--presets mobile]
        [--auc 0.25=0.47] [--auc mobile=0.5] [--out X.md]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Dict

from dasiamrt.assets import DEMO_CLIP, DEMO_INIT_XYWH
from dasiamrt.bench.run import load_frames, run_case
from dasiamrt.config import NetworkConfig, Preset, get_preset
from dasiamrt.runtime.tracker import Tracker


def _gflop(net: object, size: int = 255) -> float:
    """Multiply-adds x 2 of the search branch (backbone + heads + correlation) at ``size``, by hooks."""
    import torch

    total = [0.0]

    def hook(module: torch.nn.Conv2d, inputs: object, output: torch.Tensor) -> None:
        k = module.weight[0].numel()
        total[0] += 2.0 * k * output.numel()

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, torch.nn.Conv2d)]  # type: ignore[attr-defined]
    with torch.no_grad():
        net(torch.zeros(1, 3, 127, 127), torch.zeros(1, 3, size, size))  # type: ignore[operator]
    for h in handles:
        h.remove()
    return total[0] / 1e9


def measure(network: NetworkConfig, frames: list, threads: int) -> Dict[str, float]:
    from dasiamrt.export.onnx_export import export_model
    from dasiamrt.model import build_network

    preset = Preset(network.name, network, get_preset("tiny").tracker, "width study")
    net = build_network(network, seed=0)
    params = sum(p.numel() for p in net.parameters())
    with tempfile.TemporaryDirectory() as tmp:
        export_model(net, preset, tmp, check=False)
        size_mb = sum(p.stat().st_size for p in Path(tmp).glob("*.onnx")) / 1e6
        tracker = Tracker.from_model(tmp, threads=threads)
        result = run_case(tracker, frames, DEMO_INIT_XYWH, warmup=5)
        tracker.close()
    return {"params_m": params / 1e6, "gflop": _gflop(net), "size_mb": size_mb, "fps": result.fps,
            "search_ms": result.stage_ms.get("search", {}).get("median", float("nan"))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", default="0.25,0.375,0.5")
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--presets", default="", help="also these presets' networks, e.g. mobile")
    parser.add_argument("--auc", action="append", default=[], help="WIDTH=AUC or PRESET=AUC measured on validation")
    parser.add_argument("--out")
    args = parser.parse_args()
    frames = load_frames(str(DEMO_CLIP), args.frames + 1)
    aucs = dict(a.split("=", 1) for a in args.auc)
    rows = []
    # (key of --auc, row label, network)
    networks = [(str(w), str(w), NetworkConfig(f"w{w}", width=w, feature_out=int(round(256 * w))))
                for w in (float(v) for v in args.widths.split(",") if v)]
    networks += [(name, f"{name} ({get_preset(name).network.backbone})", get_preset(name).network)
                 for name in args.presets.split(",") if name]
    for key, label, network in networks:
        r = measure(network, frames, args.threads)
        rows.append(f"| {label} | {network.feature_out} | {r['params_m']:.2f} | {r['gflop']:.2f} | "
                    f"{r['size_mb']:.1f} | {r['fps']:.0f} | {aucs.get(key, 'not trained')} |")
        print(rows[-1], file=sys.stderr)
    from dasiamrt.cpu_features import detect

    text = "\n".join(["| width / network | F | parameters (M) | GFLOP per 255 search | ONNX size (MB) | demo-clip FPS "
                      "(ORT fp32, 255) | validation AUC |", "|---|---|---|---|---|---|---|", *rows, "",
                      f"CPU: {detect().summary()}; {args.threads} threads; {args.frames} frames of the demo clip.", ""])
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
