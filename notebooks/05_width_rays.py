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
# # How wide are the SGD and SWA solutions? Random rays
#
# **The question.** The paper argues that SWA finds *wider* solutions than SGD: walking away from
# the SWA weights in a random direction, the train loss rises more slowly than it does around
# the SGD weights {cite:p}`izmailov2018swa`. Is that so for our SGD and SWA models, and by how
# much?
#
# **[Open in Colab](https://colab.research.google.com/github/swa-book/swa-book/blob/main/notebooks/05_width_rays.ipynb)**
#
# **Cost.** Laptop profile (the defaults below): no training (notebook 01's seed-0 SGD and SWA
# runs come from the run cache; a minute to train them otherwise), then 10 random rays from each
# of the two solutions with 16 points each, 320 evaluations of the train and test sets (about
# 20 s on a 2-core CPU), cached under `RUNS_DIR`; the comparison of the two regimes adds five
# seeds of SGD, constant-rate and recipe-ratio runs (those of notebooks 01 and 03, cached; about
# 6 s each to train) and 5 rays of 16 points per solution and seed, about 1,200 evaluations
# (about 80 s). Paper profile: the paper's setting,
# PreResNet-164 on CIFAR-100 with its recipe (150 epochs, SWA from epoch 126 at rate 0.05;
# `presets.experiment_base`), five seeds: ten 150-epoch runs and 1,600 BN-recomputed
# evaluations, about 16 GPU-hours on one H100 at the per-epoch and per-evaluation times measured
# for {doc}`11_cifar_paper_scale` (`presets.paper_gpu_hours`); the runs are shared with
# {doc}`06_sgd_to_swa_line`. Without CIFAR-100 under `data/` it stops in its first code cell,
# saying how to get it.
#
# **Prerequisites.** {doc}`01_quickstart` (the runs), {doc}`04_trajectory_plane` (the
# landscape tools); the width argument of {doc}`../book/flat_minima`.

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
SEEDS = [0]  # notebook 01's runs to examine (its SGD and SWA model per seed)
EPOCHS = 60  # notebook 01's protocol (same configs, so the same runs)
SWA_START = 45
SWA_LR = 0.05
NUM_SAMPLES = 5000
DATASET = "mnist1d"  # paper profile: "cifar100" (presets.experiment_base)
MODEL = "mlp"
N_DIRECTIONS = 10  # random rays per solution (the same directions for SGD and SWA)
MAX_DISTANCE = 30.0  # L2 distance of the last point of each ray
N_DISTANCES = 16  # points per ray, 0 .. MAX_DISTANCE
LOSS_RISE = 0.5  # width: distance where the train loss has risen by this much, nats
REGIME_SEEDS = [0, 1, 2, 3, 4]  # both regimes side by side: seeds behind each verdict
REGIME_DIRECTIONS = 5  # rays per solution and seed in that comparison
RECIPE_RATIO = 0.3  # recipe regime: swa_lr = RECIPE_RATIO * lr_init, as in notebook 03
ERR_RISE = 10.0  # ... and where the test error has risen by this much, points
OVERRIDES = {}  # extra TrainConfig fields of every run (fake-CIFAR test: batch)
RUNS_DIR = "../runs"
DATA_DIR = "../data"
DEVICE = "cpu"

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import display

from swa_lib.landscape import get_flat_params, random_direction, ray_profile
from swa_lib.landscape.summary import rise_distance
from swa_lib.plotting import plot_rays
from swa_lib.reporting import (
    count_text,
    glue,
    glue_number,
    glue_text,
    interval_verdict,
    mean_std_text,
    paired_text,
)
from swa_lib.reporting.stats import holm, paired_interval, paired_pvalue
from swa_lib.training import resolve_device, sgd_and_swa
from swa_lib.training.presets import experiment_base, require_dataset
from swa_lib.training.regimes import regime_pairs

torch.set_num_threads(1)
require_dataset(DATASET, DATA_DIR)  # without CIFAR the paper profile stops here

# %% [markdown]
# ## Rays from the two solutions
#
# A ray is $w + t\, d$ with $d$ a unit vector ($\|d\|_2 = 1$), so $t$ is the L2 distance from
# the solution $w$. The directions are Gaussian draws over *all* parameters (weights and biases,
# `random_direction(..., norm=None)`), normalised by `ray_profile`: uniform on the sphere, as in
# the paper's width figure. The same `N_DIRECTIONS` directions are used from the SGD and from the
# SWA solution, so the two are compared ray by ray.
#
# Along every ray `ray_profile` evaluates the train loss as SGD sees it (cross-entropy on the
# unaugmented training set plus the weight-decay term $\tfrac{\lambda}{2}\|w\|^2$) and the test
# error. The MLP has no BatchNorm, so no statistics need recomputing along the rays
# (`bn_recompute=True` is a no-op here; {doc}`07_random_landscapes` shows BN networks).

