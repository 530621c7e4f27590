"""What the MAVLink component did in a run: messages, acks, link trouble, latency, CPU cost."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import numpy as np

from .mavlink_protocol import CAMERA_TRACKING_STATUS_FLAGS_ACTIVE, CAMERA_TRACKING_STATUS_FLAGS_IDLE

#: Latencies kept (a day at 10 Hz is ~860k; the first ones are enough for the percentiles).
MAX_LATENCIES = 200_000


@dataclass
class MavlinkStats:
    """Counters of one run of the component.

    Attributes:
        heartbeats: HEARTBEATs sent.
        status_active / status_idle / status_error: CAMERA_TRACKING_IMAGE_STATUS sent, by tracking_status.
        acks: COMMAND_ACKs sent, by MAV_RESULT.
        ignored_commands: commands for another system, component or camera (not acked).
        gimbal_commands: GIMBAL_MANAGER_SET_PITCHYAW sent.
        latencies_s: capture -> send time of each ACTIVE status (its frame's capture), seconds.
        bad_data / unknown: undecodable byte runs and messages of another dialect, ignored.
        link_drops / reconnects: TCP/serial failures and successful reopenings.
        silences: times nothing was received for ``silence_s``.
        cpu_s / wall_s: CPU time of the MAVLink thread (``time.thread_time``) and its lifetime.
    """

    heartbeats: int = 0
    status_active: int = 0
    status_idle: int = 0
    status_error: int = 0
    acks: Dict[int, int] = field(default_factory=dict)
    ignored_commands: int = 0
    gimbal_commands: int = 0
    latencies_s: List[float] = field(default_factory=list)
    bad_data: int = 0
    unknown: int = 0
    link_drops: int = 0
    reconnects: int = 0
    silences: int = 0
    cpu_s: float = 0.0
    wall_s: float = 0.0

    def count_ack(self, result: int) -> None:
        self.acks[result] = self.acks.get(result, 0) + 1

    def count_status(self, tracking_status: int, latency_s: Optional[float]) -> None:
        if tracking_status & CAMERA_TRACKING_STATUS_FLAGS_ACTIVE:
            self.status_active += 1
        elif tracking_status == CAMERA_TRACKING_STATUS_FLAGS_IDLE:
            self.status_idle += 1
        else:
            self.status_error += 1
        if latency_s is not None and len(self.latencies_s) < MAX_LATENCIES:
            self.latencies_s.append(latency_s)

    def absorb_link(self, link: Any) -> None:
        """Copy the link's counters (at the end of the run)."""
        self.bad_data, self.unknown = link.bad.count, link.unknown.count
        self.link_drops, self.reconnects = link.drops, link.reconnects

    def latency_ms(self, q: float) -> float:
        """``q``-th percentile of the capture -> status latency, ms (NaN without active statuses)."""
        return float(np.percentile(self.latencies_s, q)) * 1000 if self.latencies_s else float("nan")

    def line(self) -> str:
        cpu = 100.0 * self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0
        acks = sum(self.acks.values())
        return (f"MAVLink: {self.status_active} active / {self.status_error} lost / {self.status_idle} idle status "
                f"messages, capture->status latency median {self.latency_ms(50):.1f} ms p90 {self.latency_ms(90):.1f} "
                f"ms, {acks} acks, {self.ignored_commands} commands for others, {self.bad_data} bad + "
                f"{self.unknown} unknown ignored, {self.link_drops} link drops, {self.silences} silences, "
                f"thread CPU {self.cpu_s * 1000:.0f} ms over {self.wall_s:.1f} s ({cpu:.2f}% of a core)")
