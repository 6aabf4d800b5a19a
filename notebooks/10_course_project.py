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
# # The course project: why SWA looked "not practical"
#
# **The question.** A course project that re-implemented SWA found its pre-trained model, its
# final SGD iterate and its SWA model within 0.1 points of each other and concluded that SWA is
# "not practical". Its protocol differed from the paper's in five places. Run side by side from
# the same pre-trained model, which of those choices makes SWA look useless?
#
# **[Open in Colab](https://colab.research.google.com/github/swa-book/swa-book/blob/main/notebooks/10_course_project.ipynb)**
#
# **Cost.** Laptop profile (the defaults below): per seed, one pre-training of a BatchNorm 1-D
# CNN on MNIST-1D (20 epochs, about 8 s on one free core) shared by five 12-epoch SWA phases
# (about 4 s each); three seeds, about 90 s in all. Re-running with the run cache only redraws.
# Paper profile: five seeds.
#
# **Prerequisites.** {doc}`01_quickstart`, {doc}`../book/swa_algorithm` (why the BatchNorm
# statistics of the average must be recomputed), {doc}`09_robustness` (what `swa_lr` does).

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
SEEDS = [0, 1, 2]
PRETRAIN_EPOCHS = 20  # AdamW, cosine 1e-2 -> 1e-3 (the course's pre-training)
SWA_EPOCHS = 12  # length of the SWA phase (the course's: 12 epochs, 4 snapshots)
PAPER_SWA_LR = 0.05  # the paper protocol's constant rate (the book's laptop swa_lr)
WIDTH = 16  # channels of the BN 1-D CNN
NUM_SAMPLES = 5000
RUNS_DIR = "../runs"
DATA_DIR = "../data"
DEVICE = "cpu"

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from swa_lib.reporting import glue, glue_text, paired_text, pct_mean_std, range_text
from swa_lib.reporting.published import COURSE_PROJECT_REPORTED
from swa_lib.training.course_project import (
    CourseConfig,
    course_project_run,
    course_protocol,
    paper_protocol,
)

torch.set_num_threads(1)

# %% [markdown]
# ## What the course project did, and what it reported
#
# The project's protocol (CIFAR-100, MobileNetV2): 20 epochs of AdamW with a cosine learning
# rate from 1e-2 to 1e-3; then 12 epochs of plain SGD **without momentum** at a cyclic rate ten
# times lower (1e-3 -> 1e-4), a snapshot at the end of every 3-epoch cycle, so **4 models**
# averaged; a BatchNorm update that **did not reset** the running statistics; accuracy reported
# as the **mean of per-batch accuracies**. Its table, quoted as reported
# {cite:p}`bayesianmlswa` (not our numbers):

# %%
reported = pd.DataFrame(
    COURSE_PROJECT_REPORTED, index=["pre-trained", "final", "SWA"]
).T
reported.index.name = "reported by the course project (test accuracy, %)"
reported

# %% [markdown]
# All three columns agree to within 0.6 points in every row. Either SWA does nothing, or the
# protocol never gave it anything to do. `swa_lib.training.course_project` implements that protocol as
# library code (`CourseConfig`, `course_project_run`, `update_bn_no_reset`,
# `per_batch_accuracy`) so that each of its choices can be switched on or off.
#
# | choice | course project | paper |
# |---|---|---|
# | SWA-phase optimiser | SGD, momentum 0 | SGD, momentum 0.9 |
# | SWA-phase rate | cyclic 1e-3 -> 1e-4 | constant `swa_lr` (0.05 here) |
# | models averaged | every 3 epochs (4) | every epoch (12) |
# | BN statistics of the average | one pass, not reset (`update_bn_no_reset`) | recomputed exactly (`update_bn`) |
# | accuracy | mean of per-batch accuracies | exact fraction correct |
#
# Our setting: MNIST-1D (4,000 train / 1,000 test, the book's on-device augmentation) and a 1-D
# CNN with BatchNorm (so BN matters), the course's epoch counts, batch 128 (so the test set's
# last batch holds 104 samples, not 128). Both protocols start from **the same pre-trained
# model** (cached once per seed), so only the SWA phase and the evaluation differ. Besides the
# two protocols, three runs change one training choice of the course protocol at a time.