# %%
device = resolve_device(DEVICE)
base = experiment_base(
    DATASET,
    MODEL,
    epochs=EPOCHS,
    swa_start=SWA_START,
    swa_lr=SWA_LR,
    num_samples=NUM_SAMPLES,
    data_root=DATA_DIR,
    device=DEVICE,
    eval_every=None,
    **OVERRIDES,
)  # = notebook 01; only the final models are read
distances = np.linspace(0.0, MAX_DISTANCE, N_DISTANCES)
profiles, centres, gaps = {}, {}, {}
for pair in sgd_and_swa(base, SEEDS, RUNS_DIR):
    seed, sgd_run, swa_run = pair.seed, pair.sgd, pair.swa
    cfg = swa_run.config
    if seed == SEEDS[0]:
        ds = swa_run.dataset(device=device)  # the run's data, without augmentation
        options = dict(
            data=ds,
            metrics=("train_loss", "test_err"),
            weight_decay=cfg.weight_decay,
            bn_recompute=True,
            cache=Path(RUNS_DIR) / "landscapes",
        )
    solutions = {
        "SGD": sgd_run.load_model("sgd", device),
        "SWA": swa_run.load_model("swa", device),
    }
    dirs = [
        random_direction(solutions["SWA"], seed=1000 * seed + i, norm=None)
        for i in range(N_DIRECTIONS)
    ]
    for name, m in solutions.items():
        profiles[name, seed] = ray_profile(m, m, dirs, distances, **options)
    gaps[seed] = float(
        (get_flat_params(solutions["SWA"]) - get_flat_params(solutions["SGD"])).norm()
    )
n_new = sum(p.evaluated for p in profiles.values())
print(
    f"{len(profiles)} sets of {N_DIRECTIONS} rays x {N_DISTANCES} points; "
    f"{n_new} points evaluated now, the rest from the cache"
)

# %%
s0 = SEEDS[0]
fig, axes = plt.subplots(1, 2, figsize=(7, 3.3))
plot_rays(
    {"SGD": profiles["SGD", s0], "SWA": profiles["SWA", s0]},
    metrics=("train_loss", "test_err"),
    colors_={"SGD": "C0", "SWA": "C3"},
    ax=axes,
)
for name, color in (("SGD", "C0"), ("SWA", "C3")):
    prof = profiles[name, s0]
    for ax, metric, rise in (
        (axes[0], "train_loss", LOSS_RISE),
        (axes[1], "test_err", ERR_RISE),
    ):
        w = rise_distance(prof.distances, prof[metric], rise)
        if np.isfinite(w).any():
            ax.axvline(np.nanmean(w), color=color, ls=":", lw=1.2)
axes[0].set_title(f"train loss (with weight decay), seed {s0}")
axes[1].set_title(f"test error, seed {s0}")
fig.tight_layout()
plt.close(fig)

# %% tags=["remove-input"]
glue("nb05_rays", fig, display=False)

# %% [markdown]
# ```{glue:figure} nb05_rays
# :name: fig-nb05-rays
#
# Train loss (left) and test error (right, %) along random rays from the SGD solution (blue) and
# from the SWA solution (red), against the L2 distance from the solution; thin lines are single
# rays, thick lines their mean, and the dotted vertical lines mark the mean width (the distance
# where the train loss has risen by `LOSS_RISE`, the test error by `ERR_RISE`). Look at how much
# later the red curves turn upwards, and at their starting points: the SWA curve of test error
# starts lower.
# ```
#
# ## The widths
#
# For each ray, the width is the distance at which the metric has risen by a fixed amount above
# its value at the solution (`rise_distance`, linear interpolation between evaluated points).
# The table gives mean ± std over rays (and seeds) for a few thresholds, and the paired
# difference SWA - SGD over the same directions with its 95 % t interval. The rays are random
# draws for *fixed* trained models: the interval says how well the rays pin down the width of
# these two models, not how it varies between training runs (that needs more seeds:
# `SEEDS = [0, 1, 2]`, the paper profile).

