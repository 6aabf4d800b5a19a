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
# # Random landscapes around the SGD and SWA solutions
#
# **The question.** Li et al.'s filter-normalised random planes
# {cite:p}`li2018visualizing` are the most common picture of a loss landscape. Drawn
# around an SGD solution and around an SWA solution of the same BatchNorm network, does
# SWA sit in a wider basin? And how much of the picture is made by the BatchNorm
# statistics: their tool keeps the centre model's BN statistics at every point of the
# plane, while the SWA paper recomputes them at every point {cite:p}`izmailov2018swa`.
# (The original course project {cite:p}`bayesianmlswa` drew a different picture -- the
# plane through its pre-trained, final and SWA models on a 5 x 5 grid,
# `utils/visualization.py` lines 16-80, redrawn in {doc}`14_course_domains` -- but it
# froze BN statistics the same way: every grid point is written into the pre-trained
# model and evaluated with that model's buffers, lines 76-82.)
#
# **[Open in Colab](https://colab.research.google.com/github/swa-book/swa-book/blob/main/notebooks/07_random_landscapes.ipynb)**
#
# **Cost.** Laptop profile (the defaults below): the SGD and SWA runs of the BatchNorm
# CNN use the CNN configuration of {doc}`03_results_table` on one MNIST-1D draw of 5,000
# signals (the book's default draw, not 03's per-seed draws), seed 0: about a minute of
# training, then cached. Four 13 x 13 grids, each point evaluated on
# the whole training and test sets: about 0.08 s of CPU time per point with the centre's
# BN statistics and 0.2 s with BN recomputed (an extra pass over the training set per
# point), about 90 s of CPU time in all (measured on a busy 2-core machine, where it
# took about twice as long in wall time); the grids are cached under
# `RUNS_DIR/landscapes`, so re-running only redraws. Paper profile: PreResNet-164
# on CIFAR-100 with the paper's recipe (SGD 150 epochs; SWA 225 epochs from epoch 126 at rate
# 0.05: 1.5 budgets; `presets.experiment_base`), on
# 25 x 25 grids: 375 epochs of training and 2,500 evaluations, at most about 10 GPU-hours at
# the per-epoch and per-evaluation (BN recomputed) times measured on one H100 for
# {doc}`11_cifar_paper_scale` (`presets.paper_gpu_hours`). Without CIFAR-100 under `data/` it
# stops in its first code cell, saying how to get it.
#
# **Prerequisites.** {doc}`../book/flat_minima` (filter normalisation, the
# reparametrisation caveat), {doc}`03_results_table` (the runs).

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
SEED = 0  # the training seed of the two solutions
PLANE_SEED = 0  # seed of the random directions
GRID = 13  # points per axis of the plane (odd: the centre is a grid point)
RANGE = 0.4  # the plane spans [-RANGE, RANGE]^2 in filter-normalised units
R_FIXED = 0.2  # the fixed distance at which the surfaces are compared
WIDTH_LEVEL = 0.1  # width: area of the region where the train NLL is below this (nats)
EPOCHS = 20  # SGD budget of notebook 03's CNN ...
SWA_START = 15  # ... its first averaged epoch ...
SWA_EPOCHS = 30  # ... its SWA run (1.5 budgets) ...
SWA_LR = 0.05
WIDTH = 16  # channels of the BN 1-D CNN
BN_BATCH = 100  # batch size of the BN recomputation (the training batch size)
NUM_SAMPLES = 5000  # MNIST-1D samples (4/5 train, 1/5 test)
DATASET = "mnist1d"  # paper profile: "cifar100" (presets.experiment_base)
MODEL = "cnn1d"
OVERRIDES = {}  # extra TrainConfig fields of every run (fake-CIFAR test: batch)
RUNS_DIR = "../runs"
DATA_DIR = "../data"
DEVICE = "cpu"

# %%
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import display

from swa_lib.landscape import evaluate_plane, get_flat_params, random_plane
from swa_lib.landscape.summary import half_axes_mean, level_radius
from swa_lib.plotting import interactive_surface, plot_surface
from swa_lib.reporting import glue, glue_text, significant
from swa_lib.training import sgd_and_swa
from swa_lib.training.presets import experiment_base, require_dataset
from swa_lib.training.regimes import regime_label

