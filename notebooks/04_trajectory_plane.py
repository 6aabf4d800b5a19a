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
# # The plane of the SWA trajectory
#
# **The question.** The paper's first figure {cite:p}`izmailov2018swa` draws the test error and
# the train loss on the plane through three points that SGD visits during the averaging phase,
# and marks the SWA average on it. Where does the SWA point sit in that picture: at the bottom of
# the valley that the iterates circle around, and lower in train loss and test error than each
# of them?
#
# **[Open in Colab](https://colab.research.google.com/github/swa-book/swa-book/blob/main/notebooks/04_trajectory_plane.ipynb)**
#
# **Cost.** Laptop profile (the defaults below): one SWA run of the MNIST-1D MLP that saves its
# SGD iterate at every averaging point (notebook 01's seed-0 SWA run plus those files, 15-40 s on
# a 2-core CPU), then a 21 x 21 grid, 441 evaluations of the train and test sets (about 30 s).
# The additions -- the cyclic run's plane (another 441 evaluations), the five-seed comparison
# (nine more 60-epoch runs with snapshots, about 6 s each) and the SGD/SWA planes of the paper's
# Figure 1 (SGD states after 44 epochs, ten 16-epoch SWA branches, two 17 x 17 grids) -- bring
# the notebook to about 4 minutes cold (measured 249 s on a shared 2-core CPU). All are cached
# under `RUNS_DIR`: re-running only redraws. Paper profile: the paper's own
# setting, PreResNet-164 on CIFAR-100 with its recipe (150 epochs, SWA from epoch 126 at rate
# 0.05; `presets.experiment_base`): two 150-epoch runs (with and without the snapshots) and 441
# BN-recomputed evaluations, about 3.5 GPU-hours on one H100 at the per-epoch and
# per-evaluation times measured for {doc}`11_cifar_paper_scale` (`presets.paper_gpu_hours`).
# Without CIFAR-100 under `data/` it stops in its first code cell, saying how to get it.
#
# **Prerequisites.** {doc}`01_quickstart` (the runs); the flat-minimum argument of
# {doc}`../book/flat_minima`.

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
SEED = 0  # which of notebook 01's SWA runs
EPOCHS = 60  # notebook 01's protocol (same config, so the same run)
SWA_START = 45  # first averaged epoch
SWA_LR = 0.05  # the SWA phase's constant learning rate
NUM_SAMPLES = 5000  # MNIST-1D samples (4/5 train, 1/5 test)
DATASET = "mnist1d"  # paper profile: "cifar100" (presets.experiment_base)
MODEL = "mlp"
GRID_POINTS = 21  # per axis (Garipov et al.: 21)
GRID_MARGIN = 0.2  # the grid spans -margin .. 1 + margin in units of dx, dy
CYCLIC_LR_MAX = 0.05  # the cyclic half: notebook 02's schedule alpha_1 -> alpha_2 ...
CYCLIC_LR_MIN = 0.005
CYCLE_EPOCHS = 2  # ... cycles of c epochs, one model averaged per cycle
RECIPE_RATIO = 0.3  # recipe regime: swa_lr = RECIPE_RATIO * lr_init, as in notebook 03
REGIME_SEEDS = [0, 1, 2, 3, 4]  # seeds behind each paired comparison
FIG1_GRID = 17  # points per axis of the SGD / SWA planes
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

from swa_lib.landscape import (
    evaluate_plane,
    get_flat_params,
    load_flat_states,
    plane_basis,
    plane_coordinates,
    state_params,
)
from swa_lib.landscape.summary import evaluate_at
from swa_lib.plotting import plot_plane, shared_levels
from swa_lib.reporting import (
    count_text,
    glue,
    glue_number,
    glue_text,
    interval_verdict,
    listing,
    paired_text,
)
from swa_lib.reporting.stats import holm, paired_interval, paired_pvalue
from swa_lib.training import TrainConfig, resolve_device, run
from swa_lib.training.from_checkpoint import branches, start_state
from swa_lib.training.presets import experiment_base, require_dataset
from swa_lib.training.regimes import regime_label

torch.set_num_threads(1)
require_dataset(DATASET, DATA_DIR)  # without CIFAR the paper profile stops here

