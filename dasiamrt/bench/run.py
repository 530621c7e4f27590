"""``dasiamrt bench``: time the whole tracking loop and each stage on real frames.

Each case (backend, precision, search size, distractor-aware on/off) runs a fresh tracker over the
same frames of a real clip: ``init`` on frame 0, ``warmup`` tracked frames discarded, then
``frames`` tracked frames measured. Stages: crop (sub-window + resize + blob), template (init only),
search (the network), post (softmax, decode, penalties, window, argmax, box update), fusion (the
distractor-aware kernel update). Reported: median and p90 per stage in ms, and FPS = frames / total
time of the measured ``track`` calls. A fixed search size is forced per case (long-term switching
off), so the 767 row is what a ``lost`` frame costs.
"""
from __future__ import annotations

import logging
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Dict, List, Optional, Sequence

import numpy as np

from ..config import TrackerConfig, get_preset
from ..errors import ConfigError, SourceError

log = logging.getLogger(__name__)

STAGES = ("crop", "search", "post", "fusion")


@dataclass
class BenchCase:
    """One measured configuration."""

    backend: str
    precision: str
    search_size: int
    da: bool


@dataclass
class BenchResult:
    """Timings of one case: per-stage and per-frame medians/p90 in ms, FPS."""

    case: BenchCase
    frames: int
    fps: float
    loop_ms: Dict[str, float]
    stage_ms: Dict[str, Dict[str, float]]
    template_ms: float


@dataclass
class BenchReport:
    """All cases plus the machine they ran on."""

    model: str
    machine: Dict[str, Any]
    results: List[BenchResult] = field(default_factory=list)
    #: GPU memory of the engines (TensorRT backend: shared activation block, I/O buffers), MiB.
    engine_memory: Optional[Dict[str, float]] = None

    def table(self) -> str:
        head = ("| backend | precision | search | DA | FPS | loop median / p90 ms "
                "| crop | search | post | fusion | template (init) |")
        rows = [head, "|" + "---|" * 11]
        for r in self.results:
            st = r.stage_ms
            cells = [f"{st[s]['median']:.2f}" for s in STAGES]
            rows.append(
                f"| {r.case.backend} | {r.case.precision} | {r.case.search_size} | {'on' if r.case.da else 'off'} | "
                f"{r.fps:.1f} | {r.loop_ms['median']:.1f} / {r.loop_ms['p90']:.1f} | " + " | ".join(cells)
                + f" | {r.template_ms:.1f} |"
            )
        return "\n".join(rows)

    def notes(self) -> List[str]:
        """The lines under the table: the engines' GPU memory (TensorRT), the machine."""
        lines = []
        if self.engine_memory:
            m = self.engine_memory
            lines.append(f"engine GPU memory: {m['activation_mib']:.1f} MiB activation shared by {int(m['contexts'])} "
                         f"contexts ({m['activation_unshared_mib']:.1f} MiB if each had its own), "
                         f"{m['io_buffers_mib']:.1f} MiB I/O buffers")
        machine = self.machine
        cpu = machine.get("cpu_flags") or machine["cpu"]  # the name and the flags that decide CPU speed
        lines.append(f"{cpu}, {machine['cores']} cores; onnxruntime {machine.get('onnxruntime', '-')}")
        return lines

    def to_json(self) -> Dict[str, Any]:
        return {"model": self.model, "machine": self.machine, "results": [asdict(r) for r in self.results],
                "engine_memory": self.engine_memory}


def _stats(values: Sequence[float]) -> Dict[str, float]:
    arr = np.asarray(values, dtype=np.float64) * 1e3
    return {"median": float(np.median(arr)), "p90": float(np.percentile(arr, 90)), "mean": float(arr.mean())}


def machine_info() -> Dict[str, Any]:
    """CPU, cores, OS, library versions, and the GPU/driver/CUDA/TensorRT when present."""
    from .env import system_info

    info: Dict[str, Any] = dict(system_info(), platform=platform.platform(), cores=os.cpu_count())
    for name in ("numpy", "cv2", "torch"):
        module = sys.modules.get(name)
        if module is not None:
            info[name] = getattr(module, "__version__", "?")
    return info


def load_frames(source: Optional[str], count: int) -> List[np.ndarray]:
    """The first ``count`` frames of ``source`` (default: the bundled clip)."""
    from ..assets import DEMO_CLIP
    from ..videoio import open_source

    frames: List[np.ndarray] = []
    with open_source(source or str(DEMO_CLIP)) as src:
        for _, frame in src:
            frames.append(frame)
            if len(frames) >= count:
                break
    if len(frames) < 2:
        raise SourceError(f"{source or DEMO_CLIP} has fewer than 2 frames: benchmark needs a real clip")
    return frames