# %%
rows = []
for (name, seed), prof in profiles.items():
    for metric, rises in (
        ("train_loss", (LOSS_RISE / 5, LOSS_RISE, 2 * LOSS_RISE)),
        ("test_err", (ERR_RISE / 2, ERR_RISE)),
    ):
        for rise in rises:
            widths = rise_distance(prof.distances, prof[metric], rise)
            rows += [
                {
                    "solution": name,
                    "seed": seed,
                    "ray": i,
                    "metric": metric,
                    "rise": rise,
                    "width": w,
                }
                for i, w in enumerate(widths)
            ]
widths = pd.DataFrame(rows)
wide = widths.set_index(["metric", "rise", "seed", "ray", "solution"])[
    "width"
].unstack()
summary = {}
for (metric, rise), g in wide.groupby(level=["metric", "rise"]):
    label = (
        "train loss +{:g} nats" if metric == "train_loss" else "test error +{:g} points"
    )
    both = g.dropna()
    summary[label.format(rise)] = {
        "SGD width (L2)": mean_std_text(g["SGD"], 1, empty="never"),
        "SWA width (L2)": mean_std_text(g["SWA"], 1, empty="never"),
        "SWA - SGD": paired_text(both["SWA"] - both["SGD"], scale=1.0, unit=" L2")
        if len(both)
        else "",
        "rays beyond range (SGD / SWA)": (
            f"{g['SGD'].isna().sum()} / {g['SWA'].isna().sum()}"
        ),
    }
summary = pd.DataFrame(summary).T
summary.columns.name = f"{N_DIRECTIONS} rays x {len(SEEDS)} seed(s)"
display(summary)

# %%
centre = {
    name: {
        m: float(np.mean([profiles[name, s][m][:, 0] for s in SEEDS]))
        for m in ("train_loss", "test_err")
    }
    for name in ("SGD", "SWA")
}
head = wide.xs(("train_loss", LOSS_RISE), level=["metric", "rise"])
head_err = wide.xs(("test_err", ERR_RISE), level=["metric", "rise"])
both, both_err = head.dropna(), head_err.dropna()
ratio = both["SWA"] / both["SGD"]
wider = int((both["SWA"] > both["SGD"]).sum())
n_params = sum(p.numel() for p in solutions["SWA"].parameters())
sgd_w = float(head["SGD"].mean()) if head["SGD"].notna().any() else float("nan")
print(
    f"train loss +{LOSS_RISE:g}: SGD {mean_std_text(head['SGD'], 1, empty='never')}, "
    f"SWA {mean_std_text(head['SWA'], 1, empty='never')}; "
    f"SWA wider on {wider}/{len(both)} rays; "
    f"||w_SWA - w_SGD|| = {np.mean(list(gaps.values())):.2f}"
)

# %% tags=["remove-input"]
glue_text("nb05_n_rays", f"{N_DIRECTIONS} rays")
glue_text("nb05_n_params", f"{n_params} dimensions")
glue_text("nb05_n_seeds", count_text(len(SEEDS), "seed"))
glue_text("nb05_loss_rise", f"{LOSS_RISE:g} nats")
glue_text("nb05_err_rise", f"{ERR_RISE:g} points")
glue_text("nb05_sgd_width", mean_std_text(head["SGD"], 1, empty="never") + " L2")
glue_text("nb05_swa_width", mean_std_text(head["SWA"], 1, empty="never") + " L2")
glue_text(
    "nb05_diff_width",
    paired_text(both["SWA"] - both["SGD"], scale=1.0, unit=" L2")
    if len(both)
    else "not measurable (no ray reached the threshold)",
)
glue_text(
    "nb05_ratio",
    mean_std_text(ratio, 2) + " times" if len(ratio) > 1 else "not measurable",
)
glue_text("nb05_wider", f"{wider} of the {len(both)} rays")
glue_text(
    "nb05_sgd_width_err", mean_std_text(head_err["SGD"], 1, empty="never") + " L2"
)
glue_text(
    "nb05_swa_width_err", mean_std_text(head_err["SWA"], 1, empty="never") + " L2"
)
glue_text(
    "nb05_diff_width_err",
    paired_text(both_err["SWA"] - both_err["SGD"], scale=1.0, unit=" L2")
    if len(both_err)
    else "not measurable (no ray reached the threshold)",
)
for name in ("SGD", "SWA"):
    glue_number(f"nb05_{name.lower()}_centre_loss", centre[name]["train_loss"])
    glue_number(f"nb05_{name.lower()}_centre_err", centre[name]["test_err"])
