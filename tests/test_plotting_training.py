"""Training-curve plots draw exactly the logged numbers of runs they are given, train nothing."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from swa_lib.plotting import plot_compare_curves, plot_training_curves
from swa_lib.training import loop as loop_mod
from swa_lib.training import sgd_and_swa


@pytest.fixture(scope="module")
def pairs(tmp_path_factory, mnist1d_root):
    base = dict(
        dataset="mnist1d",
        model="mlp",
        epochs=3,
        swa_start=2,
        num_samples=200,
        batch_size=50,
        data_root=str(mnist1d_root),
        model_kw={"hidden": [8]},
    )
    return sgd_and_swa(base, [0], tmp_path_factory.mktemp("runs"), progress=False)


def test_compare_curves_draw_logged_errors_without_training(pairs, monkeypatch) -> None:
    def boom(*a, **k):
        raise AssertionError("plots must not train")

    monkeypatch.setattr(loop_mod, "train_epoch", boom)
    fig = plot_compare_curves(pairs)
    swa = pairs[0].swa
    lines = {ln.get_label(): ln for ln in fig.axes[0].get_lines()}
    np.testing.assert_allclose(
        lines["SWA"].get_ydata(), 100 * (1 - swa.metrics["swa_test_accuracy"].to_numpy())
    )
    np.testing.assert_allclose(
        lines["SGD"].get_ydata(), 100 * (1 - pairs[0].sgd.metrics["sgd_test_accuracy"].to_numpy())
    )
    assert {"SGD", "SGD iterate of the SWA run", "SWA"} <= set(lines)
    assert fig.axes[0].get_title() == "mnist1d / mlp, seeds [0]"
    plt.close(fig)
    with pytest.raises(KeyError):
        plot_compare_curves(pairs, metric="no_such_metric")
    with pytest.raises(ValueError, match="pairs is empty"):
        plot_compare_curves([])
    plt.close("all")


def test_plots_draw_on_the_given_axes_and_return_its_figure(pairs) -> None:
    fig, (a, b) = plt.subplots(1, 2)
    assert plot_compare_curves(pairs, ax=b, metric="test_nll", title="t") is fig
    assert plot_training_curves([pairs[0].swa], ax=a, as_error=False) is fig
    swa_line = next(ln for ln in b.get_lines() if ln.get_label() == "SWA")
    np.testing.assert_allclose(
        swa_line.get_ydata(), pairs[0].swa.metrics["swa_test_nll"].to_numpy()
    )
    assert b.get_title() == "t" and len(fig.axes) == 2
    plt.close(fig)
    own = plot_training_curves([pairs[0].sgd], figsize=(3.0, 2.0))
    assert tuple(own.get_size_inches()) == (3.0, 2.0)
    plt.close(own)
