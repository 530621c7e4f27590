"""A recorded MAVLink session: a simulated ground station against ``dasiamrt live --mavlink`` on the bundled clip.

The ground station (pymavlink ``mavutil``, ``tests/live/mavlink_gcs.py``) listens on 127.0.0.1 like
QGroundControl; ``dasiamrt live`` (the real command, a subprocess) plays the bundled clip as a 30 FPS
camera (``--realtime``) with the bundled model, writes its JSON lines to stdout and is the MAVLink
camera (``--mavlink udpout:127.0.0.1:PORT --gimbal-follow``). The script sends the commands a user's
clicks would send, logs every command, ack and the first status after each, measures the status
rates per phase, and the latency from a frame's capture to the ground station's receipt of its
status: each status is matched to the JSON record with exactly the same box (the record carries the
frame's capture time; both programs share this machine's clock).

    python benchmarks/mavlink_session.py --out benchmarks/mavlink_session.md
"""
from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dasiamrt.assets import DEMO_CLIP, DEMO_INIT_XYWH  # noqa: E402
from dasiamrt.cpu_features import detect  # noqa: E402
from tests.live.mavlink_gcs import SimulatedGcs, mavlink  # noqa: E402

W, H = 480, 360
HFOV = 60.0
NAMES = {getattr(mavlink, n): n for n in dir(mavlink) if n.startswith("MAV_CMD_")}
RESULTS = {getattr(mavlink, n): n[len("MAV_RESULT_"):] for n in dir(mavlink) if n.startswith("MAV_RESULT_")}


class Run:
    def __init__(self) -> None:
        self.records: List[Tuple[float, Dict[str, Any]]] = []
        self.phases: List[Tuple[str, float, float, Optional[float]]] = []  # name, start, end, interval
        self.events: List[Tuple[float, str, str]] = []  # time, direction, text
        self.t0 = 0.0


def _command(gcs: SimulatedGcs, run: Run, command: int, *params: float) -> Any:
    t = gcs.command(command, *params)
    shown = ", ".join(f"{p:.4g}" for p in params)
    run.events.append((t, "GCS -> camera", f"COMMAND_LONG {NAMES.get(command, command)}({shown})"))
    ack = gcs.ack(command, t)
    if ack is not None:
        t_ack = gcs.wait("COMMAND_ACK", t, where=lambda m: m.command == command)[0]
        run.events.append((t_ack, "camera -> GCS", f"COMMAND_ACK {NAMES.get(command, command)}: "
                                                   f"{RESULTS.get(ack.result, ack.result)}"))
    else:
        run.events.append((time.time(), "camera -> GCS", "no COMMAND_ACK within 5 s"))
    return ack


def _first_status_after(gcs: SimulatedGcs, run: Run, since: float, mode: int) -> None:
    """Log the first status in ``mode`` after ``since`` (statuses of the previous target may come first)."""
    entry = gcs.wait("CAMERA_TRACKING_IMAGE_STATUS", since, 2.0, lambda m: m.tracking_mode == mode)
    if entry is None:
        return
    m = entry[1]
    if m.tracking_mode == 2:
        data = f"rect ({m.rec_top_x:.3f}, {m.rec_top_y:.3f})-({m.rec_bottom_x:.3f}, {m.rec_bottom_y:.3f})"
    elif m.tracking_mode == 1:
        data = f"point ({m.point_x:.3f}, {m.point_y:.3f}) r {m.radius:.3f}"
    else:
        data = "no target"
    run.events.append((entry[0], "camera -> GCS", f"CAMERA_TRACKING_IMAGE_STATUS status {m.tracking_status} "
                                                  f"mode {m.tracking_mode} {data}"))


