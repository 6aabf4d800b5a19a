"""plot_reliability draws one curve per model, skips empty bins, and refuses bad styles."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from swa_lib.metrics import reliability_diagram
from swa_lib.plotting.calibration import plot_reliability


def _rel(seed: int, binning: str = "equal_mass"):
    g = torch.Generator().manual_seed(seed)
    probs = torch.softmax(3 * torch.randn(200, 5, generator=g), dim=1)
    labels = torch.randint(0, 5, (200,), generator=g)
    return reliability_diagram(probs, labels, num_bins=10, binning=binning)


@pytest.mark.parametrize("style", ["gap", "diagram"])
def test_one_curve_per_model(style: str) -> None:
    a, b = _rel(0), _rel(1, "equal_width")  # equal-width bins may be empty: skipped, not NaN
    fig = plot_reliability({"A": a, "B": b}, style=style, title="t")
    ax = fig.axes[0]
    lines = [ln for ln in ax.get_lines() if ln.get_label() in ("A", "B")]
    assert [ln.get_label() for ln in lines] == ["A", "B"]
    ya = np.asarray(lines[0].get_ydata())
    expected = a.confidence - a.accuracy if style == "gap" else a.accuracy
    np.testing.assert_allclose(ya, expected[a.count > 0])
    assert np.isfinite(np.asarray(lines[1].get_ydata())).all()
    assert ax.get_xscale() == ("logit" if style == "gap" else "linear")
    plt.close(fig)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="allowed"):
        plot_reliability({"A": _rel(0)}, style="bars")
    with pytest.raises(ValueError, match="empty"):
        plot_reliability({})


@pytest.mark.parametrize("style", ["gap", "diagram"])
def test_every_point_inside_the_axes(style: str) -> None:
    # Nearly uniform predictions over 10 classes: confidences near 0.1-0.3 and accuracies near
    # 0.1, far below the region a cropped diagram (e.g. [0.3, 1]) would show.
    g = torch.Generator().manual_seed(3)
    probs = torch.softmax(0.5 * torch.randn(500, 10, generator=g), dim=1)
    labels = torch.randint(0, 10, (500,), generator=g)
    rel = reliability_diagram(probs, labels, num_bins=10, binning="equal_width")
    fig = plot_reliability({"A": rel}, style=style)
    ax = fig.axes[0]
    (line,) = [ln for ln in ax.get_lines() if ln.get_label() == "A"]
    x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    assert x.size > 0 and (x >= x0).all() and (x <= x1).all()
    assert (y >= y0).all() and (y <= y1).all()
    if style == "diagram":
        assert x0 < 0.0 and x1 > 1.0 and y0 < 0.0 and y1 > 1.0  # whole markers at 0 and 1
        assert x.max() < 0.5  # the points lie where a crop to [0.3, 1] would have lost some
    plt.close(fig)
