"""The trackers of the benchmark's cases: one factory per run, a fresh tracker per (search size, DA) case.

What runs follows :class:`~dasiamrt.runtime.tracker_options.TrackerOptions`, with the benchmark's own
default: without a model or weights, the preset's network with seeded random weights (speed does not
depend on the weights), exported once for ONNX Runtime/TensorRT (:func:`.run.random_model_dir`), built in
memory for torch (seed 0, the same weights) and shared by the cases.
"""
from __future__ import annotations

import sys
from typing import IO, Any, Callable, Dict, Optional, Tuple

from ..config import get_preset
from ..errors import ConfigError, MissingDependencyError
from ..runtime.tracker_options import TrackerOptions

#: make_tracker(config changes) -> a fresh tracker (a context manager)
MakeTracker = Callable[[Dict[str, Any]], Any]


def case_trackers(options: TrackerOptions, preset: str = "vot", ort_device: Optional[str] = None,
                  progress: Optional[IO[str]] = sys.stderr) -> Tuple[MakeTracker, str, str]:
    """(make_tracker, the report's model name, the setting shown in the progress header).

    Args:
        options: model/weights, backend, device, precision, threads (the tracker switches are the cases').
        preset: the network when neither a model nor weights are given.
        ort_device: ONNX Runtime execution provider ("cpu", "cuda", "tensorrt"; default: the best available).
        progress: where the one-time export of the random model is announced.

    Raises:
        ConfigError: weights on ort/trt, a model folder on torch, an unknown preset.
    """
    backend = options.backend_name()
    kwargs = options.backend_options(backend)
    if backend == "torch":
        make, name = _torch_cases(options, preset, kwargs)
    else:
        make, name = _model_cases(options, backend, preset, ort_device, kwargs, progress)
    setting = " ".join(part for part in ("backend", backend, kwargs.get("device"), options.precision or "fp32") if part)
    return make, name, setting


def _model_cases(options: TrackerOptions, backend: str, preset: str, ort_device: Optional[str], kwargs: Dict[str, Any],
                 progress: Optional[IO[str]]) -> Tuple[MakeTracker, str]:
    from ..artifacts.model_folder import read_model_dir
    from ..runtime.tracker import Tracker
    from .run import random_model_dir

    if options.weights:
        raise ConfigError(f"--weights runs on the torch backend; for {backend}, export first: "
                          "dasiamrt export --weights ...")
    model = options.model or str(random_model_dir(preset, progress=progress))
    info = read_model_dir(model)
    if backend == "ort" and ort_device:
        from ..runtime.backends.ort_providers import providers_for

        kwargs["providers"] = providers_for(ort_device)

    def make_tracker(changes: Dict[str, Any]) -> Tracker:
        return Tracker.from_model(model, backend=backend, config=info.tracker.replace(**changes), **kwargs)

    return make_tracker, options.model or f"{preset} (random weights)"


def _torch_cases(options: TrackerOptions, preset_name: str, kwargs: Dict[str, Any]) -> Tuple[MakeTracker, str]:
    """--weights, or the seeded random weights that the ort rows' random model was exported with (seed 0),
    loaded once and shared by the cases."""
    from ..runtime.backends.torch_backend import TorchBackend, check_precision, open_device
    from ..runtime.tracker import Tracker

    if options.model:
        raise ConfigError("the torch backend runs from weights, not a model folder: use --weights FILE --preset P, "
                          "or neither for random weights of --preset")
    try:
        import torch

        from ..model import build_network, load_network
    except ImportError:
        raise MissingDependencyError("torch", "the torch backend", "pip install 'dasiamrt[export]'") from None
    check_precision(kwargs.get("precision", "fp32"))
    open_device(torch, kwargs.get("device", "cpu"))  # before any case starts: a one-line error, no table
    preset = get_preset(preset_name)
    net = load_network(options.weights, preset.network) if options.weights else build_network(preset.network, seed=0)

    def make_tracker(changes: Dict[str, Any]) -> Any:
        return Tracker(TorchBackend(net=net, **kwargs), preset.tracker.replace(**changes))

    return make_tracker, options.weights or f"{preset.name} (random weights)"
