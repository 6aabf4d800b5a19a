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
# # Quick start: SWA in a few lines
#
# **The question.** Train a network with SGD; average the weights the SGD iterate visits during
# the last quarter of training. Is the average a better model than the final iterate, and than a
# conventionally trained model with the same number of epochs?
#
# **[Open in Colab](https://colab.research.google.com/github/swa-book/swa-book/blob/main/notebooks/01_quickstart.ipynb)**
#
# **Cost.** Laptop profile (the defaults below): 6 runs of an MLP on MNIST-1D, about a minute
# on a 2-core CPU; re-running with the run cache only redraws. Paper profile: the same protocol,
# more seeds. Nothing is downloaded: MNIST-1D is generated from templates.
#
# **Prerequisites.** SGD with momentum, a learning-rate schedule. The algorithm is explained in
# {doc}`../book/swa_algorithm`.

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
EPOCHS = 60  # the SGD budget; SWA uses the same number of epochs (budget 1)
SWA_START = 45  # first averaged epoch
SWA_LR = 0.05  # the SWA phase's constant learning rate
NUM_SAMPLES = 5000  # MNIST-1D samples (4/5 train, 1/5 test)
MODEL = "mlp"
RUNS_DIR = "../runs"
DATA_DIR = "../data"
DEVICE = "cpu"

# %%
import matplotlib.pyplot as plt
import pandas as pd
import torch

from swa_lib.reporting import glue, glue_text, mean_std_text, paired_text, pct_mean_std
from swa_lib.training import pairs_frame, sgd_and_swa
from swa_lib.training.presets import laptop_mnist1d

torch.set_num_threads(1)

# %% [markdown]
# ## SWA in a few lines
#
# The whole method is a running average of weights plus a BatchNorm refresh. With the library's
# building blocks a training loop needs three extra lines:
#
# ```python
# from swa_lib import SWA, update_bn
#
# swa = SWA(model)                       # a copy of the model that holds the average
# for epoch in range(epochs):
#     train_one_epoch(model, optimizer, lr=swa_schedule(epoch, ...))
#     if epoch + 1 >= swa_start:
#         swa.update(model)              # w_swa <- (n w_swa + w) / (n + 1)
# update_bn(swa.module, train_batches)   # BN statistics for the averaged weights
# ```
#
# `swa_lib.training.run` does exactly this (with checkpoints, a run cache and per-epoch metrics),
# and `swa_lib.training.sgd_and_swa` trains, for each seed, the SWA run and the SGD baseline it is
# compared with (the same configuration with `swa=False`).
#
# **Regime.** `SWA_LR` equals the initial rate `lr_init`, so the SWA run's rate never
# falls: this is *a constant rate from scratch*, the regime of the paper's Figure 7 / Section
# 4.4, not the paper's Table 1 recipes, which lower the rate to 10-50 % of the initial one
# before averaging. {doc}`15_lr_regimes` compares the two regimes on this problem.

# %%
base = laptop_mnist1d(
    MODEL,
    epochs=EPOCHS,
    swa_start=SWA_START,
    swa_lr=SWA_LR,
    num_samples=NUM_SAMPLES,
    data_root=DATA_DIR,
    device=DEVICE,
    eval_every=1,
)  # the curves below read every epoch
pairs = sgd_and_swa(
    base, SEEDS, RUNS_DIR
)  # per seed: Pair(seed, sgd, swa) of RunResults
COLUMNS = {
    "sgd_test_accuracy": "SGD (own schedule)",
    "swa_run_last_test_accuracy": "SWA run, last iterate",
    "swa_test_accuracy": "SWA",
    "sgd_test_nll": "SGD NLL",
    "swa_test_nll": "SWA NLL",
}
table = pairs_frame(pairs).set_index("seed")[list(COLUMNS)].rename(columns=COLUMNS)
table.style.format("{:.4f}")

# %% [markdown]
# Test accuracy (fraction) and test NLL (nats) per seed. "SGD (own schedule)" is the
# conventional baseline: its learning rate decays to 1 % of the initial one. "SWA run, last
# iterate" is the SGD iterate at the end of the SWA run, whose learning rate stays at `SWA_LR`.

