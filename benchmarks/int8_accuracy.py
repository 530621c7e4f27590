"""INT8 (Q/DQ, ONNX Runtime CPU) against fp32: score maps, boxes on real clips, success AUC on synthetic sequences.

Usage: python benchmarks/int8_accuracy.py [--model DIR] [--work DIR] [--clip-frames 150] [--variants ...]

Model: ``--model``'s folder, else the bundled trained model when the package has one
(``dasiamrt.assets.BUNDLED_MODEL``), else the tiny network with seeded random weights (said in the
output). Calibration ("tracking" set): ground truth of synthetic sequences (seeds 100..105, never
evaluated) plus the fp32 tracker's boxes on the bundled clip. The "noise" set has the same counts, every
crop uniform random noise; "unit-range" feeds the tracking crops scaled to 0..1 (classifier-style
preprocessing, not what the tracker feeds). Evaluation: score-map error on held-out crops (synthetic
seeds 500..502), per-frame IoU of INT8 to fp32 boxes on the real clips, success AUC (OTB protocol) on
held-out synthetic sequences (all five presets, seeds 900000.., never used in training: the training
configs use seeds 1000..1299). The clip IoU comes in two forms (``dasiamrt.calib.compare``): free-
running (two trackers, each on its own trajectory) and one-step (the INT8 tracker gets the fp32
tracker's state before every frame). A reference row runs the fp16 graphs (logit relative error ~5e-4,
no calibration) through the same measures: the free-running IoU a perturbation of that size already
costs on this model. Prints markdown tables and writes ``<work>/int8_accuracy.json``.
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from dasiamrt.artifacts.calibset import CalibrationSet, load_calibration, save_calibration
from dasiamrt.artifacts.model_folder import read_model_dir
from dasiamrt.assets import BUNDLED_MODEL, DEMO_CLIP, DEMO_INIT_XYWH
from dasiamrt.calib.api import collect, default_search_sizes
from dasiamrt.calib.collect import CollectConfig
from dasiamrt.calib.compare import box_agreement, score_map_errors, step_agreement
from dasiamrt.calib.variants import write_int8_variants
from dasiamrt.errors import CalibrationError
from dasiamrt.runtime.backends.ort import OrtBackend
from dasiamrt.runtime.loop import track_boxes
from dasiamrt.runtime.tracker import Tracker

DATA = Path("/work/shared/data")
#: real clips without ground truth and a first-frame box picked by eye (0-based x, y, w, h).
CLIPS: List[Tuple[str, Path, Tuple[float, float, float, float], bool]] = [
    ("bundled box.mp4 (in calibration)", DEMO_CLIP, DEMO_INIT_XYWH, True),
    ("box.mp4 640x480", DATA / "box.mp4", (295.0, 15.0, 300.0, 225.0), False),
    ("cup.mp4 640x480", DATA / "cup.mp4", (305.0, 125.0, 110.0, 258.0), False),
]
HELD_OUT = ",".join(f"synthetic:{preset}:6:900000:100"
                    for preset in ("plain", "distractors", "occlusion", "out-of-view", "mixed"))
VARIANTS = [("percentile", "backbone", "tracking"), ("minmax", "backbone", "tracking"),
            ("entropy", "backbone", "tracking"), ("percentile", "all", "tracking"), ("percentile", "backbone", "noise"),
            ("minmax", "backbone", "noise"), ("percentile", "backbone", "unit-range")]


def model_folder(work: Path, model: Optional[str] = None) -> Tuple[Path, str]:
    """``model`` if given, else the bundled trained model if present, else a seeded random-weight tiny model."""
    if model:
        return Path(model), f"model {model}"
    if (BUNDLED_MODEL / "model.json").is_file():
        return BUNDLED_MODEL, f"bundled trained model ({BUNDLED_MODEL.name})"
    from dasiamrt.config import PRESETS
    from dasiamrt.export import export_model
    from dasiamrt.model import build_network

    folder = work / "fp32"
    if not (folder / "model.json").is_file():
        export_model(build_network(PRESETS["tiny"].network, seed=0), PRESETS["tiny"], folder, check=False)
    return folder, "tiny network, random weights (seed 0): no trained model in this tree"


def noise_like(calib: CalibrationSet, seed: int) -> CalibrationSet:
    """Same counts and manifest, every crop replaced by uniform noise (a bad calibration set)."""
    rng = np.random.default_rng(seed)
    arrays = {k: (rng.integers(0, 256, v.shape, dtype=np.uint8) if v.dtype == np.uint8 else v.copy())
              for k, v in calib.arrays.items()}
    manifest = dict(calib.manifest, source=["uniform noise"])
    return CalibrationSet(arrays, manifest)


class UnitRangeSet(CalibrationSet):
    """The tracking set fed as 0..1 floats (the usual image-classifier preprocessing, wrong for this network)."""

    def blobs(self, name: str) -> np.ndarray:
        return (self.arrays[name].astype(np.float32) / 255.0).astype(np.float32)


def backend(info: Any, precision: str, form: Optional[str] = None) -> OrtBackend:
    """ONNX Runtime on ``precision``; for INT8 the named ``form`` (not this CPU's automatic choice)."""
    return OrtBackend(info, precision=precision, int8_form=form if precision == "int8" else None)


def synthetic_auc(model: Path, precision: str, specs: str,
                  form: Optional[str] = None) -> Tuple[float, List[np.ndarray]]:
    """Success AUC of the model's tracker over the synthetic sets ``specs`` (comma-separated dataset specs,
    every sequence weighing the same), and its boxes per sequence."""
    from dasiamrt.eval.datasets import load_dataset
    from dasiamrt.eval.metrics import ope_sequence, ope_summary

    info = read_model_dir(model)
    curves, boxes = [], []
    sequences = [seq for spec in specs.split(",") for seq in load_dataset(spec).sequences]
    for seq in sequences:
        with Tracker(backend(info, precision, form), info.tracker) as tracker:
            pred = track_boxes(tracker, seq.frames, seq.init_xywh, len(seq))
        curves.append(ope_sequence(pred, seq.gt, seq.absent))
        boxes.append(pred)
    return float(ope_summary(curves)["auc"]), boxes


def _clip_runs(run: Any) -> Dict[str, Any]:
    """``run(frame_iterator, init)`` on every real clip that exists, keyed by clip name."""
    from dasiamrt.videoio import open_source

    out = {}
    for name, path, init, _ in CLIPS:
        if path.is_file():
            with open_source(str(path)) as src:
                out[name] = run((f for _, f in src), init)
    return out


def clip_boxes(model: Path, precision: str, frames: int, form: Optional[str] = None) -> Dict[str, np.ndarray]:
    """Free-running boxes of the ``precision`` tracker on each real clip."""
    info = read_model_dir(model)

    def run(frames_it: Any, init: Any) -> np.ndarray:
        with Tracker(backend(info, precision, form), info.tracker) as tracker:
            return track_boxes(tracker, frames_it, init, frames)
    return _clip_runs(run)


def clip_steps(model: Path, precision: str, frames: int, form: Optional[str] = None) -> Dict[str, Dict[str, float]]:
    """One-step agreement of the ``precision`` tracker with the fp32 tracker on each real clip."""
    info = read_model_dir(model)

    def run(frames_it: Any, init: Any) -> Dict[str, float]:
        with Tracker(OrtBackend(info), info.tracker) as ref, \
                Tracker(backend(info, precision, form), info.tracker) as cand:
            return step_agreement(ref, cand, frames_it, init, frames)
    return _clip_runs(run)


def evaluate(model: Path, fp32: Dict[str, Any], held_out: CalibrationSet, args: argparse.Namespace,
             precision: str = "int8", form: Optional[str] = "int8") -> Dict[str, Any]:
    info = read_model_dir(model)
    errors = score_map_errors(OrtBackend(info), backend(info, precision, form), held_out)
    clips = clip_boxes(model, precision, args.clip_frames, form)
    agreement = {name: box_agreement(fp32["clips"][name], boxes) for name, boxes in clips.items()}
    auc, seq_boxes = synthetic_auc(model, precision, args.synthetic, form)
    seq_iou = float(np.mean([box_agreement(a, b)["mean_iou"] for a, b in zip(fp32["sequences"], seq_boxes)]))
    return {"score_map": errors, "clips": agreement,
            "clips_one_step": clip_steps(model, precision, args.clip_frames, form),
            "auc": auc, "auc_drop": fp32["auc"] - auc, "synthetic_mean_iou_to_fp32": seq_iou}


def _cells(score_map: Dict[Any, Dict[str, float]], key: str, fmt: str) -> str:
    return " / ".join(format(score_map[size][key], fmt) for size in sorted(score_map, key=int))


def tables(results: Dict[str, Any]) -> str:
    names = results["clip_names"]
    lines = [f"Model: {results['model']}. fp32 success AUC on {results['synthetic']}: {results['fp32_auc']:.3f}. "
             "Clip cells: mean IoU to the fp32 boxes, free-running (min) / one-step (min).", "",
             "| calibration | form | method | scope | calib. s | AUC | AUC drop | IoU to fp32 (synthetic, free) | "
             + " | ".join(f"IoU to fp32: {c}" for c in names) + " | fg-prob max err 255 / 767 | "
             "logit rel. L2 255 / 767 | argmax same 255 / 767 |",
             "|" + "---|" * (11 + len(names))]
    for v in results["variants"]:
        sm = v["score_map"]
        clips = " | ".join(f"{v['clips'][c]['mean_iou']:.3f} ({v['clips'][c]['min_iou']:.2f}) / "
                           f"{v['clips_one_step'][c]['mean_iou']:.3f} ({v['clips_one_step'][c]['min_iou']:.2f})"
                           for c in names)
        lines.append(f"| {v['set']} | {v.get('form', '-')} | {v['method']} | {v['scope']} | {v['calib_seconds']:.0f} | "
                     f"{v['auc']:.3f} | "
                     f"{v['auc_drop']:+.3f} | {v['synthetic_mean_iou_to_fp32']:.3f} | {clips} | "
                     f"{_cells(sm, 'max_abs', '.3f')} | {_cells(sm, 'rel_l2_logits', '.3f')} | "
                     f"{_cells(sm, 'argmax_agree', '.2f')} |")
    return "\n".join(lines)


def fp16_reference(base: Path, work: Path, fp32: Dict[str, Any], held_out: CalibrationSet,
                   args: argparse.Namespace) -> Dict[str, Any]:
    """The fp16 graphs through the same measures (the noise floor of the agreement columns)."""
    from dasiamrt.export.fp16 import write_fp16_variants

    folder = work / "fp16"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(base, folder, ignore=shutil.ignore_patterns("*.int8.onnx", "*.fp16.onnx", "calibration.*"))
    start = time.time()
    write_fp16_variants(folder)
    entry = {"set": "(fp16 graphs)", "method": "-", "scope": "all", "calib_seconds": time.time() - start}
    entry.update(evaluate(folder, fp32, held_out, args, precision="fp16", form=None))
    return entry


def _variant(text: str) -> Tuple[str, str, str, str]:
    parts = text.split(":")
    return (parts[0], parts[1], parts[2], parts[3] if len(parts) > 3 else "int8")


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="model folder (default: the bundled model)")
    p.add_argument("--work", default="/tmp/dasiamrt-int8-bench", help="scratch folder (model copies, sets)")
    p.add_argument("--clip-frames", type=int, default=150, help="frames per real clip (default 150)")
    p.add_argument("--synthetic", default=HELD_OUT, help="held-out synthetic sets, comma-separated dataset specs "
                   "(default: 6 x 100 frames of each preset, seeds 900000..)")
    p.add_argument("--per-input", type=int, default=32, help="calibration crops per input")
    p.add_argument("--calibration", default=None,
                   help="a calibration set `dasiamrt calibrate` collected (its folder or .npz), the set 'given' of "
                        "--variants, e.g. percentile:backbone:given:int8-cpu (crops of the video you will track)")
    p.add_argument("--variants", default=None, help="comma list of method:scope:set[:form] (form: int8 (default), "
                   "int8-cpu, int8-cpu-w7, int8-fp16; default: all seven calibrations in the int8 form)")
    p.add_argument("--no-fp16", action="store_true", help="skip the fp16 reference row")
    args = p.parse_args(argv)
    chosen = [_variant(v) for v in args.variants.split(",")] if args.variants else [(*v, "int8") for v in VARIANTS]
    known = ("tracking", "noise", "unit-range") + (("given",) if args.calibration else ())
    unknown = sorted({set_name for _, _, set_name, _ in chosen} - set(known))
    if unknown:
        p.error(f"calibration set {unknown[0]!r} unknown: choose {', '.join(known)}"
                + ("" if args.calibration else " ('given' needs --calibration DIR)"))
    logging.basicConfig(level=logging.WARNING)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if args.model and not (Path(args.model) / "model.json").is_file():
        p.error(f"--model {args.model} has no model.json: give a folder `dasiamrt export` wrote")
    base, model_name = model_folder(work, args.model)
    cfg = CollectConfig(per_input=args.per_input, seed=0, search_sizes=default_search_sizes(base))
    good = collect(str(base), [str(DEMO_CLIP), "synthetic:mixed:6:100:80"], [DEMO_INIT_XYWH, None], cfg, max_frames=150)
    held_out = collect(str(base), ["synthetic:mixed:3:500:60"], [None], CollectConfig(per_input=16, seed=1,
                                                                                      search_sizes=cfg.search_sizes))
    sets = {"tracking": good, "noise": noise_like(good, 1),
            "unit-range": UnitRangeSet(good.arrays, dict(good.manifest))}
    if args.calibration:
        try:
            sets["given"] = load_calibration(args.calibration)
        except CalibrationError as err:
            p.error(str(err))
    t0 = time.time()
    fp32_auc, fp32_seq = synthetic_auc(base, "fp32", args.synthetic)
    fp32 = {"auc": fp32_auc, "sequences": fp32_seq, "clips": clip_boxes(base, "fp32", args.clip_frames)}
    print(f"fp32 reference: {time.time() - t0:.0f} s", file=sys.stderr)
    results: Dict[str, Any] = {"model": model_name, "synthetic": args.synthetic, "fp32_auc": fp32_auc,
                               "clip_names": list(fp32["clips"]), "clip_frames": args.clip_frames,
                               "calibration_counts": good.counts(), "variants": []}
    if args.calibration:
        results["given_calibration"] = {"path": args.calibration, "counts": sets["given"].counts()}
    if not args.no_fp16:
        results["variants"].append(fp16_reference(base, work, fp32, held_out, args))
    for method, scope, set_name, form in chosen:
        folder = work / f"{set_name}-{method}-{scope}-{form}"
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(base, folder, ignore=shutil.ignore_patterns("*.int8*.onnx", "calibration.*"))
        save_calibration(sets[set_name], folder)
        start = time.time()
        write_int8_variants(folder, sets[set_name], method, scope, (form,))
        entry = {"set": set_name, "form": form, "method": method, "scope": scope, "calib_seconds": time.time() - start}
        entry.update(evaluate(folder, fp32, held_out, args, form=form))
        results["variants"].append(entry)
        print(f"{set_name} {form} {method} {scope}: AUC {entry['auc']:.3f} (fp32 {fp32_auc:.3f})", file=sys.stderr,
              flush=True)
    print(tables(results))
    (work / "int8_accuracy.json").write_text(json.dumps(results, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
