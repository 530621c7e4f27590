"""Argument groups shared by subcommands: which model, which backend, tracker switches."""
from __future__ import annotations

import argparse
from typing import Any, Dict, Optional, Tuple

from ..config import TrackerConfig, get_preset
from ..errors import ConfigError, ModelError


def add_model_args(parser: argparse.ArgumentParser, allow_default: bool = True) -> None:
    """``--model DIR`` | ``--weights FILE --preset P``, ``--backend``, ``--threads``."""
    group = parser.add_argument_group("model")
    default = " (default: the bundled model)" if allow_default else ""
    group.add_argument("--model", metavar="DIR", help=f"exported model folder{default}")
    group.add_argument("--weights", metavar="FILE", help="PyTorch checkpoint (official .model files too); needs torch")
    group.add_argument("--preset", default=None,
                       help="big, vot, otb, paper or tiny: the layout of --weights (default vot); with --model, "
                            "track with this preset's settings instead of those stored in the model")
    group.add_argument("--backend", choices=("ort", "torch", "trt"), default=None,
                       help="inference backend (default: ort for --model, torch for --weights)")
    group.add_argument("--threads", type=int, default=0, help="CPU threads for ONNX Runtime (0: one per core)")
    add_precision_arg(group)


def add_precision_arg(parser: Any) -> None:
    """``--precision fp32|fp16|int8`` (default: the backend's; int8 on ort runs the graphs of 'dasiamrt calibrate')."""
    parser.add_argument("--precision", choices=("fp32", "fp16", "int8"), default=None,
                        help="graphs/engines to run (default: fp32 for ort, the trt backend's default for trt; "
                             "int8 needs 'dasiamrt calibrate' first and runs the INT8 form for this backend and CPU, "
                             "named in the log)")


def backend_options(args: argparse.Namespace, backend: str) -> dict[str, Any]:
    """Backend keyword options from ``--threads`` and ``--precision``."""
    options: dict[str, Any] = {"threads": args.threads} if backend == "ort" else {}
    if getattr(args, "precision", None) is not None and backend in ("ort", "trt"):
        options["precision"] = args.precision
    return options


def add_tracker_switches(parser: argparse.ArgumentParser) -> None:
    """``--da/--no-da``, ``--long-term/--no-long-term`` (default: the preset's)."""
    group = parser.add_argument_group("tracker")
    group.add_argument("--da", dest="da", action="store_true", default=None, help="distractor-aware tracking on")
    group.add_argument("--no-da", dest="da", action="store_false", help="distractor-aware tracking off")
    group.add_argument("--long-term", dest="long_term", action="store_true", default=None,
                       help="long-term 255 -> 767 search switching on")
    group.add_argument("--no-long-term", dest="long_term", action="store_false", help="long-term switching off")
    group.add_argument("--search-size", type=int, default=None, help="search-crop side (255, 271, 287...)")


def parse_search_sizes(text: str, flag: str = "--sizes") -> Tuple[int, ...]:
    """``"255,767"`` -> (255, 767), each checked by :func:`dasiamrt.spec.check_search_size`.

    Raises:
        ConfigError: a part is not an integer, or not a supported search size.
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
    return tuple(sizes)


def tracker_overrides(base: TrackerConfig, args: argparse.Namespace) -> TrackerConfig:
    """Apply the tracker switches of ``args`` to ``base``."""
    changes: Dict[str, Any] = {}
    if getattr(args, "da", None) is not None:
        changes["distractor"] = {"enabled": args.da}
    if getattr(args, "long_term", None) is not None:
        changes["long_term"] = {"enabled": args.long_term}
    if getattr(args, "search_size", None) is not None:
        changes["instance_size"] = args.search_size
    return base.replace(**changes) if changes else base


def make_tracker(args: argparse.Namespace, config: Optional[TrackerConfig] = None) -> Any:
    """Build a :class:`~dasiamrt.runtime.tracker.Tracker` from the model arguments."""
    from ..runtime.tracker import Tracker

    if args.model and args.weights:
        raise ConfigError("give either --model DIR or --weights FILE, not both")
    if args.weights:
        preset = get_preset(args.preset or "vot")
        backend = args.backend or "torch"
        if backend != "torch":
            raise ConfigError(f"--weights runs on the torch backend; for {backend}, "
                              "export first: dasiamrt export --weights ...")
        cfg = tracker_overrides(config or preset.tracker, args)
        return Tracker.from_weights(args.weights, preset=preset.name, backend="torch", config=cfg)
    model = args.model or str(default_model())
    from ..runtime.model_dir import read_model_dir

    info = read_model_dir(model)
    cfg = tracker_overrides(config or (get_preset(args.preset).tracker if args.preset else info.tracker), args)
    backend = args.backend or "ort"
    return Tracker.from_model(model, backend=backend, config=cfg, **backend_options(args, backend))


def default_model() -> Any:
    """The bundled model folder, or a clear error when this install has none."""
    from ..assets import BUNDLED_MODEL

    if not (BUNDLED_MODEL / "model.json").is_file():
        raise ModelError("no bundled model in this install: give --model DIR (see 'dasiamrt export')")
    return BUNDLED_MODEL