# %% [markdown]
# ## The run and its trajectory
#
# `TrainConfig(snapshots=True)` makes the SWA run save the SGD iterate at every averaging point
# (`RunResult.snapshot_paths()`). Saving files does not change training, so this run *is*
# notebook 01's SWA run for this seed: the cell checks that its SWA weights are identical.

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
)  # = notebook 01; no per-epoch metrics are read here
result = run(TrainConfig(**base, seed=SEED, swa=True, snapshots=True), RUNS_DIR)
plain = run(TrainConfig(**base, seed=SEED, swa=True), RUNS_DIR)  # notebook 01's run
cfg = result.config

model = result.load_model(
    "swa", device
)  # the SWA model; also the architecture for the grid
w_swa = get_flat_params(model)
assert torch.equal(w_swa, get_flat_params(plain.load_model("swa", device)))

paths = result.snapshot_paths()
snapshots = load_flat_states(paths, model).to(
    device
)  # one flat parameter vector per file
epochs = [int(p.stem.split("_")[1]) for p in paths]
gap = float((snapshots.mean(0) - w_swa).norm() / w_swa.norm())
print(
    f"{len(paths)} snapshots (epochs {epochs[0]}..{epochs[-1]}); "
    f"|mean of snapshots - SWA| / |SWA| = {gap:.1e}"
)

# %% [markdown]
# The SWA model is the mean of the snapshots (to float rounding). Three of them define the plane:
# the first, the middle and the last iterate of the averaging phase. With Garipov et al.'s
# Gram-Schmidt construction {cite:p}`garipov2018loss` (`plane_basis`), $u$ points from the first
# to the last iterate and $v$ is the orthogonal part of the middle one; a grid point is
# $w_1 + a u + b v$ with $a, b$ in weight-space L2 units. The grid spans $-0.2$ to $1.2$ times
# the lengths $d_x = \|w_3 - w_1\|$ and $d_y$ (the distance of $w_2$ from the line through $w_1$
# and $w_3$), the paper's convention.
#
# The SWA point averages *all* the snapshots, most of them off this plane, so it is placed by its
# orthogonal projection (`plane_coordinates`); how far it lies from the plane is printed below.

