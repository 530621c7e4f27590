"""``dasiamrt live SOURCE|--csi N``: track from a camera or stream, newest frame first, results as JSON lines.

Exit status: 0 when the run ended normally (end of file, ``stop`` message, ``q`` key,
``--max-frames``); 1 when a live source was lost and every reconnect failed (so a supervisor such as
systemd can restart it); 2 for user errors (bad flags, source that cannot be opened at start);
130 / 143 when stopped by SIGINT / SIGTERM, after the outputs were closed (every command's
convention, :mod:`dasiamrt.interrupts`).
"""
from __future__ import annotations

import argparse
import sys

from ._common import add_model_args, add_tracker_switches, make_tracker

EPILOG = """examples:
  dasiamrt live 0 --init 300,200,80,60 --json -                 # USB camera, JSON lines on stdout
  dasiamrt live --csi 0 --size 1280x720 --fps 30 --select --show  # Jetson CSI camera, draw the target
  dasiamrt live rtsp://10.0.0.2/stream --control udp://5006 --json udp://10.0.0.3:5005   # control from this machine
  DASIAMRT_CONTROL_TOKEN=s3cret dasiamrt live 0 --control udp://0.0.0.0:5006 --init 300,200,80,60  # from the network
  dasiamrt live clip.mp4 --realtime --init 221,11,225,169 --save out.mp4   # a file played like a camera
  dasiamrt live --csi 0 --mavlink /dev/ttyTHS1,921600 --gimbal-follow --hfov 62   # MAVLink camera + gimbal
keys (--show): s/r draw a new target, c clear it, q/Esc quit.
control (--control): {"cmd": "init", "bbox": [x, y, w, h]}, {"cmd": "clear"}, {"cmd": "stop"}
  with a token, each message also carries "token": "s3cret"; others are ignored.
MAVLink (--mavlink): camera tracking protocol; wiring with QGroundControl/ArduPilot/PX4 in dasiamrt/live/README.md
exit status: 0 done, 1 source lost for good, 2 user error, 130 SIGINT, 143 SIGTERM."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("live",
                       help="track live from a camera, CSI camera, RTSP/GStreamer stream or a file in real time",
                       description="Track one object live: the tracker always takes the newest frame; results go out "
                                   "as JSON lines (schema: dasiamrt/live/README.md).",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", nargs="?", help="camera index, video file, GStreamer pipeline or RTSP/HTTP URL")
    src = p.add_argument_group("source")
    src.add_argument("--csi", type=int, metavar="N", help="Jetson CSI camera sensor id (nvarguscamerasrc)")
    src.add_argument("--size", metavar="WxH", help="camera capture size (CSI default 1280x720)")
    src.add_argument("--fps", type=float, help="camera rate (CSI default 30); playback rate with --realtime")
    src.add_argument("--flip", type=int, default=0, metavar="M",
                     help="CSI nvvidconv flip-method (0 none, 2 rotate 180)")
    src.add_argument("--realtime", action="store_true",
                     help="play a video file at its native rate like a camera (frames the tracker misses are dropped)")
    src.add_argument("--reconnect", type=int, default=5, metavar="N",
                     help="reconnect tries when a camera/stream stops, 0.5 s doubling to 8 s (default 5)")
    target = p.add_argument_group("target")
    target.add_argument("--init", metavar="X,Y,W,H", help="target box on the first frame (0-based pixels)")
    target.add_argument("--select", action="store_true", help="draw the target on the first frame (needs a display)")
    target.add_argument("--control", metavar="-|udp://[HOST:]PORT",
                        help="read control messages (JSON lines) from stdin (-) or a UDP port; udp://PORT listens on "
                             "127.0.0.1 (this machine only); to listen on the network give HOST (0.0.0.0 = every "
                             "interface) and a --control-token")
    target.add_argument("--control-token", metavar="TOKEN", default=None,
                        help="shared secret: control messages must carry \"token\": TOKEN, others are ignored "
                             "(default: $DASIAMRT_CONTROL_TOKEN, else none)")
    mav = p.add_argument_group("MAVLink (needs pymavlink: pip install 'dasiamrt[mavlink]')")
    mav.add_argument("--mavlink", metavar="CONNECTION",
                     help="be a MAVLink camera with tracking on this link: udpin:HOST:PORT, udpout:HOST:PORT, "
                          "tcp:HOST:PORT or a serial device /dev/ttyTHS1,921600")
    mav.add_argument("--mavlink-sysid", type=int, default=1, metavar="N",
                     help="MAVLink system id: the vehicle's (default 1)")
    mav.add_argument("--mavlink-compid", type=int, default=100, metavar="N",
                     help="MAVLink component id (default 100, MAV_COMP_ID_CAMERA)")
    mav.add_argument("--gimbal-follow", action="store_true",
                     help="keep the target centred with gimbal-manager pitch/yaw rates (never flight commands)")
    mav.add_argument("--hfov", type=float, metavar="DEG", help="camera horizontal field of view (--gimbal-follow)")
    mav.add_argument("--gimbal-gain", type=float, default=1.0, metavar="K",
                     help="proportional gain, rad/s per rad of offset (default 1.0)")
    mav.add_argument("--gimbal-max-rate", type=float, default=30.0, metavar="DEG_S",
                     help="rate clamp in deg/s (default 30)")
    mav.add_argument("--gimbal-manager", metavar="SYS,COMP",
                     help="gimbal manager ids (default: component 1 of --mavlink-sysid, the autopilot)")
    out = p.add_argument_group("outputs")
    out.add_argument("--json", action="append", default=[], metavar="-|FILE|udp://HOST:PORT",
                     help="write one JSON record per frame to stdout (-), a file or UDP (repeatable)")
    out.add_argument("--save", metavar="VIDEO", help="record the overlay video here (.mp4; finalised on exit)")
    out.add_argument("--show", action="store_true", help="show the overlay in a window (needs a display)")
    out.add_argument("--max-frames", type=int, default=None, metavar="N", help="stop after N processed frames")
    add_model_args(p)
    add_tracker_switches(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from ..interrupts import Interrupted
    from ..live.options import LiveOptions
    from ..live.session import run_live_session

    options = LiveOptions(**{f.name: getattr(args, f.name) for f in dataclasses.fields(LiveOptions)})
    outcome = run_live_session(options.plan(), lambda: make_tracker(args))
    if outcome.signals:  # SIGINT/SIGTERM: outputs are closed; the exit status says which signal (130/143)
        if outcome.camera_line is not None:
            print(f"dasiamrt live: {outcome.camera_line}", file=sys.stderr)
        raise Interrupted(outcome.signals[0], f"{outcome.summary.line()}; outputs closed")
    print(f"dasiamrt live: {outcome.summary.line()}", file=sys.stderr)
    if outcome.camera_line is not None:
        print(f"dasiamrt live: {outcome.camera_line}", file=sys.stderr)
    return 0 if outcome.summary.ok else 1
