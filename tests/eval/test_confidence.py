"""Bootstrap intervals of benchmark means, checked against analytic and simulated expectations."""
from __future__ import annotations

import numpy as np
import pytest

from dasiamrt.eval.confidence import bootstrap_mean, paired_difference


def test_constant_values_give_a_point_interval():
    iv = bootstrap_mean([0.42] * 7, resamples=500)
    assert iv.estimate == pytest.approx(0.42) and iv.low == pytest.approx(0.42) and iv.high == pytest.approx(0.42)
    assert iv.clusters == 7 and iv.runs == 7 and iv.holds(0.42) and not iv.holds(0.43)
    assert iv.text() == "0.420 [0.420, 0.420]" and iv.text(2, signed=True) == "+0.42 [+0.42, +0.42]"


def test_width_matches_the_normal_theory_interval_for_independent_runs():
    x = np.random.default_rng(1).normal(0.5, 0.2, size=400)
    iv = bootstrap_mean(x, resamples=20000, seed=3)
    half = 1.959964 * x.std(ddof=0) / np.sqrt(x.size)  # the bootstrap estimates the plug-in standard error
    assert (iv.high - iv.low) / 2 == pytest.approx(half, rel=0.06)
    assert iv.estimate == pytest.approx(x.mean()) and iv.holds(x.mean())


def test_runs_of_one_cluster_are_drawn_together():
    """Copies of a value inside its cluster add no information: same interval as one run per cluster.
    Treated as independent runs, the same copies would (wrongly) narrow it by about sqrt(copies)."""
    x = np.random.default_rng(2).uniform(0, 1, size=12)
    copies = 5
    alone = bootstrap_mean(x, resamples=4000, seed=7)
    clustered = bootstrap_mean(np.repeat(x, copies), [str(i) for i in np.repeat(np.arange(12), copies)],
                               resamples=4000, seed=7)
    assert (clustered.low, clustered.high) == pytest.approx((alone.low, alone.high))
    assert clustered.clusters == 12 and clustered.runs == 60
    naive = bootstrap_mean(np.repeat(x, copies), resamples=4000, seed=7)
    assert (naive.high - naive.low) < 0.6 * (alone.high - alone.low)


def test_coverage_is_near_the_level_it_asks_for():
    rng = np.random.default_rng(5)
    true_mean = 0.3  # exponential(0.3): skewed like per-sequence AUCs with some failures
    hits = sum(bootstrap_mean(rng.exponential(true_mean, size=40), resamples=1000, seed=k).holds(true_mean)
               for k in range(300))
    assert 0.89 <= hits / 300 <= 0.985


def test_paired_difference_cancels_what_the_runs_share():
    rng = np.random.default_rng(4)
    hardness = rng.uniform(0.1, 0.9, size=20)  # per-sequence difficulty both trackers share
    names = [f"s{i}" for i in range(20)]
    a = dict(zip(names, hardness + 0.02 + rng.normal(0, 0.005, size=20)))
    b = dict(zip(names, hardness))
    diff = paired_difference(a, b, resamples=4000)
    assert diff.low > 0 and diff.estimate == pytest.approx(0.02, abs=0.003)
    ia, ib = bootstrap_mean(list(a.values()), resamples=4000), bootstrap_mean(list(b.values()), resamples=4000)
    assert ia.low < ib.high  # unpaired, the two intervals overlap: the difference would look like noise
    shifted = paired_difference({n: v + 0.1 for n, v in b.items()}, b, resamples=200)
    assert (shifted.low, shifted.high) == pytest.approx((0.1, 0.1))


def test_paired_difference_uses_only_shared_runs_and_their_clusters():
    a = {"Dog": 0.5, "Dog@10": 0.7, "Gym": 0.4, "extra": 9.0}
    b = {"Dog": 0.4, "Dog@10": 0.5, "Gym": 0.4}
    iv = paired_difference(a, b, {"Dog": "Dog", "Dog@10": "Dog", "Gym": "Gym"}, resamples=500)
    assert iv.runs == 3 and iv.clusters == 2 and iv.estimate == pytest.approx(0.1)
    with pytest.raises(ValueError, match="share no run"):
        paired_difference({"x": 1.0}, {"y": 1.0})


@pytest.mark.parametrize("values, clusters, message", [
    ([], None, "non-empty"), ([0.1, float("nan")], None, "non-finite"), ([0.1, 0.2], ["a"], "2 values"),
])
def test_bad_input_is_refused(values, clusters, message):
    with pytest.raises(ValueError, match=message):
        bootstrap_mean(values, clusters)
    with pytest.raises(ValueError, match="level"):
        bootstrap_mean([0.1], level=1.0)
