"""Training-curve plots draw exactly the logged numbers."""

from __future__ import annotations

import numpy as np
import pytest

from swa_lib.plotting import plot_compare_curves


def test_compare_curves_draw_logged_errors(tmp_path, mnist1d_root) -> None:
    base = dict(dataset="mnist1d", model="mlp", epochs=3, swa_start=2, num_samples=200,
                batch_size=50, data_root=str(mnist1d_root), model_kw={"hidden": [8]})
    fig = plot_compare_curves(base, [0], tmp_path)
    from swa_lib.training import TrainConfig, run

    swa = run(TrainConfig(**base, seed=0, swa=True), tmp_path)
    lines = {ln.get_label(): ln for ln in fig.axes[0].get_lines()}
    np.testing.assert_allclose(lines["SWA"].get_ydata(),
                               100 * (1 - swa.metrics["swa_test_accuracy"].to_numpy()))
    assert {"SGD", "SGD iterate of the SWA run", "SWA"} <= set(lines)
    with pytest.raises(KeyError):
        plot_compare_curves(base, [0], tmp_path, metric="no_such_metric")
