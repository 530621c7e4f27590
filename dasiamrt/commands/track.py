"""``dasiamrt track SOURCE --init x,y,w,h``: track one object through a video, folder or camera."""
from __future__ import annotations

import argparse
import sys

from ._common import add_model_args, add_tracker_switches, make_tracker


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("track", help="track an object through a video, image folder, camera or stream",
                       description="Track one object. Writes frame,x,y,w,h,score,state "
                                   "(0-based pixels; frame 0 = the init box).")
    p.add_argument("source", help="video file, image folder, camera index, GStreamer pipeline or RTSP URL")
    p.add_argument("--init", required=True, metavar="X,Y,W,H",
                   help="initial box on the first frame (0-based pixels); "
                        "write --init=-5,10,40,30 when x starts with '-'")
    add_model_args(p)
    add_tracker_switches(p)
    p.add_argument("--max-frames", type=int, default=None, metavar="N", help="stop after N frames")
    p.add_argument("--out", metavar="CSV", help="write per-frame boxes here")
    p.add_argument("--save", metavar="VIDEO", help="write the annotated video here (.mp4)")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..tracking import parse_box, run_tracking

    box = parse_box(args.init)
    with make_tracker(args) as tracker:
        summary = run_tracking(tracker, args.source, box, max_frames=args.max_frames, csv_path=args.out,
                               video_path=args.save, progress=None if args.quiet else sys.stderr)
    print(f"dasiamrt track: {summary.line()}")
    return 0
