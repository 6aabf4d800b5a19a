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
# # Flatness: the Hessian of SGD, SWA and EMA solutions
#
# **The question.** Pictures of landscapes ({doc}`07_random_landscapes`) suggest that SWA finds
# flatter solutions than SGD. Measured by curvature instead, with the top eigenvalue and the trace
# of the Hessian of the training loss {cite:p}`yao2020pyhessian`, is the SWA solution flatter than
# the SGD solution, and than an exponential moving average (EMA) of the same SGD iterates? And
# what does such a number mean, given that sharpness depends on the parametrisation
# {cite:p}`dinh2017sharp`?
#
# **[Open in Colab](https://colab.research.google.com/github/swa-book/swa-book/blob/main/notebooks/08_flatness.ipynb)**
#
# **Cost.** Laptop profile (the defaults below): the MLP of {doc}`01_quickstart` on MNIST-1D,
# five seeds (the fewest behind any verdict of the book). The SGD baselines come from the run
# cache of {doc}`01_quickstart`; the SWA runs are re-run once with an EMA kept on the side (5 runs,
# about 30 s each on one free core of a 2-core CPU). Then a top eigenvalue and a trace for each of
# the 15 solutions and for one rescaled network, on the whole training set, each Hessian-vector
# product about 0.2 s: about 90 s of CPU time in all,
# cached under `RUNS_DIR/flatness`, so re-running only redraws. Paper profile: PreResNet-164 on
# CIFAR-100 with the paper's recipe (150 epochs, SWA from epoch 126 at rate 0.05;
# `presets.experiment_base`; EMA decay 0.9995, the laptop's five-epoch time constant at 391
# steps per epoch), five seeds, the Hessian on a fixed subset of 5,000 training images: ten
# 150-epoch runs, about 11 GPU-hours at the per-epoch and per-evaluation times measured on one H100 for {doc}`11_cifar_paper_scale`
# (`presets.paper_gpu_hours`),
# plus up to 200 Hessian-vector products for each of the 16 solutions, estimated at two
# forward-backward passes over the subset each (about 5 s): up to 5 GPU-hours more. Without
# CIFAR-100 under `data/` it stops in its first code cell, saying how to get it.
#
# **Prerequisites.** {doc}`../book/flat_minima` (sharpness as curvature, power iteration,
# Hutchinson's estimator, the reparametrisation caveat), {doc}`01_quickstart` (the runs).

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
EPOCHS = 60  # notebook 01's protocol: the SGD budget and the SWA run's length
SWA_START = 45  # first averaged epoch
SWA_LR = 0.05  # constant rate of the SWA phase
EMA_DECAY = (
    0.995  # EMA of the same SGD iterates, updated every step (40 steps per epoch)
)
SUBSET = (
    None  # None: the Hessian of the loss on the whole training set; an int: a fixed
)
# random subset of that many training signals (cheaper)
MAX_ITER = 100  # Hessian-vector products at most, per estimate (PyHessian's default)
TOL = 1e-3  # relative tolerance of both estimators (PyHessian's default)
RESCALE = 4.0  # factor of the function-preserving rescaling (Dinh et al.)
NUM_SAMPLES = 5000  # MNIST-1D samples (4/5 train, 1/5 test)
DATASET = "mnist1d"  # paper profile: "cifar100" (presets.experiment_base)
MODEL = "mlp"
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

from swa_lib.landscape import get_flat_params
from swa_lib.landscape.hessian import hessian_top_eigenvalue, hessian_trace
from swa_lib.landscape.reparametrize import relu_rescaled
from swa_lib.metrics import evaluate
from swa_lib.reporting import (
    glue,
    glue_text,
    mean_std_text,
    paired_sign,
    paired_text,
    range_text,
    significant,
    verdict,
)
from swa_lib.training import sgd_and_swa
from swa_lib.training.presets import experiment_base, require_dataset

torch.set_num_threads(1)
require_dataset(DATASET, DATA_DIR)  # without CIFAR the paper profile stops here