# %%
shared = dict(
    model_kw={"width": WIDTH},
    num_samples=NUM_SAMPLES,
    data_root=DATA_DIR,
    device=DEVICE,
    pretrain_epochs=PRETRAIN_EPOCHS,
)
VARIANTS = {
    "course": course_protocol(swa_epochs=SWA_EPOCHS),
    "course + momentum 0.9": course_protocol(swa_epochs=SWA_EPOCHS, swa_momentum=0.9),
    f"course + constant rate {PAPER_SWA_LR}": course_protocol(
        swa_epochs=SWA_EPOCHS, swa_lr_schedule="constant", swa_lr=PAPER_SWA_LR
    ),
    "course + every epoch": course_protocol(swa_epochs=SWA_EPOCHS, swa_c_epochs=1),
    "paper": paper_protocol(swa_epochs=SWA_EPOCHS, swa_lr=PAPER_SWA_LR),
}
t0 = time.perf_counter()
results = {
    (name, seed): course_project_run(CourseConfig(**shared, **kw, seed=seed), RUNS_DIR)
    for seed in SEEDS
    for name, kw in VARIANTS.items()
}
n_trained = sum(not r.cached for r in results.values())
print(
    f"{n_trained} of {len(results)} runs trained in {time.perf_counter() - t0:.0f} s "
    f"(the rest cached)"
)

rows = []
for (name, seed), r in results.items():
    f = r.final
    for model in ("pretrained", "last", "swa_stale", "swa_no_reset", "swa_exact"):
        rows.append(
            {
                "variant": name,
                "seed": seed,
                "model": model,
                "exact": f[model]["test_accuracy"],
                "per-batch": f[model]["test_accuracy_per_batch"],
                "nll": f[model]["test_nll"],
            }
        )
long = pd.DataFrame(rows)
acc = long.pivot_table(index=["variant", "seed"], columns="model", values="exact")
acc_pb = long.pivot_table(
    index=["variant", "seed"], columns="model", values="per-batch"
)
moved = pd.DataFrame(
    [
        {
            "variant": n,
            "seed": s,
            "moved": r.final["dist_pretrained_to_last"],
            "spread": r.final["snapshot_spread"],
            "models": r.final["swa_n"],
        }
        for (n, s), r in results.items()
    ]
).set_index(["variant", "seed"])

# %% [markdown]
# ## The two protocols as each would report them
#
# The course protocol evaluated the course's way (BN pass without reset, per-batch accuracy)
# and the paper protocol evaluated the paper's way (exact BN, exact accuracy); mean ± std over
# seeds, test accuracy in %.

# %%
# acc.loc[variant, model]: that model's exact test accuracy, one per seed (acc_pb: per batch)
as_reported = pd.DataFrame(
    {
        "pre-trained": [
            pct_mean_std(acc_pb.loc["course", "pretrained"]),
            pct_mean_std(acc.loc["paper", "pretrained"]),
        ],
        "final (last iterate)": [
            pct_mean_std(acc_pb.loc["course", "last"]),
            pct_mean_std(acc.loc["paper", "last"]),
        ],
        "SWA": [
            pct_mean_std(acc_pb.loc["course", "swa_no_reset"]),
            pct_mean_std(acc.loc["paper", "swa_exact"]),
        ],
    },
    index=["course protocol, course evaluation", "paper protocol, paper evaluation"],
)
as_reported

# %% tags=["remove-input"]
glue_text("nb10_course_pre", as_reported.iloc[0, 0])
glue_text("nb10_course_last", as_reported.iloc[0, 1])
glue_text("nb10_course_swa", as_reported.iloc[0, 2])
glue_text("nb10_paper_last", as_reported.iloc[1, 1])
glue_text("nb10_paper_swa", as_reported.iloc[1, 2])
glue_text("nb10_n_seeds", str(len(SEEDS)))

# %% [markdown]
# ## Which choice matters? One factor at a time
#
# For every run: how far the SGD iterate travelled from the pre-trained weights during the SWA
# phase (L2 distance in weight space), the RMS distance of the averaged snapshots from their
# mean (the spread that averaging can exploit), and, with exact BN and exact accuracy, what the
# average gains over its own last iterate and over the pre-trained model (points, paired by
# seed, 95 % t interval).

