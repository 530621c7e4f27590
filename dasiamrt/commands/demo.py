"""``dasiamrt demo``: the embedded default — the bundled model tracks the box in the bundled clip."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._common import add_backend_args, add_da_switch


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="track the printed box of the bundled clip with the bundled model (offline)",
                       description="Writes an annotated video and the per-frame CSV, prints FPS.")
    p.add_argument("--out", default="dasiamrt-demo", metavar="DIR", help="output folder (default: ./dasiamrt-demo)")
    p.add_argument("--model", metavar="DIR", help="exported model folder (default: the bundled model)")
    add_backend_args(p, "ort (default), trt, or torch (the bundled model's checkpoint; the default with --device)")
    add_da_switch(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..artifacts.model_folder import read_model_dir
    from ..assets import DEMO_CLIP, DEMO_INIT_XYWH
    from ..errors import SourceError
    from ..runtime.tracker_options import default_model, open_tracker
    from ..tracking.run import run_tracking
    from ._common import options_from_args

    options = options_from_args(args)
    backend = options.backend_name()
    model = Path(args.model) if args.model else default_model()
    info = read_model_dir(model)
    out = Path(args.out)
    with open_tracker(options) as tracker:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise SourceError(f"cannot create the output folder {out}: {err.strerror or err}") from None
        summary = run_tracking(tracker, str(DEMO_CLIP), DEMO_INIT_XYWH, csv_path=str(out / "boxes.csv"),
                               video_path=str(out / "tracked.mp4"), progress=sys.stderr)
    print(f"dasiamrt demo: {summary.line()}; model {info.preset} ({model.name}), backend {backend}")
    print(f"dasiamrt demo: wrote {out / 'tracked.mp4'} and {out / 'boxes.csv'}")
    return 0