# %% [markdown]
# ## Three solutions per seed
#
# For each seed:
#
# * **SGD**: notebook 01's baseline, 60 epochs with the learning rate decaying to 1 % of its
#   initial value (same config, so the run comes from the cache);
# * **SWA**: notebook 01's SWA run (the laptop protocol's SWA rate equals its initial rate, so
#   the learning rate stays at 0.05 throughout; equal-weight average of the iterates at the end
#   of epochs 45 to 60);
# * **EMA**: an exponential moving average of the *same* SGD iterates as SWA, updated after every
#   step, $w_\mathrm{ema} \leftarrow d\, w_\mathrm{ema} + (1 - d)\, w$ with decay
#   $d$ = `EMA_DECAY`. With 40 steps per epoch and $d = 0.995$ its weights decay with a time
#   constant of $1/(1-d) = 200$ steps, 5 epochs.
#
# SWA and EMA come from one run (the SWA config plus `ema_decay`; keeping the EMA draws no
# randomness, so the SGD trajectory and the SWA average are those of notebook 01's run; we
# checked that the averaged weights agree exactly): they average the same iterates and differ
# only in the weights they give them.

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
    eval_every=None,
    **OVERRIDES,
)  # final metrics only
runs, t0 = {}, time.perf_counter()
for pair in sgd_and_swa(base, SEEDS, RUNS_DIR, swa_changes={"ema_decay": EMA_DECAY}):
    runs[pair.seed, "SGD"], runs[pair.seed, "avg"] = pair.sgd, pair.swa
data = runs[SEEDS[0], "SGD"].dataset(
    device=DEVICE
)  # the runs' data, without augmentation
SOLUTIONS = {"SGD": ("SGD", "sgd"), "EMA": ("avg", "ema"), "SWA": ("avg", "swa")}
n_cached = sum(r.cached for r in runs.values())
print(f"{len(runs)} runs, {n_cached} from the cache, {time.perf_counter() - t0:.0f} s")

# %% [markdown]
# ## What is differentiated
#
# The loss is the mean cross-entropy of the network on the
# {glue:text}`nb08_n_hessian` unaugmented training signals,
#
# $$
# L(w) = \frac{1}{N} \sum_{i=1}^{N} \ell\big(f_w(x_i), y_i\big),
# $$
#
# an exact full-set mean (`swa_lib.landscape.hessian` weights each batch by its size), without the
# weight-decay term: $\tfrac{\lambda}{2}\|w\|^2$ would add $\lambda = 5\cdot 10^{-4}$ to every
# eigenvalue and $\lambda P$ = {glue:text}`nb08_wd_trace` to the trace, the same for every
# solution. The MLP has no BatchNorm, so there are no statistics to choose: the Hessian is that of
# the function the network computes. (For a BatchNorm network one would recompute the statistics
# of each solution and differentiate the eval-mode network with the statistics held fixed; see
# the last exercise.)
#
# For each solution, `hessian_top_eigenvalue` runs power iteration and `hessian_trace`
# Hutchinson's estimator with Rademacher vectors, both with PyHessian's stopping rule (relative
# change below `TOL`, at most `MAX_ITER` Hessian-vector products). Within a seed all solutions use
# the same random start vector and the same Rademacher vectors, so the paired differences do not
# carry the estimators' sampling noise twice. Results are cached per run and solution.

# %%
cache_dir = Path(RUNS_DIR) / "flatness"


rows = []
for seed in SEEDS:
    for name, (which_run, which) in SOLUTIONS.items():
        r = runs[seed, which_run]
        model = r.load_model(which, DEVICE)
        xy = (data.x_train, data.y_train)
        opts = dict(
            subset=SUBSET, max_iter=MAX_ITER, tol=TOL, seed=seed, cache=cache_dir
        )
        eig = hessian_top_eigenvalue(model, xy, **opts)
        tr = hessian_trace(model, xy, **opts)
        rows.append(
            {
                "seed": seed,
                "solution": name,
                "lambda_max": eig.value,
                "eig_iterations": eig.iterations,
                "eig_converged": eig.converged,
                "eig_history": eig.history,
                "trace": tr.value,
                "trace_se": tr.std_error,
                "trace_iterations": tr.iterations,
                "trace_converged": tr.converged,
                "trace_samples": tr.history,
                "seconds": eig.seconds + tr.seconds,
                "cached": eig.cached and tr.cached,
                "test accuracy (%)": 100 * r.final[f"{which}_test_accuracy"],
                "train NLL": r.final[f"{which}_train_nll"],
                "weight norm": float(get_flat_params(model).norm()),
            }
        )