# %%
# SWA - last iterate and SWA - pre-trained, paired by seed, per variant
gain = {
    (v, a): paired_text(acc.loc[v, "swa_exact"] - acc.loc[v, a])
    for v in VARIANTS
    for a in ("last", "pretrained")
}
factor = pd.DataFrame(
    {
        "models averaged": [int(moved.loc[v, "models"].iloc[0]) for v in VARIANTS],
        "distance moved": [f"{moved.loc[v, 'moved'].mean():.3g}" for v in VARIANTS],
        "snapshot spread": [f"{moved.loc[v, 'spread'].mean():.3g}" for v in VARIANTS],
        "SWA (%)": [pct_mean_std(acc.loc[v, "swa_exact"]) for v in VARIANTS],
        "SWA - last iterate": [gain[v, "last"] for v in VARIANTS],
        "SWA - pre-trained": [gain[v, "pretrained"] for v in VARIANTS],
    },
    index=list(VARIANTS),
)
lr_name = f"course + constant rate {PAPER_SWA_LR}"
paper_snaps = np.array(
    [results[("paper", s)].final["snapshot_test_accuracy"] for s in SEEDS]
)
later = paper_snaps[:, 1:] if paper_snaps.shape[1] > 1 else paper_snaps
factor

# %% tags=["remove-input"]
glue_text("nb10_dist_course", f"{moved.loc['course', 'moved'].mean():.2g}")
glue_text("nb10_dist_paper", f"{moved.loc['paper', 'moved'].mean():.2g}")
glue_text(
    "nb10_dist_ratio",
    f"{moved.loc['paper', 'moved'].mean() / moved.loc['course', 'moved'].mean():.0f}",
)
glue_text("nb10_dist_mom", f"{moved.loc['course + momentum 0.9', 'moved'].mean():.2g}")
glue_text("nb10_dist_lr", f"{moved.loc[lr_name, 'moved'].mean():.2g}")
glue_text("nb10_dist_every", f"{moved.loc['course + every epoch', 'moved'].mean():.2g}")
glue_text("nb10_gain_course", gain["course", "last"])
glue_text("nb10_gain_mom", gain["course + momentum 0.9", "last"])
glue_text("nb10_gain_lr", gain[lr_name, "last"])
glue_text("nb10_gain_every", gain["course + every epoch", "last"])
glue_text("nb10_gain_paper", gain["paper", "last"])
glue_text("nb10_paper_vs_pre", gain["paper", "pretrained"])
glue_text("nb10_course_vs_pre", gain["course", "pretrained"])
glue_text("nb10_pre_acc", pct_mean_std(acc.loc["paper", "pretrained"]))
glue_text("nb10_paper_first_snap", pct_mean_std(paper_snaps[:, 0]))
glue_text("nb10_paper_snap_range", range_text(later, ".1f", scale=100))
glue_text("nb10_lr_last_min", f"{100 * acc.loc[lr_name, 'last'].min():.1f}")

# %% [markdown]
# ## The evaluation choices: BN statistics and per-batch accuracy
#
# These need no training: every run's average was evaluated three ways -- with the BN statistics
# it inherited from the last snapshot (`stale`, no update at all), after the course's pass
# without reset, and after the exact recomputation -- each with both accuracies.

# %%
bn_rows = []
for v in VARIANTS:
    bn_rows.append(
        {
            "variant": v,
            "stale - exact": paired_text(
                acc.loc[v, "swa_stale"] - acc.loc[v, "swa_exact"]
            ),
            "no reset - exact": paired_text(
                acc.loc[v, "swa_no_reset"] - acc.loc[v, "swa_exact"]
            ),
        }
    )
bn_table = pd.DataFrame(bn_rows).set_index("variant")
diff_pb = 100 * (acc_pb - acc)
n_test = results[("course", SEEDS[0])].final["n_test"]
r0 = results[("course", SEEDS[0])]
print(
    f"per-batch minus exact accuracy over all {diff_pb.size} evaluated models: "
    f"mean {diff_pb.to_numpy().mean():+.3f}, largest |difference| "
    f"{np.abs(diff_pb.to_numpy()).max():.3f} points ({n_test} test samples)"
)
bn_table