torch.set_num_threads(1)
require_dataset(DATASET, DATA_DIR)  # without CIFAR the paper profile stops here

# %% [markdown]
# ## Two solutions of one BatchNorm network
#
# The network is the 1-D CNN of {doc}`03_results_table` (three `Conv1d -> BatchNorm ->
# ReLU` blocks, then a linear classifier), trained on MNIST-1D with the book's laptop
# protocol. The SGD solution is the end of a run with the conventional decaying
# schedule; the SWA solution is the average of the SGD iterates of a second run with the
# same seed, whose BN statistics were recomputed for the averaged weights at the end of
# training. The configurations are notebook 03's, on the book's default MNIST-1D draw of
# 5,000 signals (03 draws its data per seed).
#
# The SWA run is in the regime of {glue:text}`nb07_regime`, on our protocol (at the
# laptop profile MNIST-1D, a small network, CPU), not the paper's; the paper's recipe
# ratio of 0.1-0.5 (its Table 1) is not drawn here (see {doc}`15_lr_regimes` for the two
# regimes side by side).

# %%
base = experiment_base(
    DATASET,
    MODEL,
    epochs=EPOCHS,
    swa_start=SWA_START,
    swa_lr=SWA_LR,
    num_samples=NUM_SAMPLES,
    data_root=DATA_DIR,
    device=DEVICE,
    width=WIDTH,
    eval_every=None,
    **OVERRIDES,
)  # final metrics only
(pair,) = sgd_and_swa(base, [SEED], RUNS_DIR, swa_changes={"epochs": SWA_EPOCHS})
sgd_run, swa_run = pair.sgd, pair.swa
models = {
    "SGD": sgd_run.load_model("sgd", DEVICE),
    "SWA": swa_run.load_model("swa", DEVICE),
}
data = sgd_run.dataset(device=DEVICE)  # the runs' data, without augmentation
test_acc = {
    "SGD": sgd_run.final["sgd_test_accuracy"],
    "SWA": swa_run.final["swa_test_accuracy"],
}
n_params = sum(p.numel() for p in models["SGD"].parameters())
print(
    f"{n_params} parameters; test accuracy SGD {100 * test_acc['SGD']:.1f} %, "
    f"SWA {100 * test_acc['SWA']:.1f} %; runs from the cache: "
    f"{sgd_run.cached and swa_run.cached}"
)


# %% tags=["remove-input"]
# the regime of the SWA run, from its rates (ratio 1: a constant rate from scratch)
ratio = base["swa_lr"] / base["lr_init"]
regime = "constant" if np.isclose(ratio, 1.0) else "recipe"
glue_text(
    "nb07_regime",
    regime_label(regime, ratio=ratio)
    + f" (swa_lr / lr_init = {base['swa_lr']:g} / {base['lr_init']:g})",
)

# %% [markdown]
# ## Filter-normalised planes, with and without BN recomputation
#
# Around each solution $w$ we draw two Gaussian directions and filter-normalise them
# (`swa_lib.landscape.random_plane`): every filter of a direction gets the norm of the
# matching filter of $w$, and the directions of biases and BN parameters are zero. The
# plane is $w + \alpha d_1 + \beta d_2$; at $\alpha = 1$ every filter has moved by its
# own length. Each solution gets its own directions (normalised to its own weights, from
# the same random seed).
#
# Every point is evaluated twice, on the whole training set (train NLL, the
# cross-entropy without the weight-decay term, as Li et al. plot it) and the whole test
# set (test error):
#
# * **BN recomputed** (`bn_recompute=True`): before evaluating a point, its BatchNorm
#   running statistics are recomputed from the training data (`update_bn`, batches of
#   `BN_BATCH`), as for every model the SWA paper evaluates. This is the network one
#   would actually deploy with these weights.
# * **centre's BN statistics** (`bn_recompute=False`): every point uses the running
#   statistics stored with the centre model, as `loss-landscape`
#   {cite:p}`li2018visualizing` does (the course project's three-model plane likewise
#   uses one model's statistics at every point).
#
# A first look at the scale settled the window: along one direction, the train NLL of
# these small networks is already several nats at $|\alpha| = 1$ (chance-level error),
# and the basin is a few tenths wide, so the grid spans $[-r, r]^2$ with $r$ = `RANGE` =
# {glue:text}`nb07_range` rather than Li et al.'s $[-1, 1]^2$.

