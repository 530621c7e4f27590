"""Several control channels as one (``--control`` and ``--mavlink`` together): the live loop polls one channel."""
from __future__ import annotations

import logging
from typing import List, Optional, Sequence

from .control import ControlChannel, ControlMessage

log = logging.getLogger(__name__)


class CombinedControl(ControlChannel):
    """Polls each channel in turn (messages of one poll: the first channel's first); closes them all."""

    def __init__(self, channels: Sequence[ControlChannel]) -> None:
        super().__init__()
        self.channels = list(channels)
        self.description = " + ".join(channel.description for channel in self.channels)

    def poll(self) -> List[ControlMessage]:
        out: List[ControlMessage] = []
        for channel in self.channels:
            out.extend(channel.poll())
        return out

    def close(self) -> None:
        """Close every channel, even when one fails; the first failure is raised afterwards."""
        errors: List[BaseException] = []
        for channel in self.channels:
            try:
                channel.close()
            except OSError as err:
                log.error("closing %s failed: %s", channel.description, err)
                errors.append(err)
        if errors:
            raise errors[0]


def combine_controls(channels: Sequence[Optional[ControlChannel]]) -> Optional[ControlChannel]:
    """``None`` without channels, the channel itself when there is one, else a :class:`CombinedControl`."""
    present = [channel for channel in channels if channel is not None]
    if not present:
        return None
    return present[0] if len(present) == 1 else CombinedControl(present)
