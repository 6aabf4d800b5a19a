"""Published numbers the book quotes (never ours): typed in once here, with their source.

* :data:`SWA_README_CIFAR` -- test accuracy (%) mean ± std over 3 runs reported in the README of
  the SWA authors' code (github.com/timgaripov/swa; Izmailov et al. 2018, arXiv:1803.05407):
  SGD at budget 1 and SWA at budgets 1, 1.25, 1.5 (a budget is a multiple of the SGD epochs:
  200 for VGG16 and WRN-28-10, 150 for the PreResNets).
* :data:`SWAG_README_CIFAR100_NLL` -- CIFAR-100 test NLL reported in the README of the SWAG
  reference code (github.com/wjmaddox/swa_gaussian; Maddox et al. 2019, arXiv:1902.02476), rank
  20, 30 samples, scale 0.5 (SWAG) / 1.0 (SWAG-Diag).
* :data:`COURSE_PROJECT_REPORTED` -- the accuracies (%) the original course project
  (BayesianML-SWA) reported for its pre-trained model, its final SGD iterate and its SWA model.

:func:`swa_readme_table` returns the README table of one dataset as a DataFrame (numbers or
``"m ± s"`` text); :func:`swa_readme_overview` both datasets in one table, with the gain of SWA 1
over SGD. :data:`DATASET_LABELS` and :data:`MODEL_LABELS` are the names the book prints.
"""

from __future__ import annotations

import pandas as pd

__all__ = [
    "COURSE_PROJECT_TABLES",
    "COURSE_PROJECT_LOG_DISTANCES",
    "course_project_table",
    "SWA_README_CIFAR",
    "SWA_README_BUDGET_EPOCHS",
    "SWA_README_COLUMNS",
    "COURSE_PROJECT_REPORTED",
    "SWAG_README_CIFAR100_NLL",
    "swag_nll_table",
    "swa_readme_table",
    "swa_readme_overview",
    "DATASET_LABELS",
    "MODEL_LABELS",
]

#: Dataset names as the book prints them.
DATASET_LABELS = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100"}

#: Model names (``swa_lib.models``) as the README of timgaripov/swa prints them.
MODEL_LABELS = {
    "vgg16": "VGG16",
    "preresnet110": "PreResNet110",
    "preresnet164": "PreResNet164",
    "wrn28_10": "WRN28x10",
}

#: Columns of the README table: SGD (budget 1) and SWA at three budgets.
SWA_README_COLUMNS = ("SGD", "SWA 1", "SWA 1.25", "SWA 1.5")

#: Epochs of one budget per model (``swa_lib.models`` names).
SWA_README_BUDGET_EPOCHS = {"vgg16": 200, "preresnet110": 150, "preresnet164": 150, "wrn28_10": 200}

#: dataset -> model -> column -> (mean %, std %), from the README of timgaripov/swa.
SWA_README_CIFAR: dict[str, dict[str, dict[str, tuple[float, float]]]] = {
    "cifar100": {
        "vgg16": {
            "SGD": (72.55, 0.10),
            "SWA 1": (73.91, 0.12),
            "SWA 1.25": (74.17, 0.15),
            "SWA 1.5": (74.27, 0.25),
        },
        "preresnet110": {
            "SGD": (76.77, 0.38),
            "SWA 1": (78.75, 0.16),
            "SWA 1.25": (78.91, 0.29),
            "SWA 1.5": (79.10, 0.21),
        },
        "preresnet164": {
            "SGD": (78.49, 0.36),
            "SWA 1": (79.77, 0.17),
            "SWA 1.25": (80.18, 0.23),
            "SWA 1.5": (80.35, 0.16),
        },
        "wrn28_10": {
            "SGD": (80.82, 0.23),
            "SWA 1": (81.46, 0.23),
            "SWA 1.25": (81.91, 0.27),
            "SWA 1.5": (82.15, 0.27),
        },
    },
    "cifar10": {
        "vgg16": {
            "SGD": (93.25, 0.16),
            "SWA 1": (93.59, 0.16),
            "SWA 1.25": (93.70, 0.22),
            "SWA 1.5": (93.64, 0.18),
        },
        "preresnet110": {
            "SGD": (95.03, 0.05),
            "SWA 1": (95.51, 0.10),
            "SWA 1.25": (95.65, 0.03),
            "SWA 1.5": (95.82, 0.03),
        },
        "preresnet164": {
            "SGD": (95.28, 0.10),
            "SWA 1": (95.56, 0.11),
            "SWA 1.25": (95.77, 0.04),
            "SWA 1.5": (95.83, 0.03),
        },
        "wrn28_10": {
            "SGD": (96.18, 0.11),
            "SWA 1": (96.45, 0.11),
            "SWA 1.25": (96.64, 0.08),
            "SWA 1.5": (96.79, 0.05),
        },
    },
}

