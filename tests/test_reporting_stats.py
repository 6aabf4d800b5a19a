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


# --- paired p-values and the Holm correction ---------------------------------------------

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from scipy import stats as st  # noqa: E402

from swa_lib.reporting.stats import holm, holm_adjusted, paired_pvalue  # noqa: E402


def test_paired_pvalue_against_scipy_ttest_rel():
    rng = np.random.default_rng(0)
    for n in (2, 3, 5, 12):
        a = rng.normal(size=n)
        b = a + rng.normal(0.3, 1.0, size=n)
        ref = st.ttest_rel(b, a).pvalue
        assert math.isclose(paired_pvalue(b - a), ref, rel_tol=1e-10)
        assert math.isclose(paired_pvalue(b - a), st.ttest_1samp(b - a, 0.0).pvalue, rel_tol=1e-10)


def test_paired_pvalue_agrees_with_the_95_interval():
    rng = np.random.default_rng(1)
    for _ in range(50):
        d = rng.normal(0.5, 1.0, size=5)
        lo, hi = paired_interval(d)
        assert (paired_pvalue(d) < 0.05) == (lo > 0 or hi < 0)


def test_paired_pvalue_edge_cases():
    assert math.isnan(paired_pvalue([1.0]))
    assert math.isnan(paired_pvalue([1.0, math.nan, 2.0]))
    assert paired_pvalue([0.5, 0.5, 0.5]) == 0.0
    assert paired_pvalue([0.0, 0.0]) == 1.0
    # hand-worked: d = (1, 2, 3): t = 2 / (1 / sqrt 3) = sqrt 12, df 2, whose two-sided
    # p-value has the closed form 1 - |t| / sqrt(t^2 + 2) = 1 - sqrt(12 / 14)
    assert math.isclose(paired_pvalue([1.0, 2.0, 3.0]), 1 - math.sqrt(12 / 14), rel_tol=1e-10)


def _holm_brute_force(p, alpha):
    """Holm as the closed testing procedure over Bonferroni-tested intersections: H_i is
    rejected iff every subset S containing i has min_{j in S} p_j <= alpha / |S|."""
    from itertools import combinations

    m = len(p)
    out = []
    for i in range(m):
        ok = True
        for size in range(1, m + 1):
            for s in combinations(range(m), size):
                if i in s and min(p[j] for j in s) > alpha / size:
                    ok = False
        out.append(ok)
    return out


def test_holm_hand_worked_example():
    # Holm (1979)-style example: m = 4, alpha 0.05; thresholds 0.0125, 0.0167, 0.025, 0.05.
    p = [0.04, 0.015, 0.03, 0.005]
    # sorted: 0.005 <= .0125 yes, 0.015 <= .0167 yes, 0.03 <= .025 no -> stop
    assert holm(p) == [False, True, False, True]
    # adjusted: 4*.005=.02, 3*.015=.045, 2*.03=.06, 1*.04=.04 -> running max .02 .045 .06 .06
    assert holm_adjusted(p) == pytest.approx([0.06, 0.045, 0.06, 0.02])
    # Bonferroni alone (alpha/m) would keep only 0.005; Holm is more powerful
    assert sum(x <= 0.05 / 4 for x in p) == 1


def test_holm_against_closed_testing_brute_force():
    rng = np.random.default_rng(2)
    for _ in range(200):
        m = int(rng.integers(1, 6))
        p = list(rng.uniform(0, 0.08, size=m))
        assert holm(p) == _holm_brute_force(p, 0.05)
        assert [a <= 0.05 for a in holm_adjusted(p)] == holm(p)


def test_holm_step_down_stops_at_the_first_failure():
    # 0.02 fails alpha/2 = 0.025? no, 0.02 <= 0.025 passes; 0.03 > 0.025 fails at step 1
    assert holm([0.03, 0.03]) == [False, False]  # a naive per-test 0.05 would reject both
    assert holm([0.02, 0.04]) == [True, True]
    assert holm([]) == []


def test_holm_rejects_bad_input_and_never_rejects_nan():
    assert holm([math.nan, 0.001]) == [False, True]
    assert holm_adjusted([math.nan, 0.001]) == pytest.approx([1.0, 0.002])
    with pytest.raises(ValueError, match="pvalues"):
        holm([0.5, 1.2])
    with pytest.raises(ValueError, match="alpha"):
        holm([0.5], alpha=0.0)