def _script(gcs: SimulatedGcs, proc: subprocess.Popen, run: Run) -> None:
    while not run.records:
        if proc.poll() is not None:
            raise SystemExit("dasiamrt live exited before its first frame")
        time.sleep(0.01)
    run.t0 = run.records[0][0]
    beat = gcs.wait("HEARTBEAT", 0, 5)
    if beat:
        m = beat[1]
        run.events.append((beat[0], "camera -> GCS", f"HEARTBEAT type {m.type} (MAV_TYPE_CAMERA) from "
                                                     f"{m.get_srcSystem()}/{m.get_srcComponent()}"))
    t = time.time()
    _command(gcs, run, mavlink.MAV_CMD_REQUEST_MESSAGE, mavlink.MAVLINK_MSG_ID_CAMERA_INFORMATION)
    info = gcs.wait("CAMERA_INFORMATION", t, 2.0)
    if info:
        run.events.append((info[0], "camera -> GCS", f"CAMERA_INFORMATION flags {info[1].flags} (HAS_TRACKING_POINT"
                                                     f" | HAS_TRACKING_RECTANGLE), {info[1].resolution_h}x"
                                                     f"{info[1].resolution_v}"))
    _command(gcs, run, 400, 1)  # MAV_CMD_COMPONENT_ARM_DISARM: a flight command; the camera must refuse
    x, y, w, h = DEMO_INIT_XYWH
    t = time.time()
    _command(gcs, run, mavlink.MAV_CMD_CAMERA_TRACK_RECTANGLE, x / W, y / H, (x + w) / W, (y + h) / H)
    _first_status_after(gcs, run, t, 2)
    time.sleep(2.5)
    run.phases.append(("rectangle, default interval", t + 0.3, time.time(), 0.1))
    t = time.time()
    _command(gcs, run, mavlink.MAV_CMD_SET_MESSAGE_INTERVAL, mavlink.MAVLINK_MSG_ID_CAMERA_TRACKING_IMAGE_STATUS, 50000)
    time.sleep(2.5)
    run.phases.append(("rectangle, SET_MESSAGE_INTERVAL 50000 us", t + 0.2, time.time(), 0.05))
    x, y, w, h = run.records[-1][1]["bbox"]
    t = time.time()
    _command(gcs, run, mavlink.MAV_CMD_CAMERA_TRACK_POINT, (x + w / 2) / W, (y + h / 2) / H, 0.2)
    _first_status_after(gcs, run, t, 1)
    time.sleep(1.5)
    run.phases.append(("point (re-target), 50000 us", t + 0.2, time.time(), 0.05))
    t = time.time()
    _command(gcs, run, mavlink.MAV_CMD_CAMERA_STOP_TRACKING)
    _first_status_after(gcs, run, t, 0)
    time.sleep(0.8)
    run.phases.append(("after STOP_TRACKING", t, time.time(), None))


def _matched_latencies(run: Run, gcs: SimulatedGcs, since: float, until: float) -> List[Tuple[float, float]]:
    """(capture -> GCS receipt, capture -> result) in ms for each active status, via the record with its box."""
    out = []
    for t, m in gcs.messages("CAMERA_TRACKING_IMAGE_STATUS", since, until):
        if m.tracking_status != 1:
            continue
        for _, record in reversed(run.records):
            if record["bbox"] is None or record["t_capture"] > t:
                continue
            x, y, w, h = record["bbox"]
            if m.tracking_mode == 2:
                got = np.array([m.rec_top_x * W, m.rec_top_y * H, m.rec_bottom_x * W, m.rec_bottom_y * H])
                want = np.clip([x, y, x + w, y + h], 0, [W, H, W, H])
            else:
                got = np.array([m.point_x * W, m.point_y * H, m.radius * W])
                want = np.array([x + w / 2, y + h / 2, max(w, h) / 2])
            if np.abs(got - want).max() < 0.02:
                out.append(((t - record["t_capture"]) * 1000, record["latency_ms"]))
                break
    return out


