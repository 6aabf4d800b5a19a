"""Calibration and likelihood metrics against brute-force computations on hand-made examples."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from swa_lib.metrics import (
    accuracy,
    ece,
    evaluate,
    nll,
    predictive_entropy,
    reliability_diagram,
)
from swa_lib.reporting.stats import paired_interval


def test_ece_equal_width_hand_example() -> None:
    # confidences 0.95, 0.9, 0.65, 0.55 (two bins of width 0.5 -> all in the upper bin; use 10)
    probs = torch.tensor([[0.95, 0.05], [0.9, 0.1], [0.35, 0.65], [0.55, 0.45]])
    labels = torch.tensor([0, 1, 1, 1])
    # 10 bins: 0.95 -> (0.9, 1.0]; 0.9 -> (0.8, 0.9]; 0.65 -> (0.6, 0.7]; 0.55 -> (0.5, 0.6]
    # each bin one sample: |acc - conf| = 0.05, 0.9, 0.35, 0.55 ; mean over 4
    expected = (0.05 + 0.9 + 0.35 + 0.55) / 4
    assert ece(probs, labels, num_bins=10, binning="equal_width") == pytest.approx(expected)
    # 2 bins: all four in (0.5, 1]: |3/4... acc = 2/4, conf = mean(.95,.9,.65,.55) = 0.7625
    assert ece(probs, labels, num_bins=2, binning="equal_width") == pytest.approx(abs(0.5 - 0.7625))


def brute_force_equal_mass_ece(probs: np.ndarray, labels: np.ndarray, bins: int) -> float:
    conf = probs.max(1)
    correct = (probs.argmax(1) == labels).astype(float)
    order = sorted(range(len(conf)), key=lambda i: (conf[i], i))
    n = len(order)
    total = 0.0
    start = 0
    for b in range(bins):  # sizes differ by at most one, larger bins first (np.array_split)
        size = n // bins + (1 if b < n % bins else 0)
        idx = order[start : start + size]
        start += size
        if idx:
            total += len(idx) / n * abs(np.mean(correct[idx]) - np.mean(conf[idx]))
    return total


@pytest.mark.parametrize("bins", [1, 3, 7, 20])
def test_ece_equal_mass_matches_brute_force(bins: int) -> None:
    gen = torch.Generator().manual_seed(bins)
    probs = torch.softmax(torch.randn(57, 4, generator=gen) * 2, 1)
    labels = torch.randint(0, 4, (57,), generator=gen)
    expected = brute_force_equal_mass_ece(probs.numpy().astype(np.float64), labels.numpy(), bins)
    assert ece(probs, labels, num_bins=bins) == pytest.approx(expected, abs=1e-12)
    rel = reliability_diagram(probs, labels, num_bins=bins)
    assert rel.count.sum() == 57 and rel.count.max() - rel.count.min() <= 1


def test_nll_of_bma_is_nll_of_mean_not_mean_nll() -> None:
    p1 = torch.tensor([[0.9, 0.1], [0.2, 0.8]])
    p2 = torch.tensor([[0.1, 0.9], [0.4, 0.6]])
    y = torch.tensor([0, 1])
    mean_probs = (p1 + p2) / 2
    expected = -(math.log(0.5) + math.log(0.7)) / 2
    assert nll(mean_probs, y) == pytest.approx(expected)
    assert nll(mean_probs, y) != pytest.approx((nll(p1, y) + nll(p2, y)) / 2)


def test_accuracy_entropy_and_shape_errors() -> None:
    probs = torch.tensor([[0.5, 0.5], [1.0, 0.0], [0.2, 0.8]])
    assert accuracy(probs, torch.tensor([1, 0, 1])) == pytest.approx(2 / 3)
    ent = predictive_entropy(probs)
    assert ent[0].item() == pytest.approx(math.log(2))
    assert ent[1].item() == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="labels"):
        accuracy(probs, torch.tensor([1, 0]))
    with pytest.raises(ValueError, match="binning"):
        ece(probs, torch.tensor([1, 0, 1]), binning="quantile")


def test_evaluate_is_exact_over_unequal_batches() -> None:
    torch.manual_seed(0)
    model = nn.Linear(5, 3)
    x, y = torch.randn(101, 5), torch.randint(0, 3, (101,))
    got = evaluate(model, x, y, batch_size=32)  # 32, 32, 32, 5
    with torch.no_grad():
        logits = model(x).double()
    expected = torch.nn.functional.cross_entropy(logits, y).item()
    assert got["loss"] == pytest.approx(expected, rel=1e-6)
    assert got["nll"] == pytest.approx(expected, rel=1e-6)
    assert got["accuracy"] == pytest.approx((logits.argmax(1) == y).double().mean().item())


def test_predict_logits_is_eval_mode_and_restores_mixed_modes() -> None:
    from swa_lib.metrics import predict_logits, predict_proba

    torch.manual_seed(0)
    net = nn.Sequential(nn.Sequential(nn.Linear(4, 6), nn.Dropout(0.9)), nn.Linear(6, 3))
    net.train()
    net[0].eval()  # a frozen backbone under a training head
    before = [m.training for m in net.modules()]
    x = torch.randn(50, 4)
    logits = predict_logits(net, x, batch_size=16)
    with torch.no_grad():  # eval mode by hand: dropout is the identity
        expected = net[1](net[0][0](x))
    torch.testing.assert_close(logits, expected)
    assert [m.training for m in net.modules()] == before
    torch.testing.assert_close(predict_proba(net, x).sum(1), torch.ones(50))


def test_paired_interval_against_t_table() -> None:
    d = [1.0, 2.0, 3.0]
    lo, hi = paired_interval(d)
    half = 4.302652729911275 * 1.0 / math.sqrt(3)  # t_{0.975, 2} from tables
    assert (lo, hi) == pytest.approx((2 - half, 2 + half))
    assert all(math.isnan(v) for v in paired_interval([1.0]))


def test_report_formats_paired_differences() -> None:
    from swa_lib.reporting import paired_text, pct_mean_std, signed

    assert signed(-0.04) == "0.0" and signed(0.04) == "0.0" and signed(-0.06) == "-0.1"
    assert pct_mean_std([0.8, 0.82]) == "81.0 ± 1.4"
    text = paired_text([0.01, 0.02, 0.03])  # mean 2 points, t interval from the table above
    half = 4.302652729911275 * 1.0 / math.sqrt(3)
    assert text == f"+2.0 points (95% CI {2 - half:+.1f} to {2 + half:+.1f}, n=3)"


def test_glue_text_refuses_text_myst_would_rewrite() -> None:
    from swa_lib.reporting import glue_text

    assert glue_text("k_ok", "81.0 ± 1.4") == "81.0 ± 1.4"
    assert glue_text("k_int", "3") == "3"
    with pytest.raises(ValueError, match="would render as"):
        glue_text("k_plus", "+4.4")
    with pytest.raises(ValueError, match="would render as"):
        glue_text("k_tuple", "0, 1")


def test_auroc_equals_pair_counting() -> None:
    from swa_lib.metrics import auroc

    gen = torch.Generator().manual_seed(0)
    pos = torch.randint(0, 6, (37,), generator=gen).double()  # many ties
    neg = torch.randint(0, 5, (23,), generator=gen).double()
    pairs = [(1.0 if a > b else 0.5 if a == b else 0.0) for a in pos for b in neg]
    assert auroc(pos, neg) == pytest.approx(sum(pairs) / len(pairs), abs=1e-12)
    assert auroc(torch.tensor([2.0, 3.0]), torch.tensor([0.0, 1.0])) == 1.0


def test_glue_shows_figures_where_myst_nb_is_missing(monkeypatch) -> None:
    import builtins

    import IPython.display
    import matplotlib.pyplot as plt

    from swa_lib.reporting import glue

    real_import = builtins.__import__

    def no_myst(name, *args, **kwargs):
        if name.startswith("myst_nb"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    shown = []
    monkeypatch.setattr(builtins, "__import__", no_myst)
    monkeypatch.setattr(IPython.display, "display", lambda v: shown.append(v))
    fig = plt.figure()
    glue("k_fig", fig, display=False)
    glue("k_num", 1.5, display=False)
    plt.close(fig)
    assert shown == [fig]  # the figure is shown once, the number is not
