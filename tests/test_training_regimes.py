"""training.regimes: the paper's two learning-rate regimes and the grid of pairs over them."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from swa_lib.schedules import swa_schedule
from swa_lib.training import TrainConfig
from swa_lib.training.regimes import (
    RECIPE_RATIO,
    REGIMES,
    regime_changes,
    regime_grid,
    regime_label,
    regime_summary,
)


def _base(root) -> dict:
    return dict(
        dataset="mnist1d",
        model="mlp",
        epochs=3,
        swa_start=2,
        lr_init=0.05,
        num_samples=200,
        batch_size=50,
        data_root=str(root),
        model_kw={"hidden": [8]},
    )


def test_recipe_is_the_ratio_and_constant_is_the_initial_rate() -> None:
    assert regime_changes("recipe", 0.1)["swa_lr"] == pytest.approx(0.1 * RECIPE_RATIO)
    assert regime_changes("recipe", 0.05, ratio=0.2)["swa_lr"] == pytest.approx(0.01)  # VGG16
    assert regime_changes("constant", 0.05)["swa_lr"] == 0.05


def test_constant_regime_never_changes_the_rate_and_recipe_reaches_the_ratio() -> None:
    """Read back through the schedule the run uses: constant is flat from epoch 0; the recipe
    is lr_init up to swa_start / 2 and ratio * lr_init from 0.9 * swa_start on (paper, Sec. 4)."""
    lr, start = 0.05, 45
    const = TrainConfig(
        dataset="mnist1d", model="mlp", epochs=60, swa_start=start, **regime_changes("constant", lr)
    )
    recipe = TrainConfig(
        dataset="mnist1d", model="mlp", epochs=60, swa_start=start, **regime_changes("recipe", lr)
    )
    assert {const.learning_rate(e) for e in range(60)} == {lr}
    assert recipe.learning_rate(0) == recipe.learning_rate(22) == lr
    for e in range(41, 60):  # t = e / 45 > 0.9
        assert recipe.learning_rate(e) == pytest.approx(0.3 * lr, rel=1e-12)
        assert recipe.learning_rate(e) == swa_schedule(e, lr_init=lr, swa_lr=0.015, swa_start=start)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: regime_changes("cyclic", 0.05), "regime"),
        (lambda: regime_changes("recipe", 0.05, ratio=1.0), "ratio"),
        (lambda: regime_changes("recipe", -1.0), "lr_init"),
        (lambda: regime_label("paper"), "regime"),
    ],
)
def test_bad_input_names_the_field(call, field) -> None:
    with pytest.raises(ValueError, match=f"{field}=.*invalid"):
        call()


def test_labels_name_the_regime() -> None:
    assert set(REGIMES) == {"recipe", "constant"}
    assert regime_label("recipe", ratio=0.2) == "the paper's recipe ratio 0.2"
    assert regime_label("constant") == "a constant rate from scratch"


def test_summary_matches_a_hand_computed_t_interval() -> None:
    rng = np.random.default_rng(0)
    d = rng.normal(0.01, 0.02, 7)
    grid = pd.DataFrame(
        {"setting": "a", "regime": ["recipe"] * 7, "diff_test_accuracy": d, "diff_test_nll": -d}
    )
    s = regime_summary(grid).iloc[0]
    half = stats.t.ppf(0.975, 6) * math.sqrt(sum((x - d.mean()) ** 2 for x in d) / 6) / math.sqrt(7)
    assert s["n"] == 7
    assert s["diff_test_accuracy_mean"] == pytest.approx(float(np.mean(d)))
    assert s["diff_test_accuracy_low"] == pytest.approx(d.mean() - half)
    assert s["diff_test_nll_high"] == pytest.approx(-d.mean() + half)
    with pytest.raises(ValueError, match="no column"):
        regime_summary(grid, columns=("diff_x",))


def test_grid_rows_are_the_runs_of_each_regime(tmp_path, mnist1d_root) -> None:
    base = _base(mnist1d_root)
    grid = regime_grid({"tiny": base}, [0, 1], tmp_path, progress=False)
    assert list(grid["regime"]) == ["recipe", "recipe", "constant", "constant"]
    assert list(grid["swa_lr"]) == pytest.approx([0.015, 0.015, 0.05, 0.05])
    for row in grid.itertuples():
        cfg = TrainConfig(**{**base, "seed": row.seed, "swa": True, "swa_lr": row.swa_lr})
        from swa_lib.training import run_dir_for

        swa = json.loads((run_dir_for(cfg, tmp_path) / "final.json").read_text())
        sgd_cfg = TrainConfig(**{**base, "seed": row.seed, "swa": False})
        sgd = json.loads((run_dir_for(sgd_cfg, tmp_path) / "final.json").read_text())
        assert row.diff_test_accuracy == swa["swa_test_accuracy"] - sgd["sgd_test_accuracy"]
        assert row.diff_last_test_nll == swa["swa_test_nll"] - swa["sgd_test_nll"]
        assert row.data_seed == 42 and row.n_test == sgd["n_test"]
        assert row.n_train == sgd["n_train"]
    # the baseline is shared by both regimes: the same SGD numbers per seed
    by_seed = grid.groupby("seed")["sgd_test_accuracy"].nunique()
    assert (by_seed == 1).all()


def test_grid_can_draw_the_data_with_the_seed(tmp_path, mnist1d_root) -> None:
    grid = regime_grid(
        {"tiny": _base(mnist1d_root)},
        [3, 4],
        tmp_path,
        regimes=("constant",),
        data_seed_per_seed=True,
        progress=False,
    )
    assert list(grid["data_seed"]) == [3, 4]
    with pytest.raises(ValueError, match="lr_init"):
        regime_grid({"x": {"dataset": "mnist1d"}}, [0], tmp_path)


def test_pairs_apply_the_regime_over_other_swa_changes(tmp_path, mnist1d_root) -> None:
    from swa_lib.training.regimes import regime_pairs

    base = _base(mnist1d_root)
    pairs = regime_pairs(
        base,
        [0],
        tmp_path,
        regime="recipe",
        ratio=0.2,
        swa_changes={"epochs": 4, "swa_lr": 0.9},
        progress=False,
    )
    (p,) = pairs
    assert p.swa.config.epochs == 4 and p.swa.config.swa_lr == pytest.approx(0.01)
    assert p.sgd.config.epochs == 3  # the baseline keeps the base budget
    with pytest.raises(ValueError, match="lr_init"):
        regime_pairs({"dataset": "mnist1d"}, [0], tmp_path, regime="constant")
