"""Search-graph latency, ONNX Runtime CPU: fp32 against the two INT8 Q/DQ forms, with their accuracy.

Usage: python benchmarks/int8_speed.py MODEL_DIR [MODEL_DIR ...] [--runs 10] [--sizes 255,767]

Each model folder needs ``calibration.npz`` (``dasiamrt calibrate``). Two INT8 forms are written
into a temporary copy: "float-out" (form ``int8``: Conv outputs not re-quantised) and "Conv-out
Q/DQ" (form ``int8-cpu``: DQ -> Conv -> Q, which ONNX Runtime's CPU provider fuses into integer
QLinearConv). Timing: one fixed crop and kernels, the three sessions
run in turns (``runs`` rounds after 2 warm-up rounds), median ms. Accuracy: foreground-probability
and logit error against fp32 on held-out crops (synthetic:mixed:2:500:40, 8 per size). The whole
tracking loop is timed by ``dasiamrt bench --precision fp32|int8``.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from dasiamrt import spec
from dasiamrt.artifacts.calibset import load_calibration
from dasiamrt.artifacts.model_folder import read_model_dir
from dasiamrt.calib.api import collect
from dasiamrt.calib.collect import CollectConfig
from dasiamrt.calib.compare import score_map_errors
from dasiamrt.calib.variants import write_int8_variants
from dasiamrt.runtime.backends.ort import OrtBackend

FORMS = ("fp32", "int8 float-out", "int8 Conv-out Q/DQ")
#: table label -> INT8 form of dasiamrt.int8_forms
FORM_NAMES = {"int8 float-out": "int8", "int8 Conv-out Q/DQ": "int8-cpu"}


def _session(path: Path, optimized: Optional[Path] = None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if optimized is not None:
        options.optimized_model_filepath = str(optimized)
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _integer_convs(path: Path) -> int:
    import onnx

    return sum(n.op_type in ("QLinearConv", "ConvInteger") for n in onnx.load(str(path)).graph.node)


def time_forms(graphs: Dict[str, Path], feeds: Dict[str, np.ndarray], runs: int,
               work: Path) -> Dict[str, Dict[str, float]]:
    sessions = {name: _session(path, work / f"{name.replace(' ', '_').replace('/', '')}.opt.onnx")
                for name, path in graphs.items()}
    times: Dict[str, List[float]] = {name: [] for name in graphs}
    for r in range(runs + 2):
        for name, sess in sessions.items():
            start = time.perf_counter()
            sess.run(None, feeds)
            if r >= 2:
                times[name].append(time.perf_counter() - start)
    return {name: {"ms": float(np.median(t) * 1e3),
                   "integer_convs": _integer_convs(work / f"{name.replace(' ', '_').replace('/', '')}.opt.onnx")}
            for name, t in times.items()}


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+")
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--sizes", default="255,767")
    args = p.parse_args(argv)
    sizes = [spec.check_search_size(int(s)) for s in args.sizes.split(",")]
    rows = ["| model | search | fp32 ms | int8 float-out ms (ratio) | int8 Conv-out Q/DQ ms (ratio) | "
            "integer Convs after ORT fusion (float-out / Conv-out) |", "|---|---|---|---|---|---|"]
    acc = ["| model | INT8 form | fg-prob max err 255 / 767 | logit rel. L2 255 / 767 |", "|---|---|---|---|"]
    for model in args.models:
        info = read_model_dir(model)
        calib = load_calibration(model)
        held_out = collect(model, ["synthetic:mixed:2:500:40"], [None],
                           CollectConfig(per_input=8, seed=1, search_sizes=tuple(sizes)))
        with tempfile.TemporaryDirectory(prefix="int8-speed-") as tmp:
            work = Path(tmp)
            folder = work / "forms"
            shutil.copytree(info.root, folder)
            write_int8_variants(folder, calib, forms=tuple(FORM_NAMES.values()))
            for form, name in FORM_NAMES.items():
                err = score_map_errors(OrtBackend(info), OrtBackend(read_model_dir(folder), precision="int8",
                                                                    int8_form=name), held_out)
                acc.append(f"| {info.preset} | {form} | " + " / ".join(f"{err[s]['max_abs']:.3f}" for s in sizes)
                           + " | " + " / ".join(f"{err[s]['rel_l2_logits']:.3f}" for s in sizes) + " |")
            f = info.network.feature_out
            rng = np.random.default_rng(0)
            for size in sizes:
                feeds = {spec.SEARCH_INPUT: rng.uniform(0, 255, (1, 3, size, size)).astype(np.float32),
                         spec.CLS_KERNEL: (rng.standard_normal((10, f, 4, 4)) * 0.01).astype(np.float32),
                         spec.REG_KERNEL: (rng.standard_normal((20, f, 4, 4)) * 0.01).astype(np.float32)}
                graphs = {"fp32": info.graph("search"),
                          **{k: folder / f"search.{v}.onnx" for k, v in FORM_NAMES.items()}}
                t = time_forms(graphs, feeds, args.runs, work)
                base = t["fp32"]["ms"]
                rows.append(f"| {info.preset} | {size} | {base:.1f} | "
                            + " | ".join(f"{t[k]['ms']:.1f} ({t[k]['ms'] / base:.2f}x)" for k in FORMS[1:])
                            + f" | {t[FORMS[1]]['integer_convs']} / {t[FORMS[2]]['integer_convs']} |")
                print(rows[-1], file=sys.stderr, flush=True)
    print("\n".join(rows) + "\n\n" + "\n".join(acc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
