"""reporting.ledger: claim records, their validation and storage, and the verdict rule."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
from scipy import stats as st

from swa_lib.reporting import ledger
from swa_lib.reporting.ledger import (
    PAPER_ITEMS,
    Claim,
    claim_pvalue,
    claim_verdict,
    ledger_frame,
    ledger_markdown,
    read_claims,
    read_records,
    record_claims,
    regime_support,
    verdict_counts,
)
from swa_lib.reporting.stats import paired_interval


def claim_from(diffs, item="Table 1", regime="paper's recipe ratio 0.3", expected="positive"):
    """A claim built the way notebooks build one: the mean and paired t interval of diffs."""
    d = np.asarray(diffs, dtype=float)
    lo, hi = paired_interval(d)
    return Claim(
        item=item,
        regime=regime,
        protocol="ours",
        scale="MNIST-1D, MLP, 5 seeds",
        statistic="SWA - SGD test accuracy (points)",
        estimate=float(d.mean()),
        low=lo,
        high=hi,
        n=d.size,
        expected=expected,
    )


UP = [1.0, 1.5, 2.0, 1.2, 1.8]  # interval well above zero
DOWN = [-x for x in UP]
FLAT = [-1.0, 1.0, 0.5, -0.4, 0.1]  # interval covers zero


def test_catalogue_is_the_papers_items_in_order():
    names = [p.item for p in PAPER_ITEMS]
    figures = [n for n in names if n.startswith("Figure")]
    assert figures == [f"Figure {i}" for i in range(1, 8)]
    assert names.index("Table 1") < names.index("Table 2")
    assert {"Section 3.5", "Section 3.6"} <= set(names)
    assert len(set(names)) == len(names)
    for p in PAPER_ITEMS:
        assert p.claim.endswith(".") and p.section.startswith("Section")
    assert not ledger._ITEMS["Table 2"].laptop  # ImageNet: no laptop analogue here


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"item": "Figure 9"}, "item"),
        ({"expected": "up"}, "expected"),
        ({"n": 0}, "n"),
        ({"n": 2.5}, "n"),
        ({"estimate": math.nan}, "estimate"),
        ({"low": math.inf}, "low"),
        ({"low": 3.0}, "low <= estimate <= high"),
        ({"high": 0.5}, "low <= estimate <= high"),
        ({"regime": ""}, "regime"),
        ({"estimate": "1.0"}, "estimate"),
    ],
)
def test_bad_claims_raise_naming_the_field(changes, field):
    good = dict(
        item="Table 1",
        regime="r",
        protocol="ours",
        scale="s",
        statistic="x",
        estimate=1.0,
        low=0.5,
        high=1.5,
        n=5,
    )
    Claim(**good)  # the good one passes
    with pytest.raises(ValueError, match=field.replace("(", r"\(")):
        Claim(**{**good, **changes})


def test_numpy_scalars_are_stored_as_plain_numbers_and_one_seed_may_lack_bounds():
    c = Claim("Table 1", "r", "ours", "s", "x", np.float32(1.0), np.float64(0.5), 2.0, np.int64(3))
    assert type(c.estimate) is float and type(c.n) is int
    one = Claim("Table 1", "r", "ours", "s", "x", 1.0, math.nan, math.nan, 1)
    assert claim_verdict([one]) == "not reproduced at this scale (one seed: no interval)"


def test_record_and_read_back_round_trip_replacing_earlier_records(tmp_path):
    a, b = claim_from(UP), claim_from(FLAT, item="Section 3.5", regime="FGE")
    path = record_claims(tmp_path, "13_fge", [a, b])
    assert path == tmp_path / "ledger" / "13_fge.json"
    assert read_claims(tmp_path) == [a, b]
    one = Claim("Figure 4", "r", "ours", "s", "x", 1.0, math.nan, math.nan, 1)
    record_claims(tmp_path, "13_fge", [one])  # replaces, does not append
    record_claims(tmp_path, "05_width_rays", [a])
    assert read_records(tmp_path) == [("05_width_rays", a), ("13_fge", one)]
    text = (tmp_path / "ledger" / "13_fge.json").read_text()
    assert "NaN" not in text and json.loads(text)["claims"][0]["low"] is None  # strict JSON
    assert read_claims(tmp_path / "nothing") == []
    with pytest.raises(ValueError, match="notebook"):
        record_claims(tmp_path, "../evil", [a])
    with pytest.raises(TypeError, match="Claim"):
        record_claims(tmp_path, "13_fge", [{"item": "Table 1"}])


@pytest.mark.parametrize(
    "content, match",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected"),
        ('{"version": 1, "notebook": "other", "claims": []}', "expected"),
        ('{"version": 2, "notebook": "13_fge", "claims": []}', "expected"),
        ('{"version": 1, "notebook": "13_fge", "claims": [{"item": "Table 1"}]}', "keys"),
    ],
)
def test_corrupt_ledger_files_are_rejected(tmp_path, content, match):
    (tmp_path / "ledger").mkdir()
    (tmp_path / "ledger" / "13_fge.json").write_text(content)
    with pytest.raises(ValueError, match=match):
        read_claims(tmp_path)


def test_a_stored_claim_that_breaks_the_rules_is_rejected(tmp_path):
    record_claims(tmp_path, "13_fge", [claim_from(UP)])
    p = tmp_path / "ledger" / "13_fge.json"
    data = json.loads(p.read_text())
    data["claims"][0]["low"] = 99.0  # low above the estimate
    p.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="13_fge.json claim 0"):
        read_claims(tmp_path)


def test_write_is_atomic_a_failed_write_keeps_the_old_records(tmp_path, monkeypatch):
    old = claim_from(UP)
    record_claims(tmp_path, "13_fge", [old])

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        record_claims(tmp_path, "13_fge", [claim_from(DOWN)])
    monkeypatch.undo()
    assert read_claims(tmp_path) == [old]
    assert sorted(p.name for p in (tmp_path / "ledger").iterdir()) == ["13_fge.json"]


def test_claim_pvalue_recovers_the_t_test_from_the_interval():
    rng = np.random.default_rng(0)
    for n in (2, 3, 5, 10):
        d = rng.normal(0.4, 1.0, size=n)
        ref = st.ttest_1samp(d, 0.0).pvalue
        assert math.isclose(claim_pvalue(claim_from(d)), ref, rel_tol=1e-8)


def test_verdicts_of_hand_made_claims():
    assert claim_verdict([claim_from(UP)]) == "reproduced"
    assert claim_verdict([claim_from(DOWN, expected="negative")]) == "reproduced"
    assert claim_verdict([claim_from(DOWN)]) == (
        "not reproduced at this scale (the interval lies on the other side of zero)"
    )
    both_down = [claim_from(DOWN, regime="A"), claim_from(DOWN, regime="B")]
    assert claim_verdict(both_down) == (
        "not reproduced at this scale (the intervals lie on the other side of zero)"
    )
    assert claim_verdict([claim_from(FLAT)]) == (
        "not reproduced at this scale (the interval covers zero)"
    )
    two = [claim_from(UP, regime="A"), claim_from(FLAT, regime="B")]
    assert claim_verdict(two) == "reproduced only in regime A"
    assert regime_support(two) == ["supports", "inconclusive"]
    three = [
        claim_from(UP, regime="A, x"),
        claim_from(UP, regime="B"),
        claim_from(FLAT, regime="C"),
    ]
    assert claim_verdict(three) == "reproduced only in regimes A, x; B (2 of 3)"
    assert claim_verdict([claim_from(UP, regime="A"), claim_from(UP, regime="B")]) == "reproduced"
    with pytest.raises(ValueError, match="one item"):
        claim_verdict([claim_from(UP), claim_from(UP, item="Figure 4")])


def test_holm_makes_two_borderline_regimes_inconclusive():
    # each alone barely excludes zero (p just under 0.05), as one of two tests it does not
    d = np.arange(1.0, 6.0) - 0.8  # mean 2.2, s.e. 0.707: t = 3.11, df 4
    p = st.ttest_1samp(d, 0.0).pvalue
    assert 0.025 < p < 0.05  # alone: rejected; Holm over two needs p <= 0.025 for the first
    assert claim_verdict([claim_from(d)]) == "reproduced"
    pair = [claim_from(d, regime="A"), claim_from(d, regime="B")]
    assert claim_verdict(pair) == "not reproduced at this scale (the intervals cover zero)"


def test_verdict_without_records():
    assert claim_verdict([], item="Table 2") == "not run here (needs ImageNet and a GPU)"
    assert claim_verdict([], item="Figure 4") == "not run in this execution"
    with pytest.raises(ValueError, match="item"):
        claim_verdict([], item="Figure 99")


def test_ledger_frame_without_records_invents_nothing(tmp_path):
    frame = ledger_frame(tmp_path)
    assert list(frame["item"]) == [p.item for p in PAPER_ITEMS]
    assert (frame["result"] == "").all()
    assert set(frame["verdict"]) == {
        "not run in this execution",
        "not run here (needs ImageNet and a GPU)",
    }
    counts = verdict_counts(frame)
    assert counts["reproduced"] == 0 and sum(counts.values()) == len(PAPER_ITEMS)


def test_ledger_frame_with_records(tmp_path):
    record_claims(tmp_path, "03_results_table", [claim_from(UP, regime="A")])
    record_claims(tmp_path, "11_cifar_paper_scale", [claim_from(FLAT, regime="B")])
    frame = ledger_frame(tmp_path)
    rows = frame[frame["item"] == "Table 1"]
    assert list(rows["regime"]) == ["A", "B"]
    assert list(rows["where tested"]) == ["{doc}`03_results_table`", "{doc}`11_cifar_paper_scale`"]
    assert set(rows["verdict"]) == {"reproduced only in regime A"}
    assert "95% CI" in rows["result"].iloc[0] and "n=5" in rows["result"].iloc[0]
    assert len(frame) == len(PAPER_ITEMS) + 1
    assert verdict_counts(frame)["reproduced only in some regimes"] == 1
    summary = ledger.item_summary(frame)
    assert list(summary["item"]) == [p.item for p in PAPER_ITEMS]
    t1 = summary.set_index("item").loc["Table 1"]
    assert t1["regimes"] == 2 and t1["where tested"].count("{doc}") == 2
    assert summary.set_index("item").loc["Figure 4", "regimes"] == 0
    md = ledger_markdown(frame, ["item", "where tested", "verdict"])
    assert md.splitlines()[0] == "| item | where tested | verdict |"
    assert len(md.splitlines()) == len(frame) + 2
    with pytest.raises(ValueError, match="columns"):
        ledger_markdown(frame, ["nope"])


def test_claim_from_diffs_matches_the_paired_interval():
    d = [0.3, 1.1, 0.7, 0.2, math.nan]
    c = Claim.from_diffs(d, item="Table 1", regime="r", protocol="ours", scale="s", statistic="x")
    clean = np.array(d[:4])
    lo, hi = paired_interval(clean)
    assert (c.estimate, c.low, c.high, c.n) == (pytest.approx(clean.mean()), lo, hi, 4)
    one = Claim.from_diffs(
        [0.5], item="Table 1", regime="r", protocol="ours", scale="s", statistic="x"
    )
    assert one.n == 1 and math.isnan(one.low)
    with pytest.raises(ValueError, match="no"):
        Claim.from_diffs(
            [math.nan], item="Table 1", regime="r", protocol="ours", scale="s", statistic="x"
        )


def test_ledger_markdown_cells_print_as_typed():
    import pandas as pd
    from markdown_it import MarkdownIt

    nasty = "|t*| - |1 - t*| for swa_lr_x [a] <b> $x$"
    frame = pd.DataFrame({"statistic": [nasty], "where tested": ["{doc}`13_fge`"]})
    md = ledger_markdown(frame)
    html = MarkdownIt("commonmark").enable("table").render(md)
    cells = html.split("<td>")[1:]
    assert len(cells) == 2  # the | in the text did not split the row
    assert "<em>" not in html
    text = cells[0].split("</td>")[0]
    assert text.replace("&lt;", "<").replace("&gt;", ">") == nasty
    assert "{doc}`13_fge`" in md  # the role cell is left for MyST to resolve
