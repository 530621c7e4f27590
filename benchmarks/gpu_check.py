"""One prepared GPU check: ``python benchmarks/gpu_check.py --out DIR`` (<= 8 minutes by default).

Writes ``DIR/gpu_check.json`` and ``DIR/gpu_check.md`` (one table: section, status, result). Each
section runs under try/except into the report and inside a time budget, with a progress line on
stderr (run with PYTHONUNBUFFERED=1 to see them live):

1. versions: driver, CUDA, GPU, TensorRT, cuda-python, pycuda, CuPy, torch, ONNX Runtime, CPU flags;
2. device layer on real CUDA (``dasiamrt.trt.cuda_device``): pinned buffers, async H2D/D2H/D2D
   copies on a stream, CUDA graph capture + launch of a copy, checked byte for byte;
3. the real tracking loop on the GPU through the torch backend (``--device cuda``): the vot network
   at 255 and 767, fp32/fp16, eager/one CUDA graph per search size, distractor-aware off/on, with
   FPS and per-stage times (crop, template, search, post, fusion; table in DIR/torch_gpu.md), and
   boxes vs the CPU fp32 tracker over the bundled clip (vot random weights, bundled trained model);
4. where TensorRT exists: ``pytest -m "gpu or trt"``, ``dasiamrt build`` fp32/fp16/int8,
   ``dasiamrt bench --backend trt``, and TensorRT fp16 boxes vs ONNX Runtime over the bundled clip
   (<= 1 px).

Without a GPU every section says why it was skipped and the script exits 0 (the test suite runs
it so on a CPU). Nothing here is imported by the package.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Dict, List

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class Skip(Exception):
    """A section that cannot run here (reason in the message)."""


def _progress(text: str) -> None:
    print(f"gpu_check: {text}", file=sys.stderr, flush=True)


def _version(name: str) -> Any:
    try:
        module = __import__(name, fromlist=["_"])
        return str(getattr(module, "__version__", "present"))
    except Exception as err:  # noqa: BLE001 - absent or broken
        return f"absent ({type(err).__name__})"


def versions(ctx: Dict[str, Any]) -> Dict[str, Any]:
    from dasiamrt.bench.env import system_info

    info = system_info()
    for name in ("torch", "cupy", "cuda.bindings", "cuda", "pycuda", "onnxruntime", "numpy", "cv2"):
        info[f"module {name}"] = _version(name)
    try:
        import torch

        info["torch cuda"] = torch.version.cuda
        info["torch gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except Exception:  # noqa: BLE001
        pass
    return info


def device_layer(ctx: Dict[str, Any]) -> Dict[str, Any]:
    import numpy as np

    from dasiamrt.errors import DasiamrtError
    from dasiamrt.trt.cuda_device import open_device

    try:
        device = open_device()
    except DasiamrtError as err:
        raise Skip(str(err)) from None
    with device:
        gpu = device.info()
        stream = device.stream()
        n = 1 << 20
        src = device.pinned((n,), np.float32)
        src[:] = np.arange(n, dtype=np.float32)
        a, b = device.malloc(src.nbytes), device.malloc(src.nbytes)
        back = device.pinned((n,), np.float32)
        start = time.perf_counter()
        device.memcpy_htod_async(a, src, stream)
        device.memcpy_dtod_async(b, a, src.nbytes, stream)
        device.memcpy_dtoh_async(back, b, stream)
        device.synchronize(stream)
        copy_ms = (time.perf_counter() - start) * 1e3
        ok_copy = bool(np.array_equal(back, src))
        back[:] = 0
        graph_ok: Any = "not tried"
        try:
            device.begin_capture(stream)
            device.memcpy_dtod_async(a, b, src.nbytes, stream)
            graph = device.end_capture(stream)
            zeros = device.pinned((n,), np.float32)
            zeros[:] = 0
            device.memcpy_htod_async(a, zeros, stream)  # a := 0, then the replayed graph copies b (= src) into a
            device.launch_graph(graph, stream)
            device.memcpy_dtoh_async(back, a, stream)
            device.synchronize(stream)
            graph_ok = bool(np.array_equal(back, src))
        except DasiamrtError as err:
            graph_ok = f"no CUDA graphs ({err})"
    return {"binding": device.binding, "gpu": gpu.name, "sm": gpu.compute_capability, "copies_equal": ok_copy,
            "4 MiB h2d+d2d+d2h ms": round(copy_ms, 3), "graph_replay_equal": graph_ok}


def torch_tracking(ctx: Dict[str, Any]) -> Dict[str, Any]:
    """The real Tracker loop through the torch backend on the GPU (``--device cuda``), bundled clip.

    Speed: the vot network (seeded random weights; speed does not depend on them) at 255 and 767,
    fp32/fp16, eager/CUDA graph, distractor-aware off/on: FPS and per-stage medians (crop,
    template, search, post, fusion), written as a table to DIR/torch_gpu.md. Boxes: the same
    trackers vs the CPU fp32 tracker, for vot (random) and the bundled trained model.
    """
    try:
        import torch
    except ImportError:
        raise Skip("torch is not installed") from None
    if not torch.cuda.is_available():
        raise Skip(f"torch {torch.__version__} sees no CUDA GPU (torch CUDA: {torch.version.cuda})")
    from dasiamrt.bench.run import BenchReport, load_frames, machine_info
    from dasiamrt.config import get_preset
    from dasiamrt.model import build_network

    clip = load_frames(None, 1000)
    vot = build_network(get_preset("vot").network, seed=0)
    out: Dict[str, Any] = {"torch": torch.__version__, "gpu": torch.cuda.get_device_name(0),
                           "clip frames": len(clip)}
    report = BenchReport("vot (random weights), torch --device cuda, bundled clip", machine_info())
    for size in (255, 767):
        for precision in ("fp32", "fp16"):
            for graph in (False, True):
                for da_on in (False, True):
                    label = f"vot {size} {precision} {'graph' if graph else 'eager'} DA {'on' if da_on else 'off'}"
                    out[label] = _guarded(ctx, 40, _time_case, vot, size, precision, graph, da_on, clip, report)
    (Path(ctx["out"]) / "torch_gpu.md").write_text(report.table() + "\n")
    out["boxes"] = _guarded(ctx, 90, _boxes_vs_cpu, vot, clip, ctx)
    return out


def _guarded(ctx: Dict[str, Any], need_s: float, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``, or why not: budget left under ``need_s``, or the error (one case never ends the section)."""
    if ctx["left"]() < need_s:
        return "skipped: time budget spent"
    try:
        return fn(*args)
    except Exception as err:  # noqa: BLE001 - recorded, the next case runs
        return f"error: {type(err).__name__}: {str(err)[:300]}"


