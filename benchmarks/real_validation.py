"""A model on the real validation split: plain / +DA / +LT / +DA +LT, aspect-ratio error, score separation.

Data: the validation side of ``configs/real_split.json`` (``../shared/data/real``, never trained on).
Per variant: mean OPE success AUC and precision@20 (OTB/UAV toolkit, ``eval.metrics``), per-sequence
AUC, frames spent ``lost``, FPS; on the split's thin-target sequences the aspect-ratio error over
frames 1-30 (``max(r, 1/r)`` with r = predicted w/h over true w/h, averaged over frames, then over
sequences); for the first variant the on/off-target score histogram, and the thresholds derived from
the scores of each variant without long-term tracking, combined so that they hold in each
(``eval.score_stats``: with +DA the score runs lower on target). Each mean AUC carries a 95% bootstrap
interval over the source sequences (a sequence's later starts are drawn with it), and each variant
after the first its paired difference from the first with its interval (``eval.confidence``): a
difference whose interval holds 0 is not shown by this split. ``--base`` adds each variant's paired
difference from the same variant of another run's JSON (another model, same split and starts). Usage:

    python benchmarks/real_validation.py [--model DIR [--precision int8] | --weights PT --preset tiny] [--threads 1]
        [--variants plain,+DA,+LT,+DA+LT] [--set long_term.enter_threshold=0.5 ...] [--base OTHER.json]
        --out train_logs/real/x
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

from dasiamrt.config import TrackerConfig
from dasiamrt.errors import ConfigError, DatasetError
from dasiamrt.eval.confidence import bootstrap_mean, format_interval, paired_difference
from dasiamrt.eval.datasets.real import load
from dasiamrt.eval.metrics import ope_sequence, ope_summary
from dasiamrt.eval.score_stats import combine_thresholds, derive_thresholds, histogram, on_off_scores
from dasiamrt.eval.sweep import parse_sweep
from dasiamrt.int8_forms import FORMS
from dasiamrt.runtime.tracker import Tracker
from dasiamrt.train.validate import SequenceRun, run_sequence, start_source, with_later_starts

VARIANTS = {
    "plain": {"distractor": {"enabled": False}, "long_term": {"enabled": False}},
    "+DA": {"distractor": {"enabled": True}, "long_term": {"enabled": False}},
    "+LT": {"distractor": {"enabled": False}, "long_term": {"enabled": True}},
    "+DA +LT": {"distractor": {"enabled": True}, "long_term": {"enabled": True}},
}
ROOT = Path(__file__).resolve().parents[1]


def aspect_error(run: SequenceRun, frames: int = 30) -> float:
    """Mean over frames 1..``frames`` (valid ground truth) of max(r, 1/r), r = (w/h predicted) / (w/h true)."""
    pred, gt = run.boxes[1:frames + 1], run.gt[1:frames + 1]
    ok = np.isfinite(gt).all(axis=1) & (gt[:, 2] > 0) & (gt[:, 3] > 0)
    ratio = (pred[ok, 2] / pred[ok, 3]) / (gt[ok, 2] / gt[ok, 3])
    return float(np.mean(np.maximum(ratio, 1.0 / ratio)))


def _tracker(args: argparse.Namespace, config: TrackerConfig) -> Tracker:
    if args.weights:
        return Tracker.from_weights(args.weights, preset=args.preset, backend="torch", config=config)
    return Tracker.from_model(args.model, config=config, threads=args.threads, precision=args.precision,
                              int8_form=args.int8_form)


def _base_config(args: argparse.Namespace) -> TrackerConfig:
    if args.weights:
        from dasiamrt.config import get_preset

        config = get_preset(args.preset).tracker
    else:
        from dasiamrt.artifacts.model_folder import read_model_dir

        config = read_model_dir(args.model).tracker
    if args.set:  # each --set is a one-value sweep axis: the sweep's parser types and checks it
        combos = parse_sweep(";".join(args.set), config)
        if len(combos) != 1:
            raise ConfigError(f"--set takes one value per setting, got {len(combos)} combinations")
        config = combos[0][1]
    return config


def evaluate_variant(args: argparse.Namespace, config: TrackerConfig, dataset: Any, thin: List[str]) -> Dict[str, Any]:
    start = time.perf_counter()
    with _tracker(args, config) as tracker:
        runs = [run_sequence(tracker, seq) for seq in dataset]
    seconds = time.perf_counter() - start
    curves = [ope_sequence(r.boxes, r.gt) for r in runs]
    summary = ope_summary(curves)
    on, off = [], []
    for r, c, seq in zip(runs, curves, dataset):
        a, b = on_off_scores(r.scores, c["iou"], seq.absent)
        on.append(a)
        off.append(b)
    on_all, off_all = np.concatenate(on), np.concatenate(off)
    frames = sum(len(r.boxes) for r in runs)
    aucs = [float(c["success"].mean()) for c in curves]
    return {
        "auc": summary["auc"], "precision_20": summary["precision_20"],
        "auc_interval": bootstrap_mean(aucs, [start_source(r.name) for r in runs]).to_dict(),
        "per_sequence": {r.name: round(auc, 4) for r, auc in zip(runs, aucs)},
        "aspect_error_1_30": {r.name: round(aspect_error(r), 3) for r in runs if r.name in thin},
        "lost_share": float(np.mean([s == "lost" for r in runs for s in r.states[1:]])),
        "fps": frames / seconds, "histogram": histogram(on_all, off_all),
        "thresholds": derive_thresholds(on_all, off_all) if len(on_all) and len(off_all) else None,
    }


def compare_to_first(results: Dict[str, Dict[str, Any]]) -> None:
    """Add ``vs_first``: each later variant's paired AUC difference from the first, with its interval."""
    first_name = next(iter(results))
    first = results[first_name]["per_sequence"]
    for r in list(results.values())[1:]:
        diff = paired_difference(r["per_sequence"], first, {n: start_source(n) for n in first})
        r["vs_first"] = {"variant": first_name, **diff.to_dict()}


