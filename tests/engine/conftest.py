from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """(model_dir, torch net) of the tiny network, exported once per session."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from tests.engine.tiny_model import export_tiny

    return export_tiny(tmp_path_factory.mktemp("tiny_model"))