def _gpu_tracker(net: Any, config: Any, precision: str, graph: bool) -> Any:
    from dasiamrt.runtime.backends.torch_backend import TorchBackend
    from dasiamrt.runtime.tracker import Tracker

    return Tracker(TorchBackend(net, device="cuda", precision=precision, cuda_graph=graph), config)


def _time_case(net: Any, size: int, precision: str, graph: bool, da_on: bool, clip: List[Any], report: Any) -> str:
    import torch

    from dasiamrt.assets import DEMO_INIT_XYWH
    from dasiamrt.bench.run import run_case
    from dasiamrt.config import get_preset

    config = get_preset("vot").tracker.replace(instance_size=size, small_instance_size=None,
                                               distractor={"enabled": da_on}, long_term={"enabled": False})
    torch.cuda.reset_peak_memory_stats()
    with _gpu_tracker(net, config, precision, graph) as tracker:
        result = run_case(tracker, clip[:41], DEMO_INIT_XYWH, warmup=5)
        what = tracker.backend.describe()
    result.case.backend = "torch graph" if graph else "torch eager"
    report.results.append(result)
    st = {k: v["median"] for k, v in result.stage_ms.items()}
    line = (f"{result.fps:.0f} FPS, loop {result.loop_ms['median']:.2f}/{result.loop_ms['p90']:.2f} ms (median/p90); "
            f"crop {st['crop']:.2f}, search {st['search']:.2f}, post {st['post']:.2f}, fusion {st['fusion']:.2f}, "
            f"template {result.template_ms:.1f} ms; peak {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB; {what}")
    _progress(f"  {size} {precision} {'graph' if graph else 'eager'} DA {'on' if da_on else 'off'}: {line[:40]}")
    return line


