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
# # The paper, claim by claim
#
# **The question.** Item by item -- every figure, table and analytical section of Izmailov et
# al. {cite:p}`izmailov2018swa` -- which of the paper's claims does this book reproduce, in
# which regime and at which scale, and which does it not?
#
# **[Open in Colab](https://colab.research.google.com/github/swa-book/swa-book/blob/main/notebooks/18_paper_ledger.ipynb)**
#
# **Cost.** Seconds: this chapter trains nothing. It reads the records the experiment chapters
# write at their end (`RUNS_DIR/ledger/<notebook>.json`, through
# `swa_lib.reporting.ledger.record_claims`), so the book's executor runs it after every other
# notebook (a whole-book execution first removes the records of earlier ones). Run alone, it
# shows what the run cache holds; on a fresh cache every row reads "not run in this
# execution" (ImageNet's Table 2: "not run here").
#
# **Prerequisites.** The regimes and protocols of {doc}`01_quickstart` and
# {doc}`03_results_table`; the paired intervals of {doc}`03_results_table`.

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
RUNS_DIR = "../runs"
ALPHA = 0.05  # family-wise error rate of the Holm correction over one item's regimes

# %%
from IPython.display import Markdown

from swa_lib.reporting import glue, glue_text
from swa_lib.reporting.ledger import (
    PAPER_ITEMS,
    item_summary,
    ledger_frame,
    ledger_markdown,
    read_records,
    verdict_counts,
)
from swa_lib.reporting.text import count_text

# %% [markdown]
# ## How a claim is recorded and judged
#
# Each experiment chapter that tests a claim of the paper ends by recording, for each
# **regime** it ran (e.g. "paper's recipe ratio 0.3": the SWA phase at 30 % of the initial
# rate, as in the paper's Table 1 recipes; or "constant rate from scratch", the paper's
# Figure 7 regime), the statistic it measured, its mean over seeds and its 95 % t interval, the
# **protocol** (the paper's, the course project's, or ours), the scale it ran at, and the sign
# of the statistic the paper's claim predicts (for "SWA - SGD test accuracy", positive).
#
# The verdict on an item is computed from those numbers only:
#
# * a regime **supports** the claim when its estimate has the predicted sign and "no effect"
#   is rejected at 5 % -- with one regime, exactly when its 95 % interval lies on the predicted
#   side of zero;
# * with several regimes per item, several yes/no questions are asked of one claim, so the
#   regimes' p-values (recovered from their t intervals) are corrected with Holm's step-down
#   procedure {cite:p}`holm1979simple`: sorted from the smallest, the $k$-th of $m$ is rejected
#   only if it and all smaller ones are at most $\alpha / (m - k + 1)$. This keeps the chance of
#   *any* false "supports" among the $m$ regimes at $\alpha$ = 5 %, where testing each at 5 %
#   would let it grow towards $1 - 0.95^m$;
# * the item is **reproduced** when every recorded regime supports it, **reproduced only in
#   regime X** when some do, and **not reproduced at this scale** when none does -- with whether
#   the intervals cover zero (no effect detectable with these seeds) or lie on the other side
#   (the opposite of the claim);
# * an item without a record is **not run here** when it needs data and hardware this book
#   does not test it with (ImageNet on a GPU), and **not run in this execution** otherwise.
#
# "Not reproduced at this scale" is a statement about the laptop problem (MNIST-1D, small
# networks, a CPU) or whatever scale the record names, not about the paper's CIFAR and ImageNet
# results; the *scale* column says which.

# %%
records = read_records(RUNS_DIR)
frame = ledger_frame(RUNS_DIR)
counts = verdict_counts(frame)
n_items = len(PAPER_ITEMS)
n_recorded = frame.loc[frame["result"] != "", "item"].nunique()
notebooks = sorted({nb for nb, _ in records})

# %% tags=["remove-input"]
glue_text("nb18_n_items", count_text(n_items, "item"))
glue_text("nb18_n_recorded", count_text(n_recorded, "item"))
glue_text("nb18_n_records", count_text(len(records), "record"))
glue_text("nb18_n_notebooks", count_text(len(notebooks), "chapter"))
for key, n in counts.items():
    glue_text("nb18_count_" + key.replace(" ", "_"), count_text(n, "item"))