# %%
picks = sorted({0, (len(paths) - 1) // 2, len(paths) - 1})
assert len(picks) == 3, (
    "the plane needs three distinct snapshots (SWA phase of >= 3 epochs)"
)
w1, w2, w3 = (snapshots[i] for i in picks)
u, v, dx, dy = plane_basis(w1, w2, w3)
swa_xy = plane_coordinates(w_swa, w1, u, v)
w_swa_proj = w1 + swa_xy[0] * u + swa_xy[1] * v
off_plane = float((w_swa - w_swa_proj).norm())
names = [f"$w_{k}$" for k in (1, 2, 3)]
coords = {name: plane_coordinates(w, w1, u, v) for name, w in zip(names, (w1, w2, w3))}
coords["SWA (projected)"] = swa_xy
print(
    f"dx = {dx:.2f}, dy = {dy:.2f}; SWA at ({swa_xy[0]:.2f}, {swa_xy[1]:.2f}), "
    f"{off_plane:.2f} from the plane; |SWA| = {float(w_swa.norm()):.2f}"
)

# %% [markdown]
# ## The surfaces
#
# `evaluate_plane` computes, at every grid point, the test error and the **train loss** the way
# SGD sees it: the mean cross-entropy on the (unaugmented) training set plus the weight-decay
# term $\tfrac{\lambda}{2}\|w\|^2$ with the run's $\lambda$ (the `train_loss` metric; `train_nll`
# is the cross-entropy alone). The MLP has no BatchNorm, so there are no statistics to recompute
# at each point: `bn_recompute=True`, which the paper's figures use, is a no-op here (it matters
# for BN networks, see {doc}`07_random_landscapes`). The grid is cached under `RUNS_DIR`.

# %%
ds = result.dataset(device=device)  # the run's data, without augmentation
options = dict(
    data=ds,
    metrics=("train_loss", "train_nll", "test_err", "test_nll"),
    weight_decay=cfg.weight_decay,
    bn_recompute=True,
    cache=Path(RUNS_DIR) / "landscapes",
)
ticks = np.linspace(-GRID_MARGIN, 1 + GRID_MARGIN, GRID_POINTS)
surface = evaluate_plane(model, w1, u, v, ticks * dx, ticks * dy, **options)
print(
    f"{GRID_POINTS}x{GRID_POINTS} grid: {surface.evaluated} points evaluated now, "
    f"{GRID_POINTS**2 - surface.evaluated} from the cache"
)

# %% [markdown]
# ### The cyclic half
#
# The paper's third figure has two halves: the plane through three iterates of a *constant*
# rate (above) and through three iterates of a *cyclic* one. The cyclic run here is notebook
# {doc}`02 <02_schedules>`'s: after the paper's piecewise decay the rate falls from `CYCLIC_LR_MAX`
# to `CYCLIC_LR_MIN` within each cycle of `CYCLE_EPOCHS` epochs, and the iterate at the end of
# each cycle (the minimum rate) is saved and averaged. Its plane is built the same way, through
# the first, middle and last averaged iterates. Both planes are drawn with **shared** contour
# levels per metric (`shared_levels`: log-spaced above the lowest value of either plane), so a
# colour means the same value in both; for the test error no band is thinner than one test
# signal ($100 / n_\mathrm{test}$ points), the resolution of the metric.

# %%
CYCLIC = dict(
    swa_lr=CYCLIC_LR_MIN,
    swa_lr_schedule="cyclic",
    swa_lr_max=CYCLIC_LR_MAX,
    swa_c_epochs=CYCLE_EPOCHS,
)
cyc_run = run(
    TrainConfig(**{**base, **CYCLIC}, seed=SEED, swa=True, snapshots=True), RUNS_DIR
)
cyc_model = cyc_run.load_model("swa", device)
cyc_paths = cyc_run.snapshot_paths()
cyc_snaps = load_flat_states(cyc_paths, cyc_model).to(device)
cyc_picks = sorted({0, (len(cyc_paths) - 1) // 2, len(cyc_paths) - 1})
assert len(cyc_picks) == 3, "the cyclic plane needs three distinct snapshots"
c1, c2, c3 = (cyc_snaps[i] for i in cyc_picks)
cu, cv, cdx, cdy = plane_basis(c1, c2, c3)
cyc_w_swa = get_flat_params(cyc_model)
cyc_coords = {
    name: plane_coordinates(w, c1, cu, cv) for name, w in zip(names, (c1, c2, c3))
}
cyc_coords["SWA (projected)"] = plane_coordinates(cyc_w_swa, c1, cu, cv)
cyc_surface = evaluate_plane(cyc_model, c1, cu, cv, ticks * cdx, ticks * cdy, **options)
cyc_epochs = [int(p.stem.split("_")[1]) for p in cyc_paths]
n_test = len(ds.y_test)
planes = {"constant": (surface, coords), "cyclic": (cyc_surface, cyc_coords)}
levels = {
    "test_err": shared_levels(
        [p[0]["test_err"] for p in planes.values()], resolution=100.0 / n_test
    ),
    "train_loss": shared_levels([p[0]["train_loss"] for p in planes.values()]),
}
print(
    f"cyclic: {len(cyc_paths)} snapshots "
    f"(epochs {listing([cyc_epochs[i] for i in cyc_picks])}"
    f" picked); dx = {cdx:.2f}, dy = {cdy:.2f} (constant: {dx:.2f}, {dy:.2f})"
)

# %%
fig, axes = plt.subplots(2, 2, figsize=(8.5, 7.2))
for row, metric in enumerate(("test_err", "train_loss")):
    for col, (name, (surf, pts)) in enumerate(planes.items()):
        plot_plane(
            surf,
            metric,
            points=pts,
            levels=levels[metric],
            ax=axes[row, col],
            title=f"{name} rate: " + ("test error (%)" if row == 0 else "train loss"),
            xlabel="$a$ (L2, along $u$)",
            ylabel="$b$ (L2, along $v$)",
        )
fig.tight_layout()
plt.close(fig)

# %% tags=["remove-input"]
glue("nb04_plane", fig, display=False)

# %% [markdown]
# ```{glue:figure} nb04_plane
# :name: fig-nb04-plane
#
# Test error (top, %) and train loss with the weight-decay term (bottom) on the plane through
# three SGD iterates of the averaging phase ($w_1$, $w_2$, $w_3$: the first, middle and last
# averaged iterates), for the constant rate (left, a constant rate from scratch) and the cyclic
# one (right, notebook 02's schedule). The levels are shared by the two panels of a row and
# log-spaced above the lowest value of either (the colours change fastest near the bottom; the
# test-error bands are at least one test signal wide). Look at where the iterates sit (on the
# slopes of the train-loss bowl), where the projection of the SWA point falls (inside its lowest
# bands), and at the scale: the axes are in L2 units, and the cyclic iterates, taken at the
# cycles' minimum rate, lie closer together than the constant ones.
# ```
#
# ## The numbers at the marked points
#
# The surfaces are evaluated on a grid; the marked points are evaluated exactly (`evaluate_at`,
# the same code). "SWA, projected" is the point of the plane under SWA, the one the figure
# shows; "SWA" is the average itself, which lies off the plane.

# %%
points = {f"w{k}": w for k, w in enumerate((w1, w2, w3), start=1)}
points["mean of w1..w3"] = (w1 + w2 + w3) / 3
points["SWA, projected"] = w_swa_proj
points["SWA"] = w_swa
table = evaluate_at(model, points, **options)
table.columns = ["train loss", "train NLL", "test error (%)", "test NLL"]
table.insert(
    0, "epoch", [str(epochs[i]) for i in picks] + ["", "", f"{epochs[0]}-{epochs[-1]}"]
)
grid_min = {m: float(np.nanmin(surface[m])) for m in ("train_loss", "test_err")}
display(
    table.style.format(
        {
            "train loss": "{:.4f}",
            "train NLL": "{:.4f}",
            "test error (%)": "{:.1f}",
            "test NLL": "{:.4f}",
        }
    )
)
print(
    f"grid minima: train loss {grid_min['train_loss']:.4f}, "
    f"test error {grid_min['test_err']:.1f} %"
)

# %%
iters = table.iloc[:3]
swa_row, proj_row = table.loc["SWA"], table.loc["SWA, projected"]
mean3_row = table.loc["mean of w1..w3"]
wd_term = (
    0.5
    * cfg.weight_decay
    * np.array([float(w.double().pow(2).sum()) for w in (w1, w2, w3, w_swa)])
)
lower_loss = int((swa_row["train loss"] < iters["train loss"]).sum())
lower_err = int((swa_row["test error (%)"] < iters["test error (%)"]).sum())
print(
    f"SWA is lower than {lower_loss}/3 iterates in train loss, "
    f"{lower_err}/3 in test error; "
    f"weight-decay terms: iterates {listing(wd_term[:3], '.3f')}, SWA {wd_term[3]:.3f}"
)

# %% tags=["remove-input"]
glue_text("nb04_n_snap", str(len(paths)))
glue_text("nb04_n_test", f"{len(ds.y_test)} test signals")
glue_text("nb04_n_params", f"{w_swa.numel()} parameters")
glue_text("nb04_epochs", listing([epochs[i] for i in picks], "g"))
for key, x in (
    ("dx", dx),
    ("dy", dy),
    ("off_plane", off_plane),
    ("swa_loss", swa_row["train loss"]),
    ("swa_err", swa_row["test error (%)"]),
    ("swa_nll", swa_row["train NLL"]),
    ("proj_loss", proj_row["train loss"]),
    ("proj_err", proj_row["test error (%)"]),
    ("mean3_loss", mean3_row["train loss"]),
    ("mean3_err", mean3_row["test error (%)"]),
    ("wd_swa", wd_term[3]),
    ("grid_min_loss", grid_min["train_loss"]),
    ("grid_min_err", grid_min["test_err"]),
):
    glue_number(f"nb04_{key}", x)
glue_text("nb04_iter_loss", listing(iters["train loss"], ".3f"))
glue_text("nb04_iter_err", listing(iters["test error (%)"], ".1f"))
glue_text("nb04_iter_nll", listing(iters["train NLL"], ".3f"))
glue_text("nb04_wd_iter", listing(wd_term[:3], ".3f"))
glue_text("nb04_lower_loss", f"{lower_loss} of the 3")
glue_text("nb04_lower_err", f"{lower_err} of the 3")

# %% [markdown]
# ### Five seeds, both halves
#
# The planes are one seed. Across `REGIME_SEEDS`, for each trajectory the same three iterates
# (first, middle, last averaged) and the SWA average are evaluated exactly; the paper's figure
# predicts that SWA has a lower test error than the iterates it averages. The statistic per seed
# is SWA's test error minus the mean of the three iterates' (points); Holm-corrected over the
# two trajectories.

# %%
CONST_NAME = (
    (  # the regime of the constant-rate runs (SWA_LR = lr_init on the laptop)
        regime_label("constant")
        if np.isclose(SWA_LR, base["lr_init"])
        else regime_label("recipe", ratio=SWA_LR / base["lr_init"])
    )
    .removeprefix("a ")
    .removeprefix("the ")
)  # as the ledger names regimes
TRAJECTORIES = {CONST_NAME: {}, "cyclic": CYCLIC}
traj_rows = []
for name, changes in TRAJECTORIES.items():
    for seed in REGIME_SEEDS:
        r = run(
            TrainConfig(**{**base, **changes}, seed=seed, swa=True, snapshots=True),
            RUNS_DIR,
        )
        m = r.load_model("swa", device)
        snaps = load_flat_states(r.snapshot_paths(), m).to(device)
        k = sorted({0, (len(snaps) - 1) // 2, len(snaps) - 1})
        pts = {f"w{j + 1}": snaps[i] for j, i in enumerate(k)}
        pts["SWA"] = get_flat_params(m)
        err = evaluate_at(m, pts, **options)["test_err"]
        traj_rows.append(
            {
                "trajectory": name,
                "seed": seed,
                "iterates (mean)": float(err[["w1", "w2", "w3"]].mean()),
                "SWA": float(err["SWA"]),
            }
        )
traj = pd.DataFrame(traj_rows)
traj["SWA - iterates"] = traj["SWA"] - traj["iterates (mean)"]
traj_p = [
    paired_pvalue(g["SWA - iterates"])
    for _, g in traj.groupby("trajectory", sort=False)
]
traj_holm = dict(zip(TRAJECTORIES, holm(traj_p)))
traj_summary = {}
for name, g in traj.groupby("trajectory", sort=False):
    lo, hi = paired_interval(g["SWA - iterates"].to_numpy())
    traj_summary[name] = {
        "SWA - iterates": paired_text(g["SWA - iterates"], scale=1.0),
        "interval": interval_verdict(lo, hi, better="lower"),
        "Holm": "significant" if traj_holm[name] else "not significant",
        "estimate": float(g["SWA - iterates"].mean()),
        "low": float(lo),
        "high": float(hi),
    }
display(pd.DataFrame(traj_summary).T.drop(columns=["estimate", "low", "high"]))

# %% tags=["remove-input"]
glue_number("nb04_cyc_dx", cdx)
glue_number("nb04_cyc_dy", cdy)
glue_text("nb04_n_seeds", count_text(len(REGIME_SEEDS), "seed"))
for key, name in zip(("const", "cyc"), TRAJECTORIES):
    row = traj_summary[name]
    glue_text(f"nb04_traj_{key}", row["SWA - iterates"])
    glue_text(
        f"nb04_traj_{key}_verdict", f"{row['interval']}; {row['Holm']} after Holm"
    )

# %% [markdown]
# Over {glue:text}`nb04_n_seeds`, SWA's test error minus the mean of the three iterates' is
# {glue:text}`nb04_traj_const` for the constant rate (the interval
# {glue:text}`nb04_traj_const_verdict`) and {glue:text}`nb04_traj_cyc` for the cyclic one
# ({glue:text}`nb04_traj_cyc_verdict`). The cyclic plane of the figure is
# {glue:text}`nb04_cyc_dx:.2f` by {glue:text}`nb04_cyc_dy:.2f` L2 units, against
# {glue:text}`nb04_dx:.2f` by {glue:text}`nb04_dy:.2f` for the constant one.
#
# ## SGD and SWA from one SGD state (the paper's Figure 1, middle and right)
#
# The paper's first figure also draws the plane through three other points: the SGD solution
# at convergence, the SWA solution, and the SGD state both of them started from (its
# PreResNet-164 on CIFAR-100: SWA was started from the SGD run after 125 of its 150 epochs).
# The same protocol here: the SGD baseline (notebook 01's, its rate decaying to 1 % of
# `lr_init`) is stopped after `SWA_START - 1` epochs (`start_state`); from that state SWA runs
# the remaining epochs at a constant rate and averages after every epoch (`branches`, the
# state's optimiser and random streams continued), while the baseline itself continues to its
# end. Two SWA rates: `RECIPE_RATIO * lr_init` (the paper's recipe ratio) and `lr_init`
# (ratio 1, the rate of a constant rate from scratch). The plane goes through the start $w_0$, the SWA
# solution ($u$ points to it) and the SGD solution; both planes share their levels.

# %%
sgd_base = TrainConfig(**base, seed=SEED, swa=False)
START = (
    SWA_START - 1
)  # epochs of SGD before the branch; averaged: epochs SWA_START..EPOCHS
RATES = {
    f"swa_lr {r:g} (ratio {r / base['lr_init']:g})": r
    for r in (RECIPE_RATIO * base["lr_init"], base["lr_init"])
}
branched = branches(
    sgd_base,
    REGIME_SEEDS,
    START,
    EPOCHS - START,
    {name: {"swa_lr": r} for name, r in RATES.items()},
    RUNS_DIR,
)
fig1_rows, fig1_planes = [], {}
fig1_ticks = np.linspace(-GRID_MARGIN, 1 + GRID_MARGIN, FIG1_GRID)
for i, seed in enumerate(REGIME_SEEDS):
    sgd_model = run(sgd_base.replace(seed=seed), RUNS_DIR).load_model("sgd", device)
    w_sgd = get_flat_params(sgd_model)
    w0 = state_params(
        start_state(sgd_base.replace(seed=seed), START, RUNS_DIR)["model"], sgd_model
    ).to(device)
    for name in RATES:
        w_sw = get_flat_params(branched[name][i].load_model("swa", device))
        at = evaluate_at(sgd_model, {"start": w0, "SGD": w_sgd, "SWA": w_sw}, **options)
        fig1_rows.append(
            {
                "rate": name,
                "seed": seed,
                "SWA - SGD test error": at.loc["SWA", "test_err"]
                - at.loc["SGD", "test_err"],
                "SWA - SGD train loss": at.loc["SWA", "train_loss"]
                - at.loc["SGD", "train_loss"],
                "|SWA - start|": float((w_sw - w0).norm()),
                "|SGD - start|": float((w_sgd - w0).norm()),
            }
        )
        if seed == SEED:
            bu, bv, bdx, bdy = plane_basis(w0, w_sgd, w_sw)
            pts = {
                n: plane_coordinates(w, w0, bu, bv)
                for n, w in (("start", w0), ("SGD", w_sgd), ("SWA", w_sw))
            }
            surf = evaluate_plane(
                sgd_model, w0, bu, bv, fig1_ticks * bdx, fig1_ticks * bdy, **options
            )
            fig1_planes[name] = (surf, pts)
fig1 = pd.DataFrame(fig1_rows)
fig1_p = [
    paired_pvalue(g["SWA - SGD test error"])
    for _, g in fig1.groupby("rate", sort=False)
]
fig1_holm = dict(zip(RATES, holm(fig1_p)))
fig1_summary = {}
for name, g in fig1.groupby("rate", sort=False):
    lo, hi = paired_interval(g["SWA - SGD test error"].to_numpy())
    fig1_summary[name] = {
        "SWA - SGD test error": paired_text(g["SWA - SGD test error"], scale=1.0),
        "interval": interval_verdict(lo, hi, better="lower"),
        "Holm": "significant" if fig1_holm[name] else "not significant",
        "SWA - SGD train loss": paired_text(
            g["SWA - SGD train loss"], scale=1.0, digits=3, unit=" nats"
        ),
        "estimate": float(g["SWA - SGD test error"].mean()),
        "low": float(lo),
        "high": float(hi),
    }
display(pd.DataFrame(fig1_summary).T.drop(columns=["estimate", "low", "high"]))

# %%
fig1_levels = {
    "test_err": shared_levels(
        [p[0]["test_err"] for p in fig1_planes.values()], resolution=100.0 / n_test
    ),
    "train_loss": shared_levels([p[0]["train_loss"] for p in fig1_planes.values()]),
}
fig_f1, axes = plt.subplots(2, len(RATES), figsize=(8.5, 7.2), squeeze=False)
for row, metric in enumerate(("test_err", "train_loss")):
    for col, (name, (surf, pts)) in enumerate(fig1_planes.items()):
        plot_plane(
            surf,
            metric,
            points=pts,
            levels=fig1_levels[metric],
            ax=axes[row, col],
            title=f"{name}: " + ("test error (%)" if row == 0 else "train loss"),
            xlabel="L2, towards SWA",
            ylabel="L2, towards SGD",
        )
fig_f1.tight_layout()
plt.close(fig_f1)

# %% tags=["remove-input"]
glue("nb04_sgd_swa_plane", fig_f1, display=False)
glue_text("nb04_start_epoch", f"epoch {START}")
for key, name in zip(("recipe", "ratio1"), RATES):
    row = fig1_summary[name]
    glue_text(f"nb04_f1_{key}_name", name)
    glue_text(f"nb04_f1_{key}_err", row["SWA - SGD test error"])
    glue_text(f"nb04_f1_{key}_verdict", f"{row['interval']}; {row['Holm']} after Holm")
    glue_text(f"nb04_f1_{key}_loss", row["SWA - SGD train loss"])

# %% [markdown]
# ```{glue:figure} nb04_sgd_swa_plane
# :name: fig-nb04-sgd-swa-plane
#
# Test error (top, %) and train loss (bottom) on the plane through the SGD state after
# `SWA_START - 1` epochs ("start"), the SGD solution at the end of its schedule and the SWA
# solution run from the start, for the two SWA rates (columns); shared levels per row. Look at
# where SGD and SWA sit relative to the lowest bands of each surface: the paper's figure shows
# SWA near the centre of the low test-error region and SGD at its edge.
# ```
#
# Over {glue:text}`nb04_n_seeds`, SWA started from the SGD state after
# {glue:text}`nb04_start_epoch` against the SGD solution:
#
# * {glue:text}`nb04_f1_recipe_name`: SWA - SGD test error {glue:text}`nb04_f1_recipe_err`,
#   the interval {glue:text}`nb04_f1_recipe_verdict`; train loss
#   {glue:text}`nb04_f1_recipe_loss`;
# * {glue:text}`nb04_f1_ratio1_name`: SWA - SGD test error {glue:text}`nb04_f1_ratio1_err`,
#   the interval {glue:text}`nb04_f1_ratio1_verdict`; train loss
#   {glue:text}`nb04_f1_ratio1_loss`.
#
# The protocol is the paper's (SWA branched from the SGD run), the scale ours: an MLP on
# MNIST-1D with 1,000 test signals for 60 epochs, where the paper has a PreResNet-164 on
# CIFAR-100 for 150.

# %%
from swa_lib.reporting.ledger import Claim, record_claims

scale = f"MNIST-1D, MLP, {EPOCHS} epochs, {len(REGIME_SEEDS)} seeds"
claims = [
    Claim(
        item="Figure 1",
        regime=f"{name}, branched from SGD after {START} epochs",
        protocol="paper",
        scale=scale,
        statistic="SWA - SGD test error on the plane (points)",
        estimate=fig1_summary[name]["estimate"],
        low=fig1_summary[name]["low"],
        high=fig1_summary[name]["high"],
        n=len(REGIME_SEEDS),
        expected="negative",
    )
    for name in RATES
] + [
    Claim(
        item="Figure 3",
        regime=name
        if name != "cyclic"
        else (
            f"cyclic {CYCLIC_LR_MAX:g} -> {CYCLIC_LR_MIN:g}, c = {CYCLE_EPOCHS} epochs"
        ),
        protocol="ours",
        scale=scale,
        statistic="SWA - mean of the plane's three iterates, test error (points)",
        estimate=traj_summary[name]["estimate"],
        low=traj_summary[name]["low"],
        high=traj_summary[name]["high"],
        n=len(REGIME_SEEDS),
        expected="negative",
    )
    for name in TRAJECTORIES
]
record_claims(RUNS_DIR, "04_trajectory_plane", claims)

# %% [markdown]
# ## Conclusion
#
# The plane through the SGD iterates of epochs {glue:text}`nb04_epochs` (of the
# {glue:text}`nb04_n_snap` the run averages) is {glue:text}`nb04_dx:.2f` by
# {glue:text}`nb04_dy:.2f` L2 units: at the constant rate the iterate keeps travelling through
# weight space during the averaging phase. The SWA point lies {glue:text}`nb04_off_plane:.2f`
# L2 units off this plane.
#
# * **Train loss** (with the weight-decay term): the three iterates have
#   {glue:text}`nb04_iter_loss`, the SWA model {glue:text}`nb04_swa_loss:.3f` (lower than
#   {glue:text}`nb04_lower_loss` iterates), and the lowest point of the whole grid
#   {glue:text}`nb04_grid_min_loss:.3f`. The drop is in the cross-entropy (train NLL
#   {glue:text}`nb04_iter_nll` at the iterates, {glue:text}`nb04_swa_nll:.3f` at SWA); the
#   penalty $\tfrac{\lambda}{2}\|w\|^2$ is {glue:text}`nb04_wd_iter` at the iterates (the
#   weights grow during the phase) and {glue:text}`nb04_wd_swa:.3f` at SWA.
# * **Test error**: the iterates have {glue:text}`nb04_iter_err` %, SWA
#   {glue:text}`nb04_swa_err:.1f` % (lower than {glue:text}`nb04_lower_err` iterates); the best
#   grid point has {glue:text}`nb04_grid_min_err:.1f` %.
# * **On the plane**, the point under SWA has train loss {glue:text}`nb04_proj_loss:.3f` and test
#   error {glue:text}`nb04_proj_err:.1f` %, and the centroid of the three iterates (their own
#   average, which lies on the plane) {glue:text}`nb04_mean3_loss:.3f` and
#   {glue:text}`nb04_mean3_err:.1f` %.
#
# So the picture of the paper's first figure holds in this slice of a weight space of
# {glue:text}`nb04_n_params`: the iterates sit on the slopes of a bowl of train loss, and
# averaging even three of them lands near its bottom. The full average of all the snapshots does
# better than any point of the plane, because it leaves the plane: the other iterates pull it in
# directions the plane does not contain. The planes are one seed, and the test error counts
# {glue:text}`nb04_n_test`, so differences of a few tenths of a point are a handful of signals;
# over {glue:text}`nb04_n_seeds` SWA's test error minus that of the three iterates it is drawn
# with is {glue:text}`nb04_traj_const` for the constant rate ({glue:text}`nb04_traj_const_verdict`)
# and {glue:text}`nb04_traj_cyc` for the cyclic one ({glue:text}`nb04_traj_cyc_verdict`), the
# two halves of the paper's Figure 3.
#
# On the plane of the paper's Figure 1 (middle and right) -- SWA started from the SGD run's
# state after {glue:text}`nb04_start_epoch`, against the SGD run's end -- SWA - SGD test error
# is {glue:text}`nb04_f1_recipe_err` at {glue:text}`nb04_f1_recipe_name`
# ({glue:text}`nb04_f1_recipe_verdict`) and {glue:text}`nb04_f1_ratio1_err` at
# {glue:text}`nb04_f1_ratio1_name` ({glue:text}`nb04_f1_ratio1_verdict`).
# {doc}`Notebook 05 <05_width_rays>` asks whether the region around SWA is also wider in random
# directions, and {doc}`notebook 06 <06_sgd_to_swa_line>` follows the line from SGD to SWA.
#
# ## Exercises
#
# ```{exercise}
# :label: ex-nb04-consecutive
# Build the plane from three *consecutive* snapshots (e.g. `picks = [0, 1, 2]`). How do $d_x$
# and $d_y$ compare with the plane above, and where does the SWA point (the average of all
# snapshots) land now?
# ```
#
# ```{solution} ex-nb04-consecutive
# :class: dropdown
# Consecutive iterates are one epoch apart, so the plane is much smaller (compare `dx`, `dy`),
# and the grid covers only a small patch around the start of the averaging phase. SWA averages
# iterates from the whole phase: its projection lands outside (or at the edge of) that patch and
# it lies far from the plane (`off_plane`), so the picture says little about it. The paper's
# choice of points spread over the phase is what makes the figure informative.
# ```
#
# ```{exercise}
# :label: ex-nb04-sgd-plane
# The paper's other planes go through the SGD solution, the SWA solution and the point where
# both started. Draw the plane through notebook 01's SGD baseline (`run(TrainConfig(**base,
# seed=SEED, swa=False), RUNS_DIR).load_model("sgd")`), the SWA model and the first snapshot.
# Which of the two solutions is closer to the edge of the low train-loss region?
# ```
#
# ```{solution} ex-nb04-sgd-plane
# :class: dropdown
# Compute `u, v, dx, dy = plane_basis(w1, w_sgd, w_swa)` (or any order) and call
# `evaluate_plane` with the same options; mark the three points with `plane_coordinates`.
# The SGD baseline ends its decaying schedule at a point of low train loss; compare the train
# loss and test error at the two solutions in the table that `evaluate_at` gives, and how far
# each is from the contour where the train loss has risen by a fixed amount.
# {doc}`06_sgd_to_swa_line` answers the one-dimensional version of this question.
# ```
#
# ```{exercise}
# :label: ex-nb04-nll
# Redraw the left panel with `"test_nll"` instead of `"test_err"`. Is the SWA point closer to
# the minimum of the test NLL than to the minimum of the test error?
# ```
#
# ```{solution} ex-nb04-nll
# :class: dropdown
# `plot_plane(surface, "test_nll", points=coords)`: the surface is already computed (the grid
# stores four metrics). The NLL is a smooth function of the weights, so its minimum is better
# defined than that of the error, which changes in steps of 0.1 points (one test signal).
# Compare the grid minimum of `surface["test_nll"]` with the table's value at SWA.
# ```
