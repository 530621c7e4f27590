"""Capture -> result latency of ``dasiamrt live`` (ONNX Runtime backend), printed as a Markdown table.

A real clip (the bundled ``box.mp4``, 480x360) is played like a camera at several frame rates
(``RealtimeSource``) through the real live loop (latest-frame capture thread, tracker, JSON
records). For each case: the frames the tracker processed per second, the share of captured frames
dropped, the capture -> result latency (median, p90), and the tracker's own time per frame
(median), so ``latency - track`` is what the frame waited for the tracker to be free.

    python benchmarks/live_latency.py                       # bundled model, else tiny random weights
    python benchmarks/live_latency.py --model models/vot --rates 10,30 --threads 1,2 --seconds 8
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dasiamrt.assets import BUNDLED_MODEL, DEMO_CLIP, DEMO_INIT_XYWH  # noqa: E402
from dasiamrt.bench.run import machine_info, random_model_dir  # noqa: E402
from dasiamrt.live.session import live_source, run_live  # noqa: E402
from dasiamrt.runtime.tracker import Tracker  # noqa: E402


class TimedTracker:
    """Wraps a tracker and keeps the duration of each ``track`` call (seconds)."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker
        self.track_seconds: List[float] = []

    def init(self, frame: np.ndarray, bbox_xywh: Sequence[float]) -> None:
        self.tracker.init(frame, bbox_xywh)

    def track(self, frame: np.ndarray) -> Any:
        start = time.perf_counter()
        result = self.tracker.track(frame)
        self.track_seconds.append(time.perf_counter() - start)
        return result


class Records:
    """In-memory JSON sink."""

    description = "memory"

    def __init__(self) -> None:
        self.records: List[Dict[str, Any]] = []

    def write(self, record: Dict[str, Any]) -> None:
        self.records.append(record)

    def close(self) -> None:
        pass


def run_case(model: str, rate: float, threads: int, seconds: float) -> Dict[str, float]:
    """One live run of ``seconds`` on the clip played at ``rate`` FPS; latency stats exclude the init frame."""
    timed = TimedTracker(Tracker.from_model(model, backend="ort", threads=threads))
    sink = Records()
    stop = threading.Event()
    timer = threading.Timer(seconds, stop.set)
    timer.start()
    try:
        summary = run_live(timed, live_source(str(DEMO_CLIP), fps=rate, realtime=True), [sink],
                           init_box=DEMO_INIT_XYWH, stop=stop)
    finally:
        timer.cancel()
        timed.tracker.close()
    latencies = np.array([r["latency_ms"] for r in sink.records if r["state"] != "init"])
    track_ms = np.array(timed.track_seconds) * 1e3
    return {
        "rate": rate, "threads": threads, "fps": summary.processed / summary.seconds,
        "dropped": 100.0 * summary.dropped / max(summary.captured, 1), "frames": len(latencies),
        "median": float(np.median(latencies)), "p90": float(np.percentile(latencies, 90)),
        "track": float(np.median(track_ms)),
    }


def table(rows: List[Dict[str, float]]) -> str:
    header = ("| camera FPS | ORT threads | processed FPS | dropped | frames | latency median (ms) | latency p90 (ms) "
              "| track median (ms) |")
    lines = [header, "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['rate']:g} | {r['threads']} | {r['fps']:.1f} | {r['dropped']:.0f}% | {r['frames']} "
                     f"| {r['median']:.1f} | {r['p90']:.1f} | {r['track']:.1f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="exported model folder (default: bundled model, else tiny random weights)")
    parser.add_argument("--rates", default="10,30,60", help="camera frame rates to simulate (default 10,30,60)")
    parser.add_argument("--threads", default="1,2", help="ONNX Runtime intra-op threads per case (default 1,2)")
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each run (default 6 s)")
    args = parser.parse_args()
    if args.model:
        model, name = args.model, args.model
    elif (BUNDLED_MODEL / "model.json").is_file():
        model, name = str(BUNDLED_MODEL), f"bundled {BUNDLED_MODEL.name} model"
    else:
        model, name = str(random_model_dir("tiny")), "tiny network, random weights (seed 0)"
    rows = [run_case(model, float(rate), int(threads), args.seconds)
            for threads in args.threads.split(",") for rate in args.rates.split(",")]
    info = machine_info()
    print(f"dasiamrt live latency: {name}, ONNX Runtime {info.get('onnxruntime', '?')}, clip {DEMO_CLIP.name} "
          f"(480x360) played as a camera, {args.seconds:g} s per case\n")
    print(table(rows))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\n{info['cpu']}, {info['cores']} cores, load average {load:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
