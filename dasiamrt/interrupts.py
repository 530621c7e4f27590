"""Interrupts: SIGTERM handled like Ctrl-C, and one exit status convention for every command.

Exit status of ``dasiamrt`` (README, "Exit status"):

* 0: done; 1: ``live`` lost its camera/stream for good; 2: a user error (one line on stderr,
  nothing written);
* 128 + N when stopped by signal N: **130** for SIGINT (Ctrl-C), **143** for SIGTERM (``kill``,
  ``systemctl stop``, ``docker stop``), the shell's own convention. What a stopped command keeps:
  ``track`` the CSV and a playable video of the frames tracked; ``live`` its JSON lines and video;
  ``eval`` every finished sequence (the same command resumes); ``bench`` nothing (a report of half
  the cases would look complete).

Standard library only.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any, Iterator

#: Signals a command turns into :class:`Interrupted`.
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """A stop asked by a signal; a :class:`KeyboardInterrupt`, so code that handles Ctrl-C handles it too.

    Attributes:
        signum: the signal (SIGINT for a plain ``KeyboardInterrupt``).
        detail: what the interrupted command kept, for the one stderr line (may be empty).
    """

    def __init__(self, signum: int = signal.SIGINT, detail: str = "") -> None:
        super().__init__(detail)
        self.signum = int(signum)
        self.detail = detail

    @property
    def signal_name(self) -> str:
        return signal_name(self.signum)


def signal_of(err: BaseException) -> int:
    """The signal behind an interrupt (SIGINT for Python's own ``KeyboardInterrupt``)."""
    return int(getattr(err, "signum", signal.SIGINT))


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def exit_status(signum: int) -> int:
    """128 + the signal number: 130 for SIGINT, 143 for SIGTERM."""
    return 128 + int(signum)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While inside, SIGTERM raises :class:`Interrupted` in the main thread, as SIGINT raises KeyboardInterrupt.

    Without it SIGTERM kills Python at once: no ``finally``, no outputs kept, temp files left behind.
    Outside the main thread (where handlers cannot be set) it does nothing.
    """
    if not _in_main_thread():
        yield
        return

    def handler(signum: int, _frame: Any) -> None:
        raise Interrupted(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Ignore SIGINT and SIGTERM while inside (main thread), so a second Ctrl-C cannot cut the finalising short."""
    if not _in_main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)