def compare_to_base(results: Dict[str, Dict[str, Any]], base: Dict[str, Dict[str, Any]], base_label: str) -> None:
    """Add ``vs_base``: each variant's paired AUC difference from the same variant of ``base`` (another run's
    ``results``, holding every variant of ``results``: ``main`` checks that before tracking).

    Raises:
        ConfigError: the base's runs are other ones (another split or --starts).
    """
    for name, r in results.items():
        theirs = base[name]["per_sequence"]
        if set(theirs) != set(r["per_sequence"]):
            raise ConfigError("the base run tracked other sequences or start points than this one: use the same "
                              "--split, --part and --starts as it did")
        diff = paired_difference(r["per_sequence"], theirs, {n: start_source(n) for n in theirs})
        r["vs_base"] = {"label": base_label, **diff.to_dict()}


def thresholds_all_modes(results: Dict[str, Dict[str, Any]]) -> Any:
    """:func:`combine_thresholds` of the variants without long-term tracking (their scores are the modes'
    own; the global search changes what is tracked), with the variants used; None without such a variant."""
    modes = [name for name, r in results.items() if not VARIANTS[name]["long_term"]["enabled"] and r["thresholds"]]
    if not modes:
        return None
    return {"from": modes, **combine_thresholds([results[name]["thresholds"] for name in modes])}


def markdown(label: str, results: Dict[str, Dict[str, Any]], names: List[str], thin: List[str],
             combined: Any = None) -> str:
    """The report; ``combined``: :func:`thresholds_all_modes` of ``results`` (a line when given)."""
    first_name = next(iter(results))
    clusters = next(iter(results.values()))["auc_interval"]["clusters"]
    base = next(iter(results.values())).get("vs_base", {}).get("label")
    lines = [f"### {label}", "", f"| variant | mean AUC [95% interval, {clusters} sequences] | vs {first_name} "
             "(paired) | " + (f"vs {base} (paired) | " if base else "") +
             "precision@20 | lost frames | FPS | thin-target aspect error, frames 1-30 |",
             "|---|---|---|---|---|---|---|" + ("---|" if base else "")]
    for name, r in results.items():
        ar = f"{np.mean(list(r['aspect_error_1_30'].values())):.2f}x" if r["aspect_error_1_30"] else "-"
        vs = format_interval(r["vs_first"], signed=True) if "vs_first" in r else "-"
        vs_base = f"{format_interval(r['vs_base'], signed=True)} | " if base else ""
        lines.append(f"| {name} | {format_interval(r['auc_interval'])} | {vs} | {vs_base}{r['precision_20']:.3f} | "
                     f"{100 * r['lost_share']:.0f}% | {r['fps']:.0f} | {ar} |")
    lines += ["", "Per sequence (success AUC):", "", "| variant | " + " | ".join(names) + " |",
              "|---|" + "---|" * len(names)]
    for name, r in results.items():
        lines.append(f"| {name} | " + " | ".join(f"{r['per_sequence'][n]:.3f}" for n in names) + " |")
    first = next(iter(results.values()))
    if thin:
        lines += ["", "Aspect-ratio error over frames 1-30, thin targets (per variant):", "",
                  "| variant | " + " | ".join(thin) + " |", "|---|" + "---|" * len(thin)]
        for name, r in results.items():
            lines.append(f"| {name} | " + " | ".join(f"{r['aspect_error_1_30'][n]:.2f}x" for n in thin) + " |")
    h = first["histogram"]
    lines += ["", f"Score on target (IoU >= 0.5, {h['on_frames']} frames) vs off target (IoU < 0.1 or absent, "
              f"{h['off_frames']} frames), first variant: median {h['on_median']} vs {h['off_median']}; "
              f"thresholds derived: {first['thresholds']}", ""]
    if combined:
        lines += [f"Thresholds for every mode (derived per variant without long-term tracking, combined: "
                  f"eval.score_stats.combine_thresholds): {combined}", ""]
    return "\n".join(lines)


