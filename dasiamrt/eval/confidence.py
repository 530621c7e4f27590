"""How sure a benchmark mean is: percentile bootstrap over sequences (or over source clips).

A mean success AUC over a handful of sequences moves by several points when one sequence is swapped
for another, and runs that start at later frames of one clip are not independent of each other. So
the unit that is resampled is the *cluster* (a sequence with all its start points, or a source clip):
draw as many clusters as there are, with replacement, pool their runs, take the mean; repeat. The
2.5th and 97.5th percentiles of those means are the 95% interval.

A comparison of two trackers (or two settings) is *paired*: both ran the same runs, so the interval
is the bootstrap of the per-run difference, which cancels what the runs share (a hard sequence is
hard for both). A difference whose interval holds 0 is not shown by the data.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Mapping, Optional, Sequence

import numpy as np


@dataclass(frozen=True)
class Interval:
    """A mean and its bootstrap interval.

    Attributes:
        estimate: the mean over all runs.
        low, high: the interval's ends (percentiles of the resampled means).
        level: coverage asked for (0.95).
        clusters: independent units resampled.
        runs: values averaged.
    """

    estimate: float
    low: float
    high: float
    level: float
    clusters: int
    runs: int

    def holds(self, value: float) -> bool:
        """True when ``value`` lies within the interval (ends included)."""
        return self.low <= value <= self.high

    def text(self, digits: int = 3, signed: bool = False) -> str:
        """``0.488 [0.431, 0.546]`` (``signed``: ``+0.012 [-0.004, +0.030]``, for differences)."""
        return format_interval(self.to_dict(), digits, signed)

    def to_dict(self) -> Dict[str, float]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "level": self.level,
                "clusters": self.clusters, "runs": self.runs}


def format_interval(interval: Mapping[str, float], digits: int = 3, signed: bool = False) -> str:
    """An :meth:`Interval.to_dict` as ``estimate [low, high]`` (as stored in report JSON files)."""
    sign = "+" if signed else ""
    return (f"{interval['estimate']:{sign}.{digits}f} [{interval['low']:{sign}.{digits}f}, "
            f"{interval['high']:{sign}.{digits}f}]")


def bootstrap_mean(values: Sequence[float], clusters: Optional[Sequence[str]] = None, *, resamples: int = 10000,
                   level: float = 0.95, seed: int = 0) -> Interval:
    """Percentile-bootstrap interval of the mean of ``values``, resampling whole clusters.

    Args:
        values: one value per run (e.g. per-sequence success AUC), finite.
        clusters: the cluster of each run (runs of one cluster are drawn together); None: every run
            is its own cluster.
        resamples: bootstrap draws.
        level: coverage in (0, 1).
        seed: the draws are reproducible for one seed.

    Raises:
        ValueError: no values, a non-finite value, ``clusters`` of another length, or a bad level.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"bootstrap_mean needs a non-empty 1-D list of values, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("bootstrap_mean got a non-finite value: score every run first")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), not {level}")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, not {resamples}")
    labels = list(range(x.size)) if clusters is None else list(clusters)
    if len(labels) != x.size:
        raise ValueError(f"{len(labels)} cluster labels for {x.size} values")
    _, member = np.unique(np.asarray([str(c) for c in labels]), return_inverse=True)
    k = int(member.max()) + 1
    sums = np.bincount(member, weights=x, minlength=k)  # per-cluster sum and run count
    counts = np.bincount(member, minlength=k).astype(np.float64)
    draws = np.random.default_rng(seed).integers(0, k, size=(resamples, k))
    means = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return Interval(float(x.mean()), float(low), float(high), level, k, int(x.size))


def paired_difference(a: Mapping[str, float], b: Mapping[str, float], clusters: Optional[Mapping[str, str]] = None,
                      *, resamples: int = 10000, level: float = 0.95, seed: int = 0) -> Interval:
    """Interval of mean(a - b) over the runs both have (keyed by run name), resampling clusters.

    Args:
        a, b: run name -> value (e.g. per-sequence AUC of two trackers on one dataset).
        clusters: run name -> cluster (default: each run alone).
        resamples, level, seed: as :func:`bootstrap_mean`.

    Raises:
        ValueError: the two share no run.
    """
    names = [n for n in a if n in b]
    if not names:
        raise ValueError("the two result sets share no run to compare")
    diff = [float(a[n]) - float(b[n]) for n in names]
    groups = [clusters.get(n, n) for n in names] if clusters is not None else None
    return bootstrap_mean(diff, groups, resamples=resamples, level=level, seed=seed)


__all__ = ["Interval", "bootstrap_mean", "format_interval", "paired_difference"]
