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
# # On the line from SGD to SWA
#
# **The question.** Walk on the straight line from an SGD solution through the SWA solution and
# beyond, $w(t) = w_\mathrm{SGD} + t\,(w_\mathrm{SWA} - w_\mathrm{SGD})$. The paper
# {cite:p}`izmailov2018swa` finds that SGD sits near the edge of a wide region of low train loss
# and SWA near its centre, and that the test error along the line is shifted relative to the
# train loss. Where along $t$ do the train loss and the test error reach their minima for our
# models?
#
# **[Open in Colab](https://colab.research.google.com/github/swa-book/swa-book/blob/main/notebooks/06_sgd_to_swa_line.ipynb)**
#
# **Cost.** Laptop profile (the defaults below): no training (notebook 01's three seeds come
# from the run cache; a minute to train them otherwise), then two lines of 31 points per seed,
# 186 evaluations of the train and test sets (about 10 s on a 2-core CPU), cached under
# `RUNS_DIR`; the comparison of the two regimes adds ten lines over five seeds (the runs of
# notebooks 01 and 03, cached), 310 evaluations (about 20 s). Paper profile: the paper's setting, PreResNet-164 on CIFAR-100 with its recipe
# (150 epochs, SWA from epoch 126 at rate 0.05; `presets.experiment_base`), five seeds: the ten
# 150-epoch runs of {doc}`05_width_rays` (about 11 GPU-hours if that notebook has not run) and
# 310 BN-recomputed evaluations (about 1 GPU-hour), at the per-epoch and per-evaluation times
# measured on one H100 for {doc}`11_cifar_paper_scale` (`presets.paper_gpu_hours`). Without
# CIFAR-100 under `data/` it stops in its first code cell, saying how to get it.
#
# **Prerequisites.** {doc}`01_quickstart` (the runs), {doc}`05_width_rays` (widths along random
# directions).

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
SEEDS = [0, 1, 2]  # notebook 01's runs
EPOCHS = 60  # notebook 01's protocol (same configs, so the same runs)
SWA_START = 45
SWA_LR = 0.05
NUM_SAMPLES = 5000
DATASET = "mnist1d"  # paper profile: "cifar100" (presets.experiment_base)
MODEL = "mlp"
T_MIN = -1.0  # the line w_SGD + t (w_SWA - w_SGD) is evaluated for t in T_MIN .. T_MAX
T_MAX = 2.0
N_T = 31  # points on each line, a step of 0.1 with the defaults
LOSS_BAND = (
    0.02  # the low region: train loss within this of its minimum on the line, nats
)
REGIME_SEEDS = [0, 1, 2, 3, 4]  # both regimes side by side: seeds behind each verdict
RECIPE_RATIO = 0.3  # recipe regime: swa_lr = RECIPE_RATIO * lr_init, as in notebook 03
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

