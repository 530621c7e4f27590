"""The ``dasiamrt`` console script.

Each subcommand lives in ``dasiamrt/commands/<name>.py`` and exposes ``register(subparsers)``,
which adds its parser and sets ``func`` to a handler ``run(args) -> int``. A handler parses, builds
dataclasses and calls one library function. Command modules import nothing heavy at module level.

User mistakes raise :class:`~dasiamrt.errors.DasiamrtError`; they are printed as one line on stderr
with exit status 2 and no traceback; so are mistakes argparse finds (no usage block). A command
stopped by SIGINT (Ctrl-C) or SIGTERM says what it kept and exits with 128 + the signal number:
130 or 143 (see :mod:`dasiamrt.interrupts`). ``--help`` shows every option's default. OpenCV's and FFmpeg's own warnings
(``moov atom not found``, ``can't open camera by index``) are hidden unless ``--verbose``: the
error line already says what failed and what to check.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from typing import Any, List, NoReturn, Optional

from . import __version__
from .errors import DasiamrtError
from .interrupts import exit_status, signal_name, signal_of, sigterm_as_interrupt

#: Subcommands, in the order ``--help`` lists them.
COMMANDS = ("demo", "track", "bench", "export", "build", "calibrate", "eval", "train", "live", "doctor", "trax")


class HelpFormatter(argparse.HelpFormatter):
    """Adds "(default: X)" to an option's help unless it already speaks of its default, has none, or is a flag
    (``--no-da``'s store_false default True would read as "off by default")."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("default" in text.lower() or not action.option_strings or action.nargs == 0 or default is None
                or default is False or default is argparse.SUPPRESS or default == []):
            return text
        return f"{text} (default: %(default)s)"


class RawHelpFormatter(HelpFormatter, argparse.RawDescriptionHelpFormatter):
    """:class:`HelpFormatter` that keeps the description's and epilog's line breaks."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block) and whose help shows defaults."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        chosen = kwargs.get("formatter_class")
        kwargs["formatter_class"] = RawHelpFormatter if chosen is argparse.RawDescriptionHelpFormatter \
            else chosen if chosen not in (None, argparse.HelpFormatter) else HelpFormatter
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="dasiamrt", description="DaSiamRPN tracking: export, TensorRT engines, runtime, benchmarks."
    )
    parser.add_argument("--version", action="version", version=f"dasiamrt {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="debug logging, and OpenCV's and FFmpeg's own warnings")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f".commands.{name}", __package__)
        except ModuleNotFoundError as err:
            if err.name != f"{__package__}.commands.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    if not args.verbose:
        _quiet_opencv()
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        with sigterm_as_interrupt():
            return int(args.func(args) or 0)
    except DasiamrtError as err:
        print(f"dasiamrt {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:  # SIGINT, or SIGTERM through sigterm_as_interrupt
        signum = signal_of(err)
        detail = getattr(err, "detail", "")
        print(f"dasiamrt {args.command}: interrupted by {signal_name(signum)}{': ' + detail if detail else ''}",
              file=sys.stderr)
        return exit_status(signum)


def _quiet_opencv() -> None:
    """Keep OpenCV's logger and its FFmpeg backend from adding lines to a one-line error.

    Both read their level from the environment when first used (cv2 is imported lazily, FFmpeg
    registers on the first capture), so this works as long as no frame was read yet; a value the
    user set is kept.
    """
    os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")  # its ERROR lines too: our own line says what failed
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
