"""Evaluation: dataset readers, metrics, runs and reports (synthetic sequences come from :mod:`dasiamrt.synthetic`).

Light to import: submodules load OpenCV and matplotlib only when used. The main entry points are
importable from here: ``evaluate``, ``load_dataset``, ``make_sequence``, ``write_otb_layout``.
"""
from __future__ import annotations

from typing import Any

__all__ = ["evaluate", "load_dataset", "make_sequence", "write_otb_layout"]
_HOMES = {"evaluate": "evaluation", "load_dataset": "datasets", "make_sequence": ".synthetic.sequences",
          "write_otb_layout": ".synthetic.sequences"}


def __getattr__(name: str) -> Any:  # PEP 562: import the submodule on first use
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    raise AttributeError(name)
