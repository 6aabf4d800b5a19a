"""swa_lib.plotting.landscape: each plot draws what it is given, into the axes it is given."""

from __future__ import annotations

import base64

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from swa_lib.landscape import Profile, Surface
from swa_lib.plotting import log_levels, plot_line, plot_plane, plot_rays, plot_surface


def _bowl() -> Surface:
    a = np.linspace(-1.0, 1.0, 9)
    x, y = np.meshgrid(a, a, indexing="ij")
    z = 0.3 + x**2 + 2 * y**2  # an analytic bowl: minimum 0.3 at the origin
    return Surface(alphas=a, betas=a, values={"train_loss": z, "test_err": 10 + 5 * z})


def test_plot_plane_draws_into_given_axes_and_marks_points() -> None:
    fig, ax = plt.subplots()
    out = plot_plane(_bowl(), "train_loss", points={"SWA": (0.0, 0.0)}, ax=ax)
    assert out is fig
    assert [t.get_text() for t in ax.texts] == ["SWA"]
    # the contour levels are log_levels of the values: the first is the minimum of the bowl
    assert log_levels(_bowl()["train_loss"])[0] == pytest.approx(0.3)
    plt.close(fig)


def test_plot_rays_one_panel_per_metric_and_mean_curve() -> None:
    d = np.linspace(0.0, 2.0, 5)
    rays = np.stack([d**2, 2 * d**2])  # two rays; their mean is 1.5 d^2
    prof = Profile(t=d, values={"train_loss": rays, "test_err": rays}, distances=d)
    fig = plot_rays({"SWA": prof}, show_rays=False)
    assert len(fig.axes) == 2
    (line,) = fig.axes[0].get_lines()
    np.testing.assert_allclose(line.get_ydata(), 1.5 * d**2)
    with pytest.raises(ValueError, match="2 metrics but 1 axes"):
        plot_rays({"SWA": prof}, ax=[fig.axes[0]])
    plt.close(fig)


def test_plot_line_twin_axes_and_endpoint_labels() -> None:
    t = np.linspace(-0.5, 1.5, 9)
    prof = Profile(t=t, values={"train_loss": (t - 1) ** 2, "test_err": 10 + t}, distances=3 * t)
    fig, ax = plt.subplots()
    assert plot_line(prof, ax=ax) is fig
    assert [a.get_text() for a in ax.texts] == ["SGD", "SWA"]
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), 3 * t)
    with pytest.raises(ValueError, match="x must be"):
        plot_line(prof, x="epoch")
    plt.close(fig)


def test_plot_surface_into_given_axes_and_3d_check() -> None:
    fig = plt.figure()
    a2, a3 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2, projection="3d")
    assert plot_surface(_bowl(), axes=(a2, a3)) is fig
    assert len(fig.axes) == 2
    with pytest.raises(ValueError, match="3-D axes"):
        plot_surface(_bowl(), axes=(a2, a2))
    plt.close(fig)


def test_interactive_surface_has_html_and_png_twins() -> None:
    pytest.importorskip("plotly")
    from swa_lib.plotting.interactive import interactive_surface

    s = _bowl()
    fig = interactive_surface(s, "train_loss")
    png = fig._repr_png_()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    html = fig._repr_html_()
    assert f'id="{fig.div_id}"' in html and "Plotly.newPlot" in html
    # plotly's z is (rows = y, columns = x): the transpose of the ij-indexed surface
    z = fig.spec["data"][0]["z"]
    if isinstance(z, dict):  # plotly >= 6 writes arrays as base64 typed arrays
        shape = tuple(int(n) for n in z["shape"].split(","))
        z = np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape(shape)
    np.testing.assert_allclose(np.asarray(z, dtype=float), s["train_loss"].T)
    assert interactive_surface(s, "train_loss").div_id == fig.div_id  # stable across calls
    assert interactive_surface(s, "test_err").div_id != fig.div_id


def test_log_levels_and_every_plot_returns_a_figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from swa_lib import plotting as P

    a = np.linspace(-0.2, 1.2, 6) * 3.0
    b = np.linspace(-0.2, 1.2, 5) * 2.0
    x, y = np.meshgrid(a, b, indexing="ij")
    z = 0.05 + (x - 1.5) ** 2 + 2 * (y - 1.0) ** 2
    surf = Surface(a, b, {"train_loss": z, "test_err": 10 + z})
    levels = P.log_levels(z)
    assert np.all(np.diff(levels) > 0) and levels[0] == z.min() and levels[-1] == 1e10
    t = np.linspace(0, 4, 5)
    ray = Profile(t, {"train_loss": np.stack([t**2, 2 * t**2]), "test_err": np.stack([t, t])}, t)
    line = Profile(t - 1, {"train_loss": t**2, "test_err": 10 + t}, (t - 1) * 2.5)
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


