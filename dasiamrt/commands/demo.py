"""``dasiamrt demo``: the embedded default — the bundled model tracks the box in the bundled clip."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._common import threads_arg


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="track the printed box of the bundled clip with the bundled model (offline)",
                       description="Writes an annotated video and the per-frame CSV, prints FPS.")
    p.add_argument("--out", default="dasiamrt-demo", metavar="DIR", help="output folder (default: ./dasiamrt-demo)")
    p.add_argument("--model", metavar="DIR", help="exported model folder (default: the bundled model)")
    p.add_argument("--backend", choices=("ort", "trt", "torch"), default=None,
                   help="ort (default), trt, or torch (the bundled model's checkpoint; the default with --device)")
    p.add_argument("--device", default=None, metavar="cpu|cuda|cuda:N",
                   help="run the bundled model's checkpoint on the torch backend on this device (needs torch)")
    p.add_argument("--precision", choices=("fp32", "fp16"), default=None,
                   help="torch backend precision (default fp32; fp16 is for cuda)")
    p.add_argument("--threads", type=threads_arg, default=0, metavar="N",
                   help="CPU threads for ONNX Runtime (0: one per core)")
    p.add_argument("--da", dest="da", action="store_true", default=None, help="distractor-aware tracking on")
    p.add_argument("--no-da", dest="da", action="store_false", help="distractor-aware tracking off")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..artifacts.model_folder import read_model_dir
    from ..assets import DEMO_CLIP, DEMO_INIT_XYWH
    from ..errors import ConfigError, SourceError
    from ..runtime.tracker import Tracker
    from ..tracking import run_tracking
    from ._common import backend_options, bundled_torch_tracker, choose_backend, default_model

    backend = args.backend = choose_backend(args, "ort")
    if backend == "torch" and args.model:
        raise ConfigError("the torch backend runs the bundled model's checkpoint, not a model folder: drop --model, "
                          "or track it with --backend ort|trt")
    model = Path(args.model) if args.model else default_model()
    info = read_model_dir(model)
    config = info.tracker if args.da is None else info.tracker.replace(distractor={"enabled": args.da})
    out = Path(args.out)
    options = backend_options(args, backend)
    tracker = (bundled_torch_tracker(info, config, options) if backend == "torch"
               else Tracker.from_model(str(model), backend=backend, config=config, **options))
    with tracker:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise SourceError(f"cannot create the output folder {out}: {err.strerror or err}") from None
        summary = run_tracking(tracker, str(DEMO_CLIP), DEMO_INIT_XYWH, csv_path=str(out / "boxes.csv"),
                               video_path=str(out / "tracked.mp4"), progress=sys.stderr)
    print(f"dasiamrt demo: {summary.line()}; model {info.preset} ({model.name}), backend {args.backend}")
    print(f"dasiamrt demo: wrote {out / 'tracked.mp4'} and {out / 'boxes.csv'}")
    return 0
