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
# # Fast Geometric Ensembling: does SWA approximate the ensemble?
#
# **The question.** The SWA paper {cite:p}`izmailov2018swa` rests its second argument on Fast
# Geometric Ensembling (FGE, {cite:p}`garipov2018loss`): SGD with a short cyclic learning rate
# collects snapshots whose *predictions* are averaged; SWA averages the *weights* of such points
# and, the paper argues (its Section 3.5), predicts almost what the ensemble predicts at the cost
# of one model. Its Table 1 puts FGE beside SGD and SWA at the same budget. At laptop scale, with
# enough seeds to tell: is FGE better than SWA, and how close are SWA's predictions to FGE's?
#
# **[Open in Colab](https://colab.research.google.com/github/swa-book/swa-book/blob/main/notebooks/13_fge.ipynb)**
#
# **Cost.** Laptop profile (the defaults below): per seed (5 seeds) the SGD and SWA runs of
# {doc}`03_results_table`, then two 46-epoch pretraining runs and two 14-epoch FGE runs, a
# 15 x 15 plane and the prediction comparisons. Measured with notebook 03's runs in the cache:
# 78 s of CPU time (one torch thread, so about as long in wall time on a quiet 2-core CPU);
# 11 s when everything is cached; notebook 03's ten MLP runs add about a minute when they are
# not cached. Paper profile: the same comparison on CIFAR-100 with PreResNet-164 and the SWA
# paper's recipe (150 epochs, SWA from epoch 126 at rate 0.05; FGE from epoch 127 in cycles of
# 2 epochs between 0.05 and 0.01, the reference's FGE rates for that model;
# `presets.experiment_base`), five seeds, a 21 x 21 plane: about 3,000 epochs and 800
# evaluations, about 24 GPU-hours at the per-epoch and per-evaluation times measured on one
# H100 for {doc}`11_cifar_paper_scale` (`presets.paper_gpu_hours`); without CIFAR-100 under
# `data/` it stops in its first code cell, saying how to get it. Then FGE on CIFAR with the
# reference recipe -- per model and seed one budget more than
# {doc}`11_cifar_paper_scale` (whose SGD and SWA runs it shares), about 0.4 (VGG16), 1.5
# (WRN-28-10) and 4.4 (PreResNet-164) GPU-hours on an H100 by that notebook's timings.
#
# **Prerequisites.** {doc}`01_quickstart` and {doc}`03_results_table` (the runs compared here),
# {doc}`04_trajectory_plane` (the plane construction), {doc}`../book/bayesian_view` (averaging
# predictions versus averaging weights).

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
SEEDS = [0, 1, 2, 3, 4]
EPOCHS = 60  # the budget E (notebooks 01 and 03)
SWA_START = 45  # first averaged epoch of the SWA run
SWA_LR = 0.05  # the SWA run's constant rate
NUM_SAMPLES = 5000  # MNIST-1D samples (4/5 train, 1/5 test)
DATASET = "mnist1d"  # paper profile: "cifar100" (presets.experiment_base)
MODEL = "mlp"
FGE_CYCLE = 2  # epochs per FGE cycle (the reference's CIFAR recipes: 2)
FGE_LR_1 = 0.05  # rate at the ends of a cycle: SWA_LR, the rate of the starting iterate
FGE_LR_2 = (
    0.01  # rate at the middle, where snapshots are taken (lr_1 / 5, as the reference)
)
GRID_POINTS = 15  # plane grid per axis (Garipov et al.: 21)
GRID_MARGIN = 0.2  # the grid spans -margin .. 1 + margin in units of dx, dy
PLANE_SEED = 0  # whose snapshots span the plane
CIFAR = False  # also run FGE on CIFAR with the reference recipe (paper profile)
CIFAR_DATASET = "cifar100"
CIFAR_MODELS = [
    "vgg16",
    "preresnet164",
    "wrn28_10",
]  # names of swa_lib.training.fge.FGE_RECIPES
CIFAR_SEEDS = [0]
DOWNLOAD = False  # fetch CIFAR with torchvision if missing (needs internet)
CIFAR_FAKE = False  # smoke test: a tiny fake CIFAR; its numbers mean nothing
CIFAR_NUM_SAMPLES = None  # fake CIFAR: its size
CIFAR_BUDGET_EPOCHS = None  # None: the recipes' epochs; an int shrinks them (smoke)
CIFAR_SWA_START = None  # None: the recipe's; smoke: small enough to leave FGE an epoch
CIFAR_OVERRIDES = {}  # extra TrainConfig fields for every CIFAR run
OVERRIDES = {}  # extra TrainConfig fields of every run (fake-CIFAR test: batch)
RUNS_DIR = "../runs"
DATA_DIR = "../data"
DEVICE = "cpu"

# %%
import time
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import display

from swa_lib.data import CIFAR_FOLDERS, iterate_batches, load_dataset
from swa_lib.landscape import (
    evaluate_plane,
    get_flat_params,
    plane_basis,
    plane_coordinates,
)
from swa_lib.landscape.summary import evaluate_at
from swa_lib.metrics import accuracy, nll
from swa_lib.plotting import plot_plane
from swa_lib.reporting import (
    glue,
    glue_number,
    glue_text,
    mean_std_text,
    paired_text,
    pct_mean_std,
    verdict,
)
from swa_lib.reporting.published import DATASET_LABELS, MODEL_LABELS, swa_readme_table
from swa_lib.testing import write_fake_cifar
from swa_lib.training import TrainConfig, resolve_device, run, sgd_and_swa
from swa_lib.training.fge import (
    FGE_RECIPES,
    FGEConfig,
    average_models,
    compare_predictions,
    fge_lr,
    predict_ensemble,
    run_fge,
)
from swa_lib.training.presets import (
    PAPER_RECIPES,
    experiment_base,
    paper_cifar,
    require_dataset,
)

torch.set_num_threads(1)
require_dataset(DATASET, DATA_DIR)  # without CIFAR the paper profile stops here
warnings.filterwarnings(
    "ignore", message="IProgress not found"
)  # tqdm without ipywidgets
T_START, CPU_START = time.perf_counter(), time.process_time()