def test_interactive_surface_shares_a_vertical_range() -> None:
    pytest.importorskip("plotly")
    from swa_lib.plotting.interactive import interactive_surface

    fig = interactive_surface(_bowl(), "train_loss", log=True, zrange=(-1.0, 2.0))
    assert fig.spec["layout"]["scene"]["zaxis"]["range"] == [-1.0, 2.0]


def test_coarsen_levels_keeps_no_band_thinner_than_the_resolution() -> None:
    from swa_lib.plotting import coarsen_levels

    lv = np.array([0.10, 0.101, 0.103, 0.11, 0.13, 0.20, 0.205, 1e10])
    out = coarsen_levels(lv, 0.01)
    # brute force: the finite spacings of the result are all >= the resolution
    finite = out[out < 1e10]
    assert np.all(np.diff(finite) >= 0.01 - 1e-12)
    # the bottom, the top finite level and the catch-all survive
    assert finite[0] == 0.10 and finite[-1] == 0.205 and out[-1] == 1e10
    assert list(finite) == [0.10, 0.11, 0.13, 0.205]  # 0.20 replaced by the top, 0.205
    # a range finer than the resolution: one band of exactly one resolution step
    assert list(coarsen_levels(np.array([0.5, 0.502, 0.504]), 0.01)) == [0.5, 0.51]
    with pytest.raises(ValueError, match="resolution"):
        coarsen_levels(lv, 0.0)
    with pytest.raises(ValueError, match="increasing"):
        coarsen_levels(np.array([0.2, 0.1]), 0.01)


def test_shared_levels_pool_the_surfaces_and_respect_the_resolution() -> None:
    from swa_lib.plotting import shared_levels

    a = np.array([[0.12, 0.30], [0.50, 0.90]])
    b = np.array([[0.08, np.nan], [0.20, 0.40]])
    lv = shared_levels([a, b])
    # the pooled extremes: bottom = lowest of either surface, top finite = highest of either
    assert lv[0] == 0.08 and lv[-2] == 0.90 and lv[-1] == 1e10
    np.testing.assert_allclose(lv, log_levels(np.concatenate([a.ravel(), b.ravel()])))
    # 50 test points: a test error moves in steps of 1/50; no band may be thinner
    lr = shared_levels([a, b], resolution=1 / 50)
    assert np.all(np.diff(lr[:-1]) >= 1 / 50 - 1e-12)
    assert lr[0] == 0.08 and lr[-2] == 0.90
    # log_alpha is raised from -5 to log(1/50): the first band is exp(log(1/50) + gamma)
    gamma = (np.log(0.90 - 0.08) - np.log(1 / 50)) / 7
    assert lr[1] - lr[0] == pytest.approx(np.exp(np.log(1 / 50) + gamma))
    # a resolution below exp(-5) leaves log_alpha at -5: only the coarsening acts
    np.testing.assert_allclose(shared_levels([a, b], resolution=1e-4), lv)


def test_plot_plane_with_shared_levels_gives_equal_colours_for_equal_values() -> None:
    from swa_lib.plotting import shared_levels

    s1 = _bowl()
    s2 = Surface(s1.alphas, s1.betas, {"train_loss": s1["train_loss"] + 0.5})
    lv = shared_levels([s1["train_loss"], s2["train_loss"]])
    fig, (ax1, ax2) = plt.subplots(1, 2)
    plot_plane(s1, "train_loss", levels=lv, ax=ax1)
    plot_plane(s2, "train_loss", levels=lv, ax=ax2)
    f1, f2 = (next(c for c in ax.collections if hasattr(c, "levels")) for ax in (ax1, ax2))
    np.testing.assert_allclose(f1.levels, f2.levels)
    # the colour scale comes from the levels, not from each panel's own minimum
    assert f1.norm.vmin == f2.norm.vmin and f1.norm.vmax == f2.norm.vmax
    assert f1.norm.vmin == pytest.approx(0.3 - 1e-8)
    with pytest.raises(ValueError, match="levels"):
        plot_plane(s1, "train_loss", levels=[0.5, 0.4])
    plt.close(fig)


def test_plot_surface_takes_shared_levels_in_plotted_units() -> None:
    # two bowls of different depth drawn with one set of levels (log10 units, log=True):
    # both contour sets use exactly those levels, so equal spacing means equal change
    a, b = _bowl(), _bowl()
    b.values["train_loss"] = 10.0 * np.asarray(b.values["train_loss"])
    zs = [np.log10(np.maximum(np.asarray(s.values["train_loss"]), 1e-12)) for s in (a, b)]
    levels = np.linspace(min(z.min() for z in zs), max(z.max() for z in zs), 9)
    for s in (a, b):
        fig = plot_surface(s, "train_loss", log=True, levels=levels)
        ax2d = fig.axes[0]
        drawn = np.concatenate(
            [np.asarray(c.levels) for c in ax2d.collections if hasattr(c, "levels")]
        )
        assert drawn.size > 0
        assert set(np.round(drawn, 12)) <= set(np.round(levels, 12))
        plt.close(fig)
    with pytest.raises(ValueError, match="increasing"):
        plot_surface(a, "train_loss", levels=[1.0, 0.5])