glue_number("nb05_gap", np.mean(list(gaps.values())))
glue_number("nb05_wd_at_width", 0.5 * base["weight_decay"] * sgd_w**2)

# %% [markdown]
# ## Both regimes, five seeds
#
# The rays above come from one regime (in the laptop profile, where `SWA_LR` = `lr_init`): SWA
# at a **constant rate from scratch** ($\alpha_\mathrm{SWA} = \alpha_0$, the regime of the
# paper's Figure 7 and Section 4.4). The paper's width figure (its Figure 4) uses its **recipe**: the rate decays to
# $\alpha_\mathrm{SWA} < \alpha_0$ before the averaging starts, a ratio of 0.1-0.5 in its
# Table 1; here `swa_lr = RECIPE_RATIO * lr_init` (0.3, the ratio of {doc}`03_results_table`
# and {doc}`15_lr_regimes`). Both are
# compared with the same SGD baseline (its schedule does not depend on the SWA rate), over
# `REGIME_SEEDS` training seeds and `REGIME_DIRECTIONS` shared random rays per seed. The
# statistic per seed is the mean over its rays of the width at `LOSS_RISE` (SWA - SGD, paired by
# seed and ray); the paper predicts it is positive. Two regimes are two yes/no questions, so
# the verdicts are Holm-corrected.

# %%
REGIMES = {  # the words the book names a regime with -> swa_lib.training.regimes
    "constant rate from scratch": "constant",
    f"paper's recipe ratio {RECIPE_RATIO:g}": "recipe",
}
per_seed = []
for regime, kind in REGIMES.items():
    pairs = regime_pairs(base, REGIME_SEEDS, RUNS_DIR, regime=kind, ratio=RECIPE_RATIO)
    for pair in pairs:
        sols = {
            "SGD": pair.sgd.load_model("sgd", device),
            "SWA": pair.swa.load_model("swa", device),
        }
        dirs = [
            random_direction(sols["SWA"], seed=1000 * pair.seed + i, norm=None)
            for i in range(REGIME_DIRECTIONS)
        ]
        row = {"regime": regime, "seed": pair.seed}
        for name, m in sols.items():
            prof = ray_profile(m, m, dirs, distances, **options)
            row[name] = float(
                np.nanmean(rise_distance(prof.distances, prof["train_loss"], LOSS_RISE))
            )
        per_seed.append(row)
per_seed = pd.DataFrame(per_seed)
per_seed["SWA - SGD"] = per_seed["SWA"] - per_seed["SGD"]
pvals = [
    paired_pvalue(g["SWA - SGD"]) for _, g in per_seed.groupby("regime", sort=False)
]
rejected = dict(zip(REGIMES, holm(pvals)))
regime_rows = {}
for regime, g in per_seed.groupby("regime", sort=False):
    lo, hi = paired_interval(g["SWA - SGD"].to_numpy())
    regime_rows[regime] = {
        "SGD width (L2)": mean_std_text(g["SGD"], 1),
        "SWA width (L2)": mean_std_text(g["SWA"], 1),
        "SWA - SGD": paired_text(g["SWA - SGD"], scale=1.0, unit=" L2"),
        "interval": interval_verdict(lo, hi, better="higher"),
        "Holm": "significant" if rejected[regime] else "not significant",
        "estimate": float(g["SWA - SGD"].mean()),
        "low": float(lo),
        "high": float(hi),
    }
regime_table = pd.DataFrame(regime_rows).T
display(regime_table.drop(columns=["estimate", "low", "high"]))

# %%
fig, ax = plt.subplots(figsize=(6.5, 3.6))
for k, (regime, g) in enumerate(per_seed.groupby("regime", sort=False)):
    ax.scatter(np.full(len(g), k), g["SWA - SGD"], color=f"C{k}", zorder=3)
    lo, hi = regime_rows[regime]["low"], regime_rows[regime]["high"]
    ax.errorbar(
        k + 0.15,
        regime_rows[regime]["estimate"],
        yerr=[
            [regime_rows[regime]["estimate"] - lo],
            [hi - regime_rows[regime]["estimate"]],
        ],
        fmt="s",
        color="k",
        capsize=4,
    )
ax.axhline(0.0, color="gray", lw=1)
ax.set_xticks(range(len(REGIMES)), list(REGIMES))
ax.set_xlim(-0.5, len(REGIMES) - 0.5)
ax.set_ylabel(f"SWA - SGD width at +{LOSS_RISE:g} nats (L2)")
fig.tight_layout()
plt.close(fig)