# %% [markdown]
# ## FGE in a few lines
#
# FGE {cite:p}`garipov2018loss` starts from a trained network and runs SGD with a learning rate
# that goes, per iteration, from $\alpha_1$ down to $\alpha_2$ and back up over every cycle of
# $c$ epochs (the authors' code {cite:p}`garipov2018fgecode`, `utils.cyclic_learning_rate`):
#
# $$ t = \frac{e \bmod c}{c},\qquad
#    \alpha(t) = \begin{cases} (1 - 2t)\,\alpha_1 + 2t\,\alpha_2 & t < \tfrac12 \\
#    (2t - 1)\,\alpha_1 + (2 - 2t)\,\alpha_2 & t \ge \tfrac12 \end{cases} $$
#
# with $e$ the epochs since FGE began, fractional inside an epoch. At the middle of every cycle,
# where the rate is $\alpha_2$, the iterate is saved; the ensemble's prediction is the mean of
# the $K$ snapshots' softmax outputs,
# $p_{\mathrm{FGE}}(y \mid x) = \frac1K \sum_k \mathrm{softmax}(f_{w_k}(x))_y$. SWA instead
# predicts with the single network $f_{\bar w}$, $\bar w = \frac1K \sum_k w_k$ (BatchNorm
# statistics recomputed for $\bar w$). To first order in the spread of the $w_k$ the two
# agree, which is the paper's Section 3.5 argument; how close they are at a finite spread is
# what this notebook measures. In the library:
#
# ```python
# from swa_lib.training.fge import FGEConfig, run_fge, predict_ensemble
#
# fge = run_fge(FGEConfig(pretrained_config, epochs=14, cycle=2, lr_1=0.05, lr_2=0.01), RUNS_DIR)
# probs = predict_ensemble(fge.load_snapshots(), test_batches)  # (N, C), exact over the set
# swa = fge.load_model("swa")       # the SWA of the same snapshots, BN recomputed (a by-product)
# ```
#
# ## Protocol: the same budget for everyone
#
# FGE's budget counts the pretraining it starts from: the FGE authors' recipe
# {cite:p}`garipov2018fgecode` trains 160 epochs of a 200-epoch SGD run and spends the last 40
# on FGE cycles, and their results table calls that one budget. Here the budget is
# $E$ = `EPOCHS` epochs for every method:
#
# * **SGD**: notebook 01's baseline, $E$ epochs with the decaying schedule;
# * **SWA**: notebook 01's SWA run, $E$ epochs, averaging from epoch `SWA_START` at `SWA_LR`;
# * **FGE**: the SWA run's own trajectory up to epoch $s + 1$, $s$ = `SWA_START` (its SGD
#   iterate; the schedule does not depend on the run's length and evaluation draws no
#   randomness, so this *is* the prefix of the SWA run, as {doc}`03_results_table` checks for
#   SWA runs of different lengths), then $E - s - 1$ epochs of FGE cycles. FGE and SWA share
#   every epoch before averaging begins and differ only in what they do with (about) the last
#   quarter of the budget: SWA averages weights along a constant rate, FGE ensembles
#   predictions along cycles. The
#   starting iterate is at a high rate, like the reference's checkpoint (epoch 160 of 200,
#   whose rate is still 26 % of the initial one); a fully decayed start is tried as a check.
#
# One epoch more than `SWA_START` is needed because a `TrainConfig` SWA run must be longer than
# its `swa_start`. As in the reference code, the last epoch of the last cycle (after its
# snapshot) is trained and counted, although no snapshot comes of it.

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
    **OVERRIDES,
)  # = notebook 01
PRE_EPOCHS = SWA_START + 1
FGE_EPOCHS = EPOCHS - PRE_EPOCHS


def fge_config(seed: int, start: str) -> FGEConfig:
    """FGE for ``seed`` from the SWA run's iterate (``start="swa_run"``) or from a
    converged SGD run of ``PRE_EPOCHS`` epochs (``"sgd_run"``); both spend the rest of
    the budget on FGE."""
    pre = TrainConfig(
        **{**base, "epochs": PRE_EPOCHS, "eval_every": None},
        seed=seed,
        swa=start == "swa_run",
    )
    return FGEConfig(
        pre,
        which="sgd",
        epochs=FGE_EPOCHS,
        cycle=FGE_CYCLE,
        lr_1=FGE_LR_1,
        lr_2=FGE_LR_2,
    )


pairs = {p.seed: p for p in sgd_and_swa(base, SEEDS, RUNS_DIR)}  # notebooks 01 and 03
fges = {
    (s, start): run_fge(fge_config(s, start), RUNS_DIR)
    for s in SEEDS
    for start in ("swa_run", "sgd_run")
}
n_cached = sum(p.sgd.cached + p.swa.cached for p in pairs.values()) + sum(
    f.cached for f in fges.values()
)
main = {s: fges[s, "swa_run"] for s in SEEDS}
K = main[SEEDS[0]].final["n_snapshots"]
budgets = {f.final["budget_epochs"] for f in fges.values()}
assert budgets == {EPOCHS}, budgets
print(
    f"{2 * len(pairs)} SGD/SWA runs and {len(fges)} FGE runs "
    "(each with its pretraining run); "
    f"{n_cached} of them from the cache. "
    f"FGE: {PRE_EPOCHS} + {FGE_EPOCHS} epochs, {K} snapshots "
    f"(after FGE epochs {main[SEEDS[0]].final['snapshot_epochs']})"
)

# %%
cfg0, m0 = main[SEEDS[0]].config, main[SEEDS[0]].metrics
iters = -(-main[SEEDS[0]].final["n_train"] // cfg0.batch_size)
steps = np.arange(FGE_EPOCHS * iters) / iters
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(7, 3))
ax0.plot(
    PRE_EPOCHS + steps,
    [fge_lr(e, lr_1=FGE_LR_1, lr_2=FGE_LR_2, cycle=FGE_CYCLE) for e in steps],
    color="C2",
    label="FGE (per step)",
)
ax0.axhline(SWA_LR, color="C3", ls="--", label="SWA run (constant)")
ax0.plot(
    PRE_EPOCHS + m0.loc[m0.snapshot, "epoch"], [FGE_LR_2] * K, "kv", label="snapshot"
)
ax0.set(
    xlabel="epoch of the budget",
    ylabel="learning rate",
    ylim=(0, 1.45 * FGE_LR_1),
    title="the last epochs of the budget",
)
ax0.legend(fontsize=8, loc="upper right", ncol=3)
snap_rows = m0[m0.snapshot]
ax1.plot(
    PRE_EPOCHS + snap_rows.epoch,
    100 * (1 - snap_rows.snap_test_accuracy),
    "o-",
    color="C0",
    label="one snapshot",
)
ax1.plot(
    PRE_EPOCHS + snap_rows.epoch,
    100 * (1 - snap_rows.ens_test_accuracy),
    "s-",
    color="C2",
    label="FGE ensemble so far",
)
ax1.axhline(
    100 * (1 - pairs[SEEDS[0]].swa.final["swa_test_accuracy"]),
    color="C3",
    ls="--",
    label="SWA run (final)",
)
ax1.axhline(
    100 * (1 - pairs[SEEDS[0]].sgd.final["sgd_test_accuracy"]),
    color="grey",
    ls=":",
    label="SGD (final)",
)
ax1.set(xlabel="epoch of the budget", ylabel="test error (%)", title=f"seed {SEEDS[0]}")
ax1.legend(fontsize=8)
fig.tight_layout()
plt.close(fig)

# %% tags=["remove-input"]
glue("nb13_schedule", fig, display=False)

