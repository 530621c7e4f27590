"""Soak: track N frames through the Python API and watch the process memory (it must stay flat).

Frames are the bundled real clip played forwards and backwards over and over (no jump at the
seams), tracked by ``Tracker.from_model`` (ONNX Runtime) with the chosen settings. The resident set
size (``VmRSS`` of ``/proc/self/status``) is sampled every ``--every`` frames; the table shows it and
its change since the first sample after the warm-up. A leak of one search crop per frame would grow
it by ~0.8 MB per frame (GBs over the run); the tracker's own state is a few arrays of fixed size.

    MALLOC_MMAP_THRESHOLD_=131072 python benchmarks/soak.py --frames 20000 --da --long-term

(glibc: without a fixed mmap threshold, the first large block freed raises it for good and the
resident size steps up once by ~13 MiB, at a frame that depends on the model; flat afterwards.)
"""
from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

import numpy as np

from dasiamrt.artifacts.model_folder import read_model_dir
from dasiamrt.assets import BUNDLED_MODEL, DEMO_CLIP, DEMO_INIT_XYWH
from dasiamrt.bench.run import load_frames
from dasiamrt.runtime.tracker import Tracker


def rss_mb() -> float:
    """Resident set size of this process in MiB (Linux ``/proc``; peak RSS elsewhere)."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ping_pong(frames: List[np.ndarray]) -> Iterator[np.ndarray]:
    """The clip forwards, then backwards, forever."""
    order = list(range(len(frames))) + list(range(len(frames) - 2, 0, -1))
    while True:
        for index in order:
            yield frames[index]


def soak(frames: int, every: int = 1000, warmup: int = 500, da: bool = False, long_term: bool = False,
         threads: int = 1, model: Optional[str] = None) -> List[Tuple[int, float, float]]:
    """Track ``frames`` frames; returns (frame, RSS MiB, seconds) at the warm-up end and every ``every`` frames."""
    clip = load_frames(str(DEMO_CLIP), 10_000)
    source = ping_pong(clip)
    folder = model or BUNDLED_MODEL
    config = read_model_dir(folder).tracker.replace(distractor={"enabled": da}, long_term={"enabled": long_term})
    with Tracker.from_model(folder, backend="ort", config=config, threads=threads) as tracker:
        tracker.init(next(source), DEMO_INIT_XYWH)
        samples = []
        start = time.perf_counter()
        for t in range(1, frames + 1):
            tracker.track(next(source))
            if t == warmup or (t > warmup and t % every == 0) or t == frames:
                gc.collect()
                samples.append((t, rss_mb(), time.perf_counter() - start))
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--every", type=int, default=2000, help="frames between memory samples")
    parser.add_argument("--warmup", type=int, default=500, help="frames before the reference sample")
    parser.add_argument("--da", action="store_true", help="distractor-aware tracking on")
    parser.add_argument("--long-term", action="store_true", help="long-term 255 -> 767 switching on")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model", help="model folder (default: the bundled model)")
    args = parser.parse_args()
    from dasiamrt.cpu_features import detect

    samples = soak(args.frames, args.every, args.warmup, args.da, args.long_term, args.threads, args.model)
    base = samples[0][1]
    print(f"{args.model or 'bundled tiny model'}, ONNX Runtime {args.threads} thread(s), DA "
          f"{'on' if args.da else 'off'}, long-term {'on' if args.long_term else 'off'}; {detect().summary()}")
    print("\n| frames | RSS MiB | change since frame %d (MiB) | FPS so far |" % samples[0][0])
    print("|---:|---:|---:|---:|")
    for frame, rss, seconds in samples:
        print(f"| {frame} | {rss:.1f} | {rss - base:+.2f} | {frame / seconds:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
