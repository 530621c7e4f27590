"""Default result-folder names of `dasiamrt eval`: runs resume by file presence, so two configurations
that track differently must never share a folder, and the default configuration keeps its old name."""
from __future__ import annotations

import argparse
import itertools

from dasiamrt.commands.eval import _default_name


def _args(**changes):
    base = dict(weights=None, model=None, preset=None, da=None, long_term=None, search_size=None, backend=None,
                precision=None, device=None)
    base.update(changes)
    return argparse.Namespace(**base)


def test_default_configuration_keeps_its_name():
    assert _default_name(_args()) == "bundled"
    assert _default_name(_args(backend="ort", precision="fp32")) == "bundled"


def test_every_configuration_that_tracks_differently_gets_its_own_folder():
    configs = [dict(zip(("backend", "precision", "device", "preset"), combo)) for combo in itertools.product(
        ("ort", "trt", "torch"), ("fp32", "fp16", "int8"), (None, "cuda", "cuda:1"), (None, "vot"))]
    names = {_default_name(_args(model="models/vot", **c)) for c in configs}
    # ort/trt ignore --device (refused by the CLI), so count what can actually run: every pair that differs
    # in backend, precision, device or preset has a different name
    assert len(names) == len({(c["backend"], c["precision"], c["device"], c["preset"]) for c in configs})
    assert all("/" not in n and ":" not in n for n in names)
