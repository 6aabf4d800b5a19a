# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Robustness: how much do `swa_lr`, `swa_start` and the cycle matter?
#
# **The question.** SWA has two knobs of its own: the learning rate of the averaging phase
# (`swa_lr`) and the epoch at which averaging starts (`swa_start`), plus a choice between a
# constant and a cyclic rate. Over a grid of these, on the book's laptop problem, how much does
# SWA's test accuracy change, and does it stay above the conventionally trained SGD baseline?
#
# **[Open in Colab](https://colab.research.google.com/github/swa-book/swa-book/blob/main/notebooks/09_robustness.ipynb)**
#
# **Cost.** Laptop profile (the defaults below): a 3 x 3 grid of SWA runs of the MNIST-1D MLP
# (60 epochs each) plus two cyclic variants, five seeds each, and the SGD baseline of each seed:
# 60 runs, trained five seeds at a time (`training.run_many`):
# 4 minutes measured on a busy 2-core machine. Paper profile: VGG16 on CIFAR-100 with the paper's recipe (200
# epochs, lr_init 0.05 as here, SWA from epoch 161 at rate 0.01; `presets.experiment_base`),
# the grid around it (rates 0.005, 0.01, 0.05; starts 121, 161, 181) with three seeds
# everywhere and five at the centre: about 40 runs of 200 epochs, about 6 GPU-hours
# at the per-epoch and per-evaluation times measured on one H100 for {doc}`11_cifar_paper_scale`
# (`presets.paper_gpu_hours`). Without CIFAR-100 under `data/`
# it stops in its first code cell, saying how to get it.
#
# **Prerequisites.** {doc}`01_quickstart` (the protocol and the centre point of the grid),
# {doc}`02_schedules` (the learning-rate schedules).

# %% tags=["remove-cell"]
# On Colab: install swa_lib (torch is already there). Elsewhere this cell does nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "swa_lib @ git+https://github.com/swa-book/swa-book",
        ],
        check=True,
    )

# %% tags=["parameters"]
SEEDS = [0, 1, 2, 3, 4]  # seeds of every grid cell
NOISE_SEEDS = [0, 1, 2, 3, 4]  # seeds of the centre cell: the seed spread
EPOCHS = 60  # budget of every run (SWA and SGD)
SWA_LRS = [0.005, 0.015, 0.05]  # constant rate of the SWA phase (lr_init is 0.05)
SWA_STARTS = [30, 45, 55]  # first averaged epoch
CENTER_LR = 0.05  # notebook 01's point of the grid
CENTER_START = 45
CYCLES = [1, 3]  # cyclic variant at CENTER_START: cycle length in epochs
CYCLIC_LR_MIN = 0.005  # cyclic rate: from lr_init (0.05) down to this in each cycle
NUM_SAMPLES = 5000
DATASET = "mnist1d"  # paper profile: "cifar100" (presets.experiment_base)
MODEL = "mlp"
OVERRIDES = {}  # extra TrainConfig fields of every run (fake-CIFAR test: batch)
RUNS_DIR = "../runs"
DATA_DIR = "../data"
DEVICE = "cpu"

# %%
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch

from swa_lib.reporting import (
    glue,
    glue_text,
    listing,
    paired_text,
    pct,
    pct_mean_std,
    range_text,
)
from swa_lib.training import sgd_and_swa
from swa_lib.training.presets import experiment_base, require_dataset

torch.set_num_threads(1)
require_dataset(DATASET, DATA_DIR)  # without CIFAR the paper profile stops here
warnings.filterwarnings(
    "ignore", message="IProgress not found"
)  # tqdm without ipywidgets