# %% tags=["remove-input"]
glue("nb05_regimes", fig, display=False)
glue_text("nb05_regime_seeds", count_text(len(REGIME_SEEDS), "seed"))
glue_text("nb05_regime_rays", f"{REGIME_DIRECTIONS} rays")
for key, regime in zip(("const", "recipe"), REGIMES):
    row = regime_rows[regime]
    glue_text(f"nb05_{key}_sgd", row["SGD width (L2)"] + " L2")
    glue_text(f"nb05_{key}_swa", row["SWA width (L2)"] + " L2")
    glue_text(f"nb05_{key}_diff", row["SWA - SGD"])
    glue_text(
        f"nb05_{key}_phrase",
        "SWA is wider"
        if row["low"] > 0
        else ("SGD is wider" if row["high"] < 0 else "neither is measurably wider"),
    )
    glue_text(
        f"nb05_{key}_verdict",
        f"the interval {row['interval']} ({row['Holm']} after Holm)",
    )

signs = {
    k: np.sign(regime_rows[r]["low"])
    if regime_rows[r]["low"] > 0 or regime_rows[r]["high"] < 0
    else 0
    for k, r in zip(("c", "r"), REGIMES)
}
glue_text(
    "nb05_regime_summary",
    "The two regimes agree here."
    if signs["c"] == signs["r"]
    else "So at this scale the width picture depends on the regime, "
    "not on averaging as "
    "such: the rays of the first sections are the constant-rate result they are.",
)

# %% [markdown]
# ```{glue:figure} nb05_regimes
# :name: fig-nb05-regimes
#
# The width difference SWA - SGD at the train-loss rise `LOSS_RISE`, per training seed (dots;
# each the mean over its rays) and its mean with the 95 % t interval over seeds (squares), in
# the two regimes. Look at whether the intervals clear zero.
# ```
#
# Over {glue:text}`nb05_regime_seeds` and {glue:text}`nb05_regime_rays` per seed:
#
# * **constant rate from scratch**: SGD {glue:text}`nb05_const_sgd`, SWA
#   {glue:text}`nb05_const_swa`; SWA - SGD = {glue:text}`nb05_const_diff`,
#   {glue:text}`nb05_const_verdict`;
# * **the paper's recipe ratio** `RECIPE_RATIO`: SGD {glue:text}`nb05_recipe_sgd`, SWA
#   {glue:text}`nb05_recipe_swa`; SWA - SGD = {glue:text}`nb05_recipe_diff`,
#   {glue:text}`nb05_recipe_verdict`.
#
# The protocol is ours (the book's laptop MNIST-1D MLP, 60 epochs, the paper's schedule shape);
# the paper's figure shows one PreResNet-164 and one VGG-16 on CIFAR at full scale.

# %%
from swa_lib.reporting.ledger import Claim, record_claims

record_claims(
    RUNS_DIR,
    "05_width_rays",
    [
        Claim(
            item="Figure 4",
            regime=regime,
            protocol="ours",
            scale=f"MNIST-1D, MLP, {EPOCHS} epochs, {len(REGIME_SEEDS)} seeds x "
            f"{REGIME_DIRECTIONS} rays",
            statistic=f"SWA - SGD width at train loss +{LOSS_RISE:g} nats (L2)",
            estimate=regime_rows[regime]["estimate"],
            low=regime_rows[regime]["low"],
            high=regime_rows[regime]["high"],
            n=len(REGIME_SEEDS),
            expected="positive",
        )
        for regime in REGIMES
    ],
)