def _track(tracker: Any, clip: List[Any]) -> Any:
    import numpy as np

    from dasiamrt.assets import DEMO_INIT_XYWH

    with tracker:
        tracker.init(clip[0], DEMO_INIT_XYWH)
        return np.array([tracker.track(frame).bbox_xywh for frame in clip[1:]])


def _boxes_vs_cpu(vot: Any, clip: List[Any], ctx: Dict[str, Any]) -> Dict[str, Any]:
    """Max / mean box difference (px) of the GPU trackers (CUDA graphs) vs the CPU fp32 tracker."""
    import numpy as np

    from dasiamrt.artifacts.model_folder import read_model_dir
    from dasiamrt.assets import BUNDLED_MODEL, BUNDLED_WEIGHTS
    from dasiamrt.config import get_preset
    from dasiamrt.model import load_network
    from dasiamrt.runtime.backends.torch_backend import TorchBackend
    from dasiamrt.runtime.tracker import Tracker

    bundled = read_model_dir(BUNDLED_MODEL)
    cases = [("vot random 255 DA on", vot, get_preset("vot").tracker, 255, clip),
             ("vot random 767 DA on", vot, get_preset("vot").tracker, 767, clip[:61]),
             (f"bundled {bundled.preset} (trained) 255 DA on", load_network(str(BUNDLED_WEIGHTS), bundled.network),
              bundled.tracker, 255, clip)]
    out: Dict[str, Any] = {}
    for name, net, base, size, frames in cases:
        if ctx["left"]() < 40:
            out[name] = "skipped: time budget spent"
            continue
        config = base.replace(instance_size=size, small_instance_size=None, distractor={"enabled": True},
                              long_term={"enabled": False})
        reference = _track(Tracker(TorchBackend(net), config), frames)
        for precision in ("fp32", "fp16"):
            diff = np.abs(_track(_gpu_tracker(net, config, precision, True), frames) - reference).max(axis=1)
            out[f"{name} {precision} graph vs CPU fp32 ({len(frames) - 1} frames)"] = (
                f"max {diff.max():.3f} px, mean {diff.mean():.3f} px, first frame > 1 px: "
                f"{int(np.argmax(diff > 1)) + 1 if (diff > 1).any() else '-'}")
        _progress(f"  boxes: {name} done")
    return out


def tensorrt(ctx: Dict[str, Any]) -> Dict[str, Any]:
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        raise Skip("TensorRT is not installed (gpu/trt tests, build, bench --backend trt skipped)") from None
    out_dir = Path(ctx["out"])
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    results: Dict[str, Any] = {}
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "gpu or trt", "tests"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=max(30, ctx["left"]() - 120))
    results["pytest -m 'gpu or trt'"] = (tests.stdout.strip().splitlines() or ["?"])[-1]
    model = out_dir / "model_tiny"
    if not model.exists():
        import shutil

        from dasiamrt.assets import BUNDLED_MODEL

        shutil.copytree(BUNDLED_MODEL, model)
    from dasiamrt.assets import DEMO_CLIP, DEMO_INIT_XYWH

    calib = subprocess.run([sys.executable, "-m", "dasiamrt.cli", "calibrate", "--model", str(model), "--source",
                            str(DEMO_CLIP), "--init", ",".join(str(v) for v in DEMO_INIT_XYWH)], env=env,
                           capture_output=True, text=True, timeout=max(30, ctx["left"]()))
    results["calibrate (for int8)"] = "ok" if calib.returncode == 0 else calib.stderr.strip()[-200:]
    for precision in ("fp32", "fp16", "int8"):
        run = subprocess.run([sys.executable, "-m", "dasiamrt.cli", "build", "--model", str(model), "--precision",
                              precision], env=env, capture_output=True, text=True, timeout=max(30, ctx["left"]()))
        results[f"build {precision}"] = "ok" if run.returncode == 0 else run.stderr.strip()[-200:]
    bench = subprocess.run([sys.executable, "-m", "dasiamrt.cli", "bench", "--model", str(model), "--backend", "trt",
                            "--precision", "fp16", "--json", str(out_dir / "bench_trt.json")], env=env,
                           capture_output=True, text=True, timeout=max(30, ctx["left"]()))
    results["bench --backend trt fp16"] = bench.stdout.strip()[-600:] if bench.returncode == 0 else bench.stderr[-200:]
    results["fp16 boxes vs ort (max px)"] = _boxes_vs_ort(model)
    return results


