"""Inference backends behind one protocol (:class:`~.base.Backend`); heavy libraries load lazily."""
from __future__ import annotations

from .base import Backend, SearchOutput

__all__ = ["Backend", "SearchOutput"]
