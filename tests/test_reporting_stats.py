"""reporting.stats: mean and std over seeds, the sign of a paired interval."""

from __future__ import annotations

import math
import statistics

from swa_lib.reporting.stats import mean_and_std, paired_interval, paired_sign


def test_mean_and_std_against_statistics_module():
    xs = [3.0, 1.5, 2.25, 4.0]
    mean, std, n = mean_and_std(xs)
    assert n == 4
    assert math.isclose(mean, statistics.mean(xs), rel_tol=1e-15)
    assert math.isclose(std, statistics.stdev(xs), rel_tol=1e-14)
    assert mean_and_std([2.0, math.nan]) == (2.0, 0.0, 1)  # NaN dropped, one value: std 0
    m, s, n = mean_and_std([math.nan])
    assert n == 0 and math.isnan(m) and math.isnan(s)


def test_paired_sign_follows_the_interval():
    above, below, around = [0.9, 1.1, 1.0], [-0.9, -1.1, -1.0], [-1.0, 1.0, 0.5]
    for d, sign in ((above, 1), (below, -1), (around, 0), ([2.0], 0)):
        lo, hi = paired_interval(d)
        assert paired_sign(d) == sign
        if sign == 1:
            assert lo > 0
        if sign == -1:
            assert hi < 0
    # a wider level can turn "above zero" into "includes zero": t quantile for df=2
    d = [0.2, 1.0, 0.6]  # mean 0.6, s.e. 0.2309; t(0.975, 2) = 4.303 -> includes zero
    assert paired_sign(d) == 0
    assert paired_sign(d, level=0.5) == 1  # t(0.75, 2) = 0.816 -> 0.6 - 0.19 > 0