# %% tags=["remove-input"]
glue_text("nb10_bn_stale_paper", bn_table.loc["paper", "stale - exact"])
glue_text("nb10_bn_noreset_paper", bn_table.loc["paper", "no reset - exact"])
glue_text("nb10_bn_noreset_course", bn_table.loc["course", "no reset - exact"])
glue_text("nb10_pb_max", f"{np.abs(diff_pb.to_numpy()).max():.2f} points")
glue_text(
    "nb10_n_batches", str(int(np.ceil(r0.final["n_train"] / r0.config.batch_size)))
)

# %%
fig, axes = plt.subplots(1, 3, figsize=(14, 4), constrained_layout=True)
for name, c in (("course", "C0"), ("paper", "C3")):
    r = results[(name, SEEDS[0])]
    cfg, ipe = r.config, int(np.ceil(r.final["n_train"] / r.config.batch_size))
    lrs = [
        cfg.swa_learning_rate(e, i, ipe)
        for e in range(cfg.swa_epochs)
        for i in range(ipe)
    ]
    axes[0].plot(np.arange(1, len(lrs) + 1) / ipe, lrs, color=c, label=name)
    snaps = r.final["snapshot_epochs"]
    axes[0].plot(snaps, [lrs[e * ipe - 1] for e in snaps], "o", color=c)
axes[0].set(
    yscale="log",
    xlabel="epoch of the SWA phase",
    ylabel="learning rate",
    title="SWA-phase rate (dots: snapshots)",
)
axes[0].legend()
names = list(VARIANTS)
y = np.arange(len(names))
for s in SEEDS:
    axes[1].scatter([moved.loc[(n, s), "moved"] for n in names], y, color="k", s=12)
axes[1].set(
    xscale="log",
    yticks=y,
    yticklabels=names,
    xlabel="L2 distance pre-trained -> last",
    title="how far the iterate moves",
)
axes[1].invert_yaxis()
all_vals = 100 * acc[["pretrained", "last", "swa_exact"]].to_numpy()
lo = np.floor(min(np.percentile(all_vals, 10), 100 * acc["swa_exact"].min()) - 0.5)
for k, (model, label, c) in enumerate(
    (
        ("pretrained", "pre-trained", "C7"),
        ("last", "last iterate", "C0"),
        ("swa_exact", "SWA (exact BN)", "C3"),
    )
):
    vals = np.array([[acc.loc[(n, s), model] for s in SEEDS] for n in names]) * 100
    yy = np.repeat(y[:, None] + (k - 1) * 0.22, len(SEEDS), axis=1)
    inside = vals >= lo
    axes[2].scatter(vals[inside], yy[inside], color=c, s=14, label=label)
    axes[2].scatter(
        np.full((~inside).sum(), lo), yy[~inside], color=c, marker="<", s=30
    )
    for v, yv in zip(vals[~inside], yy[~inside]):
        axes[2].annotate(
            f"{v:.1f}",
            (lo, yv),
            xytext=(4, -3),
            textcoords="offset points",
            fontsize=7,
            color=c,
        )
axes[2].set(
    yticks=y,
    yticklabels=[],
    xlabel="test accuracy (%)",
    xlim=(lo - 0.2, None),
    title=f"test accuracy, {len(SEEDS)} seeds (one dot each)",
)
axes[2].invert_yaxis()
axes[2].legend(fontsize=8)
plt.close(fig)

# %% tags=["remove-input"]
glue("nb10_fig", fig, display=False)