def _read_base_run(path: str) -> Dict[str, Any]:
    """A run's ``--out`` JSON (label, results).

    Raises:
        ConfigError: unreadable, or not such a file.
    """
    try:
        run = json.loads(Path(path).read_text())
        if not isinstance(run, dict) or not isinstance(run.get("results"), dict):
            raise ValueError("no 'results' object")
        return {"label": str(run.get("label", path)), "results": run["results"]}
    except (OSError, ValueError) as err:
        raise ConfigError(f"--base {path} is not a real_validation.py --out JSON ({err}): give the .json file an "
                          f"earlier run wrote") from None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model folder (default: the bundled model)")
    parser.add_argument("--weights", help="a checkpoint instead (torch backend)")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--split", default=str(ROOT / "configs" / "real_split.json"))
    parser.add_argument("--root", default=str(ROOT.parent / "shared" / "data" / "real"))
    parser.add_argument("--part", default="validation", choices=("validation", "train"),
                        help="side of the split to track (train: a development set for tracker rules; the model "
                             "was trained on it)")
    parser.add_argument("--starts", type=int, default=1,
                        help="start points per sequence: frame 0 and N-1 evenly spaced later frames "
                             "(train.validate.later_starts); the one-pass table is N=1")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--set", action="append",
                        help="tracker setting, e.g. long_term.enter_threshold=0.5 "
                             "(dasiamrt eval --sweep's syntax, one value)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--precision", default="fp32", choices=("fp32", "fp16", "int8"),
                        help="ONNX Runtime graphs of the model folder (int8: its INT8 form for this CPU)")
    parser.add_argument("--int8-form", default=None, choices=FORMS,
                        help="with --precision int8, run this INT8 form instead of the one chosen for this CPU")
    parser.add_argument("--base", default=None,
                        help="another run's --out JSON (same split and starts): add each variant's paired "
                             "AUC difference from its same variant")
    parser.add_argument("--label", default=None)
    parser.add_argument("--out", default=None, help="write OUT.md and OUT.json")
    args = parser.parse_args()
    spelled = {name.replace(" ", ""): name for name in VARIANTS}  # '+DA+LT' as the usage line writes it
    variants = [spelled.get(v.strip().replace(" ", ""), v.strip()) for v in args.variants.split(",") if v.strip()]
    for variant in variants:
        if variant not in VARIANTS:
            parser.error(f"unknown variant {variant!r}: choose from {', '.join(spelled)}")
    if not args.weights and not args.model:
        from dasiamrt.runtime.tracker_options import default_model

        args.model = str(default_model())
    if args.int8_form and args.precision != "int8":
        parser.error(f"--int8-form is for --precision int8, not {args.precision}")
    if args.starts < 1:
        parser.error(f"--starts must be at least 1, not {args.starts}")
    try:
        base_run = _read_base_run(args.base) if args.base else None
        one_pass = load(Path(args.root), args.split, args.part)
    except (ConfigError, DatasetError) as err:
        parser.error(str(err))
    if base_run is not None and not all(v in base_run["results"] for v in variants):
        parser.error(f"--base {args.base} has the variants {', '.join(base_run['results'])}, not all of "
                     f"{', '.join(variants)}: choose --variants among them")
    thin = [s.name for s in one_pass if "thin" in s.tags]  # the split's thin_targets on this side, as load tags them
    dataset = with_later_starts(one_pass, args.starts)
    names = [s.name for s in dataset]
    try:
        base = _base_config(args)
    except ConfigError as err:
        parser.error(str(err))
    results = {}
    for variant in variants:
        config = base.replace(**{k: dict(v) for k, v in VARIANTS[variant].items()})
        r = results[variant] = evaluate_variant(args, config, dataset, thin)
        print(f"{variant:8s} AUC {format_interval(r['auc_interval'])} P@20 {r['precision_20']:.3f} "
              f"lost {r['lost_share']:.2f} {r['fps']:.0f} FPS", file=sys.stderr)
    compare_to_first(results)
    if base_run is not None:
        try:
            compare_to_base(results, base_run["results"], base_run["label"])
        except ConfigError as err:
            parser.error(str(err))
    from dasiamrt.cpu_features import detect

    label = args.label or (args.weights or args.model)
    precision = f"{args.precision} ({args.int8_form})" if args.int8_form else args.precision
    backend = "torch fp32" if args.weights else f"ONNX Runtime {precision}, {args.threads} thread(s)"
    combined = thresholds_all_modes(results)
    text = markdown(label, results, names, thin, combined) + f"\nCPU: {detect().summary()}; {backend}\n" \
        f"Tracker settings: {json.dumps(base.to_dict())}\n"
    print(text)
    if args.out:
        Path(args.out + ".md").write_text(text)
        Path(args.out + ".json").write_text(json.dumps({"label": label, "results": results, "tracker": base.to_dict(),
                                                        "thresholds_all_modes": combined},
                                                       indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
