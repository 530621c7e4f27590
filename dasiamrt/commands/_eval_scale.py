"""``dasiamrt eval --ray [ADDRESS]`` and ``--sweep SPEC``: the same evaluation on Ray workers and/or over a
grid of tracker settings (see :mod:`dasiamrt.eval.parallel` and :mod:`dasiamrt.eval.sweep`)."""
from __future__ import annotations

import argparse
import functools
from pathlib import Path
from typing import Any, Optional

from ..errors import ConfigError
from ..runtime.tracker_options import open_tracker
from ._common import make_tracker, options_from_args


def check_workers(args: argparse.Namespace) -> None:
    """``--workers`` only means something with ``--ray``."""
    if args.workers is not None and args.ray is None:
        raise ConfigError("--workers sets the number of Ray workers: add --ray (or leave --workers out)")


def _runner(args: argparse.Namespace) -> Any:
    """A RayPool (--ray) or one loaded tracker."""
    if args.ray is None:
        return make_tracker(args)
    from ..eval.parallel import RayPool

    if args.workers is not None and args.workers < 1:
        raise ConfigError("--workers takes a number of workers >= 1")
    options = options_from_args(args)
    if not options.threads:  # one CPU per worker: ONNX Runtime threads beyond it only compete (results do not change)
        options = options.replace(threads=1)
    return RayPool(functools.partial(open_tracker, options), address=args.ray, workers=args.workers)


def run_scaled(args: argparse.Namespace, out: Path, name: str, progress: Optional[Any]) -> int:
    from ..eval.datasets import load_dataset
    from ..eval.evaluation import evaluate
    from ..eval.report import markdown
    from ..eval.sweep import parse_sweep, run_sweep, sweep_markdown

    if args.results:
        raise ConfigError("--ray and --sweep run the tracker: leave out --results (score folders without them)")
    if args.sweep:
        from ..config import TrackerConfig

        parse_sweep(args.sweep, TrackerConfig())  # a typo fails before a model loads or a cluster starts
    dataset = load_dataset(args.dataset, args.root)
    runner = _runner(args)
    try:
        if args.sweep:
            combos = parse_sweep(args.sweep, runner.config)
            report = run_sweep(dataset, runner, combos, out, name=args.name or name, progress=progress,
                               plots=not args.no_plots)
        else:
            report = evaluate(dataset, tracker=runner, tracker_name=args.name or name, out_dir=out,
                              progress=progress, plots=not args.no_plots)
    finally:
        runner.close()
    if "submit" in report:
        print(f"no ground truth to score: submit {report['submit']} to the benchmark's server")
        return 0
    print(sweep_markdown(report, report["sweep"]) if args.sweep else markdown(report), end="")
    extra = "sweep.md, " if args.sweep else ""
    print(f"report: {out / 'report.md'} (+ {extra}report.json{', plots' if not args.no_plots else ''})")
    return 0
