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
                       help="inference backend (default: torch for --weights or --device, else ort)")
    group.add_argument("--threads", type=threads_arg, default=0, metavar="N",
                       help="CPU threads for ONNX Runtime (0: one per core)")
    add_precision_arg(group)
    add_device_arg(group)


def add_device_arg(parser: Any) -> None:
    """``--device cpu|cuda|cuda:N``: the torch backend's device (it selects that backend)."""
    parser.add_argument("--device", default=None, metavar="cpu|cuda|cuda:N",
                        help="run the torch backend (weights, no export) on this device: cuda is the GPU path "
                             "without TensorRT (fp32 or --precision fp16, one CUDA graph per search size); ort and "
                             "trt choose the GPU themselves")


#: why --device does not apply to a backend, and how that backend picks the GPU.
_DEVICE_ELSEWHERE = {
    "ort": "ONNX Runtime runs on the GPU when onnxruntime-gpu is installed (pip install 'dasiamrt[ort-gpu]', "
           "CUDA provider first)",
    "trt": "TensorRT always runs on the GPU (pick one with CUDA_VISIBLE_DEVICES=N)",
}


def choose_backend(args: argparse.Namespace, default: str) -> str:
    """``--backend``, else torch for ``--weights`` or ``--device``, else ``default``.

    Raises:
        ConfigError: a malformed ``--device``, or ``--device`` with the ort/trt backend.
    """
    from ..runtime.backends.torch_backend import parse_device

    device = getattr(args, "device", None)
    backend: str = args.backend or ("torch" if getattr(args, "weights", None) or device else default)
    if device is not None:
        parse_device(device)
        if backend != "torch":
            raise ConfigError(f"--device picks the torch backend's device; {_DEVICE_ELSEWHERE[backend]}: "
                              "drop --device, or run torch with --weights FILE --preset P --device ...")
    return backend


def threads_arg(text: str) -> int:
    """argparse type of ``--threads``: an integer >= 0 (0: ONNX Runtime's default, one per core)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0 (0: one per core), got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0 (0: one per core), got {value}")
    return value


def add_precision_arg(parser: Any) -> None:
    """``--precision fp32|fp16|int8`` (default: the backend's; int8 on ort runs the graphs of 'dasiamrt calibrate')."""
    parser.add_argument("--precision", choices=("fp32", "fp16", "int8"), default=None,
                        help="graphs/engines to run (default: fp32 for ort and torch, the trt backend's default for "
                             "trt; int8 needs 'dasiamrt calibrate' first and runs the INT8 form for this backend and "
                             "CPU, named in the log; torch runs fp32 and fp16)")


def backend_options(args: argparse.Namespace, backend: str) -> dict[str, Any]:
    """Backend keyword options from ``--threads``, ``--precision`` and ``--device``."""
    options: dict[str, Any] = {"threads": args.threads} if backend == "ort" else {}
    if getattr(args, "precision", None) is not None:
        options["precision"] = args.precision
    if backend == "torch" and getattr(args, "device", None) is not None:
        options["device"] = args.device
    return options


def add_tracker_switches(parser: argparse.ArgumentParser) -> None:
    """``--da/--no-da``, ``--long-term/--no-long-term`` (default: the preset's)."""
    group = parser.add_argument_group("tracker (default: the settings stored in the model, or the preset's)")
    group.add_argument("--da", dest="da", action="store_true", default=None,
                       help="distractor-aware tracking on (default: as the model/preset says)")
    group.add_argument("--no-da", dest="da", action="store_false", help="distractor-aware tracking off")
    group.add_argument("--long-term", dest="long_term", action="store_true", default=None,
                       help="long-term 255 -> 767 search switching on (default: as the model/preset says)")
    group.add_argument("--no-long-term", dest="long_term", action="store_false", help="long-term switching off")
    group.add_argument("--search-size", type=int, default=None,
                       help="search-crop side: 255, 271, 287... (default: the model/preset's)")


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
    from ..artifacts.model_folder import read_model_dir
    from ..runtime.tracker import Tracker

    if args.model and args.weights:
        raise ConfigError("give either --model DIR or --weights FILE, not both")
    backend = choose_backend(args, "ort")
    if args.weights and backend != "torch":
        raise ConfigError(f"--weights runs on the torch backend; for {backend}, "
                          "export first: dasiamrt export --weights ...")
    if backend == "torch":
        if args.model:
            raise ConfigError("the torch backend runs from weights, not a model folder (ONNX graphs): use --weights "
                              "FILE --preset P, or neither for the bundled model's weights")
        if args.weights:
            preset = get_preset(args.preset or "vot")
            cfg = tracker_overrides(config or preset.tracker, args)
            return Tracker.from_weights(args.weights, preset=preset.name, backend="torch", config=cfg,
                                        **backend_options(args, backend))
    model = args.model or str(default_model())
    info = read_model_dir(model)
    cfg = tracker_overrides(config or (get_preset(args.preset).tracker if args.preset else info.tracker), args)
    if backend == "torch":
        return bundled_torch_tracker(info, cfg, backend_options(args, backend))
    return Tracker.from_model(model, backend=backend, config=cfg, **backend_options(args, backend))


def bundled_torch_tracker(info: Any, config: TrackerConfig, options: Dict[str, Any]) -> Any:
    """The bundled model on the torch backend: its checkpoint, checked against the one its graphs came from.

    Raises:
        ModelError: this install has no bundled checkpoint, or not the one the bundled graphs record.
    """
    from ..assets import BUNDLED_WEIGHTS
    from ..fileio import sha256_file
    from ..runtime.backends.factory import create_backend
    from ..runtime.tracker import Tracker

    expected = info.manifest.get("weights_sha256")
    if not BUNDLED_WEIGHTS.is_file() or (expected and sha256_file(BUNDLED_WEIGHTS) != expected):
        raise ModelError(f"this install lacks the bundled model's weights ({BUNDLED_WEIGHTS.name}, sha256 "
                         f"{str(expected)[:12]}...): give --weights FILE --preset P")
    return Tracker(create_backend("torch", weights=str(BUNDLED_WEIGHTS), network=info.network, **options), config)


def default_model() -> Any:
    """The bundled model folder, or a clear error when this install has none."""
    from ..artifacts.model_folder import is_model_folder
    from ..assets import BUNDLED_MODEL

    if not is_model_folder(BUNDLED_MODEL):
        raise ModelError("no bundled model in this install: give --model DIR (see 'dasiamrt export')")
    return BUNDLED_MODEL
