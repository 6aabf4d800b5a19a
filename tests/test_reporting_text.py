"""reporting.text: every phrase against an independent reference (statistics, typed strings)."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd
import pytest

from swa_lib.reporting.text import (
    count_text,
    interval_text,
    interval_verdict,
    listing,
    mean_std,
    mean_std_text,
    pct,
    pct_mean_std,
    range_text,
    significant,
    verdict,
)


def test_mean_std_text_against_statistics_module():
    xs = [0.8123, 0.8391, 0.8262, 0.8017]
    ref = f"{statistics.mean(xs):.3f} ± {statistics.stdev(xs):.3f}"  # stdev: ddof=1
    assert mean_std_text(xs) == ref
    assert (
        mean_std_text(pd.Series(xs), 2, scale=100)
        == f"{100 * statistics.mean(xs):.2f} ± {statistics.stdev([100 * x for x in xs]):.2f}"
    )
    assert pct_mean_std(xs) == f"{statistics.mean(xs) * 100:.1f} ± {statistics.stdev(xs) * 100:.1f}"


def test_mean_std_text_nan_empty_and_single_value():
    assert mean_std_text([1.0, math.nan, 3.0], 1) == "2.0 ± 1.4"  # NaN dropped: stdev([1, 3])
    assert mean_std_text([math.nan], 1, empty="never") == "never"
    assert mean_std_text([], 1) == "n/a"
    assert mean_std_text([0.25], 2) == "0.25 ± 0.00"
    assert mean_std_text([0.25], 2, std_of_one=False) == "0.25"
    assert pct_mean_std([0.8534], std_of_one=False) == pct(0.8534) == "85.3"


def test_mean_std_keeps_the_old_four_decimals():
    from swa_lib.reporting.stats import mean_std as via_stats  # the old import path

    assert via_stats is mean_std
    assert mean_std([1, 2, 4]) == f"{7 / 3:.4f} ± {statistics.stdev([1, 2, 4]):.4f}"
    assert mean_std([0.5, 0.7], "{:.2f}") == "0.60 ± 0.14" == mean_std_text([0.5, 0.7], 2)


def test_verdicts_word_the_interval():
    assert interval_verdict(0.1, 0.3) == "excludes zero, in favour of SWA"
    assert interval_verdict(-0.3, -0.1) == "excludes zero, against SWA"
    assert (
        interval_verdict(-0.3, -0.1, better="lower", who="EMA") == "excludes zero, in favour of EMA"
    )
    assert interval_verdict(-0.3, -0.1, better=None) == "excludes zero"
    assert interval_verdict(-0.1, 0.3) == "includes zero"
    assert interval_verdict(math.nan, math.nan) == "cannot be judged with one seed"
    with pytest.raises(ValueError, match="better"):
        interval_verdict(0.0, 1.0, better="more")
    # three equal positive differences: zero spread, the interval is the point itself
    assert verdict([0.02, 0.02, 0.02]) == "excludes zero, in favour of SWA"
    assert verdict([0.01]) == "cannot be judged with one seed"


def test_significant_never_uses_exponents():
    cases = {
        0.12345: "0.123",
        2.5: "2.5",
        12.349: "12.3",
        99.94: "99.9",
        123.4: "123",
        1234.5: "1234",
        -0.0456789: "-0.0457",
        0.0: "0",
    }
    for x, text in cases.items():
        assert significant(x) == text, x
    assert significant(1234.5, 2) == "1234" and significant(7.777, 2) == "7.8"
    with pytest.raises(ValueError, match="digits"):
        significant(1.0, 0)


def test_listing_joins_like_prose():
    assert listing([45, 52, 60]) == "45, 52 and 60"
    assert listing([0.12345, 1.0], ".3f") == "0.123 and 1.000"
    assert listing(np.array([7.0]), "g") == "7"
    assert listing(["a", "b"], last=" or ") == "a or b"
    with pytest.raises(ValueError, match="at least one"):
        listing([])


def test_range_text():
    assert range_text([1.2345, 0.9, 1.1]) == "0.90 to 1.23"
    assert range_text([0.011, -0.004], "+.1f", scale=100) == "-0.4 to +1.1"
    assert range_text([0.5012, 0.4996], same="{} on every seed") == "0.50 on every seed"
    assert range_text([0.5, math.nan, 0.7], ".1f", sep="-") == "0.5-0.7"
    with pytest.raises(ValueError, match="NaN"):
        range_text([math.nan])


def test_count_and_interval_text():
    assert count_text(1, "seed") == "1 seed" and count_text(3, "seed") == "3 seeds"
    assert count_text(0, "ray") == "0 rays" and count_text(2, "axis", "axes") == "2 axes"
    assert interval_text(0.2512, 1.8049, limits=(-1.0, 2.0)) == "0.25 .. 1.80"
    assert interval_text(math.nan, 1.8, limits=(-1.0, 2.0)) == "< -1 .. 1.80"
    assert interval_text(0.25, math.nan, limits=(-1.0, 2.5), digits=1) == "0.2 .. > 2.5"