# %% [markdown]
# ## The grid
#
# Every run is `swa_lib.training.run` with the laptop preset of {doc}`01_quickstart`
# (`presets.laptop_mnist1d`), changing only `swa_lr` and `swa_start`: the learning rate stays at
# `lr_init = 0.05` for the first half of `swa_start` epochs, falls linearly to `swa_lr` by
# `0.9 * swa_start`, and stays there while a model is averaged after every epoch from
# `swa_start` on. With `swa_lr = 0.05 = lr_init` the rate never falls at all. The SGD baseline
# uses the same budget with the conventional schedule (decay to 1 % of `lr_init`); it does not
# depend on the grid, so one baseline run per seed serves every cell.

# %%
base = experiment_base(
    DATASET,
    MODEL,
    epochs=EPOCHS,
    swa_start=CENTER_START,
    swa_lr=CENTER_LR,
    num_samples=NUM_SAMPLES,
    data_root=DATA_DIR,
    device=DEVICE,
    eval_every=None,
    **OVERRIDES,
)  # the centre; final metrics only
t0 = time.perf_counter()
# every run this notebook uses (a run trained now is not `cached` the first time)
asked = []
sgd = {}  # seed -> final metrics of the SGD baseline
rows = []
for swa_start in SWA_STARTS:
    for swa_lr in SWA_LRS:
        for pair in sgd_and_swa(
            base,
            SEEDS,
            RUNS_DIR,
            swa_changes={"swa_lr": swa_lr, "swa_start": swa_start},
        ):
            asked += [pair.sgd, pair.swa]
            f, sgd[pair.seed] = pair.swa.final, pair.sgd.final
            rows.append(
                {
                    "swa_start": swa_start,
                    "swa_lr": swa_lr,
                    "seed": pair.seed,
                    "SWA": f["swa_test_accuracy"],
                    "last iterate": f["sgd_test_accuracy"],
                    "SGD": sgd[pair.seed]["sgd_test_accuracy"],
                }
            )
grid = pd.DataFrame(rows)
grid["SWA - SGD"] = grid["SWA"] - grid["SGD"]
grid["SWA - last"] = grid["SWA"] - grid["last iterate"]
cells = grid.groupby(["swa_start", "swa_lr"])[
    ["SWA", "last iterate", "SGD", "SWA - SGD", "SWA - last"]
].mean()
(100 * cells).round(1)

# %% [markdown]
# Test accuracy (%) per cell (mean over `SEEDS`), of the SWA model, of the SGD iterate at the end
# of the same run ("last iterate"), and of the SGD baseline; the two differences are in
# percentage points and paired by seed.
#
# ## How big is a difference between two cells?
#
# A cell's mean over `SEEDS` still carries seed noise, so the centre cell (notebook 01's
# configuration) is also run with `NOISE_SEEDS`: its seed-to-seed spread, divided by the square
# root of the seeds per cell, is the yardstick for every difference between cells.

# %%
center = []
for pair in sgd_and_swa(base, NOISE_SEEDS, RUNS_DIR):
    asked += [pair.sgd, pair.swa]
    sgd[pair.seed] = pair.sgd.final
    center.append(
        {
            "seed": pair.seed,
            "SWA": pair.swa.final["swa_test_accuracy"],
            "SGD": sgd[pair.seed]["sgd_test_accuracy"],
        }
    )
center = pd.DataFrame(center).set_index("seed")
center_sd = 100 * center["SWA"].std(ddof=1) if len(center) > 1 else float("nan")
(100 * center).round(1)

# %% tags=["remove-input"]
glue_text("nb09_center_swa", pct_mean_std(center["SWA"]))
glue_text("nb09_center_sgd", pct_mean_std(center["SGD"]))
glue_text("nb09_center_diff", paired_text(center["SWA"] - center["SGD"]))
glue_text("nb09_center_sd", f"{center_sd:.1f}")
glue_text("nb09_n_noise", str(len(NOISE_SEEDS)))
# twice the standard error of a difference between two cell means of len(SEEDS)
# seeds each
cell_resolution = 2 * center_sd * (2 / len(SEEDS)) ** 0.5
glue_text("nb09_resolution", f"{cell_resolution:.1f} points")