def _report(run: Run, gcs: SimulatedGcs, cmd: List[str], stderr: str) -> str:
    lines = ["## MAVLink camera session (`benchmarks/mavlink_session.py`)", "",
             f"`{' '.join(cmd)}` against a simulated ground station (pymavlink `mavutil`, `udpin` on 127.0.0.1),",
             f"the bundled clip ({W}x{H}, 240 frames) played as a 30 FPS camera, the bundled model, ONNX Runtime.", "",
             f"Machine: {detect().summary()}, {os.cpu_count()} cores, load average "
             f"{', '.join(f'{v:.1f}' for v in os.getloadavg())} (after the run), Python "
             f"{sys.version.split()[0]}, pymavlink {_version('pymavlink')}.", "",
             "### Log (times in s from the first processed frame)", "",
             "| t (s) | direction | message |", "|---:|---|---|"]
    lines += [f"| {t - run.t0:.3f} | {d} | {text} |" for t, d, text in sorted(run.events)]
    lines += ["", "### Status rate per phase (CAMERA_TRACKING_IMAGE_STATUS received by the ground station)", "",
              "| phase | requested interval (ms) | messages (active/idle) | rate (Hz) | interval mean (ms) | "
              "median | p10 | p90 |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, start, end, interval in run.phases:
        entries = gcs.messages("CAMERA_TRACKING_IMAGE_STATUS", start, end)
        times = np.array([t for t, _ in entries])
        active = sum(1 for _, m in entries if m.tracking_status == 1)
        head = f"| {name} | {'-' if interval is None else f'{interval * 1000:.0f}'} | {active}/{len(entries) - active}"
        if len(times) < 2:
            lines.append(head + " | - | - | - | - | - |")
            continue
        gaps = np.diff(times) * 1000
        rate = (len(times) - 1) / (times[-1] - times[0])
        lines.append(f"{head} | {rate:.2f} | {np.mean(gaps):.1f} | {np.median(gaps):.1f} | "
                     f"{np.percentile(gaps, 10):.1f} | {np.percentile(gaps, 90):.1f} |")
    pairs = _matched_latencies(run, gcs, run.t0, math.inf)
    total = np.array([p[0] for p in pairs]) if pairs else np.array([math.nan])
    tracker = np.array([p[1] for p in pairs]) if pairs else np.array([math.nan])
    gimbal = gcs.messages("GIMBAL_MANAGER_SET_PITCHYAW")
    summary = [s.split("dasiamrt live: ", 1)[1] for s in stderr.splitlines() if s.startswith("dasiamrt live:")]
    lines += ["", "### Latency: frame capture -> status received by the ground station", "",
              f"{len(pairs)} active status messages, each matched to the JSON record with the same box "
              "(0.02 px).", "",
              "| | median (ms) | p90 (ms) | max (ms) |", "|---|---:|---:|---:|",
              f"| capture -> status received | {np.median(total):.1f} | {np.percentile(total, 90):.1f} | "
              f"{np.max(total):.1f} |",
              f"| of which capture -> tracker result (JSON `latency_ms`) | {np.median(tracker):.1f} | "
              f"{np.percentile(tracker, 90):.1f} | {np.max(tracker):.1f} |", "",
              f"Gimbal follow: {len(gimbal)} GIMBAL_MANAGER_SET_PITCHYAW received; the last "
              f"{sum(1 for _, m in gimbal[-3:] if m.pitch_rate == 0 and m.yaw_rate == 0)} of them zero rates "
              "(after the stop).", "", "The command's own summary (stderr):", ""]
    lines += [f"    {s}" for s in summary]
    return "\n".join(lines) + "\n"


def _version(name: str) -> str:
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="also write the Markdown report here")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads (default 1)")
    args = parser.parse_args()
    gcs = SimulatedGcs()
    cmd = ["dasiamrt", "live", str(DEMO_CLIP.relative_to(REPO)), "--realtime", "--threads", str(args.threads),
           "--json", "-", "--mavlink", f"udpout:127.0.0.1:{gcs.port}", "--gimbal-follow", "--hfov", str(HFOV)]
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "dasiamrt.cli", *cmd[1:]], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    run = Run()
    threading.Thread(target=lambda: [run.records.append((time.time(), json.loads(line))) for line in proc.stdout],
                     daemon=True).start()
    try:
        _script(gcs, proc, run)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
        time.sleep(0.2)
    finally:
        if proc.poll() is None:
            proc.kill()
        gcs.close()
    report = _report(run, gcs, cmd, stderr)
    print(report)
    if args.out:
        Path(args.out).write_text(report)


if __name__ == "__main__":
    main()
