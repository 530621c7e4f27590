"""One prepared GPU check: ``python3 benchmarks/gpu_check.py --out DIR`` (<= 8 minutes by default).

On the lent device machine: ``PYTHONUNBUFFERED=1 python3 benchmarks/gpu_check.py --out "$OUT" --budget 420``
with the tool's ``timeout_s`` about 540 (the results come back only from ``$OUT``).

Writes ``DIR/gpu_check.json`` and ``DIR/gpu_check.md`` (one table: section, status, result), rewritten
after every section and every timed case, so a run killed from outside keeps what it measured (a
section cut short shows status ``running``); past the budget plus 60 s the script dumps its stack
and exits. Each section runs under try/except into the report and inside a time budget, with a
progress line on stderr (run with PYTHONUNBUFFERED=1 to see them live):

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
import faulthandler
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

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


#: distributions whose installed version the report names (``cuda`` is a namespace package without a version).
DISTRIBUTIONS = ("cuda-bindings", "cuda-python", "cupy-cuda13x", "cupy-cuda12x", "cupy-cuda11x", "pycuda", "tensorrt",
                 "onnxruntime-gpu", "onnxruntime")


def versions(ctx: Dict[str, Any]) -> Dict[str, Any]:
    from importlib import metadata

    from dasiamrt.bench.env import system_info

    info = system_info()
    for name in ("torch", "cupy", "cuda.bindings", "pycuda", "onnxruntime", "numpy", "cv2"):
        info[f"module {name}"] = _version(name)
    for dist in DISTRIBUTIONS:
        try:
            info[f"dist {dist}"] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    try:
        import torch

        info["torch cuda"] = torch.version.cuda
        info["torch gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except Exception:  # noqa: BLE001
        pass
    return info


def _gpu_visible() -> bool:
    """Whether torch sees a CUDA GPU (False without torch): tells "no GPU here" from a device layer that fails
    on a machine with one."""
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # noqa: BLE001 - absent or broken torch
        return False


def device_layer(ctx: Dict[str, Any]) -> Dict[str, Any]:
    import numpy as np

    from dasiamrt.errors import DasiamrtError, MissingDependencyError
    from dasiamrt.trt.cuda_device import open_device

    try:
        device = open_device()
    except DasiamrtError as err:
        if isinstance(err, MissingDependencyError) or not _gpu_visible():
            raise Skip(str(err)) from None
        raise  # a GPU is there and the device layer failed on it: an error, not a skip
    with device:
        gpu = device.info()
        stream = device.stream()
        n = 1 << 20
        src = device.pinned((n,), np.float32)
        src[:] = np.arange(n, dtype=np.float32)
        a, b = device.malloc(src.nbytes), device.malloc(src.nbytes)
        back = device.pinned((n,), np.float32)

        def copies() -> None:
            device.memcpy_htod_async(a, src, stream)
            device.memcpy_dtod_async(b, a, src.nbytes, stream)
            device.memcpy_dtoh_async(back, b, stream)
            device.synchronize(stream)

        copies()  # first use (lazy module loading, page mapping) out of the timing
        back[:] = 0
        start = time.perf_counter()
        copies()
        copy_ms = (time.perf_counter() - start) * 1e3
        ok_copy = bool(np.array_equal(back, src))
        back[:] = 0
        graph_ok: Any = "not tried"
        capturing = False
        try:
            device.begin_capture(stream)
            capturing = True
            device.memcpy_dtod_async(a, b, src.nbytes, stream)
            graph = device.end_capture(stream)
            capturing = False
            zeros = device.pinned((n,), np.float32)
            zeros[:] = 0
            device.memcpy_htod_async(a, zeros, stream)  # a := 0, then the replayed graph copies b (= src) into a
            device.launch_graph(graph, stream)
            device.memcpy_dtoh_async(back, a, stream)
            device.synchronize(stream)
            graph_ok = bool(np.array_equal(back, src))
        except Exception as err:  # noqa: BLE001 - the copies above are measured; keep them
            graph_ok = f"no CUDA graphs ({type(err).__name__}: {err})"
            if capturing:  # leave the stream out of capture mode before close() frees memory
                try:
                    device.end_capture(stream)
                except Exception:  # noqa: BLE001 - best effort
                    pass
            device.clear_error()
    return {"binding": device.binding, "gpu": gpu.name, "sm": gpu.compute_capability, "copies_equal": ok_copy,
            "4 MiB h2d+d2d+d2h ms (warm)": round(copy_ms, 3), "graph_replay_equal": graph_ok}


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
    out: Dict[str, Any] = ctx.setdefault("partial", {})  # filled case by case: saved if the run is cut short
    out.update({"torch": torch.__version__, "gpu": torch.cuda.get_device_name(0), "clip frames": len(clip)})
    report = BenchReport("vot (random weights), torch --device cuda, bundled clip", machine_info())
    for size in (255, 767):
        for precision in ("fp32", "fp16"):
            for graph in (False, True):
                for da_on in (False, True):
                    label = f"vot {size} {precision} {'graph' if graph else 'eager'} DA {'on' if da_on else 'off'}"
                    out[label] = _guarded(ctx, 40, _time_case, vot, size, precision, graph, da_on, clip, report)
                    (Path(ctx["out"]) / "torch_gpu.md").write_text(report.table() + STAGE_NOTE)
                    _save(ctx)
    out["boxes"] = {}
    stopped = _guarded(ctx, 90, _boxes_vs_cpu, vot, clip, ctx, out["boxes"])
    if isinstance(stopped, str):  # an error or the budget: the pairs measured before it stay
        out["boxes"]["stopped"] = stopped
    return out


#: under torch_gpu.md's table: what the per-stage columns mean on a GPU.
STAGE_NOTE = ("\nStage times are host-side laps. On CUDA a stage that only queues work (fusion: index_select, "
              "one conv, a copy) ends before its kernels do; they finish inside the next stage that reads back "
              "(search), so fusion here is its launch time and its GPU time is counted in search. FPS and loop "
              "times are not affected.\n")


def _save(ctx: Dict[str, Any]) -> None:
    """Rewrite the report files now (``ctx["save"]``, set by :func:`run`; absent in unit tests)."""
    save = ctx.get("save")
    if save is not None:
        save()


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
        replayed = size in tracker.backend.steps.graph_sizes  # a refused capture runs eagerly
    result.case.backend = "torch graph" if replayed else ("torch eager (capture refused)" if graph else "torch eager")
    report.results.append(result)
    st = {k: v["median"] for k, v in result.stage_ms.items()}
    line = (f"{result.fps:.0f} FPS, loop {result.loop_ms['median']:.2f}/{result.loop_ms['p90']:.2f} ms (median/p90); "
            f"crop {st['crop']:.2f}, search {st['search']:.2f}, post {st['post']:.2f}, fusion {st['fusion']:.2f}, "
            f"template {result.template_ms:.1f} ms; peak {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB; {what}")
    _progress(f"  {size} {precision} {'graph' if graph else 'eager'} DA {'on' if da_on else 'off'}: {line[:40]}")
    return line


def _track(tracker: Any, clip: List[Any]) -> Any:
    """(boxes (len(clip) - 1, 4), the backend's description) of one run over ``clip``."""
    import numpy as np

    from dasiamrt.assets import DEMO_INIT_XYWH

    with tracker:
        tracker.init(clip[0], DEMO_INIT_XYWH)
        boxes = np.array([tracker.track(frame).bbox_xywh for frame in clip[1:]])
        return boxes, tracker.backend.describe()


def _boxes_vs_cpu(vot: Any, clip: List[Any], ctx: Dict[str, Any],
                  into: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Max / mean box difference (px) of the GPU trackers (CUDA graphs) vs the CPU fp32 tracker, into ``into``
    (a new dict if None) pair by pair; returns it."""
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
    out: Dict[str, Any] = {} if into is None else into
    for name, net, base, size, frames in cases:
        if ctx["left"]() < 40:
            out[name] = "skipped: time budget spent"
            continue
        config = base.replace(instance_size=size, small_instance_size=None, distractor={"enabled": True},
                              long_term={"enabled": False})
        reference, _ = _track(Tracker(TorchBackend(net), config), frames)
        for precision in ("fp32", "fp16"):
            boxes, what = _track(_gpu_tracker(net, config, precision, True), frames)
            diff = np.abs(boxes - reference).max(axis=1)
            out[f"{name} {precision} graph vs CPU fp32 ({len(frames) - 1} frames)"] = (
                f"max {diff.max():.3f} px, mean {diff.mean():.3f} px, first frame > 1 px: "
                f"{int(np.argmax(diff > 1)) + 1 if (diff > 1).any() else '-'}; {what}")
        _progress(f"  boxes: {name} done")
        _save(ctx)
    return out


def tensorrt(ctx: Dict[str, Any]) -> Dict[str, Any]:
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        raise Skip("TensorRT is not installed (gpu/trt tests, build, bench --backend trt skipped)") from None
    import shutil
    import tempfile

    from dasiamrt.assets import BUNDLED_MODEL, DEMO_CLIP, DEMO_INIT_XYWH

    out_dir = Path(ctx["out"])
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    results: Dict[str, Any] = ctx.setdefault("partial", {})

    def step(label: str, args: List[str], reserve_s: float = 0.0, **kwargs: Any) -> Any:
        """Run one command within the budget (less ``reserve_s`` for what follows); its outcome goes to results."""
        limit = ctx["left"]() - reserve_s
        if limit < 20:
            results[label] = "skipped: time budget spent"
            return None
        run: Optional[subprocess.CompletedProcess[str]] = None
        try:
            run = subprocess.run(args, env=env, capture_output=True, text=True, timeout=limit, **kwargs)
            results[label] = "ok" if run.returncode == 0 else (run.stderr.strip() or run.stdout.strip())[-300:]
        except subprocess.TimeoutExpired:
            results[label] = f"timed out after {limit:.0f} s"
        _save(ctx)
        return run

    tests = step("pytest -m 'gpu or trt'", [sys.executable, "-m", "pytest", "-q", "-m", "gpu or trt", "tests"],
                 reserve_s=120, cwd=ROOT)
    if tests is not None:
        results["pytest -m 'gpu or trt'"] = (tests.stdout.strip().splitlines() or ["?"])[-1]
    work = Path(tempfile.mkdtemp(prefix="gpu_check_trt_"))  # engines and calibration stay out of DIR
    try:
        model = work / "model"
        shutil.copytree(BUNDLED_MODEL, model)
        cli = [sys.executable, "-m", "dasiamrt.cli"]
        step("calibrate (for int8)", cli + ["calibrate", "--model", str(model), "--source", str(DEMO_CLIP), "--init",
                                            ",".join(str(v) for v in DEMO_INIT_XYWH)])
        for precision in ("fp32", "fp16", "int8"):
            step(f"build {precision}", cli + ["build", "--model", str(model), "--precision", precision])
        bench_args = ["bench", "--model", str(model), "--backend", "trt", "--precision", "fp16", "--json",
                      str(out_dir / "bench_trt.json")]
        bench = step("bench --backend trt fp16", cli + bench_args)
        if bench is not None and bench.returncode == 0:
            results["bench --backend trt fp16"] = bench.stdout.strip()[-600:]
        results["fp16 boxes vs ort (max px)"] = _guarded(ctx, 30, _boxes_vs_ort, model)
    finally:
        shutil.rmtree(work, ignore_errors=True)
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
    """Every section in turn; the report files are rewritten after each section and each timed case."""
    started = time.monotonic()
    report: Dict[str, Any] = {"machine": platform.node(), "python": sys.version.split()[0], "sections": []}
    ctx: Dict[str, Any] = {"out": str(out), "left": lambda: budget_s - (time.monotonic() - started),
                           "save": lambda: write_report(out, report)}
    for name, fn in SECTIONS:
        if ctx["left"]() <= 5:
            report["sections"].append({"section": name, "status": "skipped", "result": "time budget spent"})
            continue
        _progress(f"{name} ...")
        t0 = time.monotonic()
        ctx["partial"] = {}
        entry: Dict[str, Any] = {"section": name, "status": "running", "result": ctx["partial"]}
        report["sections"].append(entry)
        try:
            result: Any = fn(ctx)
            status = "ok"
        except Skip as why:
            status, result = "skipped", str(why)
        except Exception as err:  # noqa: BLE001 - every failure goes into the report
            status, result = "error", f"{type(err).__name__}: {err}"
            if ctx["partial"]:
                result = {**ctx["partial"], "error": result}
            report.setdefault("tracebacks", {})[name] = traceback.format_exc()[-2000:]
        entry.update(status=status, result=result, seconds=round(time.monotonic() - t0, 1))
        ctx["save"]()
        _progress(f"{name}: {status}")
    return report


def write_report(out: Path, report: Dict[str, Any]) -> str:
    """Write ``gpu_check.json`` and ``gpu_check.md`` (each atomically); returns the table."""
    table = markdown(report)
    for name, text in (("gpu_check.json", json.dumps(report, indent=2, default=str)), ("gpu_check.md", table)):
        staged = out / f".{name}.tmp"
        staged.write_text(text)
        os.replace(staged, out / name)
    return table


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
    # a hung CUDA call must not outlive the device tool's limit: the report written so far stays
    faulthandler.dump_traceback_later(args.budget + 60, exit=True)
    report = run(args.out, args.budget)
    faulthandler.cancel_dump_traceback_later()
    print(write_report(args.out, report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