# %%
alphas = np.linspace(-RANGE, RANGE, GRID)
cache = Path(RUNS_DIR) / "landscapes"
MODES = {"BN recomputed": True, "centre's BN statistics": False}
surfaces, timing, directions = {}, [], {}
for name, model in models.items():
    d1, d2 = random_plane(model, seed=PLANE_SEED)
    directions[name] = (d1, d2)
    for mode, recompute in MODES.items():
        t0, c0 = time.perf_counter(), time.process_time()
        s = evaluate_plane(
            model,
            model,
            d1,
            d2,
            alphas,
            alphas,
            data=data,
            metrics=("train_nll", "test_err"),
            bn_recompute=recompute,
            bn_batch_size=BN_BATCH,
            cache=cache,
        )
        surfaces[name, mode] = s
        timing.append(
            {
                "centre": name,
                "BN": mode,
                "points evaluated": s.evaluated,
                "wall (s)": time.perf_counter() - t0,
                "CPU (s)": time.process_time() - c0,
            }
        )
timing = pd.DataFrame(timing)
timing["CPU per point (ms)"] = (
    1000 * timing["CPU (s)"] / timing["points evaluated"].clip(lower=1)
)
display(timing.round(2))

# %% [markdown]
# The table shows the cost of this run (zero points evaluated: the grid came from the
# cache). Recomputing BN costs a pass over the 4,000 training signals in train mode per
# point, on top of the evaluation of both sets.

# %% [markdown]
# ## The landscapes
#
# Log-scale train NLL on the plane: contours on the left, the surface on the right. The
# first two figures recompute BN at every point; the last two keep the centre's
# statistics. All four share one vertical scale and one set of contour levels, equally
# spaced in log10 train NLL across the range of all four surfaces, so a given spacing of
# contour lines means the same change of loss in every figure. (The train NLL is a mean
# over 4,000 signals, a continuous quantity, so unlike a test error it has no resolution
# step that these levels could undercut.)

# %%
log_all = np.log10(
    np.concatenate([s.values["train_nll"].ravel() for s in surfaces.values()])
)
zlim = (log_all.min() - 0.05, log_all.max() + 0.05)
# one set of levels for the four compared surfaces, in log10 train NLL
LEVELS = np.linspace(log_all.min(), log_all.max(), 15)
KEYS = {
    ("SGD", "BN recomputed"): "sgd_bn",
    ("SWA", "BN recomputed"): "swa_bn",
    ("SGD", "centre's BN statistics"): "sgd_nobn",
    ("SWA", "centre's BN statistics"): "swa_nobn",
}
for (name, mode), key in KEYS.items():
    fig = plot_surface(
        surfaces[name, mode],
        "train_nll",
        log=True,
        levels=LEVELS,
        title=f"{name} solution, {mode}",
        figsize=(7, 3.4),
    )
    for ax in fig.axes:
        if ax.name == "3d":
            ax.set_zlim(*zlim)
    glue(f"nb07_surface_{key}", fig, display=False)
    plt.close(fig)

# %% [markdown]
# The two BN-recomputed surfaces once more as interactive figures (drag to rotate, hover
# for the value at each grid point), on the same vertical scale; the PDF shows them as
# static images.

# %%
interactive = {
    key: interactive_surface(
        surfaces[name, mode],
        "train_nll",
        log=True,
        title=f"{name} solution, {mode}",
        zrange=zlim,
    )
    for (name, mode), key in KEYS.items()
    if mode == "BN recomputed"
}

# %% tags=["remove-input"]
for key, figure in interactive.items():
    glue(f"nb07_surface3d_{key}", figure, display=False)

