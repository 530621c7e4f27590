"""Create a backend by name, importing its heavy library only then."""
from __future__ import annotations

import importlib
from typing import Any, Optional

from ...artifacts.model_folder import ModelFolder
from ...errors import BackendError, ConfigError
from .base import Backend

#: name -> (module, class). Modules are imported lazily.
BACKENDS = {
    "ort": ("dasiamrt.runtime.backends.ort", "OrtBackend"),
    "torch": ("dasiamrt.runtime.backends.torch_backend", "TorchBackend"),
    "trt": ("dasiamrt.runtime.backends.trt", "TensorRTBackend"),
}


def create_backend(name: str, info: Optional[ModelFolder] = None, **options: Any) -> Backend:
    """Instantiate backend ``name``.

    Args:
        name: "ort", "torch" or "trt".
        info: exported model folder (ort, trt; torch loads the folder's network from ``weights``).
        options: backend-specific options (``weights``, ``network``, ``providers``, ``threads``...).

    Raises:
        ConfigError: unknown backend name.
        BackendError: the backend cannot run here (missing library, no GPU...).
    """
    if name not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")
    module_name, class_name = BACKENDS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name == module_name:
            raise BackendError(f"the {name} backend is not part of this dasiamrt build") from None
        raise
    cls = getattr(module, class_name)
    if name == "torch":
        if info is not None and "weights" not in options:
            raise ConfigError("the torch backend runs from weights: use --weights FILE --preset P instead of --model")
        return cls(**options)  # type: ignore[no-any-return]
    if info is None:
        raise ConfigError(f"the {name} backend needs an exported model folder (--model DIR)")
    backend: Backend = cls.from_model(info, **options)
    return backend
