"""``dasiamrt bench``: FPS and per-stage latency on real frames (see :mod:`dasiamrt.bench`)."""
from __future__ import annotations

import argparse
import sys
from typing import Any, Dict

from ..errors import ConfigError, MissingDependencyError
from ._common import add_device_arg, add_precision_arg, backend_options, threads_arg


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("bench", help="time the tracking loop and each stage (FPS, median/p90 ms)",
                       description="With no --model, times the preset's network with seeded random weights "
                                   "(speed does not depend on the weights) on the bundled clip. --device cuda times "
                                   "the torch backend on the GPU (with --precision fp16: half precision).")
    p.add_argument("--model", metavar="DIR", help="exported model folder (default: random weights of --preset)")
    p.add_argument("--preset", default="vot", help="network when no --model is given (default: vot)")
    p.add_argument("--backend", choices=("ort", "trt", "torch"), default=None,
                   help="ort (ONNX Runtime; the default), trt (TensorRT engines built by 'dasiamrt build') or torch "
                        "(--weights, or random weights of --preset; the default with --weights or --device)")
    p.add_argument("--weights", metavar="FILE", help="PyTorch checkpoint of --preset for the torch backend")
    add_device_arg(p)
    p.add_argument("--threads", type=threads_arg, default=0, metavar="N",
                   help="CPU threads for ONNX Runtime (0: one per core)")
    add_precision_arg(p)
    p.add_argument("--sizes", default="255,767", help="comma-separated search sizes (default: 255,767)")
    p.add_argument("--da", choices=("off", "on", "both"), default="both", help="distractor-aware rows")
    p.add_argument("--frames", type=int, default=20, help="measured frames per case (default: 20)")
    p.add_argument("--warmup", type=int, default=3, help="tracked frames discarded per case")
    p.add_argument("--source", help="video to use instead of the bundled clip (needs --init)")
    p.add_argument("--init", metavar="X,Y,W,H", help="initial box on --source's first frame")
    p.add_argument("--ort-device", choices=("cpu", "cuda", "tensorrt"), default=None,
                   help="ONNX Runtime execution provider (onnxruntime-gpu for cuda/tensorrt; default: best available)")
    p.add_argument("--json", metavar="FILE", help="also write the results and machine description here")
    p.add_argument("--merge", nargs="+", metavar="JSON",
                   help="instead of measuring: merge bench reports (e.g. from several GPUs) into one markdown "
                        "table and a PNG bar chart (--png)")
    p.add_argument("--png", metavar="FILE", help="chart path for --merge (default: bench_merged.png beside the first)")
    p.epilog = ("Without --model, the preset's network is exported once with random weights into "
                "$XDG_CACHE_HOME/dasiamrt (default ~/.cache/dasiamrt; ~112 MB for vot, needs torch) and reused; "
                "delete that folder to free the space. Ctrl-C stops with exit status 130 and writes no report.")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.merge:
        return _merge(args)
    import json

    from ..config import get_preset
    from ..fileio import AtomicFile, check_distinct
    from ..interrupts import Interrupted, signal_of
    from ..tracking import parse_box
    from ._common import choose_backend, parse_search_sizes

    args.backend = choose_backend(args, "ort")
    sizes = parse_search_sizes(args.sizes, allow_empty=False)
    init = parse_box(args.init) if args.init else None
    check_distinct({"--source": args.source}, {"--json": args.json})
    if not args.model:
        get_preset(args.preset)
    json_out = AtomicFile(args.json, ".json") if args.json else None  # a bad path fails before measuring
    try:
        report = _measure(args, sizes, init)
        if json_out is not None:
            json_out.tmp.write_text(json.dumps(report.to_json(), indent=2))
            json_out.commit()
            print(f"dasiamrt bench: wrote {args.json}", file=sys.stderr)
    except KeyboardInterrupt as err:
        raise Interrupted(signal_of(err), "no report written (one of some cases would look complete)") from None
    finally:
        if json_out is not None:
            json_out.abort()
    return 0


def _measure(args: argparse.Namespace, sizes: Any, init: Any) -> Any:
    """Run the cases and print the table; returns the :class:`~dasiamrt.bench.BenchReport`."""
    from ..artifacts.model_folder import read_model_dir
    from ..bench import random_model_dir, run_bench
    from ..runtime.tracker import Tracker

    options: Dict[str, Any] = backend_options(args, args.backend)
    da_modes = {"off": [False], "on": [True], "both": [False, True]}[args.da]
    if args.backend == "torch":
        make_tracker, name = _torch_trackers(args, options)
    else:
        if args.weights:
            raise ConfigError(f"--weights runs on the torch backend; for {args.backend}, export first: "
                              "dasiamrt export --weights ...")
        model = args.model or str(random_model_dir(args.preset, progress=sys.stderr))
        info = read_model_dir(model)
        if args.backend == "ort" and args.ort_device:
            from ..runtime.backends.ort_providers import providers_for

            options["providers"] = providers_for(args.ort_device)

        def make_tracker(changes: Dict[str, Any]) -> Tracker:
            return Tracker.from_model(model, backend=args.backend, config=info.tracker.replace(**changes), **options)

        name = args.model or f"{args.preset} (random weights)"
    setting = " ".join(part for part in ("backend", args.backend, options.get("device"), args.precision or "fp32")
                       if part)
    report = run_bench(make_tracker, name, sizes, da_modes, args.frames, args.warmup, args.source, init,
                       setting=setting)
    print(report.table())
    if report.engine_memory:
        m = report.engine_memory
        print(f"\nengine GPU memory: {m['activation_mib']:.1f} MiB activation shared by {int(m['contexts'])} "
              f"contexts ({m['activation_unshared_mib']:.1f} MiB if each had its own), "
              f"{m['io_buffers_mib']:.1f} MiB I/O buffers")
    machine = report.machine
    print(f"\n{machine['cpu']}, {machine['cores']} cores; onnxruntime {machine.get('onnxruntime', '-')}")
    return report


def _torch_trackers(args: argparse.Namespace, options: Dict[str, Any]) -> Any:
    """(make_tracker(changes), name) for the torch backend: --weights, or the seeded random weights that
    the ort rows' random model was exported with (seed 0), loaded once and shared by the cases."""
    from ..config import get_preset
    from ..runtime.backends.torch_backend import TorchBackend, check_precision, open_device
    from ..runtime.tracker import Tracker

    if args.model:
        raise ConfigError("the torch backend runs from weights, not a model folder: use --weights FILE --preset P, "
                          "or neither for random weights of --preset")
    try:
        import torch

        from ..model import build_network, load_network
    except ImportError:
        raise MissingDependencyError("torch", "the torch backend", "pip install 'dasiamrt[export]'") from None
    check_precision(options.get("precision", "fp32"))
    open_device(torch, options.get("device", "cpu"))  # before any case starts: a one-line error, no table
    preset = get_preset(args.preset)
    net = load_network(args.weights, preset.network) if args.weights else build_network(preset.network, seed=0)

    def make_tracker(changes: Dict[str, Any]) -> Any:
        return Tracker(TorchBackend(net=net, **options), preset.tracker.replace(**changes))

    return make_tracker, args.weights or f"{preset.name} (random weights)"


def _merge(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..bench_merge import merge_reports
    from ..fileio import check_distinct

    check_distinct({f"--merge {p}": p for p in args.merge}, {"--png": args.png})
    markdown, png = merge_reports([Path(p) for p in args.merge], Path(args.png) if args.png else None)
    print(markdown)
    if png is not None:
        print(f"dasiamrt bench: chart written to {png}", file=sys.stderr)
    return 0