# %% [markdown]
# ```{glue:figure} nb07_surface_sgd_bn
# :name: fig-nb07-surface-sgd-bn
#
# Train NLL (log10) on a filter-normalised random plane around the **SGD** solution, BN
# recomputed at every point. The centre $(0, 0)$ is the solution. Look at how far from
# the centre the contours start to crowd: that is the width of the basin along these two
# directions.
# ```
#
# ```{glue:figure} nb07_surface_swa_bn
# :name: fig-nb07-surface-swa-bn
#
# The same around the **SWA** solution, BN recomputed at every point, on the same
# vertical scale. Compare the floor of the basin and the spacing of the contours with
# the SGD plane above.
# ```
#
# ```{glue:figure} nb07_surface_sgd_nobn
# :name: fig-nb07-surface-sgd-nobn
#
# The SGD plane again, now with the **centre's BN statistics** at every point (as Li et
# al.'s tool draws it). Same weights, same directions, same data as the first figure:
# only the BatchNorm statistics differ. Compare the height of the walls with the first
# figure.
# ```
#
# ```{glue:figure} nb07_surface_swa_nobn
# :name: fig-nb07-surface-swa-nobn
#
# The SWA plane with the centre's BN statistics. Compare with the second figure: the
# same basin looks much narrower and its walls much higher when the statistics are not
# recomputed.
# ```
#
# ```{glue:figure} nb07_surface3d_sgd_bn
# :name: fig-nb07-surface3d-sgd
#
# Interactive: the SGD surface of the first figure (log10 train NLL, BN recomputed).
# Rotate it to look along each direction.
# ```
#
# ```{glue:figure} nb07_surface3d_swa_bn
# :name: fig-nb07-surface3d-swa
#
# Interactive: the SWA surface of the second figure, on the same vertical scale.
# ```
#
# ## Loss at a fixed distance, and width
#
# Two numbers summarise each surface. The **loss at a fixed distance** is the mean train
# NLL (and test error) at the four grid points at distance `R_FIXED` from the centre
# along $\pm d_1$, $\pm d_2$. The **width** is the area of the region of the plane where
# the train NLL stays below `WIDTH_LEVEL` nats (interpolated log-linearly between grid
# points), written as the radius $r_\mathrm{eq} = \sqrt{\mathrm{area}/\pi}$ of a disk of
# the same area. The profile figure below shows the mean over the four half-axes at
# every distance.

# %%
mid = GRID // 2
k_fix = int(np.argmin(np.abs(alphas[mid:] - R_FIXED)))  # grid steps from the centre
r_used = float(alphas[mid + k_fix])
rows = []
for (name, mode), s in surfaces.items():
    nll, err = s.values["train_nll"], s.values["test_err"]
    rows.append(
        {
            "solution": name,
            "BN": mode,
            "train NLL, centre": nll[mid, mid],
            f"train NLL, r = {r_used:.2g}": half_axes_mean(nll, k_fix),
            "test error (%), centre": err[mid, mid],
            f"test error (%), r = {r_used:.2g}": half_axes_mean(err, k_fix),
            f"width r_eq (NLL < {WIDTH_LEVEL:g})": level_radius(
                s, "train_nll", WIDTH_LEVEL
            ),
            "max train NLL on the plane": nll.max(),
        }
    )
summary = pd.DataFrame(rows).set_index(["solution", "BN"])
display(summary.round(3))

# %% tags=["remove-input"]
glue("nb07_summary", summary.round(3), display=False)

# %%
fig, axes = plt.subplots(1, 2, figsize=(7, 3.4))
steps = np.arange(0, GRID - mid)
dist = alphas[mid:]
STYLE = {"BN recomputed": "-", "centre's BN statistics": "--"}
for (name, mode), s in surfaces.items():
    color = "C0" if name == "SGD" else "C3"
    for ax, metric in zip(axes, ("train_nll", "test_err")):
        prof = [half_axes_mean(s.values[metric], k) for k in steps]
        ax.plot(
            dist,
            prof,
            STYLE[mode],
            color=color,
            marker="o",
            ms=3,
            label=f"{name}, {mode}",
        )
