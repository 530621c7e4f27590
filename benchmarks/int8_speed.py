"""Search-graph latency, ONNX Runtime CPU: fp32 against the INT8 Q/DQ forms, with their accuracy.

Usage: python benchmarks/int8_speed.py MODEL_DIR [MODEL_DIR ...] [--runs 10] [--sizes 255,767]
    [--also LABEL=SEARCH.onnx]

Each model folder needs ``calibration.npz`` (``dasiamrt calibrate``). Four INT8 graphs are written
into temporary copies: "float-out" (form ``int8``: Conv outputs not re-quantised), "Conv-out Q/DQ"
(form ``int8-cpu``: DQ -> Conv -> Q with uint8 activations, which ONNX Runtime's CPU provider fuses
into integer QLinearConv), the same with 7-bit weights (``int8-cpu-w7``, for x86 without VNNI) and
``int8-cpu`` with its quantisation-sensitive nodes in float (``calibrate --cpu-float-limit 0.1``);
``--also`` adds any other search graph of the last model (an older form, say) to the timing. Timing: one
fixed crop and kernels, the sessions run in turns (``runs`` rounds after 2 warm-up rounds), median ms,
with the runtime's session options (idle threads sleep; on x86 without VNNI, ONNX Runtime's exact
integer kernels for 8-bit weights). Accuracy: foreground-probability and logit
error against fp32 on held-out crops (synthetic:mixed:2:500:40, 8 per size). The whole tracking
loop is timed by ``dasiamrt bench --precision fp32|int8``.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from dasiamrt import spec
from dasiamrt.artifacts.calibset import load_calibration
from dasiamrt.artifacts.model_folder import read_model_dir
from dasiamrt.calib.api import collect
from dasiamrt.calib.collect import CollectConfig
from dasiamrt.calib.compare import score_map_errors
from dasiamrt.calib.qdq import FLOAT_LIMIT
from dasiamrt.calib.variants import int8_file, write_int8_variants
from dasiamrt.int8_forms import INT8, INT8_CPU, INT8_CPU_W7
from dasiamrt.runtime.backends.ort import OrtBackend, session_options

#: table label -> INT8 form of dasiamrt.int8_forms
FORM_NAMES = {"int8 float-out": INT8, "int8 Conv-out Q/DQ": INT8_CPU, "int8 Conv-out Q/DQ, 7-bit weights": INT8_CPU_W7}
#: the Conv-out form with its sensitive nodes in float
FLOAT_NODES = "int8 Conv-out Q/DQ, sensitive nodes float"


def _session(path: Path, optimized: Optional[Path] = None):
    import onnxruntime as ort

    options = session_options(ort, int8=True)  # the runtime's (idle threads sleep; exact kernels without VNNI)
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


def _write_forms(info, calib, work: Path) -> Dict[str, Tuple[Path, str]]:
    """The INT8 graphs timed, label -> (model folder holding it, its form): the two of :data:`FORM_NAMES`, and
    ``int8-cpu`` with its sensitive nodes kept in float (``calibrate --cpu-float-limit 0.1``)."""
    both, cpu_float = work / "forms", work / "forms-cpu-float"
    shutil.copytree(info.root, both)
    write_int8_variants(both, calib, forms=tuple(FORM_NAMES.values()))
    shutil.copytree(info.root, cpu_float)
    write_int8_variants(cpu_float, calib, forms=(INT8_CPU,), cpu_float_limit=FLOAT_LIMIT)
    return {**{label: (both, form) for label, form in FORM_NAMES.items()}, FLOAT_NODES: (cpu_float, INT8_CPU)}


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+")
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--sizes", default="255,767")
    p.add_argument("--also", action="append", default=[], metavar="LABEL=SEARCH.onnx",
                   help="time another search graph of the (last) model with them, e.g. an older INT8 form")
    args = p.parse_args(argv)
    sizes = [spec.check_search_size(int(s)) for s in args.sizes.split(",")]
    bad = [item for item in args.also if "=" not in item or item.split("=", 1)[0] in ("fp32", *FORM_NAMES, FLOAT_NODES)]
    if bad:
        p.error(f"--also takes LABEL=SEARCH.onnx with a label of its own, not {bad[0]!r}")
    also = dict(item.split("=", 1) for item in args.also)
    rows = ["| model | search | graph | ms (median) | time vs fp32 | integer Convs after ORT fusion |",
            "|---|---|---|---|---|---|"]
    acc = ["| model | INT8 form | fg-prob max err " + " / ".join(map(str, sizes)) + " | logit rel. L2 "
           + " / ".join(map(str, sizes)) + " |", "|---|---|---|---|"]
    for model in args.models:
        info = read_model_dir(model)
        calib = load_calibration(model)
        held_out = collect(model, ["synthetic:mixed:2:500:40"], [None],
                           CollectConfig(per_input=8, seed=1, search_sizes=tuple(sizes)))
        with tempfile.TemporaryDirectory(prefix="int8-speed-") as tmp:
            work = Path(tmp)
            forms = _write_forms(info, calib, work)
            for label, (folder, form) in forms.items():
                err = score_map_errors(OrtBackend(info), OrtBackend(read_model_dir(folder), precision="int8",
                                                                    int8_form=form), held_out)
                acc.append(f"| {info.preset} | {label} | " + " / ".join(f"{err[s]['max_abs']:.3f}" for s in sizes)
                           + " | " + " / ".join(f"{err[s]['rel_l2_logits']:.3f}" for s in sizes) + " |")
            f = info.network.feature_out
            rng = np.random.default_rng(0)
            for size in sizes:
                feeds = {spec.SEARCH_INPUT: rng.uniform(0, 255, (1, 3, size, size)).astype(np.float32),
                         spec.CLS_KERNEL: (rng.standard_normal((10, f, 4, 4)) * 0.01).astype(np.float32),
                         spec.REG_KERNEL: (rng.standard_normal((20, f, 4, 4)) * 0.01).astype(np.float32)}
                graphs = {"fp32": info.graph("search"),
                          **{k: d / int8_file("search", form) for k, (d, form) in forms.items()},
                          **({k: Path(v) for k, v in also.items()} if model == args.models[-1] else {})}
                t = time_forms(graphs, feeds, args.runs, work)
                base = t["fp32"]["ms"]
                for name, r in t.items():
                    rows.append(f"| {info.preset} | {size} | {name} | {r['ms']:.1f} | {r['ms'] / base:.2f}x | "
                                f"{r['integer_convs']} |")
                    print(rows[-1], file=sys.stderr, flush=True)
    import onnxruntime as ort

    from dasiamrt.cpu_features import detect

    cpu = detect()
    kernels = ", exact u8 x u8 integer kernels (session.x64quantprecision)" if cpu.u8s8_overflow else ""
    print("\n".join(rows) + "\n\n" + "\n".join(acc) +
          f"\n\nCPU: {cpu.summary()}; onnxruntime {ort.__version__}, one thread per core{kernels}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
