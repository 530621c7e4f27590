"""Calibration output that behaves: a progress bar on stderr, ONNX Runtime's quantizer chatter in the debug log.

ONNX Runtime's calibrators ``print`` a few lines per calibration pass ("Collecting tensor data and
making histogram ...", "Finding optimal threshold ...") to stdout, and ``quantize_static`` warns
on the root logger ("Please consider to run pre-processing before quantization"): ~46 lines over
``dasiamrt calibrate``'s one-line summary. :func:`quiet_quantizer` sends both to this module's
logger at DEBUG (``dasiamrt -v calibrate`` shows them); :class:`ProgressBar` draws one
self-overwriting line on a terminal instead.
"""
from __future__ import annotations

import contextlib
import io
import logging
import sys
import time
from typing import IO, Iterator, Optional

log = logging.getLogger(__name__)


class _LogWriter(io.TextIOBase):
    """A text stream that logs each complete line at DEBUG."""

    def __init__(self) -> None:
        super().__init__()
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            if line.strip():
                log.debug("onnxruntime: %s", line.rstrip())
        return len(text)

    def flush(self) -> None:
        if self._pending.strip():
            log.debug("onnxruntime: %s", self._pending.rstrip())
        self._pending = ""


class _QuantizerRecords(logging.Filter):
    """Demotes the records ONNX Runtime's quantization package logs on the root logger to our DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        path = record.pathname.replace("\\", "/")
        if record.name == "root" and "onnxruntime/quantization/" in path:
            log.debug("onnxruntime: %s", record.getMessage())
            return False
        return True


@contextlib.contextmanager
def quiet_quantizer() -> Iterator[None]:
    """Inside: ONNX Runtime quantizer prints and root-logger warnings go to this module's DEBUG log."""
    writer = _LogWriter()
    records = _QuantizerRecords()
    root = logging.getLogger()
    root.addFilter(records)
    try:
        with contextlib.redirect_stdout(writer):
            yield
    finally:
        writer.flush()
        root.removeFilter(records)


class ProgressBar:
    """One line on a terminal, ``calibrate [########----------] 12/40 search 767``, redrawn in place.

    Draws only where ``stream`` is a terminal (logs and pipes get nothing); :meth:`close` ends the
    line. ``total`` may grow while running (:meth:`add`), since the work of each stage is known only
    when the stage starts.

    Args:
        stream: where to draw (default stderr).
        width: bar characters.
        label: text before the bar.
    """

    def __init__(self, stream: Optional[IO[str]] = None, width: int = 24, label: str = "calibrate") -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.label = label
        self.total = 0
        self.done = 0
        self.what = ""
        self._drawn = False
        self._last = 0.0

    @property
    def enabled(self) -> bool:
        isatty = getattr(self.stream, "isatty", None)
        return bool(isatty and isatty())

    def add(self, work: int) -> None:
        """More work units (e.g. the calibration passes of the next graph)."""
        self.total += max(0, int(work))
        self._draw(force=True)

    def advance(self, units: int = 1, what: Optional[str] = None) -> None:
        """``units`` more done; ``what`` names the current step."""
        self.done = min(self.total, self.done + units) if self.total else self.done + units
        if what is not None:
            self.what = what
        self._draw()

    def __call__(self, units: int = 1, what: Optional[str] = None) -> None:
        self.advance(units, what)

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self._last < 0.1 and self.done < self.total):
            return
        self._last = now
        share = self.done / self.total if self.total else 0.0
        filled = int(round(share * self.width))
        line = f"\r{self.label} [{'#' * filled}{'-' * (self.width - filled)}] {self.done}/{self.total} {self.what}"
        self.stream.write(line.ljust(len(line) + 8)[:120])
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        """End the bar's line (if one was drawn)."""
        if self._drawn:
            self._draw(force=True)
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
