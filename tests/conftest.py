"""Shared fixtures (tiny exported models, real frames) and hardware-gated markers."""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path
from typing import List

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("DASIAMRT_SHARED_DATA", ROOT.parent / "shared" / "data"))


def _has_trt() -> bool:
    return importlib.util.find_spec("tensorrt") is not None


def _has_gpu() -> bool:
    if shutil.which("nvidia-smi") is None:
        return False
    try:
        return subprocess.run(["nvidia-smi", "-L"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: List[pytest.Item]) -> None:
    gpu, trt = _has_gpu(), _has_trt()
    for item in items:
        if "gpu" in item.keywords and not gpu:
            item.add_marker(pytest.mark.skip(reason="no CUDA GPU visible (nvidia-smi -L)"))
        if "trt" in item.keywords and not trt:
            item.add_marker(pytest.mark.skip(reason="TensorRT Python bindings not installed"))


@pytest.fixture(scope="session")
def clip_frames() -> List[np.ndarray]:
    """The first 40 frames of the bundled real clip (480x360 BGR)."""
    from dasiamrt.bench.run import load_frames

    return load_frames(None, 40)


@pytest.fixture(scope="session")
def tiny_net():
    """The tiny network with seeded random weights (torch)."""
    from dasiamrt.config import PRESETS
    from dasiamrt.model import build_network

    return build_network(PRESETS["tiny"].network, seed=0)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory, tiny_net) -> Path:
    """The tiny random-weight network exported (checked against torch) to a temp model folder."""
    from dasiamrt.config import PRESETS
    from dasiamrt.export import export_model

    out = tmp_path_factory.mktemp("models") / "tiny"
    export_model(tiny_net, PRESETS["tiny"], out)
    return out


@pytest.fixture(scope="session")
def vot_net():
    """The vot-layout network with seeded random weights (torch)."""
    from dasiamrt.config import PRESETS
    from dasiamrt.model import build_network

    return build_network(PRESETS["vot"].network, seed=1)
