"""Memory stays flat over a long run through the API (``benchmarks/soak.py`` runs the 20,000-frame version)."""
from __future__ import annotations

import importlib.util
import sys

import pytest

from .runner import REPO


@pytest.mark.slow
def test_memory_is_flat_over_1500_tracked_frames():
    spec = importlib.util.spec_from_file_location("soak", REPO / "benchmarks" / "soak.py")
    soak = importlib.util.module_from_spec(spec)
    sys.modules["soak"] = soak
    spec.loader.exec_module(soak)
    samples = soak.soak(1500, every=500, warmup=500, da=True, long_term=True)
    start, end = samples[0][1], samples[-1][1]
    # one leaked search crop per frame would be ~0.8 MB per frame (over 1 GB here); allow allocator noise
    assert end - start < 8.0, samples
    assert [s[0] for s in samples] == [500, 1000, 1500]
