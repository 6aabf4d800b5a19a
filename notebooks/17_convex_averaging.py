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
# # The convex case: Polyak-Ruppert averaging
#
# **The question.** The SWA paper's Section 3.6 {cite:p}`izmailov2018swa` connects SWA to the
# classical averaging of stochastic approximation: on a convex problem, the average of the SGD
# iterates converges where the last iterate, at a constant step, only jitters around the
# optimum. Does that hold, at the rate the theory gives, on a problem whose optimum we know
# exactly?
#
# **[Open in Colab](https://colab.research.google.com/github/swa-book/swa-book/blob/main/notebooks/17_convex_averaging.ipynb)**
#
# **Cost.** Laptop profile (the defaults below): single-sample SGD on a 5-dimensional ridge
# regression, 100,000 steps for 10 seeds and two step schedules, about 20 s on one CPU core
# (NumPy, no training runs, no cache). Paper profile: the same, more seeds. Nothing is
# downloaded.
#
# **Prerequisites.** {doc}`../book/swa_algorithm` (the SWA average as a running mean).

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
SEEDS = list(range(10))  # SGD sampling sequences (the data set is fixed)
STEPS = 100_000  # SGD steps, one sampled row each
NUM_SAMPLES = 1000  # rows of the regression set
DIM = 5  # features
CONDITION = 4.0  # largest / smallest feature variance
NOISE = 1.0  # standard deviation of the label noise
L2 = 0.01  # ridge penalty: makes the objective strongly convex
CONSTANT_GAMMA = 0.25  # constant step, in units of 1 / mean ||x_i||^2
DECAY_GAMMA0 = 1.0  # first decaying step, same units
DECAY_POWER = 0.6  # gamma_t = gamma_0 t^(-power), 1/2 < power < 1
FIT_FROM = 1000  # first step of the slope fit (past the transient)
DATA_SEED = 0
RUNS_DIR = "../runs"  # only for the ledger record

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from swa_lib.convex import (
    averaged_sgd,
    loglog_slope,
    make_least_squares,
    ridge_optimum,
    step_sizes,
)
from swa_lib.reporting import glue, glue_number, glue_text, paired_interval, paired_text
from swa_lib.reporting.ledger import Claim, record_claims
from swa_lib.reporting.text import interval_verdict, significant

# %% [markdown]
# ## The problem and the theory
#
# Ridge-regularised least squares on a fixed synthetic set of $n$ rows $(x_i, y_i)$,
#
# $$f(w) = \frac{1}{2n} \lVert X w - y \rVert^2 + \frac{\lambda}{2} \lVert w \rVert^2, \qquad
# w^\star = \Big(\tfrac{1}{n} X^\top X + \lambda I\Big)^{-1} \tfrac{1}{n} X^\top y,$$
#
# is strongly convex with Lipschitz gradients, and its optimum $w^\star$ has the closed form
# above (`swa_lib.convex.ridge_optimum`, checked in the tests against an SVD least-squares
# solve and a BFGS minimisation). SGD draws one row per step and moves along its gradient
# $x_i (x_i^\top w - y_i) + \lambda w$; the running average
# $\bar w_t = \bar w_{t-1} + (w_t - \bar w_{t-1}) / t$ is the mean of $w_1, \dots, w_t$ -- the
# SWA average of the paper's Algorithm 1, taken from the first step and after every step.
#
# What the theory says about the distance to the optimum (half the exponent of the squared
# distance that the theorems bound):
#
# * **Decaying step** $\gamma_t = \gamma_0 t^{-a}$, $\tfrac12 < a < 1$ (Ruppert
#   {cite:p}`ruppert1988`; Polyak and Juditsky {cite:p}`polyak1992`, for a strongly convex
#   objective with Lipschitz gradient and gradient noise of finite variance at $w^\star$): the
#   last iterate converges like $t^{-a/2}$; the average like $t^{-1/2}$, with the smallest
#   asymptotic covariance any estimator built from the same gradients can have.
# * **Constant step** $\gamma$ (Bach and Moulines {cite:p}`bach2013nonstrongly`, for least
#   squares with $\gamma \le 1/(4R^2)$): the last iterate does not converge -- it settles into
#   a cloud around $w^\star$ whose radius grows with $\gamma$ (slope 0) -- while the average
#   still converges like $t^{-1/2}$.
#
# The constant-step case is the one SWA lives in: a high constant (or cyclical) rate, with the
# average rather than the iterate as the answer. The paper's Section 3.6 notes that in deep
# networks the point of the average is not this convergence -- the loss is not convex and SWA
# averages only a few points per epoch -- but it is where the idea comes from.