# %% [markdown]
# ```{glue:figure} nb10_fig
# :name: fig-nb10-protocols
#
# Left: the learning rate of the two SWA phases (log scale; dots mark the averaged snapshots).
# Middle: how far the SGD iterate travels from the pre-trained weights in each variant (log
# scale, one dot per seed) -- the course's choices keep it almost where it started. Right: test
# accuracy of the pre-trained model, the last iterate and the SWA average (exact BN), one dot per
# seed; a triangle at the left edge marks a value off the axis, printed beside it.
# ```
#
# ## Conclusion
#
# Evaluated its own way, the course protocol reproduces the course project's pattern: pre-trained
# {glue:text}`nb10_course_pre` %, final {glue:text}`nb10_course_last` %, SWA
# {glue:text}`nb10_course_swa` % ({glue:text}`nb10_n_seeds` seeds) -- the same model three
# times, within noise, like every row of the course's own table. The reason is how far the
# weights move. During the course's SWA phase the iterate travels {glue:text}`nb10_dist_course`
# (L2 distance) from the pre-trained weights; under the paper's protocol it travels
# {glue:text}`nb10_dist_paper`, about {glue:text}`nb10_dist_ratio` times farther. Four snapshots
# of a model that does not move are four copies of it, and their average is that model again:
# SWA - last iterate is {glue:text}`nb10_gain_course` under the course protocol. Under the
# paper's protocol the snapshots scatter (their test accuracies range over
# {glue:text}`nb10_paper_snap_range` % after the first) and the average is
# {glue:text}`nb10_gain_paper` better than the last iterate: averaging does what the paper says
# it does. The course's experiment could not have shown an effect of averaging, positive or
# negative.
#
# One factor at a time, what matters is the size of the steps. Momentum 0.9 alone, at the
# course's rates, moves the iterate {glue:text}`nb10_dist_mom` (SWA - last
# {glue:text}`nb10_gain_mom`). The paper's rate 0.05 without momentum moves it
# {glue:text}`nb10_dist_lr`, far enough for single iterates to stray (the worst last iterate
# over the seeds: {glue:text}`nb10_lr_last_min` %) while the average stays put (SWA - last
# {glue:text}`nb10_gain_lr`; one stray seed makes the interval wide). Averaging every epoch
# instead of every third changes nothing while the iterate stands still (distance
# {glue:text}`nb10_dist_every`, SWA - last {glue:text}`nb10_gain_every`). The evaluation choices
# are minor here. The BN pass without reset differs from the exact recomputation by
# {glue:text}`nb10_bn_noreset_paper` under the paper protocol
# ({glue:text}`nb10_bn_noreset_course` under the course's): its {glue:text}`nb10_n_batches`
# batches at BN's momentum 0.1 leave only 0.9 to that power (about 3 %) of the stale
# statistics. Skipping the BN update altogether changes the accuracy by
# {glue:text}`nb10_bn_stale_paper` once the weights move. The per-batch-averaged accuracy
# differs from the exact one by at most {glue:text}`nb10_pb_max`.
#
# What this does *not* show is SWA beating the pre-trained model. After 20 epochs of AdamW the
# CNN is at {glue:text}`nb10_pre_acc` % -- like the course's MNIST row, a problem at its ceiling
# -- and the paper-protocol average lands at {glue:text}`nb10_paper_swa` % (SWA - pre-trained
# {glue:text}`nb10_paper_vs_pre`; under the course protocol {glue:text}`nb10_course_vs_pre`).
# Switching from AdamW to SGD at a high rate first knocks the iterate out of the pre-trained
# solution (the first snapshot scores {glue:text}`nb10_paper_first_snap` %, the last iterate
# {glue:text}`nb10_paper_last` %), and the average repairs most of that within twelve epochs,
# not all. The paper's claim is about an SWA phase *inside* an SGD schedule at equal budget,
# which {doc}`01_quickstart` and {doc}`03_results_table` test directly. The course project's
# "not practical" was a verdict on a protocol in which nothing was averaged.
#
# ## Exercises
#
# ```{exercise}
# :label: ex-nb10-lr
# Set `PAPER_SWA_LR = 0.01`. How far does the iterate move now, and where do the last iterate
# and SWA end up relative to the pre-trained model?
# ```
#
# ```{solution} ex-nb10-lr
# :class: dropdown
# The iterate moves about a fifth as far, so the shock of switching optimisers is smaller and
# the last iterate stays closer to the pre-trained model; the average gains less over it,
# because the snapshots are closer together. The rate trades how much there is to average
# against how far the walk strays.
# ```
#
# ```{exercise}
# :label: ex-nb10-bn
# Write a variant of `update_bn_no_reset` that keeps `momentum=None` (PyTorch's cumulative
# average) without resetting `num_batches_tracked`, and evaluate the paper protocol's average
# with it. Why is it almost as bad as no update at all?
# ```
#
# ```{solution} ex-nb10-bn
# :class: dropdown
# With `momentum=None` BN weights batch `k` by `1 / num_batches_tracked`; the counter still
# holds the thousands of training steps of the last snapshot, so each new batch moves the
# statistics by a fraction of a per cent and the stale statistics survive almost unchanged.
# ```