#: setting -> (pre-trained, final, SWA) test accuracy (%) as the course project reported them.
COURSE_PROJECT_REPORTED: dict[str, tuple[float, float, float]] = {
    "CIFAR-100, MobileNetV2": (43.38, 43.50, 43.43),
    "CIFAR-10, MobileNetV2": (78.43, 79.01, 78.84),
    "MNIST": (98.49, 98.50, 98.51),
}


#: The course project's Tables 1-3 complete (``BayesianML_Report.pdf``, section 5): row ->
#: quantity -> column -> value. Regression (Table 1): test MSE, no Ensemble column. Images
#: (Table 2): test loss (cross-entropy) and test accuracy (%), all four columns. CLUSTER (Table 3):
#: test loss and accuracy (%), no Ensemble column. All are per-batch averaged (its ``test_epoch``).
#: The report's 2-D SWA entry repeats its Final entry (0.214709); its log ``runs/2D.txt`` line 412
#: prints 0.214901 for the SWA model.
COURSE_PROJECT_TABLES: dict[str, dict[str, dict[str, float]]] = {
    "two_d": {"mse": {"Pretrained": 0.21922, "Final": 0.214709, "SWA": 0.214709}},
    "friedman1": {"mse": {"Pretrained": 0.173177, "Final": 0.168545, "SWA": 0.167995}},
    "friedman3": {"mse": {"Pretrained": 0.047658, "Final": 0.047594, "SWA": 0.047604}},
    "mnist": {
        "loss": {"Pretrained": 0.0473, "Final": 0.0446, "Ensemble": 0.0445, "SWA": 0.0445},
        "accuracy": {"Pretrained": 98.49, "Final": 98.50, "Ensemble": 98.51, "SWA": 98.51},
    },
    "cifar10_cnn": {
        "loss": {"Pretrained": 1.1884, "Final": 1.1813, "Ensemble": 1.1804, "SWA": 1.1806},
        "accuracy": {"Pretrained": 58.11, "Final": 58.54, "Ensemble": 58.58, "SWA": 58.64},
    },
    "cifar10_mobilenet": {
        "loss": {"Pretrained": 0.6191, "Final": 0.6065, "Ensemble": 0.6078, "SWA": 0.6079},
        "accuracy": {"Pretrained": 78.43, "Final": 79.01, "Ensemble": 78.94, "SWA": 78.84},
    },
    "cifar100_mobilenet": {
        "loss": {"Pretrained": 2.1301, "Final": 2.1207, "Ensemble": 2.1215, "SWA": 2.1254},
        "accuracy": {"Pretrained": 43.38, "Final": 43.50, "Ensemble": 43.51, "SWA": 43.43},
    },
    "cluster": {
        "loss": {"Pretrained": 1.660918, "Final": 1.659778, "SWA": 1.659771},
        "accuracy": {"Pretrained": 30.50014, "Final": 30.4911, "SWA": 30.4946},
    },
}

#: The parameter-space L2 distance from the pre-trained model to the final iterate, as the
#: course's landscape code prints it ("Second point", ``utils/visualization.py`` lines 29-37) in
#: its logs ``runs/<row>.txt`` (one run each).
COURSE_PROJECT_LOG_DISTANCES: dict[str, float] = {
    "two_d": 0.083082035,
    "friedman1": 0.008542837,
    "friedman3": 0.00032136313,
    "mnist": 0.04796957,
    "cifar10_cnn": 0.06480486,
    "cifar10_mobilenet": 0.090321,
    "cifar100_mobilenet": 0.10154634,
    "cluster": 0.0009281284,
}