# %% [markdown]
# ## Conclusion
#
# For a constant rate from scratch (the first sections), over {glue:text}`nb05_n_rays` from
# each solution ({glue:text}`nb05_n_seeds`), the train loss
# rises by {glue:text}`nb05_loss_rise` at an L2 distance of {glue:text}`nb05_sgd_width` from the
# SGD solution and {glue:text}`nb05_swa_width` from the SWA solution: SWA - SGD =
# {glue:text}`nb05_diff_width`, a ratio of {glue:text}`nb05_ratio`, and the SWA solution is the
# wider one along {glue:text}`nb05_wider`. Both start at about the same train loss
# ({glue:text}`nb05_sgd_centre_loss:.3f` for SGD, {glue:text}`nb05_swa_centre_loss:.3f` for
# SWA), so this is a difference in how fast the loss grows, not in where it starts. In test
# error, SWA starts lower ({glue:text}`nb05_swa_centre_err:.1f` % against
# {glue:text}`nb05_sgd_centre_err:.1f` %) and the error rises by {glue:text}`nb05_err_rise` at
# {glue:text}`nb05_sgd_width_err` (SGD) and {glue:text}`nb05_swa_width_err` (SWA), a difference
# of {glue:text}`nb05_diff_width_err`.
#
# Over {glue:text}`nb05_regime_seeds` the two regimes part ways. For a constant rate from
# scratch {glue:text}`nb05_const_phrase` (SWA - SGD {glue:text}`nb05_const_diff`); at the
# paper's recipe ratio, the regime of the paper's own width figure,
# {glue:text}`nb05_recipe_phrase` ({glue:text}`nb05_recipe_diff`).
# {glue:text}`nb05_regime_summary` Two things to keep in mind when reading the widths:
#
# * The widths are far larger than the distance between the two solutions
#   ({glue:text}`nb05_gap:.2f` L2): a random direction in a space of
#   {glue:text}`nb05_n_params` is almost orthogonal to the few directions in which the loss
#   curves sharply, so random rays see the flat bulk of the landscape. {doc}`Notebook 06 <06_sgd_to_swa_line>`
#   looks along the one direction that connects the two solutions, and
#   {doc}`notebook 08 <08_flatness>` at the sharpest directions (the Hessian's top eigenvalue).
# * The train loss includes the weight-decay term, which grows by
#   $\tfrac{\lambda}{2}t^2 + \lambda t\, w\cdot d$ along a ray, the same for both solutions up to
#   the small $w\cdot d$ term: at the SGD width it alone contributes about
#   {glue:text}`nb05_wd_at_width:.3f` of the rise.
#
# Widths depend on the scale of the weights, which differs between solutions
# ({cite:t}`dinh2017sharp` show that a reparametrisation can make any minimum look sharp); here
# the two networks have the same architecture and similar norms, but a comparison of widths
# across architectures would need filter-normalised directions {cite:p}`li2018visualizing` (see
# the exercises).
#
# ## Exercises
#
# ```{exercise}
# :label: ex-nb05-seeds
# Set `SEEDS = [0, 1, 2]` (notebook 01's runs, all cached). Is the SWA solution wider for every
# seed, and is the seed-to-seed spread of the width larger than the ray-to-ray spread?
# ```
#
# ```{solution} ex-nb05-seeds
# :class: dropdown
# The table then pools 30 rays per solution; group `widths` by `seed` to see each seed's mean
# width (`widths.query("metric == 'train_loss' and rise == @LOSS_RISE").groupby(["seed",
# "solution"]).width.mean()`). Seeds differ in their training path, so their widths can differ
# by more than the rays of one seed do; the paired difference SWA - SGD per seed is the quantity
# to compare.
# ```
#
# ```{exercise}
# :label: ex-nb05-filter
# Use filter-normalised directions (`random_direction(model, seed=..., norm="filter")`, Li et
# al.'s choice) and pass them to `ray_profile`, which rescales each to unit length. What changes,
# and why do biases no longer move?
# ```
#
# ```{solution} ex-nb05-filter
# :class: dropdown
# Filter normalisation scales each row of each weight matrix of the direction to the norm of the
# matching row of the weights, and sets the bias entries to zero (`ignore="biasbn"`). Rows with
# large weights get large steps; after `ray_profile` renormalises the whole direction to unit L2
# length, the direction concentrates on the large-norm layers. Because the direction now depends
# on the weights, the SGD and SWA rays are no longer the same directions; the widths change, and
# the comparison is one of shapes relative to each network's own scale.
# ```
#
# ```{exercise}
# :label: ex-nb05-threshold
# The width depends on the threshold. Plot the SWA - SGD width difference against `LOSS_RISE`
# from 0.05 to 2 nats (no new evaluations are needed). Where is the difference largest?
# ```
#
# ```{solution} ex-nb05-threshold
# :class: dropdown
# Loop over thresholds with `rise_distance(prof.distances, prof["train_loss"], rise)` for the
# cached profiles (`profiles["SGD", 0]`, `profiles["SWA", 0]`) and average the paired
# difference over rays. Close to the solution the rays are flat for both (the difference is a
# fraction of the grid step of `MAX_DISTANCE / (N_DISTANCES - 1)`, so refine the grid to see
# it); far away the curves are dominated by the quadratic weight-decay term and the explosion of
# the cross-entropy, which both solutions share.
# ```