res = pd.DataFrame(rows)
n_params = sum(p.numel() for p in model.parameters())
res["trace / P"] = res["trace"] / n_params
print(
    f"Hessian estimates: {int((~res.cached).sum())} computed "
    f"({res.loc[~res.cached, 'seconds'].sum():.0f} s), "
    f"{int(res.cached.sum())} from the "
    f"cache (computed in {res.loc[res.cached, 'seconds'].sum():.0f} s); "
    f"Hessian-vector products per estimate: eigenvalue {res.eig_iterations.min()}-"
    f"{res.eig_iterations.max()}, trace {res.trace_iterations.min()}-"
    f"{res.trace_iterations.max()}; all converged: "
    f"{bool(res.eig_converged.all() and res.trace_converged.all())}"
)
display(
    res[
        [
            "seed",
            "solution",
            "lambda_max",
            "trace",
            "trace_se",
            "test accuracy (%)",
            "train NLL",
            "weight norm",
        ]
    ].round(3)
)

# %% [markdown]
# Per seed and solution: the top eigenvalue $\lambda_\mathrm{max}$, the Hutchinson trace with its
# standard error, the test accuracy, the train NLL (both from the run) and the Euclidean norm of
# the weight vector.

# %%
ORDER = list(SOLUTIONS)
COLS = {
    "lambda_max": "top eigenvalue",
    "trace": "trace",
    "trace / P": "trace / P",
    "test accuracy (%)": "test accuracy (%)",
    "train NLL": "train NLL",
    "weight norm": "weight norm",
}
DIGITS = {
    "lambda_max": 2,
    "trace": 1,
    "trace / P": 5,
    "test accuracy (%)": 1,
    "train NLL": 3,
    "weight norm": 1,
}
by = res.groupby("solution")
table = pd.DataFrame(
    {COLS[c]: by[c].agg(mean_std_text, digits=d) for c, d in DIGITS.items()}
).loc[ORDER]
table.index.name = f"MLP, {len(SEEDS)} seeds"
display(table)

# %% tags=["remove-input"]
glue("nb08_table", table, display=False)

# %% [markdown]
# Mean ± standard deviation over seeds. And the paired differences (same seed, same estimator
# randomness), with 95 % Student-t intervals:

# %%
wide = res.pivot(index="seed", columns="solution")
PAIRS = [("SWA", "SGD"), ("EMA", "SGD"), ("SWA", "EMA")]
diff_rows, diff_text = [], {}
for a, b in PAIRS:
    row = {"difference": f"{a} - {b}"}
    for col, digits in (("lambda_max", 2), ("trace", 1), ("test accuracy (%)", 1)):
        d = wide[col, a] - wide[col, b]
        text = paired_text(d, scale=1.0, digits=digits, unit="")
        diff_text[a, b, col] = text
        row[COLS[col]] = text
        row[f"{COLS[col]}: seeds with a negative difference"] = (
            f"{int((d < 0).sum())}/{len(d)}"
        )
    diff_rows.append(row)
diffs = pd.DataFrame(diff_rows).set_index("difference")
diffs = diffs[
    [c for c in diffs.columns if ":" not in c] + [c for c in diffs.columns if ":" in c]
]
display(diffs)

# %% tags=["remove-input"]
glue("nb08_diffs", diffs, display=False)

# %%
fig, axes = plt.subplots(1, 3, figsize=(7, 3))
x = np.arange(len(ORDER))
for ax, col, label in zip(
    axes,
    ("lambda_max", "trace", "test accuracy (%)"),
    ("top eigenvalue $\\lambda_{max}$", "trace of the Hessian", "test accuracy (%)"),
):
    for seed in SEEDS:
        ax.plot(
            x,
            [wide.loc[seed, (col, s)] for s in ORDER],
            "o-",
            color="grey",
            alpha=0.6,
            lw=1,
            label="one seed" if seed == SEEDS[0] else None,
        )
    ax.plot(
        x, [wide[col, s].mean() for s in ORDER], "s", color="C3", ms=8, label="mean"
    )
    ax.set(xticks=x, xticklabels=ORDER, ylabel=label)
axes[0].legend(fontsize=8)
fig.tight_layout()
plt.close(fig)

# %% tags=["remove-input"]
glue("nb08_fig", fig, display=False)

# %% [markdown]
# ```{glue:figure} nb08_fig
# :name: fig-nb08-paired
#
# Top eigenvalue (left), trace (middle) and test accuracy (right) of the three solutions; one grey
# line per seed, the red squares are the means. Lines that fall from SGD to EMA and SWA for every
# seed are the paired evidence that averaging lowers the curvature; compare their slopes with the
# spread between seeds.
# ```

