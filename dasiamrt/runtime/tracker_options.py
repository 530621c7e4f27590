"""Which network a tracker runs, on which backend, with which settings: one policy for the CLI and the API.

``dasiamrt track``, ``eval``, ``live``, ``trax``, ``demo`` and ``bench`` parse their flags into
:class:`TrackerOptions` and call :func:`open_tracker`; a Python program does the same
(``Tracker.from_options(TrackerOptions(weights="SiamRPNVOT.model", preset="vot", device="cuda"))``).
The policy:

* ``model`` (an exported folder) runs on ONNX Runtime (``ort``, the default) or TensorRT (``trt``);
  ``weights`` (a PyTorch checkpoint) on the ``torch`` backend, which ``device`` also selects;
* neither: the bundled model (its graphs; on ``torch``, its checkpoint, checked against the sha256
  its graphs record);
* the tracker settings are the model's own (or ``preset``'s with ``model``; the preset's with
  ``weights``), with the ``distractor`` / ``long_term`` / ``search_size`` switches applied.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Optional, Sequence

from ..artifacts.model_schema import PRECISIONS
from ..config import TrackerConfig, get_preset
from ..errors import ConfigError, ModelError

if TYPE_CHECKING:
    from ..artifacts.model_folder import ModelFolder
    from .tracker import Tracker

BACKENDS = ("ort", "torch", "trt")

#: why ``device`` does not apply to a backend, and how that backend picks the GPU.
_DEVICE_ELSEWHERE = {
    "ort": "ONNX Runtime runs on the GPU when onnxruntime-gpu is installed (pip install 'dasiamrt[ort-gpu]', "
           "CUDA provider first)",
    "trt": "TensorRT always runs on the GPU (pick one with CUDA_VISIBLE_DEVICES=N)",
}


@dataclass(frozen=True)
class TrackerOptions:
    """What to track with.

    Attributes:
        model: exported model folder (``dasiamrt export``); None with ``weights``, or for the bundled model.
        weights: PyTorch checkpoint (official ``.model`` files too), run by the torch backend.
        preset: the layout of ``weights`` (default vot); with ``model``, track with this preset's settings
            instead of those stored in the model.
        backend: "ort", "torch" or "trt"; None: torch for ``weights`` or ``device``, else ort.
        device: the torch backend's device ("cpu", "cuda", "cuda:N"); selects the torch backend.
        precision: graphs/engines to run ("fp32", "fp16", "int8"); None: the backend's default.
        threads: ONNX Runtime intra-op threads (0: one per core).
        distractor, long_term: switch distractor-aware / long-term tracking on or off (None: as configured).
        search_size: search-crop side (None: as configured).
        providers: ONNX Runtime execution providers (None: CUDA where onnxruntime-gpu offers it, else CPU).
    """

    model: Optional[str] = None
    weights: Optional[str] = None
    preset: Optional[str] = None
    backend: Optional[str] = None
    device: Optional[str] = None
    precision: Optional[str] = None
    threads: int = 0
    distractor: Optional[bool] = None
    long_term: Optional[bool] = None
    search_size: Optional[int] = None
    providers: Optional[Sequence[Any]] = None

    def backend_name(self, default: str = "ort") -> str:
        """``backend``, else torch for ``weights`` or ``device``, else ``default``.

        Raises:
            ConfigError: an unknown backend or precision, a malformed ``device``, or ``device`` with the ort/trt
                backend.
        """
        from .backends.torch_backend import parse_device

        backend = self.backend or ("torch" if self.weights or self.device else default)
        if backend not in BACKENDS:
            raise ConfigError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
        if self.precision is not None and self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {self.precision!r}: choose one of {', '.join(PRECISIONS)}")
        if self.device is not None:
            parse_device(self.device)
            if backend != "torch":
                raise ConfigError(f"--device picks the torch backend's device; {_DEVICE_ELSEWHERE[backend]}: "
                                  "drop --device, or run torch with --weights FILE --preset P --device ...")
        return backend

    def backend_options(self, backend: str) -> Dict[str, Any]:
        """Keyword options of ``backend`` from ``threads``, ``precision``, ``device`` and ``providers``."""
        options: Dict[str, Any] = {"threads": self.threads} if backend == "ort" else {}
        if self.precision is not None:
            options["precision"] = self.precision
        if backend == "torch" and self.device is not None:
            options["device"] = self.device
        if backend == "ort" and self.providers is not None:
            options["providers"] = list(self.providers)
        return options

    def configure(self, base: TrackerConfig) -> TrackerConfig:
        """``base`` with the distractor / long-term / search-size switches applied."""
        changes: Dict[str, Any] = {}
        if self.distractor is not None:
            changes["distractor"] = {"enabled": self.distractor}
        if self.long_term is not None:
            changes["long_term"] = {"enabled": self.long_term}
        if self.search_size is not None:
            changes["instance_size"] = self.search_size
        return base.replace(**changes) if changes else base

    def replace(self, **changes: Any) -> "TrackerOptions":
        return dataclasses.replace(self, **changes)


def open_tracker(options: TrackerOptions, config: Optional[TrackerConfig] = None) -> "Tracker":
    """The :class:`~dasiamrt.runtime.tracker.Tracker` ``options`` describe (module docstring).

    Args:
        options: network, backend and switches.
        config: tracker settings to start from instead of the model's or preset's (the switches still apply).

    Raises:
        ConfigError: contradictory choices (both ``model`` and ``weights``, ``weights`` on ort/trt, a model folder
            on torch...), a bad device or preset.
        ModelError / BackendError: the model or backend cannot be used.
    """
    from ..artifacts.model_folder import read_model_dir
    from .tracker import Tracker

    if options.model and options.weights:
        raise ConfigError("give either --model DIR or --weights FILE, not both")
    backend = options.backend_name()
    if options.weights and backend != "torch":
        raise ConfigError(f"--weights runs on the torch backend; for {backend}, "
                          "export first: dasiamrt export --weights ...")
    if backend == "torch" and options.model:
        raise ConfigError("the torch backend runs from weights, not a model folder (ONNX graphs): use --weights "
                          "FILE --preset P, or neither for the bundled model's weights")
    if options.weights:
        preset = get_preset(options.preset or "vot")
        return Tracker.from_weights(options.weights, preset=preset.name, backend="torch",
                                    config=options.configure(config or preset.tracker),
                                    **options.backend_options(backend))
    model = options.model or str(default_model())
    info = read_model_dir(model)
    base = config or (get_preset(options.preset).tracker if options.preset else info.tracker)
    if backend == "torch":
        return bundled_torch_tracker(info, options.configure(base), options.backend_options(backend))
    return Tracker.from_model(model, backend=backend, config=options.configure(base),
                              **options.backend_options(backend))


def bundled_torch_tracker(info: "ModelFolder", config: TrackerConfig, options: Dict[str, Any]) -> "Tracker":
    """The bundled model on the torch backend: its checkpoint, checked against the one its graphs came from.

    Raises:
        ModelError: this install has no bundled checkpoint, or not the one the bundled graphs record.
    """
    from ..assets import BUNDLED_WEIGHTS
    from ..fileio import sha256_file
    from .backends.factory import create_backend
    from .tracker import Tracker

    expected = info.manifest.get("weights_sha256")
    if not BUNDLED_WEIGHTS.is_file() or (expected and sha256_file(BUNDLED_WEIGHTS) != expected):
        raise ModelError(f"this install lacks the bundled model's weights ({BUNDLED_WEIGHTS.name}, sha256 "
                         f"{str(expected)[:12]}...): give --weights FILE --preset P")
    return Tracker(create_backend("torch", weights=str(BUNDLED_WEIGHTS), network=info.network, **options), config)


def default_model() -> Path:
    """The bundled model folder, or a clear error when this install has none.

    Raises:
        ModelError: no bundled model in this install.
    """
    from ..artifacts.model_folder import is_model_folder
    from ..assets import BUNDLED_MODEL

    if not is_model_folder(BUNDLED_MODEL):
        raise ModelError("no bundled model in this install: give --model DIR (see 'dasiamrt export')")
    return Path(BUNDLED_MODEL)