# %%
diff_acc = table["SWA"] - table["SGD (own schedule)"]
diff_nll = table["SWA NLL"] - table["SGD NLL"]
summary = pd.DataFrame(
    {
        "test accuracy (%)": [
            pct_mean_std(table["SGD (own schedule)"]),
            pct_mean_std(table["SWA run, last iterate"]),
            pct_mean_std(table["SWA"]),
        ],
        "test NLL": [
            mean_std_text(table["SGD NLL"]),
            "",
            mean_std_text(table["SWA NLL"]),
        ],
    },
    index=["SGD", "SWA run, last iterate", "SWA"],
)
summary

# %% tags=["remove-input"]
glue_text("nb01_sgd_acc", pct_mean_std(table["SGD (own schedule)"]))
glue_text("nb01_swa_acc", pct_mean_std(table["SWA"]))
glue_text("nb01_last_acc", pct_mean_std(table["SWA run, last iterate"]))
glue_text("nb01_diff_acc", paired_text(diff_acc))
glue_text("nb01_diff_nll", paired_text(diff_nll, scale=1.0, digits=3, unit=""))
glue_text("nb01_n_seeds", str(len(SEEDS)))

# %%
fig, ax = plt.subplots(figsize=(7, 3.8))
for i, pair in enumerate(pairs):
    m_sgd, m_swa, first = pair.sgd.metrics, pair.swa.metrics, i == 0
    ax.plot(
        m_sgd["epoch"],
        100 * (1 - m_sgd["sgd_test_accuracy"]),
        color="C0",
        alpha=0.8,
        label="SGD" if first else None,
    )
    ax.plot(
        m_swa["epoch"],
        100 * (1 - m_swa["sgd_test_accuracy"]),
        color="C1",
        ls=":",
        alpha=0.8,
        label="SGD iterate of the SWA run" if first else None,
    )
    ax.plot(
        m_swa["epoch"],
        100 * (1 - m_swa["swa_test_accuracy"]),
        color="C3",
        alpha=0.8,
        label="SWA" if first else None,
    )
ax.axvline(SWA_START, color="grey", lw=0.8, ls="--")
ax.set(
    xlabel="epoch",
    ylabel="test error (%)",
    title=f"MNIST-1D, {MODEL}, {len(SEEDS)} seeds",
)
lo = 100 * (1 - max(table.max()))
ax.set_ylim(max(0, lo - 5), lo + 25)
ax.legend()
plt.close(fig)

# %% tags=["remove-input"]
glue("nb01_curves", fig, display=False)

# %% [markdown]
# ```{glue:figure} nb01_curves
# :name: fig-nb01-curves
#
# Test error per epoch. The SWA model (red) exists from the first averaged epoch (dashed line);
# the SGD iterate of the same run (dotted) keeps bouncing at the constant rate, while the average
# sits below it.
# ```
#
# ## Conclusion
#
# Over {glue:text}`nb01_n_seeds` seeds, the conventionally trained model reaches
# {glue:text}`nb01_sgd_acc` % test accuracy and SWA with the same budget
# {glue:text}`nb01_swa_acc` % (the last SGD iterate of the SWA run alone:
# {glue:text}`nb01_last_acc` %). Paired by seed, SWA - SGD is {glue:text}`nb01_diff_acc` in
# accuracy and {glue:text}`nb01_diff_nll` nats in test NLL. With five seeds the interval is still
# wide; the {doc}`results table <03_results_table>` repeats the comparison with more seeds, budgets and
# a second architecture.
#
# ## Exercises
#
# ```{exercise}
# :label: ex-nb01-lr
# Set `SWA_LR = 0.005` (ten times lower) and re-run. How far does the SWA model now move away
# from the last iterate, and why?
# ```
#
# ```{solution} ex-nb01-lr
# :class: dropdown
# At a small learning rate the iterate barely moves during the SWA phase, so the average is
# almost the last iterate: SWA then gains little over it. The average helps when the iterates
# are spread around a wide basin (see {doc}`06_sgd_to_swa_line`).
# ```
#
# ```{exercise}
# :label: ex-nb01-start
# Average from epoch 30 instead of 45 (`SWA_START = 30`). Does an earlier start help?
# ```