# %% [markdown]
# ```{glue:figure} nb13_schedule
# :name: fig-nb13-schedule
#
# Left: the learning rate of the FGE phase, per step, over the last epochs of the budget, with
# the snapshots (triangles) at the cycles' minima; the SWA run stays at its constant rate over
# the same epochs. Right, for one seed: the test error of each snapshot and of the ensemble of
# the snapshots so far, against the final SGD and SWA models. Look at how much the ensemble
# gains over its members, and where it ends relative to the SWA line.
# ```
#
# ## Table 1 with its FGE column
#
# Test accuracy (%) and test NLL (nats) over the seeds, mean ± std, every method with the same
# budget of $E$ epochs. "SWA of the FGE snapshots" is the by-product of the FGE run: one model,
# the average of the same snapshots the ensemble uses (the comparison of Section 3.5). "FGE from
# converged SGD" starts from an SGD run of `PRE_EPOCHS` epochs with its own decaying schedule.

# %%
rows = []
for s in SEEDS:
    p, f, g = pairs[s], main[s], fges[s, "sgd_run"]
    rows += [
        dict(
            seed=s,
            method="SGD",
            acc=p.sgd.final["sgd_test_accuracy"],
            nll=p.sgd.final["sgd_test_nll"],
            models=1,
        ),
        dict(
            seed=s,
            method="SWA",
            acc=p.swa.final["swa_test_accuracy"],
            nll=p.swa.final["swa_test_nll"],
            models=1,
        ),
        dict(
            seed=s,
            method="FGE",
            acc=f.final["fge_test_accuracy"],
            nll=f.final["fge_test_nll"],
            models=f.final["n_snapshots"],
        ),
        dict(
            seed=s,
            method="SWA of the FGE snapshots",
            acc=f.final["swa_test_accuracy"],
            nll=f.final["swa_test_nll"],
            models=1,
        ),
        dict(
            seed=s,
            method="FGE from converged SGD",
            acc=g.final["fge_test_accuracy"],
            nll=g.final["fge_test_nll"],
            models=g.final["n_snapshots"],
        ),
    ]
res = pd.DataFrame(rows)
METHODS = list(dict.fromkeys(res.method))
by = res.groupby("method", sort=False)
table = pd.DataFrame(
    {
        "test accuracy (%)": by["acc"].agg(pct_mean_std),
        "test NLL": by["nll"].agg(lambda x: mean_std_text(x, 3)),
        "models at test time": by["models"].first(),
        "budget (epochs)": EPOCHS,
    }
).loc[METHODS]
table.index.name = f"MNIST-1D {MODEL}, {len(SEEDS)} seeds"
display(table)

# %% [markdown]
# The paired differences that decide it, FGE minus SGD and FGE minus SWA on the same seed (same
# initialisation and data order for the shared epochs), with the 95 % Student-t interval of the
# mean difference: accuracy in points (positive: FGE better), NLL in nats (negative: FGE better).

# %%
wide = res.pivot(index="seed", columns="method", values=["acc", "nll"])
COMPARE = [
    ("FGE", "SGD"),
    ("FGE", "SWA"),
    ("SWA of the FGE snapshots", "SWA"),
    ("FGE", "SWA of the FGE snapshots"),
    ("FGE", "FGE from converged SGD"),
]
WHO = ["FGE", "FGE", "the snapshots' SWA", "FGE", "the start on the SWA trajectory"]
diff_rows = []
for (a, b), who in zip(COMPARE, WHO):
    d_acc, d_nll = wide["acc", a] - wide["acc", b], wide["nll", a] - wide["nll", b]
    diff_rows.append(
        {
            "comparison": f"{a} - {b}",
            "accuracy (points)": paired_text(d_acc),
            "NLL": paired_text(d_nll, scale=1.0, digits=3, unit=" nats"),
            "accuracy verdict": verdict(d_acc, better="higher", who=who),
            "NLL verdict": verdict(d_nll, better="lower", who=who),
            "first more accurate (seeds)": f"{int((d_acc > 0).sum())}/{len(d_acc)}",
        }
    )
diffs = pd.DataFrame(diff_rows).set_index("comparison")
display(diffs)

# %%
KEYS = {
    "SGD": "sgd",
    "SWA": "swa",
    "FGE": "fge",
    "SWA of the FGE snapshots": "snapswa",
    "FGE from converged SGD": "fge_sgdstart",
}
for method, key in KEYS.items():
    glue_text(f"nb13_{key}_acc", pct_mean_std(by["acc"].get_group(method)))
    glue_text(f"nb13_{key}_nll", mean_std_text(by["nll"].get_group(method), 3))
DIFF_KEYS = ["fge_sgd", "fge_swa", "snapswa_swa", "fge_snapswa", "fge_start"]
for key, (a, b) in zip(DIFF_KEYS, COMPARE):
    r = diffs.loc[f"{a} - {b}"]
    glue_text(f"nb13_{key}_acc", r["accuracy (points)"])
    glue_text(f"nb13_{key}_nll", r["NLL"])
    glue_text(f"nb13_{key}_acc_verdict", r["accuracy verdict"])
    glue_text(f"nb13_{key}_nll_verdict", r["NLL verdict"])


def plainly(
    diffs_: pd.Series, better: str, what: str, a: str = "FGE", b: str = "SWA"
) -> str:
    """Who beats whom in ``what``, in words, from the paired interval of ``a - b``."""
    v = verdict(diffs_, better=better, who=a)
    if v.endswith(f"in favour of {a}"):
        return f"{a} beats {b} in {what}"
    if v.endswith(f"against {a}"):
        return f"{b} beats {a} in {what}"
    if "one seed" in v:
        return f"one seed cannot tell {a} and {b} apart in {what}"
    return f"neither {a} nor {b} is ahead in {what} (the interval includes zero)"


_ = glue("nb13_diffs", diffs, display=False)

# %% tags=["remove-input"]
for metric, better, what in (
    ("acc", "higher", "test accuracy"),
    ("nll", "lower", "test NLL"),
):
    glue_text(
        f"nb13_plain_{metric}",
        plainly(wide[metric, "FGE"] - wide[metric, "SWA"], better, what),
    )
    glue_text(
        f"nb13_plain_sgd_{metric}",
        plainly(wide[metric, "FGE"] - wide[metric, "SGD"], better, what, b="SGD"),
    )
glue_text("nb13_n_seeds", str(len(SEEDS)))
glue_text("nb13_k", f"{K} snapshots")
glue_text("nb13_budget", f"{EPOCHS} epochs")
glue_text("nb13_split", f"{PRE_EPOCHS} + {FGE_EPOCHS} epochs")
glue_text("nb13_n_test", f"{main[SEEDS[0]].final['n_test']} test signals")
glue("nb13_table", table, display=False)


# %% [markdown]
# ## The published FGE numbers
#
# The FGE column of the SWA paper's Table 1 {cite:p}`izmailov2018swa` could not be checked
# against a source available to this book, so it is not reproduced here. What can be checked is
# the table in the README of the FGE authors' code {cite:p}`garipov2018fgecode`: CIFAR-100 test
# accuracy (%) of FGE and of an ensemble of independently trained networks ("Ind") at one
# budget of 200 epochs, the FGE phase being the last 40 of them. **These are their numbers, not
# ours**; the SGD (in parentheses: its budget in epochs) and SWA 1 numbers of the SWA README
# {cite:p}`garipov2018swacode` are shown beside them for context (PreResNet-164's SGD and SWA
# budget there is 150 epochs, not 200).