# %%
X, y = make_least_squares(
    NUM_SAMPLES, DIM, condition=CONDITION, noise=NOISE, seed=DATA_SEED
)
w_star = ridge_optimum(X, y, L2)
r2 = float((X**2).sum(axis=1).mean())  # mean ||x_i||^2: the unit of the steps
schedules = {
    "constant": step_sizes("constant", CONSTANT_GAMMA / r2, STEPS),
    "decaying": step_sizes("decaying", DECAY_GAMMA0 / r2, STEPS, power=DECAY_POWER),
}
results = {name: averaged_sgd(X, y, L2, g, SEEDS) for name, g in schedules.items()}
theory = {("constant", "last"): 0.0, ("constant", "average"): -0.5}
theory |= {("decaying", "last"): -DECAY_POWER / 2, ("decaying", "average"): -0.5}

# %%
rows, slopes = [], {}
for name, r in results.items():
    for which in ("last", "average"):
        s = loglog_slope(r.checkpoints, getattr(r, which), start=FIT_FROM)
        slopes[name, which] = s
        lo, hi = paired_interval(s)
        rows.append(
            {
                "step": name,
                "iterate": which,
                "fitted slope": f"{s.mean():.2f}",
                "95% CI": f"{lo:.2f} to {hi:.2f}",
                "theory": f"{theory[name, which]:.2f}",
                f"distance at step {STEPS:,}": significant(
                    float(np.mean(getattr(r, which)[:, -1])), 3
                ),
            }
        )
slope_table = pd.DataFrame(rows)
slope_table

# %% [markdown]
# Slopes of $\log \lVert w - w^\star \rVert$ against $\log t$, fitted per seed from step
# `FIT_FROM` on, their mean and 95 % t interval over the seeds, beside the theory's exponent;
# and the mean distance at the last step.

# %%
log_ratio = {
    name: np.log10(r.average[:, -1]) - np.log10(r.last[:, -1])
    for name, r in results.items()
}
ratio_ci = {name: paired_interval(d) for name, d in log_ratio.items()}

# %% tags=["remove-input"]
glue_text("nb17_n_seeds", f"{len(SEEDS)} seeds")
glue_text("nb17_steps", f"{STEPS:,} steps")
glue_text("nb17_fit_from", f"step {FIT_FROM:,}")
for (name, which), s in slopes.items():
    glue_text(
        f"nb17_slope_{name}_{which}", paired_text(s, scale=1.0, digits=2, unit="")
    )
    glue_number(f"nb17_theory_{name}_{which}", theory[name, which])
for name, d in log_ratio.items():
    glue_text(
        f"nb17_ratio_{name}", paired_text(d, scale=1.0, digits=2, unit=" decades")
    )
    glue_text(
        f"nb17_ratio_{name}_verdict",
        interval_verdict(*ratio_ci[name], better="lower", who="the average"),
    )
    glue_text(f"nb17_factor_{name}", f"{10 ** -np.mean(d):.1f} times")

# %%
fig, axes = plt.subplots(1, 2, figsize=(7, 3.5), sharey=True)
for ax, (name, r) in zip(axes, results.items()):
    t = r.checkpoints
    for which, color in (("last", "C0"), ("average", "C3")):
        d = getattr(r, which)
        ax.plot(t, d.T, color=color, alpha=0.15, lw=0.8)
        gm = np.exp(np.log(d).mean(axis=0))  # geometric mean over seeds
        ax.plot(
            t,
            gm,
            color=color,
            lw=2,
            label=f"{which} iterate (fit {slopes[name, which].mean():.2f})",
        )
        a = theory[name, which]
        k = np.searchsorted(t, FIT_FROM)
        ax.plot(
            t[k:],
            gm[k] * (t[k:] / t[k]) ** a,
            color=color,
            ls="--",
            lw=1,
            label=f"theory slope {a:.2f}",
        )
    ax.axvline(FIT_FROM, color="grey", lw=0.6, ls=":")
    ax.set(xscale="log", yscale="log", xlabel="SGD step t", title=f"{name} step")
axes[0].set_ylabel(r"$\|w - w^\star\|$")
for ax in axes:
    ax.legend(fontsize=8)
plt.close(fig)

# %% tags=["remove-input"]
glue("nb17_fig", fig, display=False)

