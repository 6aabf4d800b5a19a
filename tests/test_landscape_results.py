"""swa_lib.landscape.results: metric names and their deprecated aliases; Surface and Profile as
the plotting functions take them."""

from __future__ import annotations

import numpy as np
import pytest

from swa_lib import landscape as L
from swa_lib.landscape.results import metric_spec


def test_metric_spec_and_alias_lookup_both_ways():
    assert metric_spec("train_loss") == ("train", "loss", False)
    assert metric_spec("test_accuracy") == ("test", "accuracy", False)
    assert metric_spec("test_acc") == ("test", "accuracy", True)
    with pytest.raises(ValueError, match="unknown metric 'test_error_pct'"):
        metric_spec("test_error_pct")
    frac = np.array([0.25, 0.5])
    new = L.Profile(t=np.zeros(2), values={"test_error": frac}, distances=np.zeros(2))
    np.testing.assert_array_equal(new["test_err"], [25.0, 50.0])
    old = L.Profile(t=np.zeros(2), values={"train_acc": np.array([75.0, 50.0])},
                    distances=np.zeros(2))
    np.testing.assert_array_equal(old["train_accuracy"], [0.75, 0.5])
    assert old.metrics == ("train_acc",)
    with pytest.raises(KeyError):
        old["train_error"]  # error is not derived from accuracy: only the same metric renamed


# ---------------------------------------------------------------------------------- plotting


def test_plot_helpers_return_figures():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from swa_lib import plotting as P

    a = np.linspace(-0.2, 1.2, 6) * 3.0
    b = np.linspace(-0.2, 1.2, 5) * 2.0
    x, y = np.meshgrid(a, b, indexing="ij")
    z = 0.05 + (x - 1.5) ** 2 + 2 * (y - 1.0) ** 2
    surf = L.Surface(a, b, {"train_loss": z, "test_err": 10 + z})
    levels = P.log_levels(z)
    assert np.all(np.diff(levels) > 0) and levels[0] == z.min() and levels[-1] == 1e10
    t = np.linspace(0, 4, 5)
    ray = L.Profile(t, {"train_loss": np.stack([t**2, 2 * t**2]), "test_err": np.stack([t, t])},
                    t)
    line = L.Profile(t - 1, {"train_loss": t**2, "test_err": 10 + t}, (t - 1) * 2.5)
    figs = [
        P.plot_plane(surf, "train_loss", points={"SWA": (1.5, 1.0), "SGD": (0.0, 0.0)}),
        P.plot_rays({"SGD": ray, "SWA": ray}),
        P.plot_line(line),
        P.plot_surface(surf, "train_loss", log=True),
    ]
    for fig in figs:
        assert isinstance(fig, Figure)
    texts = [t.get_text() for t in figs[0].axes[0].texts]
    assert {"SWA", "SGD"} <= set(texts)
    assert len(figs[1].axes) == 2
    assert len(figs[2].axes) == 2  # twin axes
    assert any(ax.name == "3d" for ax in figs[3].axes)
    for fig in figs:
        plt.close(fig)