# %%
first = res[res.seed == SEEDS[0]].set_index("solution")
fig, axes = plt.subplots(1, 2, figsize=(7, 3.3))
for i, s in enumerate(ORDER):
    hist = first.loc[s, "eig_history"]
    axes[0].plot(np.arange(1, len(hist) + 1), hist, "o-", ms=3, color=f"C{i}", label=s)
    samples = np.asarray(first.loc[s, "trace_samples"])
    k = np.arange(1, len(samples) + 1)
    running = np.cumsum(samples) / k
    se = np.array(
        [samples[:j].std(ddof=1) / np.sqrt(j) if j > 1 else np.nan for j in k]
    )
    axes[1].plot(k, running, "o-", ms=3, color=f"C{i}", label=s)
    axes[1].fill_between(k, running - se, running + se, color=f"C{i}", alpha=0.2)
axes[0].set(
    xlabel="power iteration (Hessian-vector products)",
    ylabel="eigenvalue estimate $v^T H v$",
)
axes[1].set(xlabel="Rademacher samples", ylabel="running mean of $z^T H z$ (± s.e.)")
axes[0].legend(fontsize=8)
fig.tight_layout()
plt.close(fig)

# %% tags=["remove-input"]
glue("nb08_convergence", fig, display=False)

# %% [markdown]
# ```{glue:figure} nb08_convergence
# :name: fig-nb08-convergence
#
# How the estimates of the first seed converge. Left: power iteration's eigenvalue estimate per
# Hessian-vector product; it stops once it changes by less than 0.1 % relative. Right: the
# running mean of Hutchinson's samples with its standard error; the stopping rule is the same,
# so the trace can stop while its standard error (the band) is still a few percent. Look at
# whether the gap between the solutions is larger than the bands.
# ```
#
# ## The reparametrisation caveat, in numbers
#
# {cite:t}`dinh2017sharp` showed that curvature is not a property of the function a network
# computes ({doc}`../book/flat_minima`). The MLP computes
# $W_3\,\mathrm{relu}(W_2\,\mathrm{relu}(W_1 x + b_1) + b_2) + b_3$; multiplying $W_1, b_1$ by
# $c > 0$ and dividing $W_2$ by $c$ changes no output, because $\mathrm{relu}(c z) = c\,
# \mathrm{relu}(z)$. Below, the SWA solution of the first seed is rescaled with $c$ = `RESCALE`
# (`swa_lib.landscape.reparametrize.relu_rescaled`, which checks that no logit changes; on the
# paper profile's CIFAR networks it scales the last BatchNorm's affine output and divides the
# classifier instead), and the same estimators are run on it.

# %%
r0 = runs[SEEDS[0], "avg"]
swa0 = r0.load_model("swa", DEVICE)
# W_1, b_1 times c and W_2 / c (for a CIFAR network: its last BN's affine and the classifier)
rescaled = relu_rescaled(swa0, RESCALE, data.x_test[:256])
with torch.no_grad():
    out_diff = float(
        (swa0.eval()(data.x_test) - rescaled.eval()(data.x_test)).abs().max()
    )
acc = {
    n: 100 * evaluate(m, data.x_test, data.y_test)["accuracy"]
    for n, m in (("SWA", swa0), ("rescaled", rescaled))
}
opts = dict(subset=SUBSET, max_iter=MAX_ITER, tol=TOL, seed=SEEDS[0], cache=cache_dir)
xy = (data.x_train, data.y_train)
h_re = {
    "lambda_max": hessian_top_eigenvalue(rescaled, xy, **opts).value,
    "trace": hessian_trace(rescaled, xy, **opts).value,
}
h_swa = first.loc["SWA"]
dinh = pd.DataFrame(
    {
        "SWA": [h_swa["lambda_max"], h_swa["trace"], acc["SWA"], h_swa["weight norm"]],
        f"SWA rescaled (c = {RESCALE:g})": [
            h_re["lambda_max"],
            h_re["trace"],
            acc["rescaled"],
            float(get_flat_params(rescaled).norm()),
        ],
    },
    index=["top eigenvalue", "trace", "test accuracy (%)", "weight norm"],
)
print(f"largest change of a test logit: {out_diff:.1e}")
display(dinh.round(3))