# %%
# README of timgaripov/dnn-mode-connectivity, lines 251-256: 1 budget (200)
PUBLISHED_FGE = {
    "vgg16": {"Ind": (72.5, 0.1), "FGE": (74.6, 0.1)},
    "preresnet164": {"Ind": (78.4, 0.1), "FGE": (80.3, 0.2)},
    "wrn28_10": {"Ind": (80.8, 0.3), "FGE": (82.3, 0.2)},
}
swa_pub = swa_readme_table("cifar100")  # the SWA README, as notebooks 03 and 11 show it
swa_pub_num = swa_readme_table("cifar100", text=False)
published = pd.DataFrame(
    {
        MODEL_LABELS[m]: {
            "FGE, 1 budget": "{:.1f} ± {:.1f}".format(*v["FGE"]),
            "Ind, 1 budget": "{:.1f} ± {:.1f}".format(*v["Ind"]),
            "SGD (SWA README; budget)": (
                f"{swa_pub.loc[m, 'SGD']} ({PAPER_RECIPES[m]['budget']})"
            ),
            "SWA 1 (SWA README)": swa_pub.loc[m, "SWA 1"],
        }
        for m, v in PUBLISHED_FGE.items()
    }
).T
published.index.name = "CIFAR-100, published"
fge_minus_swa = [
    v["FGE"][0] - swa_pub_num.loc[m, "SWA 1"] for m, v in PUBLISHED_FGE.items()
]
display(
    published.style.set_caption(
        "Published by Garipov et al. (README of timgaripov/dnn-mode-connectivity) "
        "and Izmailov et al. (README of timgaripov/swa): CIFAR-100 test accuracy (%). "
        "Not computed in this book."
    )
)

# %% tags=["remove-input"]
glue_text(
    "nb13_pub_fge_swa", f"{min(fge_minus_swa):+.2f} to {max(fge_minus_swa):+.2f} points"
)

# %% [markdown]
# ## Figure 1, left: the plane through three FGE snapshots
#
# The paper's Figure 1 (left) draws the test error on the plane through three FGE samples and
# marks their weight average, which lies in that plane. Here the plane runs through the first,
# the middle and the last snapshot of seed `PLANE_SEED` (Gram-Schmidt basis, `plane_basis`, as
# in {doc}`04_trajectory_plane`); the SWA of *all* the snapshots generally lies off the plane,
# so it is placed by its orthogonal projection and its distance from the plane is printed.
# Train loss includes the weight-decay term (the objective SGD minimises). The MLP has no
# BatchNorm, so `bn_recompute=True` is a no-op here; the grid is cached under `RUNS_DIR`.