# %% [markdown]
# ## Constant versus cyclic rate
#
# The paper's cyclic variant (its Eq. 2, `swa_lr_schedule="cyclic"`): from `swa_start` on, the
# rate falls linearly from `lr_init` to `CYCLIC_LR_MIN` within each cycle of `c` epochs and a
# model is averaged at the end of each cycle, where the rate is lowest. `c = 1` averages as often
# as the constant schedule; `c = 3` averages a third as many models.

# %%
SCHEDULES = {f"constant {CENTER_LR}": {}} | {
    f"cyclic, c = {c}": {
        "swa_lr_schedule": "cyclic",
        "swa_lr": CYCLIC_LR_MIN,
        "swa_c_epochs": c,
    }
    for c in CYCLES
}
cyc_rows = []
for schedule, changes in SCHEDULES.items():
    for pair in sgd_and_swa(base, SEEDS, RUNS_DIR, swa_changes=changes):
        asked += [pair.sgd, pair.swa]
        f = pair.swa.final
        cyc_rows.append(
            {
                "schedule": schedule,
                "seed": pair.seed,
                "models averaged": f["swa_n"],
                "SWA": f["swa_test_accuracy"],
                "last iterate": f["sgd_test_accuracy"],
            }
        )
cyc = pd.DataFrame(cyc_rows)
cyc["SGD"] = [sgd[s]["sgd_test_accuracy"] for s in cyc["seed"]]
cyc["SWA - SGD"] = cyc["SWA"] - cyc["SGD"]
cyc_table = cyc.groupby("schedule", sort=False)[
    ["models averaged", "SWA", "last iterate", "SWA - SGD"]
].mean()
cyc_show = cyc_table.copy()
cyc_show[["SWA", "last iterate", "SWA - SGD"]] = (
    100 * cyc_show[["SWA", "last iterate", "SWA - SGD"]]
).round(1)
cyc_show

# %% tags=["remove-input"]
for c in CYCLES:
    glue_text(f"nb09_cyc{c}_acc", pct(cyc_table.loc[f"cyclic, c = {c}", "SWA"]))
    glue_text(
        f"nb09_cyc{c}_diff",
        f"{100 * cyc_table.loc[f'cyclic, c = {c}', 'SWA - SGD']:+.1f} points",
    )

# %%
elapsed = time.perf_counter() - t0
n_trained = sum(not r.cached for r in asked)
print(
    f"{n_trained} runs trained in this execution, "
    f"{elapsed:.0f} s in all (the rest cached)"
)

# %% [markdown]
# ## The heat maps

# %%
# column -> a heat map: swa_start (rows, latest on top) x swa_lr (columns), in percent
maps = {
    col: (100 * cells[col]).unstack("swa_lr").sort_index(ascending=False)
    for col in ("SWA", "SWA - SGD", "SWA - last")
}
sgd_acc = pct_mean_std([sgd[s]["sgd_test_accuracy"] for s in SEEDS], std_of_one=False)
fig, axes = plt.subplots(1, 3, figsize=(7, 3), constrained_layout=True)
acc = maps["SWA"]
sns.heatmap(
    acc,
    annot=True,
    fmt=".1f",
    cmap="viridis",
    ax=axes[0],
    cbar_kws={"label": "test accuracy (%)"},
)
axes[0].set_title("SWA test accuracy (%)")
lim = max(
    np.abs(maps["SWA - SGD"].to_numpy()).max(),
    np.abs(maps["SWA - last"].to_numpy()).max(),
)
for ax, col, title in (
    (axes[1], "SWA - SGD", "SWA - SGD baseline (points)"),
    (axes[2], "SWA - last", "SWA - its own last iterate (points)"),
):
    sns.heatmap(
        maps[col],
        annot=True,
        fmt="+.1f",
        cmap="RdBu",
        center=0,
        vmin=-lim,
        vmax=lim,
        ax=ax,
        cbar_kws={"label": "points"},
    )
    ax.set_title(title)