# %%
for s in ORDER:
    sub = res[res.solution == s]
    k = s.lower()
    glue_text(f"nb08_{k}_eig", mean_std_text(sub["lambda_max"], 2))
    glue_text(f"nb08_{k}_trace", mean_std_text(sub["trace"], 1))
    glue_text(f"nb08_{k}_acc", mean_std_text(sub["test accuracy (%)"], 1))
    glue_text(f"nb08_{k}_norm", mean_std_text(sub["weight norm"], 1))
for (a, b, col), text in diff_text.items():
    short = {"lambda_max": "eig", "trace": "trace", "test accuracy (%)": "acc"}[col]
    glue_text(f"nb08_{a.lower()}_{b.lower()}_{short}", text)
for a, b in PAIRS:
    for col, short in (("lambda_max", "eig"), ("trace", "trace")):
        d = wide[col, a] - wide[col, b]
        glue_text(
            f"nb08_{a.lower()}_{b.lower()}_{short}_count",
            f"{int((d < 0).sum())} of {len(d)}",
        )
# paired_sign: -1 when the interval lies below zero, 0 when it includes zero
# (or one seed)
norms = wide["weight norm"]
spread = max(
    float(((norms[s] - norms["SGD"]) / norms["SGD"]).abs().max()) for s in ORDER
)
ratio = wide["lambda_max", "SWA"] / wide["lambda_max", "SGD"]
glue_text("nb08_eig_ratio", range_text(ratio, same="{} on every seed"))
ratio = wide["trace", "SWA"] / wide["trace", "SGD"]
rel_se = (res["trace_se"] / res["trace"]).max()
_ = glue_text(
    "nb08_dinh_logit", "exactly zero" if out_diff == 0 else f"at most {out_diff:.0e}"
)

# %% tags=["remove-input"]
for (
    a,
    b,
) in PAIRS:  # the bare wording: which sign is "better" differs between the columns
    for col, short in (
        ("lambda_max", "eig"),
        ("trace", "trace"),
        ("test accuracy (%)", "acc"),
    ):
        glue_text(
            f"nb08_{a.lower()}_{b.lower()}_{short}_verdict",
            verdict(wide[col, a] - wide[col, b], better=None),
        )
glue_text(
    "nb08_swa_sgd_summary",
    "By both curvature measures the SWA solution is flatter than the SGD solution, "
    "as the "
    "paper's picture predicts."
    if paired_sign(wide["lambda_max", "SWA"] - wide["lambda_max", "SGD"]) == -1
    and paired_sign(wide["trace", "SWA"] - wide["trace", "SGD"]) == -1
    else "At this number of seeds the two curvature measures do not establish that the "
    "SWA solution is flatter than the SGD solution.",
)
glue_text(
    "nb08_swa_ema_summary",
    "with these seeds, equal weights on the end-of-epoch iterates and exponentially "
    "decaying weights on every step give the same curvature and accuracy."
    if len(SEEDS) > 1
    and all(
        paired_sign(wide[c, "SWA"] - wide[c, "EMA"]) == 0
        for c in ("lambda_max", "trace", "test accuracy (%)")
    )
    else "one seed cannot tell."
    if len(SEEDS) < 2
    else "at least one interval excludes zero; see the table of paired differences.",
)
glue_text("nb08_norm_spread", f"{100 * spread:.0f} %")
glue_text("nb08_trace_ratio", range_text(ratio, same="{} on every seed"))
glue_text("nb08_trace_rel_se", f"{100 * rel_se:.0f} %")
glue_text("nb08_n_seeds", str(len(SEEDS)))
glue_text("nb08_n_params", str(n_params))
glue_text("nb08_n_hessian", str(SUBSET or int(data.x_train.shape[0])))
glue_text("nb08_wd_trace", f"{base['weight_decay'] * n_params:.1f}")
glue_text("nb08_ema_decay", f"{EMA_DECAY:g}")
glue_text("nb08_rescale", f"{RESCALE:g}")
glue_text(
    "nb08_dinh_norm",
    f"{significant(h_swa['weight norm'])} to {significant(dinh.iloc[3, 1])}",
)
glue_text(
    "nb08_dinh_eig",
    f"{significant(h_swa['lambda_max'])} to {significant(h_re['lambda_max'])}",
)
glue_text(
    "nb08_dinh_trace", f"{significant(h_swa['trace'])} to {significant(h_re['trace'])}"
)
glue_text(
    "nb08_dinh_acc",
    f"{acc['SWA']:.1f} % both times"
    if acc["SWA"] == acc["rescaled"]
    else f"{acc['SWA']:.1f} % and {acc['rescaled']:.1f} %",
)

