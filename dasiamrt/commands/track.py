"""``dasiamrt track SOURCE --init x,y,w,h``: track one object through a video, folder or camera."""
from __future__ import annotations

import argparse
import sys

from ._common import add_model_args, add_tracker_switches, make_tracker


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("track", help="track an object through a video, image folder, camera or stream",
                       description="Track one object. Writes frame,x,y,w,h,score,state "
                                   "(0-based pixels; frame 0 = the init box) with --out and an annotated video "
                                   "with --save, and says which files it wrote. Ctrl-C or SIGTERM keeps the "
                                   "frames tracked so far (complete CSV, playable video) and exits with 130/143.")
    p.add_argument("source", help="video file, image folder, camera index, GStreamer pipeline or RTSP URL")
    p.add_argument("--init", required=True, metavar="X,Y,W,H",
                   help="initial box on the first frame (0-based pixels); "
                        "write --init=-5,10,40,30 when x starts with '-'")
    add_model_args(p)
    add_tracker_switches(p)
    p.add_argument("--max-frames", type=int, default=None, metavar="N", help="stop after N frames")
    p.add_argument("--out", metavar="CSV", help="write per-frame boxes here (default: not written)")
    p.add_argument("--save", metavar="VIDEO", help="write the annotated video here: .mp4, .m4v, .mov, .avi or .mkv "
                                                   "(default: not written)")
    p.add_argument("--quiet", action="store_true", help="no progress display (shown only when stderr is a terminal)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..fileio import check_distinct
    from ..runtime.geometry import parse_box
    from ..tracking.run import run_tracking
    from ..videoio.writers import check_video_path

    box = parse_box(args.init)
    source_file = args.source if Path(args.source).exists() else None
    check_distinct({"SOURCE": source_file}, {"--out": args.out, "--save": args.save})
    if args.save:
        check_video_path(args.save)
    replaced = {str(Path(p)) for p in (args.out, args.save) if p and Path(p).is_file()}
    with make_tracker(args) as tracker:
        summary = run_tracking(tracker, args.source, box, max_frames=args.max_frames, csv_path=args.out,
                               video_path=args.save,
                               progress=None if args.quiet or not sys.stderr.isatty() else sys.stderr)
    for note in summary.notes:
        print(f"dasiamrt track: warning: {note}", file=sys.stderr)
    print(f"dasiamrt track: {summary.line()}")
    for path in summary.written:
        print(f"dasiamrt track: wrote {path}{' (replaced the previous file)' if path in replaced else ''}")
    if not summary.written:
        print("dasiamrt track: no --out/--save given: the boxes were not written anywhere "
              "(add --out boxes.csv and/or --save tracked.mp4)", file=sys.stderr)
    return 0