for ax in axes:
    ax.set(xlabel="swa_lr", ylabel="swa_start")
    if CENTER_START in acc.index and CENTER_LR in acc.columns:
        i, j = list(acc.index).index(CENTER_START), list(acc.columns).index(CENTER_LR)
        ax.add_patch(plt.Rectangle((j, i), 1, 1, fill=False, ec="k", lw=2))
fig.suptitle(
    f"MNIST-1D {MODEL}, {EPOCHS} epochs, seeds {SEEDS}; SGD baseline {sgd_acc} %"
)
plt.close(fig)

# %% tags=["remove-input"]
glue("nb09_heatmap", fig, display=False)

# %% [markdown]
# ```{glue:figure} nb09_heatmap
# :name: fig-nb09-heatmap
#
# Left: SWA's test accuracy over the grid (the framed cell is notebook 01's configuration).
# Middle: SWA minus the SGD baseline trained with the same budget (same seed). Right: SWA minus
# the SGD iterate at the end of its own run -- what averaging adds to the point it averages
# around. Read a column from left to right: the higher `swa_lr`, the more the iterate moves
# during the averaging phase.
# ```

# %%
best = cells["SWA"].idxmax()
worst = cells["SWA"].idxmin()
by_lr = cells.groupby("swa_lr")[["SWA - last", "SWA - SGD"]].mean()
by_start = cells.groupby("swa_start")["SWA"].mean()
lo_lr, hi_lr = min(SWA_LRS), max(SWA_LRS)
# (units in the text: myst-nb would print a bare "+4.4" as the number 4.4)
glue_text(
    "nb09_start_range",
    ", ".join(f"{pct(v)} % (swa_start {k})" for k, v in by_start.items()),
)
for tag, lr in (("lo", lo_lr), ("hi", hi_lr)):
    col_ = cells["SWA"].xs(lr, level="swa_lr")
    glue_text(
        f"nb09_{tag}_start_range", ", ".join(pct(v) for v in col_.sort_index()) + " %"
    )
pd.DataFrame(
    {
        "SWA - last (points)": (100 * by_lr["SWA - last"]).round(1),
        "SWA - SGD (points)": (100 * by_lr["SWA - SGD"]).round(1),
    }
)

# %% tags=["remove-input"]
glue_text("nb09_n_cells", str(len(cells)))
glue_text(
    "nb09_seeds",
    ("seed " if len(SEEDS) == 1 else "seeds ") + ", ".join(map(str, SEEDS)),
)
glue_text("nb09_sgd_acc", sgd_acc)
glue_text(
    "nb09_best",
    f"{pct(cells.loc[best, 'SWA'])} % (swa_start {best[0]}, swa_lr {best[1]})",
)
glue_text(
    "nb09_worst",
    f"{pct(cells.loc[worst, 'SWA'])} % (swa_start {worst[0]}, swa_lr {worst[1]})",
)
glue_text("nb09_range", f"{100 * (cells['SWA'].max() - cells['SWA'].min()):.1f}")
glue_text("nb09_n_above", f"{int((cells['SWA - SGD'] > 0).sum())} of {len(cells)}")
glue_text("nb09_diff_range", range_text(cells["SWA - SGD"], "+.1f", scale=100))
glue_text("nb09_lo_lr", str(lo_lr))
glue_text("nb09_hi_lr", str(hi_lr))
glue_text("nb09_gain_lo", f"{100 * by_lr.loc[lo_lr, 'SWA - last']:+.1f} points")
glue_text("nb09_gain_hi", f"{100 * by_lr.loc[hi_lr, 'SWA - last']:+.1f} points")
glue_text("nb09_vs_sgd_lo", f"{100 * by_lr.loc[lo_lr, 'SWA - SGD']:+.1f} points")
glue_text("nb09_vs_sgd_hi", f"{100 * by_lr.loc[hi_lr, 'SWA - SGD']:+.1f} points")
glue_text("nb09_starts", listing(sorted(SWA_STARTS)))
glue_text("nb09_const_acc", pct(cyc_table.iloc[0]["SWA"]))