# %%
plane_fge = main[PLANE_SEED]
snaps = plane_fge.load_snapshots(device)
w_all = torch.stack([get_flat_params(m) for m in snaps])
picks = sorted({0, (len(snaps) - 1) // 2, len(snaps) - 1})
assert len(picks) == 3, (
    "the plane needs three distinct snapshots (FGE_EPOCHS >= 3 cycles)"
)
w1, w2, w3 = (w_all[i] for i in picks)
u, v, dx, dy = plane_basis(w1, w2, w3)
w_mean3 = (w1 + w2 + w3) / 3
w_swa = get_flat_params(plane_fge.load_model("swa", device))
assert torch.allclose(w_swa, w_all.mean(0), atol=1e-5)
swa_xy = plane_coordinates(w_swa, w1, u, v)
w_swa_proj = w1 + swa_xy[0] * u + swa_xy[1] * v
off_plane = float((w_swa - w_swa_proj).norm())
mean3_xy = plane_coordinates(w_mean3, w1, u, v)
mean3_off = float((w_mean3 - (w1 + mean3_xy[0] * u + mean3_xy[1] * v)).norm())
snap_epochs = [PRE_EPOCHS + e for e in plane_fge.final["snapshot_epochs"]]
coords = {
    f"$w_{k}$": plane_coordinates(w, w1, u, v) for k, w in enumerate((w1, w2, w3), 1)
}
print(
    f"dx = {dx:.3f}, dy = {dy:.3f}; SWA of all {K} snapshots at ({swa_xy[0]:.3f}, "
    f"{swa_xy[1]:.3f}), {off_plane:.3f} from the plane "
    f"(|w| = {float(w_swa.norm()):.1f}); "
    f"mean of the three: {mean3_off:.1e} from the plane"
)

ds0 = plane_fge.dataset(device=device)
options = dict(
    data=ds0,
    metrics=("train_loss", "test_error", "test_nll"),
    weight_decay=cfg0.weight_decay,
    bn_recompute=True,
    cache=Path(RUNS_DIR) / "landscapes",
)
ticks = np.linspace(-GRID_MARGIN, 1 + GRID_MARGIN, GRID_POINTS)
surface = evaluate_plane(snaps[0], w1, u, v, ticks * dx, ticks * dy, **options)
print(f"{GRID_POINTS}x{GRID_POINTS} grid: {surface.evaluated} points evaluated now")

# %%
fig, axes = plt.subplots(1, 2, figsize=(7, 3.4))
for ax, metric in zip(axes, ("test_error", "train_loss")):
    plot_plane(
        surface,
        metric,
        points=coords,
        ax=ax,
        xlabel="$a$ (L2, along $u$)",
        ylabel="$b$ (L2, along $v$)",
    )
    # the two averages lie close together: marked here with labels on opposite sides
    for (px, py), label, marker, offset in (
        (mean3_xy, "mean of $w_1, w_2, w_3$", "s", (6, -14)),
        (swa_xy, f"SWA of all {K} (projected)", "*", (6, 6)),
    ):
        ax.scatter([px], [py], s=90, c="k", marker=marker, zorder=3, edgecolors="white")
        ax.annotate(
            label,
            (px, py),
            xytext=offset,
            textcoords="offset points",
            fontsize=10,
            zorder=4,
        )
fig.tight_layout()
plt.close(fig)

# %% tags=["remove-input"]
glue("nb13_plane", fig, display=False)

# %% [markdown]
# ```{glue:figure} nb13_plane
# :name: fig-nb13-plane
#
# Test error (left, a fraction) and train loss with the weight-decay term (right) on the plane
# through three FGE snapshots of one seed ($w_1$, $w_2$, $w_3$: the first, middle and last
# snapshot), contour levels log-spaced above the minimum. Marked: the snapshots (dots), their
# mean (square; in the plane by construction) and the projection of the SWA of all the
# snapshots (star). Look at
# whether the averages sit lower than the snapshots on both surfaces, as in the paper's figure.
# ```

# %%
points = {f"w{k}": w for k, w in enumerate((w1, w2, w3), 1)}
points["mean of w1..w3"] = w_mean3
points[f"SWA of all {K}, projected"] = w_swa_proj
points[f"SWA of all {K}"] = w_swa
at = evaluate_at(snaps[0], points, **options)
at.columns = ["train loss", "test error (%)", "test NLL"]
at["test error (%)"] *= 100
test_batches = list(iterate_batches(ds0.x_test, ds0.y_test, 1000, shuffle=False))
ens3 = predict_ensemble([snaps[i] for i in picks], test_batches)
ensK = predict_ensemble(snaps, test_batches)
at.loc["FGE ensemble of w1..w3"] = [
    np.nan,
    100 * (1 - accuracy(ens3, ds0.y_test)),
    nll(ens3, ds0.y_test),
]
at.loc[f"FGE ensemble of all {K}"] = [
    np.nan,
    100 * (1 - accuracy(ensK, ds0.y_test)),
    nll(ensK, ds0.y_test),
]
at.insert(0, "epoch", [str(snap_epochs[i]) for i in picks] + [""] * 5)
display(
    at.style.format(
        {"train loss": "{:.4f}", "test error (%)": "{:.1f}", "test NLL": "{:.4f}"},
        na_rep="--",
    )
)
iter_err = at.iloc[:3]["test error (%)"]

# %% tags=["remove-input"]
glue_number("nb13_off_plane", off_plane)
glue_number("nb13_w_norm", float(w_swa.norm()))
glue_number("nb13_dx", dx)
glue_number("nb13_dy", dy)
glue_text(
    "nb13_plane_epochs",
    ", ".join(str(snap_epochs[i]) for i in picks[:2]) + f" and {snap_epochs[picks[2]]}",
)
for key, name in (
    ("mean3", "mean of w1..w3"),
    ("swa_all", f"SWA of all {K}"),
    ("ens3", "FGE ensemble of w1..w3"),
    ("ensk", f"FGE ensemble of all {K}"),
):
    glue_number(f"nb13_plane_{key}_err", at.loc[name, "test error (%)"])
glue_text("nb13_plane_iter_err", f"{iter_err.min():.1f} to {iter_err.max():.1f} %")
glue_text(
    "nb13_plane_mean3_lower",
    f"{int((at.loc['mean of w1..w3', 'train loss'] < at.iloc[:3]['train loss']).sum())}"
    " of the 3",
)

# %% [markdown]
# ## Section 3.5 measured: SWA's predictions against the ensemble's
#
# For each seed and each $k = 1, \dots, K$: the ensemble of the first $k$ snapshots (FGE$_k$),
# and three single networks compared with it -- the SWA of the same $k$ snapshots (BN
# recomputed; a no-op for the MLP), the $k$-th snapshot alone, and the SGD baseline. How close
# each is to the ensemble: the mean over test signals of
# $\mathrm{KL}(p_{\mathrm{FGE}_k} \,\|\, p)$ (nats) and the top-1 agreement (the fraction of
# test signals whose predicted class is the ensemble's), computed with
# `swa_lib.training.fge.compare_predictions`. If SWA approximates the ensemble, its KL should be
# far below a single snapshot's and its agreement far above.


# %%
def closeness(fge, fixed: dict, ks) -> pd.DataFrame:
    """FGE_k against the SWA of its k snapshots, its k-th snapshot and ``fixed``
    models: KL, agreement, and each one's test accuracy and NLL (rows per k and
    model)."""
    ds = fge.dataset(device=device)
    snaps = fge.load_snapshots(device)
    batches = list(iterate_batches(ds.x_test, ds.y_test, 1000, shuffle=False))
    y = ds.y_test
    fixed_probs = {who: predict_ensemble([m], batches) for who, m in fixed.items()}
    rows = []
    for k in ks:
        ens = predict_ensemble(snaps[:k], batches)
        swa_k = average_models(
            snaps[:k],
            iterate_batches(
                ds.x_train, ds.y_train, fge.config.batch_size, shuffle=False
            ),
        )
        others = {
            "SWA of the same snapshots": predict_ensemble([swa_k], batches),
            "one snapshot (the k-th)": predict_ensemble([snaps[k - 1]], batches),
            **fixed_probs,
        }
        rows.append(
            dict(
                k=k,
                who="FGE ensemble",
                kl=0.0,
                agreement=1.0,
                accuracy=accuracy(ens, y),
                nll=nll(ens, y),
            )
        )
        for who, p in others.items():
            rows.append(
                dict(
                    k=k,
                    who=who,
                    **compare_predictions(ens, p),
                    accuracy=accuracy(p, y),
                    nll=nll(p, y),
                )
            )
    return pd.DataFrame(rows)


close = pd.concat(
    [
        closeness(
            main[s],
            {
                "SGD": pairs[s].sgd.load_model("sgd", device),
                "SWA run": pairs[s].swa.load_model("swa", device),
            },
            range(1, K + 1),
        ).assign(seed=s)
        for s in SEEDS
    ],
    ignore_index=True,
)
at_k = close[close.k == K]
summary = at_k.groupby("who", sort=False).agg(
    kl=("kl", lambda x: mean_std_text(x, 4)),
    agreement=("agreement", lambda x: pct_mean_std(x)),
    accuracy=("accuracy", lambda x: pct_mean_std(x)),
    nll=("nll", lambda x: mean_std_text(x, 3)),
)
summary.columns = [
    f"KL(FGE_{K} || model), nats",
    "agreement with FGE (%)",
    "test accuracy (%)",
    "test NLL",
]
summary.index.name = f"k = K = {K}, {len(SEEDS)} seeds"
display(summary)

# %%
fig, axes = plt.subplots(1, 3, figsize=(7, 3.9))
STYLE = {
    "FGE ensemble": ("C2", "s"),
    "SWA of the same snapshots": ("C3", "o"),
    "one snapshot (the k-th)": ("C0", "^"),
    "SGD": ("grey", "x"),
    "SWA run": ("C1", "d"),
}
mean_by_k = close.groupby(["who", "k"], sort=False)[
    ["kl", "agreement", "accuracy", "nll"]
]
means, stds = mean_by_k.mean(), mean_by_k.std()
for who, (color, marker) in STYLE.items():
    m, sd = means.loc[who], stds.loc[who]
    for ax, col, scale in (
        (axes[0], "kl", 1),
        (axes[1], "agreement", 100),
        (axes[2], "accuracy", -100),
    ):
        if who == "FGE ensemble" and col != "accuracy":
            continue
        keep = m.index >= (
            1 if col == "accuracy" else 2
        )  # k = 1: the snapshot is the ensemble
        y = 100 + scale * m[col] if scale < 0 else scale * m[col]
        ax.errorbar(
            m.index[keep],
            y[keep],
            yerr=abs(scale) * sd[col][keep],
            color=color,
            marker=marker,
            ms=4,
            capsize=2,
            label=who,
        )
axes[0].set(
    xlabel="k (snapshots in the ensemble)",
    ylabel="mean KL(FGE$_k$ || model) (nats)",
    yscale="log",
    title="distance to the ensemble",
)
axes[1].set(xlabel="k", ylabel="top-1 agreement with FGE$_k$ (%)", title="agreement")
axes[2].set(
    xlabel="k (snapshots averaged or ensembled)",
    ylabel="test error (%)",
    title="test error",
)
fig.tight_layout(rect=(0, 0.2, 1, 1))  # room for the legend below the panels
fig.legend(*axes[2].get_legend_handles_labels(), loc="lower center", ncol=3, fontsize=8)
plt.close(fig)

# %% tags=["remove-input"]
glue("nb13_closeness", fig, display=False)

# %% [markdown]
# ```{glue:figure} nb13_closeness
# :name: fig-nb13-closeness
#
# As the number $k$ of snapshots grows (mean ± std over seeds): left, the mean KL divergence from
# the FGE ensemble of $k$ snapshots to each single network (log scale); middle, the fraction of
# test signals on which it predicts the ensemble's class (both from $k = 2$: an ensemble of one
# is its snapshot); right, the test error of each. Look at
# the gap between the SWA of the same snapshots (red) and one snapshot (blue): that gap is the
# paper's claim that weight averaging stands in for the ensemble.
# ```

# %%
piv = at_k.pivot(index="seed", columns="who", values=["kl", "agreement"])
kl_gap = piv["kl", "one snapshot (the k-th)"] - piv["kl", "SWA of the same snapshots"]
agree_gap = (
    piv["agreement", "SWA of the same snapshots"]
    - piv["agreement", "one snapshot (the k-th)"]
)
ratio = piv["kl", "one snapshot (the k-th)"] / piv["kl", "SWA of the same snapshots"]
kl_v = verdict(kl_gap, better="higher", who="SWA")
if kl_v.endswith("in favour of SWA") and verdict(agree_gap, who="SWA").endswith(
    "of SWA"
):
    claim = (
        "the paper's claim holds here: the weight average of the snapshots predicts "
        "closer to their ensemble than one of the snapshots does"
    )
elif "one seed" in kl_v:
    claim = "one seed cannot test the paper's claim"
else:
    claim = (
        "the paper's claim is not borne out here: "
        "the weight average of the snapshots is "
        "not measurably closer to their ensemble than one of the snapshots"
    )
run_gap = (
    piv["kl", "SGD"] - piv["kl", "SWA run"]
)  # > 0: the SWA run is closer to FGE than SGD
print(
    f"KL(FGE_K || SWA_K) is {ratio.min():.1f}-{ratio.max():.1f} times below "
    "KL(FGE_K || one "
    f"snapshot); paired difference: {verdict(kl_gap, better='higher', who='SWA')}"
)

# %% tags=["remove-input"]
for key, who in (
    ("swa", "SWA of the same snapshots"),
    ("snap", "one snapshot (the k-th)"),
    ("sgd", "SGD"),
    ("swarun", "SWA run"),
):
    glue_text(f"nb13_kl_{key}", mean_std_text(piv["kl", who], 4) + " nats")
    glue_text(f"nb13_agree_{key}", pct_mean_std(piv["agreement", who]) + " %")
glue_text("nb13_kl_ratio", f"{ratio.min():.1f} to {ratio.max():.1f} times")
glue_text("nb13_kl_verdict", verdict(kl_gap, better="higher", who="SWA"))
glue_text("nb13_agree_verdict", verdict(agree_gap, better="higher", who="SWA"))
glue_text("nb13_agree_gap", paired_text(agree_gap))
glue_text("nb13_claim", claim)
glue_text("nb13_swarun_vs_sgd", paired_text(run_gap, scale=1.0, digits=4, unit=" nats"))
glue_text("nb13_swarun_verdict", verdict(run_gap, better="higher", who="the SWA run"))

# %% [markdown]
# ## CIFAR with the reference recipe (paper profile)
#
# At the paper profile (`CIFAR = True`) the same comparison runs on CIFAR with the FGE recipe of
# the authors' README {cite:p}`garipov2018fgecode` (`swa_lib.training.fge.FGE_RECIPES`: cycles
# of 2 epochs, $\alpha_1$ = 0.05 and $\alpha_2$ = 0.01 for PreResNet-164 and WRN-28-10, a
# constant 0.01 for VGG16) and the SGD/SWA recipes of {doc}`11_cifar_paper_scale` (its runs,
# shared). As above, FGE starts from the SWA recipe's iterate one epoch after `swa_start`, where
# its rate has fallen to `swa_lr` -- the rate the FGE recipes cycle from -- and uses the rest of
# the budget. It trains only where CIFAR is on disk and a GPU is present; nothing is invented in
# its place.

# %%
NAME = DATASET_LABELS[CIFAR_DATASET]
data_root, cifar_runs = DATA_DIR, RUNS_DIR
if CIFAR and CIFAR_FAKE:
    if CIFAR_NUM_SAMPLES is None:
        raise ValueError(
            "CIFAR_FAKE needs CIFAR_NUM_SAMPLES (the size of the fake set)"
        )
    data_root = str(Path(RUNS_DIR) / "fake_cifar")  # apart, as in notebook 11
    cifar_runs = str(Path(RUNS_DIR) / "fake_cifar" / "runs")
    n_fake = round(CIFAR_NUM_SAMPLES * 5 / 6)
    write_fake_cifar(
        data_root, CIFAR_DATASET, n_train=n_fake, n_test=CIFAR_NUM_SAMPLES - n_fake
    )
have_cifar = False
if CIFAR:
    try:
        load_dataset(
            CIFAR_DATASET,
            data_root,
            download=DOWNLOAD,
            augment=False,
            num_samples=min(12, CIFAR_NUM_SAMPLES or 12),
        )
        have_cifar = True
    except FileNotFoundError:
        pass
gpu_ok = device != "cpu" or CIFAR_FAKE
if not CIFAR:
    cifar_status = (
        "not run at this profile (CIFAR = False): the paper profile runs it where "
        "CIFAR and a GPU are present"
    )
elif not have_cifar:
    cifar_status = (
        f"not run here: {NAME} is not on disk under {DATA_DIR} (expected "
        f"{CIFAR_FOLDERS[CIFAR_DATASET][0]}/), so nothing was trained"
    )
elif not gpu_ok:
    cifar_status = f"not run here: {NAME} is present but no GPU is (device {device})"
elif CIFAR_FAKE:
    cifar_status = (
        f"run on a FAKE {NAME} of {CIFAR_NUM_SAMPLES} random images (a smoke test "
        f"of the code path; its numbers mean nothing)"
    )
else:
    cifar_status = (
        f"run on {NAME}: {', '.join(CIFAR_MODELS)}, {len(CIFAR_SEEDS)} seed(s)"
    )
print(cifar_status)


def recipe(model: str, budget: float, swa: bool) -> dict:
    """Notebook 11's configuration (the same dict, so the same runs)."""
    cfg = paper_cifar(
        model,
        CIFAR_DATASET,
        budget=budget,
        swa=swa,
        device=DEVICE,
        data_root=data_root,
        num_samples=None if CIFAR_FAKE else CIFAR_NUM_SAMPLES,
        **CIFAR_OVERRIDES,
    )
    if CIFAR_BUDGET_EPOCHS is not None:
        r = PAPER_RECIPES[model]
        cfg["epochs"] = max(2, round((budget if swa else 1) * CIFAR_BUDGET_EPOCHS))
        cfg["swa_start"] = min(
            max(1, round(CIFAR_BUDGET_EPOCHS * r["swa_start"] / r["budget"])),
            CIFAR_BUDGET_EPOCHS - 1,
        )
    return cfg


def cifar_fge(model: str, seed: int) -> dict:
    """SGD, SWA 1 (from notebook 11's 1.5-budget run), FGE and its closeness numbers."""
    sgd = run(TrainConfig(**recipe(model, 1, False), seed=seed), cifar_runs)
    long = run(TrainConfig(**recipe(model, 1.5, True), seed=seed), cifar_runs)
    one = recipe(model, 1, True)
    swa_acc = long.metrics.set_index("epoch").loc[one["epochs"], "swa_test_accuracy"]
    start = CIFAR_SWA_START or one["swa_start"]
    pre = TrainConfig(
        **{**one, "swa_start": start, "epochs": start + 1, "eval_every": None},
        seed=seed,
    )
    r = FGE_RECIPES[model]
    fge = run_fge(
        FGEConfig(
            pre,
            epochs=one["epochs"] - pre.epochs,
            cycle=int(r["cycle"]),
            lr_1=r["lr_1"],
            lr_2=r["lr_2"],
        ),
        cifar_runs,
    )
    k = fge.final["n_snapshots"]
    c = closeness(fge, {"SGD": sgd.load_model("sgd", device)}, [k]).set_index("who")
    return {
        "model": model,
        "seed": seed,
        "SGD": sgd.final["sgd_test_accuracy"],
        "SWA 1": float(swa_acc),
        "FGE": fge.final["fge_test_accuracy"],
        "SWA of the FGE snapshots": fge.final["swa_test_accuracy"],
        "K": k,
        "KL to SWA of snapshots": c.loc["SWA of the same snapshots", "kl"],
        "KL to one snapshot": c.loc["one snapshot (the k-th)", "kl"],
        "agreement with SWA of snapshots": c.loc[
            "SWA of the same snapshots", "agreement"
        ],
    }


cifar = pd.DataFrame(
    [cifar_fge(m, s) for m in CIFAR_MODELS for s in CIFAR_SEEDS]
    if CIFAR and have_cifar and gpu_ok
    else []
)
if cifar.empty:
    glue_text("nb13_cifar_result", "none (see the status above)")
    print("No CIFAR runs: see the status above.")
else:
    acc_cols = ["SGD", "SWA 1", "FGE", "SWA of the FGE snapshots"]
    shown = cifar.groupby("model")[acc_cols].agg(pct_mean_std)
    shown.index.name = (
        "FAKE DATA -- meaningless, " if CIFAR_FAKE else ""
    ) + f"{NAME} (%)"
    display(shown)
    display(
        cifar.groupby("model")[
            [
                "K",
                "KL to SWA of snapshots",
                "KL to one snapshot",
                "agreement with SWA of snapshots",
            ]
        ].mean()
    )
    glue_text(
        "nb13_cifar_result",
        "; ".join(
            f"{m}: FGE - SWA 1 {paired_text(g['FGE'] - g['SWA 1'])}"
            for m, g in cifar.groupby("model")
        )
        + (" (FAKE data)" if CIFAR_FAKE else ""),
    )

# %% tags=["remove-input"]
glue_text("nb13_cifar_status", cifar_status)

# %%
wall_s, cpu_s = time.perf_counter() - T_START, time.process_time() - CPU_START
print(
    f"this execution: {wall_s:.0f} s after the imports, {cpu_s:.0f} s of CPU time "
    f"({n_cached} of the MNIST-1D runs from the cache)"
)

# %% tags=["remove-input"]
glue_text("nb13_cost", f"{wall_s:.0f} s ({cpu_s:.0f} s of CPU time; one torch thread)")
glue_text(
    "nb13_n_cached", f"{n_cached} of its {2 * len(pairs) + len(fges)} MNIST-1D runs"
)

# %% [markdown]
# For the paper ledger ({doc}`18_paper_ledger`): this chapter's tests of the paper's Table 1
# FGE column (FGE - SGD test accuracy at the same budget) and of Section 3.5 (how much closer
# to the ensemble the snapshots' weight average predicts than one snapshot, in KL), and at
# the paper profile the CIFAR rows (real CIFAR only, never the fake smoke set).

# %%
from swa_lib.reporting.ledger import Claim, record_claims

scale = (
    f"{DATASET_LABELS.get(DATASET, DATASET)}, {MODEL}, {EPOCHS} epochs, "
    f"{len(SEEDS)} seeds"
)
fge_regime = f"FGE cycles of {FGE_CYCLE} epochs, {FGE_LR_1:g} -> {FGE_LR_2:g}"
ledger_claims = [
    Claim.from_diffs(
        100 * (wide["acc", "FGE"] - wide["acc", "SGD"]),
        item="Table 1",
        regime=f"{fge_regime}, the same budget as SGD",
        protocol="paper",
        scale=scale,
        statistic="FGE - SGD test accuracy (points)",
    ),
    Claim.from_diffs(
        kl_gap,
        item="Section 3.5",
        regime=f"SWA of the {K} FGE snapshots against the last snapshot",
        protocol="paper",
        scale=scale,
        statistic="KL(FGE || one snapshot) - KL(FGE || SWA of the snapshots) (nats)",
    ),
]
if not cifar.empty and not CIFAR_FAKE:  # real CIFAR only
    for m, g in cifar.groupby("model"):
        ledger_claims.append(
            Claim.from_diffs(
                100 * (g["FGE"] - g["SGD"]),
                item="Table 1",
                regime=f"FGE recipe of the reference code ({m})",
                protocol="paper",
                scale=f"{NAME}, {m}, the recipe's budget, {len(g)} seed(s)",
                statistic="FGE - SGD test accuracy (points)",
            )
        )
record_claims(RUNS_DIR, "13_fge", ledger_claims)

# %% [markdown]
# ## Conclusion
#
# At one budget of {glue:text}`nb13_budget` on MNIST-1D ({glue:text}`nb13_n_seeds` seeds; FGE:
# {glue:text}`nb13_split` of pretraining and cycles, {glue:text}`nb13_k`), test accuracy in %,
# test NLL in nats, paired differences with their 95 % t intervals:
#
# * **Table 1's FGE column.** SGD {glue:text}`nb13_sgd_acc` (NLL {glue:text}`nb13_sgd_nll`),
#   SWA {glue:text}`nb13_swa_acc` ({glue:text}`nb13_swa_nll`), FGE {glue:text}`nb13_fge_acc`
#   ({glue:text}`nb13_fge_nll`). FGE - SGD is {glue:text}`nb13_fge_sgd_acc` in accuracy
#   ({glue:text}`nb13_fge_sgd_acc_verdict`) and {glue:text}`nb13_fge_sgd_nll` in NLL
#   ({glue:text}`nb13_fge_sgd_nll_verdict`): {glue:text}`nb13_plain_sgd_acc`, and
#   {glue:text}`nb13_plain_sgd_nll`.
# * **Where FGE beats SWA, and where not.** FGE - SWA is {glue:text}`nb13_fge_swa_acc` in
#   accuracy ({glue:text}`nb13_fge_swa_acc_verdict`) and {glue:text}`nb13_fge_swa_nll` in NLL
#   ({glue:text}`nb13_fge_swa_nll_verdict`). Plainly: {glue:text}`nb13_plain_acc`, and
#   {glue:text}`nb13_plain_nll` -- while FGE keeps {glue:text}`nb13_k` for every prediction
#   and SWA one network. The FGE authors' CIFAR-100 numbers are {glue:text}`nb13_pub_fge_swa`
#   above the SWA README's SWA 1 (two READMEs, and for PreResNet-164 two budgets: a context,
#   not a paired comparison).
# * **Weights against predictions of the same snapshots.** The SWA of the FGE snapshots (one
#   network, a by-product of the FGE run) reaches {glue:text}`nb13_snapswa_acc`
#   ({glue:text}`nb13_snapswa_nll`); the ensemble of the same snapshots differs from it by
#   {glue:text}`nb13_fge_snapswa_acc` in accuracy ({glue:text}`nb13_fge_snapswa_acc_verdict`)
#   and {glue:text}`nb13_fge_snapswa_nll` in NLL ({glue:text}`nb13_fge_snapswa_nll_verdict`).
# * **Section 3.5 in prediction space.** With all {glue:text}`nb13_k`, the SWA of the snapshots
#   is at a mean KL of {glue:text}`nb13_kl_swa` from their ensemble and predicts its class on
#   {glue:text}`nb13_agree_swa` of the test signals; the last snapshot alone is at
#   {glue:text}`nb13_kl_snap` ({glue:text}`nb13_agree_snap`). Per seed the average is
#   {glue:text}`nb13_kl_ratio` closer in KL (paired difference: {glue:text}`nb13_kl_verdict`),
#   and its agreement higher by {glue:text}`nb13_agree_gap` ({glue:text}`nb13_agree_verdict`):
#   {glue:text}`nb13_claim`. The approximation concerns averaging the very points the ensemble
#   uses: the SWA *run*, trained along its own constant-rate trajectory, is at
#   {glue:text}`nb13_kl_swarun` from the FGE ensemble ({glue:text}`nb13_agree_swarun`
#   agreement) and the SGD baseline at {glue:text}`nb13_kl_sgd` ({glue:text}`nb13_agree_sgd`);
#   SGD minus SWA run: {glue:text}`nb13_swarun_vs_sgd`, the interval
#   {glue:text}`nb13_swarun_verdict`.
# * **Where FGE starts matters.** From a converged SGD run of the same length instead of the
#   SWA trajectory, FGE reaches {glue:text}`nb13_fge_sgdstart_acc`
#   ({glue:text}`nb13_fge_sgdstart_nll`); FGE from the SWA trajectory differs from it by
#   {glue:text}`nb13_fge_start_acc` ({glue:text}`nb13_fge_start_acc_verdict`).
# * **Figure 1, left.** On the plane through the snapshots of epochs
#   {glue:text}`nb13_plane_epochs` of one seed, the three snapshots' test errors are
#   {glue:text}`nb13_plane_iter_err`, their mean's {glue:text}`nb13_plane_mean3_err:.1f` % (lower
#   in train loss than {glue:text}`nb13_plane_mean3_lower` snapshots) and their ensemble's
#   {glue:text}`nb13_plane_ens3_err:.1f` %. The SWA of all the snapshots lies
#   {glue:text}`nb13_off_plane:.3f` from that plane (L2, for weights of norm
#   {glue:text}`nb13_w_norm:.1f`; the plane's sides $d_x$ = {glue:text}`nb13_dx:.3f`,
#   $d_y$ = {glue:text}`nb13_dy:.3f`), so the figure shows its projection only; its test error
#   is {glue:text}`nb13_plane_swa_all_err:.1f` % and that of the ensemble of all of them
#   {glue:text}`nb13_plane_ensk_err:.1f` %.
#
# CIFAR at the paper profile: {glue:text}`nb13_cifar_status`; FGE against SWA there:
# {glue:text}`nb13_cifar_result`. This execution took {glue:text}`nb13_cost` after the imports,
# with {glue:text}`nb13_n_cached` from the cache.
#
# ## Exercises
#
# ```{exercise}
# :label: ex-nb13-cycle
# Set `FGE_CYCLE = 4` (snapshots every 4 epochs, half as many). Does the ensemble lose accuracy,
# and does the SWA of the snapshots move further from it in KL?
# ```
#
# ```{solution} ex-nb13-cycle
# :class: dropdown
# Fewer snapshots average less noise away, but the snapshots of a longer cycle are further apart,
# so each adds more diversity. The first effect lowers the ensemble's gain; the second raises
# the KL to the SWA of the snapshots, because the first-order argument of Section 3.5 holds
# less well for points that are further apart. Compare the new `summary` table with the one
# above before concluding: with five seeds, differences inside the intervals are not effects.
# ```
#
# ```{exercise}
# :label: ex-nb13-lr
# Lower the cycle's range to `FGE_LR_1 = 0.02`, `FGE_LR_2 = 0.004`. What happens to the
# distance between the snapshots (the plane's $d_x$), to the ensemble's gain over one snapshot,
# and to the KL between the ensemble and the SWA of its snapshots?
# ```
#
# ```{solution} ex-nb13-lr
# :class: dropdown
# At a lower rate the snapshots stay closer together: $d_x$ shrinks, the members become more
# alike, and both the ensemble's gain and the ensemble-to-SWA gap shrink with them. In the
# limit of a zero rate every snapshot is the starting point and FGE, SWA and that point
# coincide: the question is how much diversity the budget buys, not whether averaging works.
# ```
#
# ```{exercise}
# :label: ex-nb13-cnn
# Run the notebook with `MODEL = "cnn1d"` (a BatchNorm network). Which comparison now depends on
# recomputing BatchNorm statistics, and what happens to the SWA of the snapshots if you skip it
# (pass no `bn_batches` to `average_models`)?
# ```
#
# ```{solution} ex-nb13-cnn
# :class: dropdown
# The ensemble uses each snapshot with its own statistics, as trained; the SWA of the snapshots
# is a new network whose layers see different activations, so it needs statistics of its own.
# Without `update_bn` it keeps the buffers of the last snapshot (`SWA` copies buffers from the
# latest model), which do not match the averaged weights: expect its accuracy to drop and its KL
# to the ensemble to grow. This is why `run_fge` recomputes them for its SWA by-product.
# ```