def _boxes_vs_ort(model: Path) -> float:
    from dasiamrt.assets import DEMO_CLIP, DEMO_INIT_XYWH
    from dasiamrt.runtime.tracker import Tracker
    from dasiamrt.videoio import open_source

    ref = Tracker.from_model(str(model), backend="ort")
    fast = Tracker.from_model(str(model), backend="trt", precision="fp16")
    worst = 0.0
    with ref, fast, open_source(str(DEMO_CLIP)) as src:
        for i, (_, frame) in enumerate(src):
            if i == 0:
                ref.init(frame, DEMO_INIT_XYWH)
                fast.init(frame, DEMO_INIT_XYWH)
                continue
            a, b = ref.track(frame).bbox_xywh, fast.track(frame).bbox_xywh
            worst = max(worst, max(abs(u - v) for u, v in zip(a, b)))
    return round(worst, 3)


SECTIONS = [("versions", versions), ("device layer (real CUDA)", device_layer),
            ("tracking on the GPU (torch)", torch_tracking), ("TensorRT", tensorrt)]


def run(out: Path, budget_s: float) -> Dict[str, Any]:
    started = time.monotonic()
    ctx: Dict[str, Any] = {"out": str(out), "left": lambda: budget_s - (time.monotonic() - started)}
    report: Dict[str, Any] = {"machine": platform.node(), "python": sys.version.split()[0], "sections": []}
    for name, fn in SECTIONS:
        if ctx["left"]() <= 5:
            report["sections"].append({"section": name, "status": "skipped", "result": "time budget spent"})
            continue
        _progress(f"{name} ...")
        t0 = time.monotonic()
        try:
            result: Any = fn(ctx)
            status = "ok"
        except Skip as why:
            status, result = "skipped", str(why)
        except Exception as err:  # noqa: BLE001 - every failure goes into the report
            status, result = "error", f"{type(err).__name__}: {err}"
            report.setdefault("tracebacks", {})[name] = traceback.format_exc()[-2000:]
        report["sections"].append({"section": name, "status": status, "result": result,
                                   "seconds": round(time.monotonic() - t0, 1)})
        _progress(f"{name}: {status}")
    return report


def markdown(report: Dict[str, Any]) -> str:
    rows = ["| section | status | result |", "|---|---|---|"]
    for sec in report["sections"]:
        result = sec["result"]
        text = "<br>".join(f"{k}: {v}" for k, v in result.items()) if isinstance(result, dict) else str(result)
        rows.append(f"| {sec['section']} | {sec['status']} | {text.replace('|', '/')} |")
    return "\n".join(rows) + "\n"


def main(argv: List[str] = None) -> int:  # type: ignore[assignment]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="folder for gpu_check.json and gpu_check.md")
    parser.add_argument("--budget", type=float, default=480.0, help="seconds for all sections (default 480)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    report = run(args.out, args.budget)
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=2, default=str))
    table = markdown(report)
    (args.out / "gpu_check.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