from swa_lib.landscape import line_profile
from swa_lib.landscape.summary import interval_position, level_interval, profile_minimum
from swa_lib.plotting import plot_line
from swa_lib.reporting import (
    count_text,
    glue,
    glue_text,
    interval_text,
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
# ## Two lines per seed
#
# The SWA run's learning rate stays at `SWA_LR` during the averaging phase, so its *own last SGD
# iterate* is the SGD point the paper's line figure starts from: the same run, the same
# averaging phase, the iterate that SWA averages. The second line starts from notebook 01's
# independent **SGD baseline** (its own decaying schedule, the same budget), a solution that SWA
# never saw.
#
# `line_profile` evaluates the train loss as SGD sees it (cross-entropy on the unaugmented
# training set plus the weight-decay term $\tfrac{\lambda}{2}\|w\|^2$), the test error and the
# test NLL at every $t$. The MLP has no BatchNorm, so nothing needs recomputing along the line
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
ts = np.linspace(T_MIN, T_MAX, N_T)
STARTS = {"last": "last iterate of the SWA run", "sgd": "SGD baseline"}
lines = {}
for pair in sgd_and_swa(base, SEEDS, RUNS_DIR):
    seed, sgd_run, swa_run = pair.seed, pair.sgd, pair.swa
    cfg = swa_run.config
    if seed == SEEDS[0]:
        ds = swa_run.dataset(device=device)  # the run's data, without augmentation
        options = dict(
            data=ds,
            metrics=("train_loss", "test_err", "test_nll"),
            weight_decay=cfg.weight_decay,
            bn_recompute=True,
            cache=Path(RUNS_DIR) / "landscapes",
        )
    m_swa = swa_run.load_model("swa", device)
    starts = {
        "last": swa_run.load_model("sgd", device),
        "sgd": sgd_run.load_model("sgd", device),
    }
    for key, m_start in starts.items():
        lines[key, seed] = line_profile(m_swa, m_start, m_swa, ts, **options)
n_new = sum(p.evaluated for p in lines.values())
print(
    f"{len(lines)} lines of {N_T} points; {n_new} points evaluated now, "
    "the rest from the cache"
)

# %%
s0 = SEEDS[0]
fig, axes = plt.subplots(1, 2, figsize=(7, 3))
for ax, key in zip(axes, STARTS):
    prof = lines[key, s0]
    plot_line(
        prof,
        x="t",
        ax=ax,
        test_metric="test_err",
        labels=("SGD" if key == "sgd" else "last iterate", "SWA"),
    )
    m = profile_minimum(prof.t, prof["train_loss"])
    ax.plot([m.t], [m.value], "v", color="C0", ms=9, zorder=5)
    ax.set_title(
        f"from the {STARTS[key]} (seed {s0}), length {prof.meta['length']:.2f} L2",
        pad=18,
    )
fig.tight_layout()
plt.close(fig)

# %% tags=["remove-input"]
glue("nb06_line", fig, display=False)

# %% [markdown]
# ```{glue:figure} nb06_line
# :name: fig-nb06-line
#
# Train loss (solid, left axis) and test error (dashed, right axis, %) on the line
# $w_\mathrm{start} + t\,(w_\mathrm{SWA} - w_\mathrm{start})$: left from the SWA run's own last
# SGD iterate ($t = 0$), right from the independent SGD baseline; SWA is at $t = 1$ and the
# triangle marks the minimum of the train loss. Look at where the start point sits on the
# train-loss curve (a slope or the floor), how close SWA is to the triangle, and whether the
# test error keeps falling past it.
# ```
#
# ## Where the minima are
#
# Per seed and line: the position $t$ of the train-loss minimum and of the test-NLL minimum
# (both refined by a parabola through the lowest grid point and its neighbours,
# `profile_minimum`), of the test-error minimum (the grid point, first on ties: the error counts
# test signals and moves in steps), and the interval of $t$ where the train loss is within
# `LOSS_BAND` of its minimum on the line (`level_interval`; "<" or ">" when it runs past the end
# of the evaluated range).

# %%
rows = []
for (key, seed), prof in lines.items():
    loss_min = profile_minimum(prof.t, prof["train_loss"])
    nll_min = profile_minimum(prof.t, prof["test_nll"])
    err_min = profile_minimum(prof.t, prof["test_err"], refine=False)
    lo, hi = level_interval(prof.t, prof["train_loss"], loss_min.value + LOSS_BAND)
    at = {t: int(np.argmin(np.abs(prof.t - t))) for t in (0.0, 1.0)}
    rows.append(
        {
            "start": key,
            "seed": seed,
            "length (L2)": prof.meta["length"],
            "t of train-loss min": loss_min.t,
            "t of test-NLL min": nll_min.t,
            "t of test-error min": err_min.t,
            "low region lo": lo,
            "low region hi": hi,
            "train loss at start": prof["train_loss"][at[0.0]],
            "train loss at SWA": prof["train_loss"][at[1.0]],
            "train-loss min": loss_min.value,
            "test err at start": prof["test_err"][at[0.0]],
            "test err at SWA": prof["test_err"][at[1.0]],
            "test-error min": err_min.value,
        }
    )
minima = pd.DataFrame(rows)
assert all(
    np.isclose(lines[k].t[np.argmin(np.abs(lines[k].t - 1.0))], 1.0) for k in lines
), "the t grid must contain t = 1 (SWA) and t = 0"
shown = minima.assign(
    **{
        "low region": [
            interval_text(a, b, limits=(T_MIN, T_MAX))
            for a, b in zip(minima["low region lo"], minima["low region hi"])
        ]
    }
)
shown = shown.drop(columns=["low region lo", "low region hi"]).set_index(
    ["start", "seed"]
)
display(
    shown.style.format(precision=3).format(
        precision=1, subset=["test err at start", "test err at SWA", "test-error min"]
    )
)


# %%
# no position: an end of it is not reached
OPEN = "the region runs past the evaluated range"
for key, g in minima.groupby("start", sort=False):
    text = {
        col: mean_std_text(g[col], digits)
        for col, digits in (
            ("t of train-loss min", 2),
            ("t of test-NLL min", 2),
            ("t of test-error min", 1),
            ("length (L2)", 2),
            ("train loss at start", 3),
            ("train loss at SWA", 3),
            ("train-loss min", 3),
            ("test err at start", 1),
            ("test err at SWA", 1),
            ("test-error min", 1),
        )
    }
    # where the start (t = 0) and SWA (t = 1) lie in the low region: 0 its left end,
    # 1 its right
    pos = {
        t: mean_std_text(
            interval_position(t, g["low region lo"], g["low region hi"]), 2, empty=OPEN
        )
        for t in (0.0, 1.0)
    }
    glue_text(f"nb06_{key}_loss_t", text["t of train-loss min"])
    glue_text(f"nb06_{key}_nll_t", text["t of test-NLL min"])
    glue_text(f"nb06_{key}_err_t", text["t of test-error min"])
    glue_text(f"nb06_{key}_length", text["length (L2)"] + " L2")
    glue_text(f"nb06_{key}_loss_start", text["train loss at start"])
    glue_text(f"nb06_{key}_loss_swa", text["train loss at SWA"])
    glue_text(f"nb06_{key}_loss_min", text["train-loss min"])
    glue_text(f"nb06_{key}_err_start", text["test err at start"])
    glue_text(f"nb06_{key}_err_swa", text["test err at SWA"])
    glue_text(f"nb06_{key}_err_min", text["test-error min"])
    glue_text(f"nb06_{key}_pos_start", pos[0.0])
    glue_text(f"nb06_{key}_pos_swa", pos[1.0])
    glue_text(
        f"nb06_{key}_shift",
        mean_std_text(g["t of test-NLL min"] - g["t of train-loss min"], 2),
    )
    print(
        f"{STARTS[key]}: train-loss min at t = {text['t of train-loss min']}, "
        f"test-NLL min at {text['t of test-NLL min']}, test-error min at "
        f"{text['t of test-error min']}; in the low region: start at "
        f"{pos[0.0]}, SWA at {pos[1.0]}"
    )

# %% tags=["remove-input"]
glue_text("nb06_n_seeds", count_text(len(SEEDS), "seed"))
glue_text("nb06_band", f"{LOSS_BAND:g} nats")
glue_text("nb06_n_test", f"{len(ds.y_test)} test signals")
glue_text("nb06_err_step", f"{100 / len(ds.y_test):.2g} points")
glue_text("nb06_step", f"{(T_MAX - T_MIN) / (N_T - 1):.2g}")

# %% [markdown]
# ## Both regimes, five seeds
#
# The lines above come (in the laptop profile, where `SWA_LR` = `lr_init`) from SWA at a
# **constant rate from scratch** ($\alpha_\mathrm{SWA} = \alpha_0$, the regime of the paper's
# Figure 7). The paper's line figure (its
# Figure 5) uses its **recipe**, the rate decayed to $\alpha_\mathrm{SWA} < \alpha_0$ before
# averaging (ratio 0.1-0.5 in its Table 1); here `swa_lr = RECIPE_RATIO * lr_init` (0.3, the ratio of
# {doc}`03_results_table` and {doc}`15_lr_regimes`). For each regime and each of `REGIME_SEEDS`, the line runs from the
# SGD baseline ($t = 0$) to that regime's SWA model ($t = 1$). The paper's claim is that SGD
# lies near the edge of the low-loss valley and SWA near its centre; the statistic is how much
# closer SWA is to the train-loss minimum of the line than SGD, $|t^*| - |1 - t^*|$ in units
# of $t$ (positive: SWA is closer). Holm-corrected over the two regimes.

# %%
REGIMES = {  # the words the book names a regime with -> swa_lib.training.regimes
    "constant rate from scratch": "constant",
    f"paper's recipe ratio {RECIPE_RATIO:g}": "recipe",
}
per_seed = []
for regime, kind in REGIMES.items():
    pairs = regime_pairs(base, REGIME_SEEDS, RUNS_DIR, regime=kind, ratio=RECIPE_RATIO)
    for pair in pairs:
        prof = line_profile(
            pair.swa.load_model("swa", device),
            pair.sgd.load_model("sgd", device),
            pair.swa.load_model("swa", device),
            ts,
            **options,
        )
        t_star = profile_minimum(prof.t, prof["train_loss"]).t
        at = {t: int(np.argmin(np.abs(prof.t - t))) for t in (0.0, 1.0)}
        per_seed.append(
            {
                "regime": regime,
                "seed": pair.seed,
                "t of train-loss min": t_star,
                "closer": abs(t_star) - abs(1.0 - t_star),
                "err diff": prof["test_err"][at[1.0]] - prof["test_err"][at[0.0]],
            }
        )
per_seed = pd.DataFrame(per_seed)
pvals = [paired_pvalue(g["closer"]) for _, g in per_seed.groupby("regime", sort=False)]
rejected = dict(zip(REGIMES, holm(pvals)))
regime_rows = {}
for regime, g in per_seed.groupby("regime", sort=False):
    lo, hi = paired_interval(g["closer"].to_numpy())
    regime_rows[regime] = {
        "t of train-loss min": mean_std_text(g["t of train-loss min"], 2),
        "|t*| - |1 - t*|": paired_text(g["closer"], scale=1.0, digits=2, unit=" in t"),
        "interval": interval_verdict(lo, hi, better="higher"),
        "Holm": "significant" if rejected[regime] else "not significant",
        "SWA - SGD test error": paired_text(g["err diff"], scale=1.0),
        "estimate": float(g["closer"].mean()),
        "low": float(lo),
        "high": float(hi),
    }
regime_table = pd.DataFrame(regime_rows).T
display(regime_table.drop(columns=["estimate", "low", "high"]))

# %% tags=["remove-input"]
glue_text("nb06_regime_seeds", count_text(len(REGIME_SEEDS), "seed"))
for key, regime in zip(("const", "recipe"), REGIMES):
    row = regime_rows[regime]
    glue_text(f"nb06_{key}_tstar", "t = " + row["t of train-loss min"])
    glue_text(f"nb06_{key}_closer", row["|t*| - |1 - t*|"])
    glue_text(
        f"nb06_{key}_verdict",
        f"the interval {row['interval']} ({row['Holm']} after Holm)",
    )
    glue_text(f"nb06_{key}_errdiff", row["SWA - SGD test error"])
    g = per_seed[per_seed["regime"] == regime]
    glue_text(
        f"nb06_{key}_outside",
        f"{int((g['t of train-loss min'] < 0).sum())} of the {len(g)} seeds have it "
        "beyond SGD (t* < 0) and "
        f"{int((g['t of train-loss min'] > 1).sum())} beyond SWA "
        "(t* > 1)",
    )

# %% [markdown]
# Over {glue:text}`nb06_regime_seeds`, on the line from the SGD baseline to SWA:
#
# * **constant rate from scratch**: the train-loss minimum is at
#   {glue:text}`nb06_const_tstar`; SWA is closer to it than SGD by
#   {glue:text}`nb06_const_closer`, {glue:text}`nb06_const_verdict`; SWA - SGD test error
#   {glue:text}`nb06_const_errdiff`;
# * **the paper's recipe ratio** `RECIPE_RATIO`: the minimum is at {glue:text}`nb06_recipe_tstar`; SWA is
#   closer by {glue:text}`nb06_recipe_closer`, {glue:text}`nb06_recipe_verdict`; SWA - SGD test
#   error {glue:text}`nb06_recipe_errdiff`.
#
# Where the minimum lies outside $[0, 1]$ the statistic is $\pm 1$ whatever the distance (it then
# only says which solution is nearer): for a constant rate {glue:text}`nb06_const_outside`, for
# the recipe ratio {glue:text}`nb06_recipe_outside`. The protocol is ours (the laptop MNIST-1D
# MLP, 60 epochs, the paper's schedule shape); the paper's figure shows PreResNet-164 and
# VGG-16 on CIFAR.

# %%
from swa_lib.reporting.ledger import Claim, record_claims

record_claims(
    RUNS_DIR,
    "06_sgd_to_swa_line",
    [
        Claim(
            item="Figure 5",
            regime=regime,
            protocol="ours",
            scale=f"MNIST-1D, MLP, {EPOCHS} epochs, {len(REGIME_SEEDS)} seeds",
            statistic="closeness to the line's train-loss minimum, |t*| - |1 - t*| "
            "(SGD's distance - SWA's, in t)",
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
# Mean ± std over {glue:text}`nb06_n_seeds`; positions in units of $t$ (0 is the start, 1 is
# SWA; the grid step is {glue:text}`nb06_step`). The "low region" is where the train loss is
# within {glue:text}`nb06_band` of its minimum on the line; a point's position in it runs from 0
# (its left end) to 1 (its right end), and is negative outside it on the left.
#
# **From the SWA run's own last iterate** ({glue:text}`nb06_last_length` away from SWA): the
# train loss is {glue:text}`nb06_last_loss_start` at the iterate, {glue:text}`nb06_last_loss_swa`
# at SWA and lowest, {glue:text}`nb06_last_loss_min`, at $t$ = {glue:text}`nb06_last_loss_t`.
# The iterate lies outside the low region, on its wall (position
# {glue:text}`nb06_last_pos_start`), SWA inside it (position {glue:text}`nb06_last_pos_swa`):
# past the minimum, but on its flat floor, where the train loss differs from the minimum only
# in the third decimal. The test NLL is lowest at $t$ = {glue:text}`nb06_last_nll_t` and the
# test error at $t$ = {glue:text}`nb06_last_err_t` ({glue:text}`nb06_last_err_start` % at the
# iterate, {glue:text}`nb06_last_err_swa` % at SWA, {glue:text}`nb06_last_err_min` % at the best
# point of the line). Along this line the test optimum sits close to the train optimum (the
# test-NLL minimum is {glue:text}`nb06_last_shift` further along $t$).
#
# **From the SGD baseline** ({glue:text}`nb06_sgd_length` away): SGD is already inside the low
# region, near its left end (position {glue:text}`nb06_sgd_pos_start`), and the train loss
# hardly changes between the two solutions ({glue:text}`nb06_sgd_loss_start` at SGD,
# {glue:text}`nb06_sgd_loss_swa` at SWA, minimum {glue:text}`nb06_sgd_loss_min` at $t$ =
# {glue:text}`nb06_sgd_loss_t`; SWA at position {glue:text}`nb06_sgd_pos_swa`). The test error,
# though, falls from {glue:text}`nb06_sgd_err_start` % at SGD to {glue:text}`nb06_sgd_err_swa` %
# at SWA and is lowest at $t$ = {glue:text}`nb06_sgd_err_t`, past SWA; the test NLL is lowest at
# $t$ = {glue:text}`nb06_sgd_nll_t`, {glue:text}`nb06_sgd_shift` further along than the train
# loss.
#
# These two lines are the constant-rate regime (SWA at `SWA_LR` = `lr_init` from scratch); the
# comparison of the regimes above qualifies them: at the paper's recipe ratio the line's
# train-loss minimum sits at {glue:text}`nb06_recipe_tstar`, and SWA is closer to it than SGD by
# {glue:text}`nb06_recipe_closer` ({glue:text}`nb06_recipe_verdict`). In the constant regime
# both halves of the paper's observation show up. SGD (the SWA run's iterate, and the
# baseline to a lesser degree) sits near the edge of the region of low train loss and SWA well
# inside it; and, on the line from the baseline, the test error is shifted relative to the
# train loss: points with almost the same train loss as SGD but further into the region have
# lower test error, which is the paper's argument for why SWA's central position pays off. On the
# line from the SWA run's own iterate the shift is small. These are
# {glue:text}`nb06_n_seeds` of one small network, and the test error moves in steps of
# {glue:text}`nb06_err_step` (one of {glue:text}`nb06_n_test`), so its minimum is located
# coarsely; the smooth test NLL gives the better-defined position. The line is a single
# direction: the random rays of {doc}`notebook 05 <05_width_rays>` and the plane of
# {doc}`notebook 04 <04_trajectory_plane>` look at others.
#
# ## Exercises
#
# ```{exercise}
# :label: ex-nb06-extrapolate
# Past SWA ($t > 1$) the test error of the baseline line keeps falling for a while. Would
# "extrapolated SWA", $w_\mathrm{SWA} + 0.5\,(w_\mathrm{SWA} - w_\mathrm{SGD})$, be a better
# model? How would you choose the 0.5 without looking at the test set?
# ```
#
# ```{solution} ex-nb06-extrapolate
# :class: dropdown
# Read `lines["sgd", s]["test_err"]` at $t = 1.5$ for each seed. Choosing the step by the test
# error would be selecting on the test set: the honest version holds out part of the training
# set (or uses the train loss, which does not reward extrapolation here since its minimum is
# near SWA) and re-evaluates on the test set once. With three seeds, check whether any gain is
# larger than the seed-to-seed spread.
# ```
#
# ```{exercise}
# :label: ex-nb06-iterates
# Replace the last iterate by earlier iterates of the averaging phase (save them with
# `TrainConfig(snapshots=True)`, as in {doc}`04_trajectory_plane`). Is every iterate on a wall
# of the valley, and does the train-loss minimum along each line stay near $t = 1$?
# ```
#
# ```{solution} ex-nb06-iterates
# :class: dropdown
# Load the snapshot files into a model (`model.load_state_dict(load_torch(path))`) and call
# `line_profile(m_swa, snapshot_model, m_swa, ts, **options)`. The iterates circle the SWA point
# (notebook 04 shows them on the slopes of the train-loss bowl), so each line starts on a wall;
# the minimum along each line is near, but not exactly at, SWA, because SWA is the centre of the
# iterates rather than the minimum of the loss.
# ```
#
# ```{exercise}
# :label: ex-nb06-weight-decay
# The train loss here includes the weight-decay term. Evaluate `"train_nll"` as well (add it to
# `metrics`). Does the position of the minimum change?
# ```
#
# ```{solution} ex-nb06-weight-decay
# :class: dropdown
# The penalty $\tfrac{\lambda}{2}\|w(t)\|^2$ is a parabola in $t$ with its minimum where $w(t)$
# is closest to the origin; adding it moves the minimum of the sum towards that point. If the
# SWA weights have a larger norm than the start point, the penalty pulls the minimum towards
# $t < 1$, and the cross-entropy alone has its minimum further along the line.
# ```