axes[0].set(
    yscale="log",
    xlabel="distance from the centre",
    ylabel="train NLL (nats)",
)
axes[1].set(xlabel="distance from the centre", ylabel="test error (%)")
for ax in axes:
    ax.axvline(r_used, color="grey", lw=0.8, ls=":")
axes[0].axhline(WIDTH_LEVEL, color="grey", lw=0.8, ls=":")
fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=2, fontsize=9)
fig.tight_layout(rect=(0, 0.12, 1, 1))
plt.close(fig)

# %% tags=["remove-input"]
glue("nb07_profiles", fig, display=False)

# %% [markdown]
# ```{glue:figure} nb07_profiles
# :name: fig-nb07-profiles
#
# Train NLL (left, log scale) and test error (right) against the distance from the
# centre (in filter-normalised units), each the mean of the four half-axes $\pm d_1$,
# $\pm d_2$ of a plane; SGD blue, SWA red; solid: BN recomputed at every point, dashed:
# the centre's BN statistics. The dotted lines mark the fixed distance and the width
# level of the table. Look at the gap between solid and dashed lines of one colour (the
# BN statistics), and then at the gap between the two colours (SGD against SWA).
# ```

# %%
S = summary
nll_r = f"train NLL, r = {r_used:.2g}"
err_r = f"test error (%), r = {r_used:.2g}"
wcol = f"width r_eq (NLL < {WIDTH_LEVEL:g})"
for (name, mode), key in KEYS.items():
    row = S.loc[(name, mode)]
    glue_text(f"nb07_{key}_centre", significant(row["train NLL, centre"]))
    glue_text(f"nb07_{key}_r", significant(row[nll_r]))
    glue_text(f"nb07_{key}_r_err", f"{row[err_r]:.1f}")
    glue_text(f"nb07_{key}_width", significant(row[wcol]))
    glue_text(f"nb07_{key}_max", f"{row['max train NLL on the plane']:.1f}")
for name in models:
    k = name.lower()
    ratio = (
        S.loc[(name, "centre's BN statistics"), nll_r]
        / S.loc[(name, "BN recomputed"), nll_r]
    )
    glue_text(f"nb07_{k}_ratio", f"{ratio:.1f}")
    glue_text(f"nb07_{k}_acc", f"{100 * test_acc[name]:.1f}")
    glue_text(f"nb07_{k}_dnorm", f"{float(directions[name][0].norm()):.1f}")
    glue_text(f"nb07_{k}_wnorm", f"{float(get_flat_params(models[name]).norm()):.1f}")

for mode, key in (("BN recomputed", "bn"), ("centre's BN statistics", "nobn")):
    w_sgd, w_swa = S.loc[("SGD", mode), wcol], S.loc[("SWA", mode), wcol]
    l_sgd, l_swa = S.loc[("SGD", mode), nll_r], S.loc[("SWA", mode), nll_r]
    glue_text(
        f"nb07_width_verdict_{key}",
        ("wider" if w_swa > w_sgd else "narrower") + f" ({w_swa / w_sgd:.2f} times)",
    )
    glue_text(f"nb07_r_verdict_{key}", "higher" if l_swa > l_sgd else "lower")
w_sgd, w_swa = (
    S.loc[("SGD", "BN recomputed"), wcol],
    S.loc[("SWA", "BN recomputed"), wcol],
)
_ = glue_text("nb07_n_params", str(n_params))

# %% tags=["remove-input"]
glue_text(
    "nb07_claim",
    "the direction of the paper's claim"
    if w_swa > w_sgd
    else "against the direction of the paper's claim",
)
glue_text(
    "nb07_centre_verdict",
    "higher"
    if S.loc[("SWA", "BN recomputed"), "train NLL, centre"]
    > S.loc[("SGD", "BN recomputed"), "train NLL, centre"]
    else "lower",
)
glue_text("nb07_swa_recorded", significant(swa_run.final["swa_train_nll"]))
glue_text("nb07_sgd_recorded", significant(sgd_run.final["sgd_train_nll"]))
glue_text("nb07_r", f"{r_used:.2g}")
glue_text("nb07_level", f"{WIDTH_LEVEL:g}")
glue_text("nb07_grid", f"{GRID} x {GRID}")
glue_text("nb07_range", f"{RANGE:g}")
glue_text("nb07_epochs", str(EPOCHS))
glue_text("nb07_swa_epochs", str(SWA_EPOCHS))
glue_text("nb07_swa_start", str(SWA_START))
glue_text("nb07_seed", str(SEED))
glue_text("nb07_width", str(WIDTH))