# %% [markdown]
# Mean over the `swa_start` values of each `swa_lr`: the gain of the average over its own last
# iterate, and over the SGD baseline.
#
# ## Conclusion
#
# Over the {glue:text}`nb09_n_cells` cells of the grid ({glue:text}`nb09_seeds`), SWA's test
# accuracy runs from {glue:text}`nb09_worst` to {glue:text}`nb09_best`, a range of
# {glue:text}`nb09_range` points, against {glue:text}`nb09_sgd_acc` % for the SGD baseline. SWA
# is above the baseline in {glue:text}`nb09_n_above` cells (differences
# {glue:text}`nb09_diff_range` points). For scale: at the centre cell the seed-to-seed standard
# deviation of SWA's accuracy is {glue:text}`nb09_center_sd` points over
# {glue:text}`nb09_n_noise` seeds (SWA {glue:text}`nb09_center_swa` %, SGD
# {glue:text}`nb09_center_sgd` %, paired difference {glue:text}`nb09_center_diff`), so two
# cells whose means differ by less than about {glue:text}`nb09_resolution` (twice the standard
# error of a difference of two cell means) are not resolved.
#
# Along `swa_lr` the pattern is the one the paper predicts. At the lowest rate
# ({glue:text}`nb09_lo_lr`) the iterate hardly moves during the averaging phase and the average
# adds {glue:text}`nb09_gain_lo` over its own last iterate ({glue:text}`nb09_vs_sgd_lo` over
# SGD, mean over the start epochs); at the highest rate ({glue:text}`nb09_hi_lr`) it adds
# {glue:text}`nb09_gain_hi` ({glue:text}`nb09_vs_sgd_hi` over SGD). `swa_start` matters
# through the schedule it implies. At the highest rate the start epochs
# {glue:text}`nb09_starts` give SWA {glue:text}`nb09_hi_start_range`, a spread of the size of
# the seed noise; at the lowest rate they give {glue:text}`nb09_lo_start_range`: an early start
# makes the rate fall early (the decay begins at half of `swa_start`), and both the last iterate
# and the average end lower. Averaged over the rates, the start epochs
# give {glue:text}`nb09_start_range`. The cyclic schedule (from 0.05 down to 0.005 in each cycle)
# reaches {glue:text}`nb09_cyc1_acc` % with one-epoch cycles ({glue:text}`nb09_cyc1_diff`
# over SGD) and {glue:text}`nb09_cyc3_acc` % with three-epoch cycles
# ({glue:text}`nb09_cyc3_diff`), against {glue:text}`nb09_const_acc` % for the constant rate
# 0.05 with the same seed: with one seed per variant, a difference of a point is about two seed
# standard deviations, suggestive rather than resolved.
#
# ## Exercises
#
# ```{exercise}
# :label: ex-nb09-seeds
# Set `SEEDS = [0, 1, 2]` (about three times the training). Which cells change their ranking, and
# which conclusions above survive?
# ```
#
# ```{solution} ex-nb09-seeds
# :class: dropdown
# Cells closer than about two seed standard deviations swap freely; the ordering along `swa_lr`
# (low rate: SWA is nearly its last iterate) is the robust part, because it follows from how far
# the iterate moves, not from the noise of one run.
# ```
#
# ```{exercise}
# :label: ex-nb09-budget
# Keep `swa_lr = 0.05` and vary the budget (`EPOCHS = 40, 80`) with `swa_start` at three
# quarters of it. Does the gap between SWA and SGD grow or shrink with the budget?
# ```
#
# ```{solution} ex-nb09-budget
# :class: dropdown
# Compare with the paper's budgets 1, 1.25 and 1.5 in {doc}`11_cifar_paper_scale`: a longer SWA
# phase averages more models, which helps as long as the iterate keeps exploring; the SGD
# baseline also improves with more epochs, so the gap need not grow.
# ```