# %% [markdown]
# ```{glue:figure} nb17_fig
# :name: fig-nb17-rates
#
# Distance to the closed-form optimum against the number of SGD steps, log-log: thin lines one
# seed each, thick lines their geometric mean, dashed the theory's slope drawn from the fit's
# first step (dotted line). Left, the constant step: the last iterate (blue) flattens onto its
# noise floor while the average (red) keeps falling. Right, the decaying step: both converge,
# the last iterate more slowly than the theory's average rate.
# ```
#
# ## What the runs show
#
# Over {glue:text}`nb17_n_seeds` and {glue:text}`nb17_steps`, fitted from
# {glue:text}`nb17_fit_from`:
#
# * **Constant step.** The last iterate's slope is {glue:text}`nb17_slope_constant_last`
#   (theory {glue:text}`nb17_theory_constant_last:.1f`: it stalls), the average's
#   {glue:text}`nb17_slope_constant_average` (theory
#   {glue:text}`nb17_theory_constant_average:.1f`). At the last step the average is
#   {glue:text}`nb17_factor_constant` closer to the optimum than the last iterate: the paired
#   difference of $\log_{10}$ distances is {glue:text}`nb17_ratio_constant`, whose interval
#   {glue:text}`nb17_ratio_constant_verdict`.
# * **Decaying step** ($a$ = 0.6). The last iterate's slope is
#   {glue:text}`nb17_slope_decaying_last` (theory
#   {glue:text}`nb17_theory_decaying_last:.1f`), the average's
#   {glue:text}`nb17_slope_decaying_average` (theory
#   {glue:text}`nb17_theory_decaying_average:.1f`); the average ends
#   {glue:text}`nb17_ratio_decaying` from the last iterate, an interval that
#   {glue:text}`nb17_ratio_decaying_verdict`.
#
# The fitted slopes are finite-horizon estimates: the average still carries the memory of its
# first, far-away iterates (a bias term that decays like $1/t$), so over a few decades its slope
# can be steeper than the asymptotic $-1/2$; and the constant-step floor is reached only once
# $\gamma \mu t \gg 1$ for the smallest curvature $\mu$.

# %%
scale = (
    f"ridge least squares, d={DIM}, n={NUM_SAMPLES}, condition {CONDITION:g}, "
    f"{STEPS:,} SGD steps, {len(SEEDS)} seeds"
)
claims = [
    Claim(
        item="Section 3.6",
        regime=label,
        protocol="ours",
        scale=scale,
        statistic=(
            "log10 distance to the optimum, average - last iterate, at the last step"
        ),
        estimate=float(np.mean(log_ratio[name])),
        low=ratio_ci[name][0],
        high=ratio_ci[name][1],
        n=len(SEEDS),
        expected="negative",
    )
    for name, label in (
        ("constant", "constant step (the SWA regime)"),
        ("decaying", f"decaying step t^-{DECAY_POWER:g} (Polyak-Juditsky)"),
    )
]
record_claims(RUNS_DIR, "17_convex_averaging", claims)

# %% [markdown]
# ## Conclusion
#
# On a convex problem with a known optimum the classical picture holds: at a constant step the
# last SGD iterate stops improving (slope {glue:text}`nb17_slope_constant_last`) while the
# average of the iterates keeps converging (slope {glue:text}`nb17_slope_constant_average`;
# theory -0.5 asymptotically) and ends {glue:text}`nb17_factor_constant` closer to the optimum.
# This is the regime SWA borrows -- a rate that stays high, with the average as the answer --
# and the reason averaging helps in the convex case: it removes the iterate's noise, not its
# bias. Whether the same averaging does anything useful in a non-convex network is what the
# experiment chapters measure; the ledger ({doc}`18_paper_ledger`) records this chapter's
# numbers as the paper's Section 3.6.
#
# ## Exercises
#
# ```{exercise}
# :label: ex-nb17-gamma
# Double `CONSTANT_GAMMA`. What happens to the last iterate's floor and to the average's
# distance at the last step?
# ```
#
# ```{solution} ex-nb17-gamma
# :class: dropdown
# The last iterate's floor rises, roughly like $\sqrt{\gamma}$ (the stationary spread of the
# iterates grows with the step). The average's asymptotic error does not depend on $\gamma$ to
# first order (its leading term is the noise covariance at $w^\star$ divided by $t$), and a
# larger step forgets the start faster, so it is about as close or closer -- until $\gamma$
# leaves the stable range and SGD diverges.
# ```
#
# ```{exercise}
# :label: ex-nb17-tail
# SWA averages only from `swa_start` on. Change the running average to start at step
# `STEPS // 2` (the mean of the stored iterates from there, `averaged_sgd(...,
# keep_iterates=True)`). What happens to the bias term discussed above?
# ```
#
# ```{solution} ex-nb17-tail
# :class: dropdown
# Tail averaging drops the early, far-away iterates, so the $1/t$ bias of the average
# vanishes almost entirely and only the noise term ($\sim t^{-1/2}$ in distance) is left. This
# is why SWA starts averaging late, after the iterate has reached the region it should explore.
# ```
