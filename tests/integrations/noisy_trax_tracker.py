"""A TraX tracker that writes to stdout mid-session (run as a script by the TraX tests).

It answers every request with the box it was initialised with, and writes to fd 1 without newlines,
from Python (``print``) and below it (``os.write``, as a native library would), including text that
starts like a TraX message: unless the server keeps stdout for TraX messages, the client's parser
never sees a message at the start of a line and the session breaks.
"""
from __future__ import annotations

import os
from types import SimpleNamespace

from dasiamrt.integrations.trax_server import serve


class Noisy:
    def init(self, frame, box):
        self.box = box
        print("print noise", end="", flush=True)
        os.write(1, b"native noise")

    def track(self, frame):
        print("print noise", end="", flush=True)
        os.write(1, b"@@TRAX:junk ")
        return SimpleNamespace(bbox_xywh=self.box, score=1.0)


if __name__ == "__main__":
    serve(Noisy(), spawn=Noisy)
