"""Argument groups shared by subcommands (which model, which backend, tracker switches) and their parsing into
the library's :class:`~dasiamrt.runtime.tracker_options.TrackerOptions`. The policy (which backend runs what,
the bundled-model default) is :mod:`dasiamrt.runtime.tracker_options`'s."""
from __future__ import annotations

import argparse
from typing import Any, Optional, Tuple

from ..config import TrackerConfig
from ..errors import ConfigError
from ..runtime.tracker_options import BACKENDS, TrackerOptions, open_tracker


def add_model_args(parser: argparse.ArgumentParser, allow_default: bool = True) -> None:
    """``--model DIR`` | ``--weights FILE --preset P``, ``--backend``, ``--threads``."""
    group = parser.add_argument_group("model")
    default = " (default: the bundled model)" if allow_default else ""
    group.add_argument("--model", metavar="DIR", help=f"exported model folder{default}")
    group.add_argument("--weights", metavar="FILE", help="PyTorch checkpoint (official .model files too); needs torch")
    group.add_argument("--preset", default=None,
                       help="big, vot, otb, paper, tiny or mobile: the layout of --weights (default vot); with "
                            "--model, track with this preset's settings instead of those stored in the model")
    add_backend_args(group)


def add_backend_args(parser: Any, backend_help: str = "inference backend (default: torch for --weights or --device, "
                     "else ort)", precisions: Tuple[str, ...] = ("fp32", "fp16", "int8")) -> None:
    """``--backend``, ``--threads``, ``--precision``, ``--device``: the flags of every command that runs a tracker."""
    parser.add_argument("--backend", choices=BACKENDS, default=None, help=backend_help)
    parser.add_argument("--threads", type=threads_arg, default=0, metavar="N",
                        help="CPU threads for ONNX Runtime (0: one per core)")
    add_precision_arg(parser, precisions)
    add_device_arg(parser)


def add_device_arg(parser: Any) -> None:
    """``--device cpu|cuda|cuda:N``: the torch backend's device (it selects that backend)."""
    parser.add_argument("--device", default=None, metavar="cpu|cuda|cuda:N",
                        help="run the torch backend (weights, no export) on this device: cuda is the GPU path "
                             "without TensorRT (fp32 or --precision fp16, one CUDA graph per search size); ort and "
                             "trt choose the GPU themselves")


def threads_arg(text: str) -> int:
    """argparse type of ``--threads``: an integer >= 0 (0: ONNX Runtime's default, one per core)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0 (0: one per core), got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0 (0: one per core), got {value}")
    return value


def add_precision_arg(parser: Any, choices: Tuple[str, ...] = ("fp32", "fp16", "int8")) -> None:
    """``--precision fp32|fp16|int8`` (default: the backend's; int8 on ort runs the graphs of 'dasiamrt calibrate')."""
    parser.add_argument("--precision", choices=choices, default=None,
                        help="graphs/engines to run (default: fp32 for ort and torch, the trt backend's default for "
                             "trt; int8 needs 'dasiamrt calibrate' first and runs the INT8 form for this backend and "
                             "CPU, named in the log; torch runs fp32 and fp16)")


def add_tracker_switches(parser: argparse.ArgumentParser) -> None:
    """``--da/--no-da``, ``--long-term/--no-long-term`` (default: the preset's)."""
    group = parser.add_argument_group("tracker (default: the settings stored in the model, or the preset's)")
    add_da_switch(group)
    group.add_argument("--long-term", dest="long_term", action="store_true", default=None,
                       help="long-term 255 -> 767 search switching on (default: as the model/preset says)")
    group.add_argument("--no-long-term", dest="long_term", action="store_false", help="long-term switching off")
    group.add_argument("--search-size", type=int, default=None,
                       help="search-crop side: 255, 271, 287... (default: the model/preset's)")


def add_da_switch(parser: Any) -> None:
    """``--da/--no-da``: distractor-aware tracking on or off (default: as the model/preset says)."""
    parser.add_argument("--da", dest="da", action="store_true", default=None,
                        help="distractor-aware tracking on (default: as the model/preset says)")
    parser.add_argument("--no-da", dest="da", action="store_false", help="distractor-aware tracking off")


def parse_search_sizes(text: str, flag: str = "--sizes", allow_empty: bool = True) -> Tuple[int, ...]:
    """``"255,767"`` -> (255, 767), each checked by :func:`dasiamrt.spec.check_search_size`.

    Raises:
        ConfigError: a part is not an integer, or not a supported search size; no size at all
            unless ``allow_empty``.
    """
    from ..spec import check_search_size

    sizes = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            sizes.append(check_search_size(int(part)))
        except ValueError:
            raise ConfigError(f"{flag} takes comma-separated integers such as 255,767, got {text!r}") from None
    if not sizes and not allow_empty:
        raise ConfigError(f"{flag} names no search size (got {text!r}): give e.g. {flag} 255,767")
    return tuple(sizes)


#: TrackerOptions field -> the argparse destination of its flag
_OPTION_FLAGS = {"model": "model", "weights": "weights", "preset": "preset", "backend": "backend", "device": "device",
                 "precision": "precision", "threads": "threads", "distractor": "da", "long_term": "long_term",
                 "search_size": "search_size"}


def options_from_args(args: argparse.Namespace) -> TrackerOptions:
    """The :class:`~dasiamrt.runtime.tracker_options.TrackerOptions` of the model arguments and tracker switches
    (flags a command lacks keep the library's defaults)."""
    given = vars(args)
    return TrackerOptions(**{field: given[flag] for field, flag in _OPTION_FLAGS.items()
                             if given.get(flag) is not None})


def make_tracker(args: argparse.Namespace, config: Optional[TrackerConfig] = None) -> Any:
    """The tracker the model arguments name (:func:`~dasiamrt.runtime.tracker_options.open_tracker`)."""
    return open_tracker(options_from_args(args), config)