# %% [markdown]
# For the paper ledger ({doc}`18_paper_ledger`): the paper's flatness claim (Section 3.4), in
# this chapter's measure -- the top Hessian eigenvalue of the training loss, SWA - SGD, which
# the claim predicts negative.

# %%
from swa_lib.reporting.ledger import Claim, record_claims

ratio_lr = SWA_LR / base["lr_init"]
record_claims(
    RUNS_DIR,
    "08_flatness",
    [
        Claim.from_diffs(
            wide["lambda_max", "SWA"] - wide["lambda_max", "SGD"],
            item="Section 3.4",
            regime="constant rate from scratch"
            if ratio_lr == 1
            else f"paper's recipe ratio {ratio_lr:g}",
            protocol="ours",
            scale=f"{DATASET}, {MODEL}, {EPOCHS} epochs, {len(SEEDS)} seeds",
            statistic="SWA - SGD top Hessian eigenvalue of the training loss",
            expected="negative",
        )
    ],
)

# %% [markdown]
# The rescaled network computes the same function (the largest change of a test logit is
# {glue:text}`nb08_dinh_logit`; test accuracy {glue:text}`nb08_dinh_acc`), yet its top eigenvalue
# goes from {glue:text}`nb08_dinh_eig` and its trace from {glue:text}`nb08_dinh_trace`, while
# the norm of its weight vector goes from {glue:text}`nb08_dinh_norm`. Since $c$ is arbitrary,
# the same SWA solution can be made as sharp as one likes without changing a single prediction. A
# curvature number is a statement about one parametrisation of the function, not about the
# function.
#
# That does not make the comparison above empty. The SGD, EMA and SWA solutions are not
# rescalings of each other: they are points of training runs of one network with one weight
# decay, and the norms of their weight vectors (SGD {glue:text}`nb08_sgd_norm`, SWA
# {glue:text}`nb08_swa_norm`, EMA {glue:text}`nb08_ema_norm`) differ by at most
# {glue:text}`nb08_norm_spread` from the SGD solution's, nothing like the rescaling above.
# Within such a family "flatter" is a meaningful comparison; across architectures, training
# recipes, or after a rescaling, it is not.
#
# ## Conclusion
#
# Over {glue:text}`nb08_n_seeds` seeds of the MNIST-1D MLP ({glue:text}`nb08_n_params`
# parameters, Hessian of the training NLL on {glue:text}`nb08_n_hessian` signals):
#
# * **SWA against SGD.** The top eigenvalue goes from {glue:text}`nb08_sgd_eig` to
#   {glue:text}`nb08_swa_eig` (paired: {glue:text}`nb08_swa_sgd_eig`, the interval
#   {glue:text}`nb08_swa_sgd_eig_verdict`; lower for SWA on {glue:text}`nb08_swa_sgd_eig_count`
#   seeds; SWA/SGD ratio {glue:text}`nb08_eig_ratio`), and the trace from
#   {glue:text}`nb08_sgd_trace` to {glue:text}`nb08_swa_trace` ({glue:text}`nb08_swa_sgd_trace`,
#   {glue:text}`nb08_swa_sgd_trace_verdict`; ratio {glue:text}`nb08_trace_ratio`). The test
#   accuracy goes from {glue:text}`nb08_sgd_acc` % to {glue:text}`nb08_swa_acc` %
#   ({glue:text}`nb08_swa_sgd_acc` points, {glue:text}`nb08_swa_sgd_acc_verdict`).
#   {glue:text}`nb08_swa_sgd_summary`
# * **EMA against SGD.** An EMA of the same iterates (decay {glue:text}`nb08_ema_decay` per
#   step): top eigenvalue {glue:text}`nb08_ema_eig` ({glue:text}`nb08_ema_sgd_eig`, the interval
#   {glue:text}`nb08_ema_sgd_eig_verdict`), trace {glue:text}`nb08_ema_trace`
#   ({glue:text}`nb08_ema_sgd_trace`, {glue:text}`nb08_ema_sgd_trace_verdict`), test accuracy
#   {glue:text}`nb08_ema_acc` %.
# * **SWA against EMA.** Top eigenvalue {glue:text}`nb08_swa_ema_eig` (the interval
#   {glue:text}`nb08_swa_ema_eig_verdict`), trace {glue:text}`nb08_swa_ema_trace`
#   ({glue:text}`nb08_swa_ema_trace_verdict`), accuracy {glue:text}`nb08_swa_ema_acc` points
#   ({glue:text}`nb08_swa_ema_acc_verdict`): {glue:text}`nb08_swa_ema_summary`
#
# The caveats: each trace is a Hutchinson estimate that stopped by PyHessian's rule with a
# standard error of up to {glue:text}`nb08_trace_rel_se` of its value (compare it with the gaps
# between the solutions before reading a small one); the baseline ends with a learning rate of 1 % of
# the initial one while SWA and EMA average iterates at the full SWA rate, so the runs differ in
# more than the averaging; and, as shown above, curvature is only comparable within one
# parametrisation {cite:p}`dinh2017sharp`.
#
# ## Exercises
#
# ```{exercise}
# :label: ex-nb08-last-iterate
# Add the last SGD iterate of the SWA run as a fourth solution
# (`SOLUTIONS["last iterate"] = ("avg", "sgd")` before the Hessian cell; three more estimates).
# Is the iterate that SWA and EMA average as flat as the averages, or as sharp as SGD?
# ```
#
# ```{solution} ex-nb08-last-iterate
# :class: dropdown
# The iterate moves at the constant SWA rate around the region the averages sit in. The paper's
# picture predicts that it sits near the edge of that region, where the loss is higher and the
# curvature along the directions it moves in can be larger, and the average near its centre. If
# the last iterate turns out about as flat as the averages, the flatness comes from where the
# constant-rate phase takes the weights rather than from averaging; if it is as sharp as SGD or
# sharper, the averaging itself moves the weights to a flatter point. Compare its train NLL (in
# the run's `final`) too: a sharper point with a higher loss is the edge-of-the-region picture.
# ```
#
# ```{exercise}
# :label: ex-nb08-blocks
# `hessian_trace` differentiates only the parameters with `requires_grad=True`. Use this to
# estimate the trace of the first layer's block, $T_1$, and of the second layer's block, $T_2$, of
# the SGD solution of seed 0. Which $c$ minimises the trace of the rescaled network, and can the
# rescaled SGD solution get a smaller trace than the SWA solution?
# ```
#
# ```{solution} ex-nb08-blocks
# :class: dropdown
# Freeze every parameter but the first layer's weight and bias (`p.requires_grad_(False)`), run
# `hessian_trace`, then do the same for the second layer's weight. Under the rescaling the two
# blocks scale as $T_1/c^2$ and $c^2 T_2$ and the third layer's block is unchanged, so the trace
# is $T_1/c^2 + c^2 T_2 + T_3$, minimised at $c^4 = T_1/T_2$ with the value
# $2\sqrt{T_1 T_2} + T_3$. Whether that falls below the SWA solution's trace depends on the
# blocks, which is the point: a trace can be lowered (and raised without limit) without changing
# a single prediction, so only the comparison of solutions with the same parametrisation and
# similar scales, as in the table, is meaningful.
# ```
#
# ```{exercise}
# :label: ex-nb08-bn
# How would you measure the BatchNorm CNN of {doc}`07_random_landscapes` the same way? What
# exactly is differentiated, and what changes in the reparametrisation caveat?
# ```
#
# ```{solution} ex-nb08-bn
# :class: dropdown
# Recompute the BN statistics of each solution on the training data (`update_bn`, as SWA does
# for its average; the SGD model otherwise keeps the running averages of training), then call the
# estimators, which evaluate the model in eval mode: the loss differentiated is that of the
# deployed network with its BN statistics held fixed as constants, not the train-mode network
# whose normalisation depends on the batch. On this CPU a Hessian-vector product of the CNN on
# the 4,000 training signals costs several times that of the MLP, so use `SUBSET` (a fixed random
# subset) and say so. The caveat gets stronger: each convolution here is followed by BN, so with
# recomputed statistics the function does not depend on the length of a filter at all, and the
# curvature along a filter scales as $1/\|w_i\|^2$. Weight decay and averaging both change those
# lengths, so compare filter norms alongside the curvature, or use a scale-invariant measure such
# as the filter-normalised planes of notebook 07.
# ```