def cache_dir() -> Path:
    """Where dasiamrt caches exports: ``$XDG_CACHE_HOME/dasiamrt`` (default ``~/.cache/dasiamrt``)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dasiamrt"


def random_model_dir(preset_name: str, seed: int = 0, progress: Optional[IO[str]] = None) -> Path:
    """An exported model of ``preset_name`` with seeded random weights, cached in :func:`cache_dir`.

    Args:
        preset_name: network layout.
        seed: weight seed.
        progress: where to say that (and where) the export is made or reused (None: log only).
    """
    preset = get_preset(preset_name)  # an unknown name fails here, before anything is exported
    folder = cache_dir() / f"random-{preset.name}-seed{seed}"
    from ..artifacts.model_folder import is_model_folder

    if not is_model_folder(folder):
        from ..errors import MissingDependencyError

        MissingDependencyError.require(("torch", "onnx"), f"bench without --model (it exports the {preset.name} "
                                       "network with random weights once)",
                                       "pip install 'dasiamrt[export]', or time a model folder with --model DIR")
        from ..export.api import export_from_args

        log.info("exporting the %s network with random weights (seed %d) to %s", preset.name, seed, folder)
        if progress is not None:
            progress.write(f"dasiamrt bench: exporting the {preset.name} network with random weights once into "
                           f"{folder} (reused by later runs; delete it to free the space)\n")
        export_from_args(preset, None, seed, str(folder), check=False)
    if progress is not None:
        size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file()) / 2**20
        progress.write(f"dasiamrt bench: using the cached export {folder} ({size:.0f} MB)\n")
    return folder


def run_case(tracker: Any, frames: List[np.ndarray], init_box: Sequence[float], warmup: int,
             progress: Optional[IO[str]] = None, label: str = "") -> BenchResult:
    """Time one tracker over ``frames`` (see module docstring); ``tracker.config`` names the case.

    ``progress`` gets a ``\\r``-updated "label: frame i/n" line at most twice a second (a 767 case on
    a CPU takes tens of seconds); the caller ends the line.
    """
    from ..runtime.loop import track_frames

    shown = time.perf_counter()
    template_s = 0.0
    stages: Dict[str, List[float]] = {s: [] for s in STAGES}
    loop: List[float] = []
    for step in track_frames(tracker, frames, init_box):
        if step.index == 0:
            template_s = tracker.stage_seconds.get("template", 0.0)
            continue
        now = time.perf_counter()
        if progress is not None and now - shown > 0.5:
            shown = now
            progress.write(f"\r  {label}: frame {step.index}/{len(frames) - 1}")
            progress.flush()
        if step.index <= warmup:
            continue
        loop.append(step.seconds)
        for s in STAGES:
            stages[s].append(tracker.stage_seconds.get(s, 0.0))
    if not loop:
        raise SourceError(f"the clip has {len(frames)} frames, all used for init and {warmup} warm-up frames: "
                          "use a longer clip or a smaller --warmup")
    cfg: TrackerConfig = tracker.config
    case = BenchCase(tracker.backend.name, tracker.backend.precision, cfg.instance_size,
                     cfg.distractor.enabled)
    return BenchResult(case, len(loop), len(loop) / sum(loop), _stats(loop), {s: _stats(v) for s, v in stages.items()},
                       template_s * 1e3)


def run_bench(make_tracker: Any, model_name: str, sizes: Sequence[int], da_modes: Sequence[bool], frames: int,
              warmup: int, source: Optional[str], init_box: Optional[Sequence[float]],
              progress: Optional[IO[str]] = sys.stderr, setting: str = "") -> BenchReport:
    """Run every (size, DA) case with trackers from ``make_tracker(config_changes)``.

    ``model_name`` is stored in the report (``bench --merge`` labels its column with it); ``setting``
    (e.g. "backend ort fp32") is only shown in the progress header.
    """
    from ..assets import DEMO_CLIP, DEMO_INIT_XYWH

    if source and init_box is None:
        raise ConfigError("--source needs --init x,y,w,h for its first frame")
    if frames < 1 or warmup < 0:
        raise ConfigError(f"--frames must be >= 1 and --warmup >= 0, got {frames} and {warmup}")
    clip = load_frames(source or str(DEMO_CLIP), frames + warmup + 1)
    box = init_box or DEMO_INIT_XYWH
    report = BenchReport(model_name, machine_info())
    if progress is not None:
        progress.write(f"dasiamrt bench: {model_name}{', ' + setting if setting else ''}, "
                       f"{len(sizes) * len(da_modes)} cases, {frames} measured frames each\n")
    for size in sizes:
        for da in da_modes:
            with make_tracker({"instance_size": size, "small_instance_size": None,
                               "distractor": {"enabled": da}, "long_term": {"enabled": False}}) as tracker:
                label = f"{tracker.backend.name} {size} DA {'on' if da else 'off'}"
                result = run_case(tracker, clip, box, warmup, progress, label)
                memory = tracker.backend.memory_report()
                if memory:
                    report.engine_memory = memory
            report.results.append(result)
            if progress is not None:
                progress.write(f"\r  {label}: {result.fps:.1f} FPS{' ' * 12}\n")
    return report