# %% [markdown]
# ## What recomputing BatchNorm changes
#
# At the centre the two evaluations agree closely: the SGD solution has train NLL
# {glue:text}`nb07_sgd_bn_centre` with BN recomputed and
# {glue:text}`nb07_sgd_nobn_centre` with its stored statistics (the running averages of
# training), and the SWA solution {glue:text}`nb07_swa_bn_centre` either way (its stored
# statistics were recomputed at the end of its run the same way; the run recorded
# {glue:text}`nb07_swa_recorded`). Away from the centre they part. At distance
# {glue:text}`nb07_r` the train NLL with the centre's statistics is
# {glue:text}`nb07_sgd_ratio` times the recomputed one around SGD
# ({glue:text}`nb07_sgd_nobn_r` against {glue:text}`nb07_sgd_bn_r` nats) and
# {glue:text}`nb07_swa_ratio` times around SWA ({glue:text}`nb07_swa_nobn_r` against
# {glue:text}`nb07_swa_bn_r`); the test error there is {glue:text}`nb07_sgd_nobn_r_err`
# % against {glue:text}`nb07_sgd_bn_r_err` % around SGD. The highest point of the SGD
# plane is {glue:text}`nb07_sgd_nobn_max` nats with the centre's statistics and
# {glue:text}`nb07_sgd_bn_max` with BN recomputed.
#
# The reason is the architecture. Every convolution here is followed by BatchNorm
# {cite:p}`ioffe2015batch`. Moving the filters changes the mean and variance of each
# channel; recomputed statistics normalise the change away (the convolutions have no
# bias, so with recomputed statistics the output does not even depend on the length of a
# filter, only on its direction), stale statistics do not, and every later layer
# receives shifted and rescaled activations. A plane drawn with the centre's statistics
# therefore measures two things at once: how the loss changes with the weights, and how
# badly the frozen statistics fit the moved weights. The second grows with the distance
# and makes most of the walls.
#
# Which surface is "right" depends on the question. The recomputed surface is the loss
# of the network one would deploy with those weights, which is how SWA itself is used
# (the average gets its own statistics). The fixed-statistics surface is the loss of the
# centre model with its weights perturbed and its statistics frozen. For the question
# "does SWA sit in a wider basin", recomputing is the fair choice: without it, every
# solution is charged for the mismatch of its statistics, and every basin looks narrower
# than the set of good networks around it. The course project's landscape is a different
# plane (through its pre-trained, final and SWA models), but it kept the pre-trained
# model's statistics for the whole grid: it is the dashed kind.
#
# ## SGD against SWA
#
# With BN recomputed, the SWA solution's train NLL is {glue:text}`nb07_r_verdict_bn`
# than SGD's at distance {glue:text}`nb07_r` ({glue:text}`nb07_swa_bn_r` against
# {glue:text}`nb07_sgd_bn_r` nats), and its region of train NLL below
# {glue:text}`nb07_level` nats is {glue:text}`nb07_width_verdict_bn`: equivalent radius
# {glue:text}`nb07_swa_bn_width` against {glue:text}`nb07_sgd_bn_width`. With the
# centre's statistics the SWA basin is {glue:text}`nb07_width_verdict_nobn`
# ({glue:text}`nb07_swa_nobn_width` against {glue:text}`nb07_sgd_nobn_width`). On the
# test set SWA reaches {glue:text}`nb07_swa_acc` % accuracy and SGD
# {glue:text}`nb07_sgd_acc` %.
#
# How much to read into this:
#
# * The difference between the solutions is small next to the difference the BN
#   statistics make, and each surface is **one** pair of random directions around
#   **one** training seed (seed {glue:text}`nb07_seed`). Random directions in a space of
#   {glue:text}`nb07_n_params` parameters see the *average* curvature, not the sharpest
#   directions ({doc}`../book/flat_minima`); {doc}`05_width_rays` compares many random
#   rays over several seeds, and {doc}`08_flatness` measures the curvature itself.
# * Filter-normalised units are relative: at $\alpha = 1$ every filter has moved by its
#   own length, but the two planes do not have the same length in weight space (a unit
#   step is {glue:text}`nb07_sgd_dnorm` around SGD and {glue:text}`nb07_swa_dnorm`
#   around SWA, whose weight vectors have norms {glue:text}`nb07_sgd_wnorm` and
#   {glue:text}`nb07_swa_wnorm`). This is what makes the two pictures comparable despite
#   the scale caveat of {cite:t}`dinh2017sharp`, and also why "wider" here means wider
#   relative to each solution's own weights.
# * The solutions come from two runs of {doc}`03_results_table` with different schedules
#   and budgets (SGD: {glue:text}`nb07_epochs` epochs with a decaying rate; SWA:
#   {glue:text}`nb07_swa_epochs` epochs, averaged from epoch
#   {glue:text}`nb07_swa_start`), not from one trajectory.
#
# ## Conclusion
#
# On {glue:text}`nb07_grid` filter-normalised planes around a BatchNorm CNN, whether the
# BN statistics are recomputed at each point changes the picture far more than whether
# the centre is the SGD or the SWA solution: at distance {glue:text}`nb07_r`, the stale
# statistics of the centre multiply the train NLL by {glue:text}`nb07_sgd_ratio` (SGD)
# and {glue:text}`nb07_swa_ratio` (SWA). Li et al.'s tool draws the dashed kind of
# surface, and the course project's three-model plane freezes the statistics the same
# way. With statistics recomputed at every point, as the SWA paper does, the SWA
# solution's centre is {glue:text}`nb07_centre_verdict` and its basin
# {glue:text}`nb07_width_verdict_bn` than the SGD solution's on this plane and seed:
# {glue:text}`nb07_claim`, by a margin that one random plane cannot establish on its
# own.
#
# ## Exercises
#
# ```{exercise}
# :label: ex-nb07-plane-seed
# Re-run with `PLANE_SEED = 1` and `PLANE_SEED = 2` (each costs the four grids again).
# Does the SWA basin stay wider than the SGD one, and by how much does the width of one
# solution change from plane to plane?
# ```
#
# ```{solution} ex-nb07-plane-seed
# :class: dropdown
# Each plane is a sample of two random directions, and its width is a noisy estimate of
# the average curvature around the solution. Compare the change between SGD and SWA with
# the change of one solution between planes: a ranking that flips from one plane to the
# next is no evidence either way. Several planes (or many rays, as in
# {doc}`05_width_rays`) and several training seeds are needed before the difference
# means something.
# ```
#
# ```{exercise}
# :label: ex-nb07-range
# Draw the planes over Li et al.'s window, `RANGE = 1.0` (with `GRID = 11` to keep the
# cost). What does the surface look like, and what would you conclude from it about SGD
# against SWA?
# ```
#
# ```{solution} ex-nb07-range
# :class: dropdown
# Most of the window is a plateau at chance-level test error, with a train NLL of
# several nats (BN recomputed) or tens of nats (centre's statistics); the basin is a
# small dip in the middle covered by two or three grid points, and its width cannot be
# read off. Which window shows a basin depends on the network: look at a 1-D slice first
# and choose the window from it.
# ```
#
# ```{exercise}
# :label: ex-nb07-centre
# At the centre, the SGD solution's train NLL differs slightly between the two
# evaluations and the SWA solution's does not. Why?
# ```
#
# ```{solution} ex-nb07-centre
# :class: dropdown
# The SGD model stores the running averages of training: exponential averages (momentum
# 0.1) over the last augmented mini-batches, computed while the weights were still
# moving. Recomputing gives the exact statistics of the unaugmented training set at the
# final weights. The SWA model's statistics were already recomputed at the end of its
# run by the same `update_bn` pass over the same batches, so recomputing them again
# changes nothing.
# ```