glue(
    "nb18_items",
    Markdown(ledger_markdown(item_summary(frame))),
    display=False,
)
recorded = frame[frame["result"] != ""]
glue(
    "nb18_table",
    Markdown(
        ledger_markdown(
            recorded,
            [
                "item",
                "regime",
                "protocol",
                "where tested",
                "scale",
                "result",
                "this regime",
            ],
        )
        if len(recorded)
        else "No chapter recorded a claim in this execution."
    ),
    display=False,
)

# %% [markdown]
# ## The ledger
#
# Of the paper's {glue:text}`nb18_n_items`, {glue:text}`nb18_n_recorded` have a record in this
# execution ({glue:text}`nb18_n_records` from {glue:text}`nb18_n_notebooks`). Verdicts:
# reproduced, {glue:text}`nb18_count_reproduced`; reproduced only in some regimes,
# {glue:text}`nb18_count_reproduced_only_in_some_regimes`; not reproduced at the scale tested,
# {glue:text}`nb18_count_not_reproduced`; not run here (needs ImageNet or CIFAR and a GPU),
# {glue:text}`nb18_count_not_run_here`; not run in this execution,
# {glue:text}`nb18_count_not_run_in_this_execution`.
#
# ```{glue:md} nb18_items
# :format: myst
# ```
#
# One row per item of the paper, in the paper's order: its claim, paraphrased, with the
# section that makes it; the chapters that test it; how many regimes they recorded; and the
# verdict. The records behind the verdicts, one row per item and regime:
#
# ```{glue:md} nb18_table
# :format: myst
# ```
#
# *result*: the statistic, its mean and 95 % t interval over $n$ seeds. *this regime*: whether
# that regime supports the claim after the Holm correction over the item's regimes
# ("inconclusive": the corrected test does not exclude zero; "opposes": it excludes zero on the
# other side).

# %% [markdown]
# ## Conclusion
#
# The ledger is the book's summary of the paper, in numbers: of {glue:text}`nb18_n_items`,
# {glue:text}`nb18_count_reproduced` reproduced in every regime tested,
# {glue:text}`nb18_count_reproduced_only_in_some_regimes` only in some, and
# {glue:text}`nb18_count_not_reproduced` not at the scale tested. Every verdict is computed from
# the intervals the chapters record; nothing here is typed in by hand, and an item no chapter
# recorded stays "not run".
#
# ## Exercises
#
# ```{exercise}
# :label: ex-nb18-holm
# An item is tested in three regimes whose p-values are 0.01, 0.03 and 0.04. Which regimes
# support the claim without a correction, and which with Holm's at 5 %?
# ```
#
# ```{solution} ex-nb18-holm
# :class: dropdown
# Without a correction all three (each p < 0.05). With Holm: 0.01 <= 0.05/3 = 0.0167, so the
# first is rejected; 0.03 > 0.05/2 = 0.025, so the procedure stops: only the first regime
# supports the claim, and the verdict is "reproduced only in regime" of that one.
# `swa_lib.reporting.stats.holm([0.01, 0.03, 0.04])` gives `[True, False, False]`.
# ```
#
# ```{exercise}
# :label: ex-nb18-scale
# A row reads "not reproduced at this scale (the interval covers zero)" with $n = 5$. What would
# you change to tell "no effect" from "an effect too small to see with five seeds"?
# ```
#
# ```{solution} ex-nb18-scale
# :class: dropdown
# The interval's width shrinks like $1/\sqrt{n}$: with 20 seeds it is about half as wide. If it
# then still covers zero and its ends are small against the paper's effect (e.g. the 0.3-2
# points of its Table 1), the effect is absent at this scale; if it moves off zero, it was there
# but small. The paper profile (`notebooks/profiles/paper.yaml`) runs the same chapters at the
# paper's scale on CIFAR, where the records name that scale.
# ```
