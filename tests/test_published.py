"""reporting.published: the quoted tables are complete and shaped as the book prints them."""

from __future__ import annotations

import pytest

from swa_lib.reporting.published import (
    COURSE_PROJECT_REPORTED,
    SWA_README_BUDGET_EPOCHS,
    SWA_README_CIFAR,
    SWA_README_COLUMNS,
    swa_readme_table,
)
from swa_lib.training.presets import PAPER_RECIPES


def test_readme_table_complete_and_consistent():
    for dataset, rows in SWA_README_CIFAR.items():
        assert set(rows) == set(SWA_README_BUDGET_EPOCHS) == set(PAPER_RECIPES)
        for model, cells in rows.items():
            assert tuple(cells) == SWA_README_COLUMNS
            # the README's claim: SWA at budget 1 beats SGD at budget 1, for every row
            assert cells["SWA 1"][0] > cells["SGD"][0], (dataset, model)
            assert PAPER_RECIPES[model]["budget"] == SWA_README_BUDGET_EPOCHS[model]


def test_swa_readme_table_formats():
    t = swa_readme_table("cifar100")
    assert list(t.columns) == list(SWA_README_COLUMNS) and t.loc["vgg16", "SGD"] == "72.55 ± 0.10"
    v = swa_readme_table("cifar10", text=False, models=["wrn28_10"])
    assert list(v.index) == ["wrn28_10"] and v.loc["wrn28_10", "SWA 1.5"] == 96.79
    with pytest.raises(ValueError, match="allowed"):
        swa_readme_table("imagenet")
    with pytest.raises(ValueError, match="no published numbers"):
        swa_readme_table("cifar10", models=["mlp"])


def test_course_project_numbers():
    assert COURSE_PROJECT_REPORTED["CIFAR-100, MobileNetV2"] == (43.38, 43.50, 43.43)
    assert len(COURSE_PROJECT_REPORTED) == 3


def test_swag_table_matches_its_source_ordering():
    from swa_lib.reporting.published import SWAG_README_CIFAR100_NLL, swag_nll_table

    t = swag_nll_table()
    assert list(t.index) == ["VGG16", "PreResNet164", "WRN28x10"]
    assert t.loc["VGG16", "SGD"] == 1.73 and t.loc["WRN28x10", "SWAG"] == 0.60
    # the reference's claim: SWA improves NLL over SGD for every model
    for model, row in SWAG_README_CIFAR100_NLL.items():
        assert row["SWA"] < row["SGD"], model


def test_swa_readme_overview_rows_and_gains():
    from swa_lib.reporting.published import DATASET_LABELS, MODEL_LABELS, swa_readme_overview

    t = swa_readme_overview()
    assert list(t.index.names) == ["dataset", "model (E)"] and len(t) == 8
    assert t.index[0] == ("CIFAR-100", "VGG16 (200)")
    assert t.index[5] == ("CIFAR-10", "PreResNet110 (150)")
    assert t.loc[("CIFAR-100", "WRN28x10 (200)"), "SWA 1.5"] == "82.15 ± 0.27"
    # typed from the README: 73.91 - 72.55 and 96.45 - 96.18
    assert t.loc[("CIFAR-100", "VGG16 (200)"), "SWA 1 - SGD (their means)"] == "+1.36"
    assert t.loc[("CIFAR-10", "WRN28x10 (200)"), "SWA 1 - SGD (their means)"] == "+0.27"
    assert set(MODEL_LABELS) == set(SWA_README_BUDGET_EPOCHS)
    assert set(DATASET_LABELS) == set(SWA_README_CIFAR)