_COURSE_COLUMNS = ("Pretrained", "Final", "Ensemble", "SWA")


def course_project_table() -> pd.DataFrame:
    """:data:`COURSE_PROJECT_TABLES` as one DataFrame: index ``(row, quantity)``, columns
    Pretrained / Final / Ensemble / SWA (NaN where the course reported no Ensemble)."""
    records = {
        (row, q): {c: cells.get(c, float("nan")) for c in _COURSE_COLUMNS}
        for row, quantities in COURSE_PROJECT_TABLES.items()
        for q, cells in quantities.items()
    }
    table = pd.DataFrame.from_dict(records, orient="index")
    table.index = pd.MultiIndex.from_tuples(table.index, names=["row", "quantity"])
    return table


def swa_readme_table(
    dataset: str, *, text: bool = True, models: list[str] | None = None
) -> pd.DataFrame:
    """The README's table for ``dataset`` (``"cifar10"`` / ``"cifar100"``), one row per model.

    ``text=True``: cells ``"72.55 ± 0.10"``; ``False``: the means only (floats, %). ``models``
    selects and orders rows (default: all four).
    """
    if dataset not in SWA_README_CIFAR:
        raise ValueError(f"dataset={dataset!r}; allowed: {', '.join(SWA_README_CIFAR)}")
    rows = SWA_README_CIFAR[dataset]
    models = list(rows) if models is None else list(models)
    unknown = [m for m in models if m not in rows]
    if unknown:
        raise ValueError(f"no published numbers for {unknown}; allowed: {', '.join(rows)}")
    data = {
        m: {
            c: (f"{rows[m][c][0]:.2f} ± {rows[m][c][1]:.2f}" if text else rows[m][c][0])
            for c in SWA_README_COLUMNS
        }
        for m in models
    }
    table = pd.DataFrame.from_dict(data, orient="index")
    table.index.name = "model"
    return table


def swa_readme_overview(datasets: tuple[str, ...] = ("cifar100", "cifar10")) -> pd.DataFrame:
    """Both README tables in one, as text: rows ``(dataset label, "model label (E)")`` with ``E``
    the epochs of one budget, cells ``"72.55 ± 0.10"``, and a last column
    ``"SWA 1 - SGD (their means)"``: the signed difference of the published means (``"+1.36"``).
    """
    rows, index = [], []
    for dataset in datasets:
        means = swa_readme_table(dataset, text=False)
        cells = swa_readme_table(dataset)
        for model in cells.index:
            gain = means.loc[model, "SWA 1"] - means.loc[model, "SGD"]
            rows.append([*cells.loc[model], f"{gain:+.2f}"])
            index.append(
                (
                    DATASET_LABELS[dataset],
                    f"{MODEL_LABELS[model]} ({SWA_README_BUDGET_EPOCHS[model]})",
                )
            )
    return pd.DataFrame(
        rows,
        index=pd.MultiIndex.from_tuples(index, names=["dataset", "model (E)"]),
        columns=[*SWA_README_COLUMNS, "SWA 1 - SGD (their means)"],
    )


#: model -> method -> CIFAR-100 test NLL, from the README of wjmaddox/swa_gaussian.
SWAG_README_CIFAR100_NLL: dict[str, dict[str, float]] = {
    "VGG16": {"SGD": 1.73, "SWA": 1.28, "SWAG-Diag": 1.02, "SWAG": 0.95},
    "PreResNet164": {"SGD": 0.95, "SWA": 0.74, "SWAG-Diag": 0.68, "SWAG": 0.71},
    "WRN28x10": {"SGD": 0.80, "SWA": 0.67, "SWAG-Diag": 0.62, "SWAG": 0.60},
}


def swag_nll_table() -> pd.DataFrame:
    """:data:`SWAG_README_CIFAR100_NLL` as a DataFrame (rows: models, columns: methods)."""
    return pd.DataFrame.from_dict(SWAG_README_CIFAR100_NLL, orient="index")
