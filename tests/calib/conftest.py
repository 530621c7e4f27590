"""A tiny random-weight model with INT8 graphs, calibrated by the CLI on the bundled clip."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dasiamrt.assets import DEMO_CLIP, DEMO_INIT_XYWH

INIT = ",".join(str(v) for v in DEMO_INIT_XYWH)


@pytest.fixture(scope="session")
def int8_model(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """Copy of the tiny model folder after ``dasiamrt calibrate`` (8 crops per input, 16 tracked frames)."""
    from dasiamrt.cli import main

    folder = tmp_path_factory.mktemp("int8") / "tiny"
    shutil.copytree(tiny_model_dir, folder)
    code = main(["calibrate", "--model", str(folder), "--source", str(DEMO_CLIP), "--init", INIT,
                 "--per-input", "8", "--max-frames", "16", "--seed", "3"])
    assert code == 0
    return folder
