"""dasiamrt against OpenCV's TrackerDaSiamRPN and the torch reference, same weights, same clip, one run.

Usage: python benchmarks/peers.py [--rounds 7] [--frames 30] [--threads 2] [--work DIR] [--json FILE]

What runs (vot layout, seeded random weights as ``dasiamrt export --random SEED --preset vot``:
speed does not depend on the weights; search 271, distractor-aware and long-term off):

* dasiamrt fp32: the ONNX Runtime backend on the fp32 graphs;
* dasiamrt INT8: ``--precision int8``, i.e. the INT8 form :func:`dasiamrt.int8_forms.choose_int8_form`
  picks for this CPU (printed; ``int8-cpu``, integer QLinearConv, on a CPU with VNNI / ARM dot
  product), calibrated on the bundled clip (8 crops per input: enough for timing);
* OpenCV: ``cv2.TrackerDaSiamRPN`` on the files of ``dasiamrt export --format opencv`` (same weights);
* torch: dasiamrt's tracker on the torch reference backend (the PyTorch network, as the official
  code runs it).

Only the tracking loop is timed (``track``/``update`` per frame; frames decoded beforehand, the
template pass at init not counted). The trackers take turns: every round runs each of them over the
same frames (after ``--warmup`` untimed frames), in an order rotated each round, so that load from
other jobs on the machine hits all alike. FPS per round = timed frames / their total time; the table
gives the median over rounds and the per-round ratio to OpenCV (median and range). Thread counts
are set for every library (ONNX Runtime intra-op threads, ``cv2.setNumThreads``,
``torch.set_num_threads``) and printed with the CPU's flags and the load average.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from dasiamrt.assets import DEMO_CLIP, DEMO_INIT_XYWH
from dasiamrt.bench.run import load_frames
from dasiamrt.cpu_features import detect

SEED = 0


def prepare(work: Path, seed: int) -> Dict[str, Path]:
    """The vot network with random weights (``seed``): dasiamrt model folder (+ INT8 forms), OpenCV files, weights."""
    from dasiamrt.artifacts.model_folder import read_model_dir
    from dasiamrt.calib.api import calibrate
    from dasiamrt.calib.collect import CollectConfig
    from dasiamrt.config import get_preset
    from dasiamrt.export import export_model
    from dasiamrt.export.opencv import export_opencv
    from dasiamrt.model import build_network, save_checkpoint

    preset = get_preset("vot")
    paths = {"model": work / "vot", "opencv": work / "opencv", "weights": work / "vot.pth"}
    if not (paths["model"] / "model.json").is_file() or not (paths["opencv"] / "dasiamrpn_model.onnx").is_file():
        net = build_network(preset.network, seed=seed)
        export_model(net, preset, paths["model"], check=False, extra={"random_weights_seed": seed})
        export_opencv(net, paths["opencv"])
        save_checkpoint(net.state_dict(), paths["weights"])
    if not {"int8-cpu", "int8-cpu-w7"} <= set(read_model_dir(paths["model"]).manifest.get("variants", {})):
        print("calibrating the INT8 forms (8 crops per input) ...", file=sys.stderr, flush=True)
        calibrate(str(paths["model"]), [str(DEMO_CLIP)], [DEMO_INIT_XYWH],
                  cfg=CollectConfig(per_input=8, seed=0, search_sizes=(255, 271, 767)), max_frames=40,
                  forms=("int8", "int8-cpu", "int8-cpu-w7"))
    return paths


class _OpenCV:
    """cv2.TrackerDaSiamRPN behind the init/track calls the loop uses."""

    def __init__(self, folder: Path) -> None:
        import cv2

        params = cv2.TrackerDaSiamRPN_Params()
        params.model = str(folder / "dasiamrpn_model.onnx")
        params.kernel_r1 = str(folder / "dasiamrpn_kernel_r1.onnx")
        params.kernel_cls1 = str(folder / "dasiamrpn_kernel_cls1.onnx")
        self.tracker = cv2.TrackerDaSiamRPN_create(params)

    def init(self, frame: np.ndarray, box: Sequence[float]) -> None:
        self.tracker.init(frame, tuple(int(round(v)) for v in box))

    def track(self, frame: np.ndarray) -> Any:
        return self.tracker.update(frame)


def make_trackers(paths: Dict[str, Path], threads: int) -> Dict[str, Any]:
    """name -> object with init(frame, box) and track(frame)."""
    import cv2
    import torch

    from dasiamrt.config import get_preset
    from dasiamrt.runtime.tracker import Tracker

    cv2.setNumThreads(threads)
    torch.set_num_threads(threads)
    vot = get_preset("vot").tracker
    int8 = Tracker.from_model(str(paths["model"]), backend="ort", threads=threads, precision="int8")
    return {
        "dasiamrt fp32 (ort)": Tracker.from_model(str(paths["model"]), backend="ort", threads=threads),
        f"dasiamrt INT8 (ort, {int8.backend.int8_form})": int8,
        "OpenCV TrackerDaSiamRPN": _OpenCV(paths["opencv"]),
        "dasiamrt torch reference": Tracker.from_weights(str(paths["weights"]), preset="vot", backend="torch",
                                                         config=vot),
    }


def time_loop(tracker: Any, frames: List[np.ndarray], warmup: int) -> List[float]:
    """Seconds per tracked frame after ``warmup`` frames (init on frame 0, not timed)."""
    tracker.init(frames[0], DEMO_INIT_XYWH)
    times = []
    for i, frame in enumerate(frames[1:]):
        start = time.perf_counter()
        tracker.track(frame)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return times


def run_rounds(trackers: Dict[str, Any], frames: List[np.ndarray], rounds: int, warmup: int,
               log: Callable[[str], None]) -> Dict[str, List[List[float]]]:
    """Interleaved rounds: each round every tracker once, in an order rotated per round."""
    names = list(trackers)
    times: Dict[str, List[List[float]]] = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            times[name].append(time_loop(trackers[name], frames, warmup))
        log(f"round {r + 1}/{rounds}: " + ", ".join(f"{n} {len(t[-1]) / sum(t[-1]):.1f}" for n, t in times.items()))
    return times


def table(times: Dict[str, List[List[float]]], reference: str) -> List[Dict[str, Any]]:
    """Per tracker: FPS per round, median FPS, median ms/frame, ratio to ``reference`` per round."""
    ref_fps = [len(t) / sum(t) for t in times[reference]]
    rows = []
    for name, runs in times.items():
        fps = [len(t) / sum(t) for t in runs]
        ratios = [a / b for a, b in zip(fps, ref_fps)]
        rows.append({"tracker": name, "fps_rounds": fps, "fps": statistics.median(fps),
                     "ms": 1e3 * statistics.median([x for t in runs for x in t]),
                     "ratio": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios)})
    return rows


def markdown(rows: List[Dict[str, Any]], reference: str) -> str:
    lines = [f"| tracker | FPS (median of rounds) | FPS min-max | ms/frame (median) | x {reference} (median, range) |",
             "|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['tracker']} | {r['fps']:.1f} | {min(r['fps_rounds']):.1f}-{max(r['fps_rounds']):.1f} | "
                     f"{r['ms']:.1f} | {r['ratio']:.2f} ({r['ratio_min']:.2f}-{r['ratio_max']:.2f}) |")
    return "\n".join(lines)


def environment(threads: int) -> Dict[str, Any]:
    import cv2
    import onnxruntime
    import torch

    cpu = detect()
    return {"cpu": cpu.summary(), "machine": cpu.machine, "cores": os.cpu_count(), "threads": threads,
            "flags": sorted(f for f in cpu.flags if f.startswith(("avx", "amx", "asimd", "fma", "sse4"))),
            "onnxruntime": onnxruntime.__version__, "opencv": cv2.__version__, "torch": torch.__version__,
            "opencv_threads": cv2.getNumThreads(), "torch_threads": torch.get_num_threads()}


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    p.add_argument("--frames", type=int, default=30, help="timed frames per tracker and round (default 30)")
    p.add_argument("--warmup", type=int, default=3, help="untimed frames before them (default 3)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                   help="threads for every library (default: the cores)")
    p.add_argument("--seed", type=int, default=SEED, help="random-weight seed (default 0)")
    p.add_argument("--work", default="/tmp/dasiamrt-peers", help="folder for the exported model and OpenCV files")
    p.add_argument("--json", metavar="FILE", help="also write the rows and the environment here")
    args = p.parse_args(argv)
    import cv2

    if not hasattr(cv2, "TrackerDaSiamRPN"):
        print("this OpenCV build has no TrackerDaSiamRPN (it needs the dnn module)", file=sys.stderr)
        return 2
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    paths = prepare(work, args.seed)
    frames = load_frames(None, 1 + args.warmup + args.frames)
    trackers = make_trackers(paths, args.threads)
    env = environment(args.threads)
    load_start = os.getloadavg()
    times = run_rounds(trackers, frames, args.rounds, args.warmup, lambda m: print(m, file=sys.stderr, flush=True))
    load_end = os.getloadavg()
    reference = "OpenCV TrackerDaSiamRPN"
    rows = table(times, reference)
    print(markdown(rows, reference))
    print(f"\n{env['cpu']}; flags {' '.join(env['flags'])}; {env['cores']} cores; threads: ONNX Runtime "
          f"{args.threads}, OpenCV {env['opencv_threads']}, torch {env['torch_threads']}; onnxruntime "
          f"{env['onnxruntime']}, OpenCV {env['opencv']}, torch {env['torch']}; {args.rounds} rounds x "
          f"{args.frames} frames at 271 (vot, random weights seed {args.seed}), bundled clip; load average "
          f"{load_start[0]:.1f} at the start, {load_end[0]:.1f} at the end")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "environment": env, "load": [load_start, load_end],
                                               "args": vars(args)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
