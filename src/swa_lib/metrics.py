"""Exact whole-set metrics: accuracy, NLL, calibration (ECE, reliability data), entropy.

Every function works on the *whole* set at once (predicted probabilities ``(N, C)`` and labels
``(N,)``), so nothing is an average of per-batch means. :func:`predict_proba` gathers a model's
probabilities over a set in large batches; :func:`evaluate` returns the usual summary.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .modes import eval_mode

__all__ = [
    "accuracy",
    "nll",
    "ece",
    "reliability_diagram",
    "predictive_entropy",
    "auroc",
    "predict_logits",
    "predict_proba",
    "evaluate",
    "Reliability",
]

_EPS = 1e-12


def _check(probs: Tensor, labels: Tensor) -> None:
    if probs.dim() != 2:
        raise ValueError(f"probs must have shape (N, C), got {tuple(probs.shape)}")
    if labels.shape != probs.shape[:1]:
        raise ValueError(f"labels must have shape ({probs.shape[0]},), got {tuple(labels.shape)}")


def accuracy(probs: Tensor, labels: Tensor) -> float:
    """Fraction of samples whose arg-max class is the label (in ``[0, 1]``)."""
    _check(probs, labels)
    return (probs.argmax(1) == labels).double().mean().item()


def nll(probs: Tensor, labels: Tensor) -> float:
    """Mean negative log-likelihood ``-mean_i log p_i[y_i]`` (nats), probabilities clamped at 1e-12.

    For a Bayesian model average pass the *averaged* probabilities: the NLL of the average, not
    the average of the NLLs.
    """
    _check(probs, labels)
    p = probs.double().gather(1, labels.long().view(-1, 1)).clamp_min(_EPS)
    return (-p.log()).mean().item()


def predictive_entropy(probs: Tensor) -> Tensor:
    """Per-sample entropy ``-sum_c p_c log p_c`` (nats), shape ``(N,)``."""
    p = probs.double().clamp_min(_EPS)
    return -(probs.double() * p.log()).sum(1)


def auroc(score_positive: Tensor, score_negative: Tensor) -> float:
    """Area under the ROC curve of a score separating positives from negatives.

    ``P(s_pos > s_neg) + 0.5 P(s_pos == s_neg)`` over all pairs, i.e. the Mann-Whitney U statistic
    divided by ``n_pos * n_neg`` (computed exactly from mid-ranks). Used with the predictive
    entropy as the score and out-of-distribution inputs as positives.
    """
    from scipy.stats import rankdata

    pos = score_positive.detach().double().cpu().numpy().ravel()
    neg = score_negative.detach().double().cpu().numpy().ravel()
    if pos.size == 0 or neg.size == 0:
        raise ValueError("auroc needs at least one positive and one negative score")
    ranks = rankdata(np.concatenate([pos, neg]))  # mid-ranks for ties
    u = ranks[: pos.size].sum() - pos.size * (pos.size + 1) / 2
    return float(u / (pos.size * neg.size))


@dataclass
class Reliability:
    """Per-bin data of a reliability diagram (arrays of length ``num_bins``).

    ``confidence`` / ``accuracy`` are the mean max-probability and accuracy in each bin (NaN for
    an empty bin), ``count`` the samples in it, ``lower`` / ``upper`` the bin edges in confidence.
    ``ece = sum_b count_b / N * |accuracy_b - confidence_b|``.
    """

    lower: np.ndarray
    upper: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    count: np.ndarray
    ece: float


def reliability_diagram(
    probs: Tensor, labels: Tensor, num_bins: int = 20, binning: str = "equal_mass"
) -> Reliability:
    """Reliability-diagram data with ``num_bins`` bins over the max-probability (confidence).

    ``binning="equal_mass"`` (SWAG's choice): sort by confidence and split into ``num_bins``
    groups whose sizes differ by at most one (``np.array_split``); ``"equal_width"``: bins
    ``((k-1)/B, k/B]`` on ``[0, 1]`` (the first bin includes 0).
    """
    _check(probs, labels)
    if num_bins < 1:
        raise ValueError(f"num_bins must be >= 1, got {num_bins}")
    conf_t, pred = probs.double().max(1)
    conf = conf_t.cpu().numpy()
    correct = (pred == labels).cpu().numpy().astype(np.float64)
    n = conf.shape[0]
    if binning == "equal_mass":
        order = np.argsort(conf, kind="stable")
        groups = np.array_split(order, num_bins)
    elif binning == "equal_width":
        edges = np.linspace(0.0, 1.0, num_bins + 1)
        idx = np.clip(np.ceil(conf * num_bins).astype(int) - 1, 0, num_bins - 1)
        groups = [np.nonzero(idx == b)[0] for b in range(num_bins)]
    else:
        raise ValueError(f"binning must be 'equal_mass' or 'equal_width', got {binning!r}")
    lower, upper, c_mean, a_mean, count = [], [], [], [], []
    for b, g in enumerate(groups):
        count.append(len(g))
        if binning == "equal_width":
            lower.append(edges[b])
            upper.append(edges[b + 1])
        else:
            lower.append(conf[g].min() if len(g) else np.nan)
            upper.append(conf[g].max() if len(g) else np.nan)
        c_mean.append(conf[g].mean() if len(g) else np.nan)
        a_mean.append(correct[g].mean() if len(g) else np.nan)
    count_a = np.asarray(count)
    c_arr, a_arr = np.asarray(c_mean), np.asarray(a_mean)
    full = count_a > 0
    ece_value = float(np.sum(count_a[full] / n * np.abs(a_arr[full] - c_arr[full])))
    return Reliability(np.asarray(lower), np.asarray(upper), c_arr, a_arr, count_a, ece_value)


def ece(probs: Tensor, labels: Tensor, num_bins: int = 20, binning: str = "equal_mass") -> float:
    """Expected calibration error (in ``[0, 1]``); see :func:`reliability_diagram`."""
    return reliability_diagram(probs, labels, num_bins, binning).ece


@torch.inference_mode()
def predict_logits(model: nn.Module, x: Tensor, *, batch_size: int = 2048) -> Tensor:
    """Logits of ``model`` (in eval mode, every submodule's mode restored afterwards) over ``x``,
    shape ``(N, C)``, in batches of ``batch_size``."""
    with eval_mode(model):
        out = [model(x[i : i + batch_size]) for i in range(0, x.shape[0], batch_size)]
    return torch.cat(out).float()


def predict_proba(model: nn.Module, x: Tensor, *, batch_size: int = 2048) -> Tensor:
    """Softmax probabilities over ``x``, shape ``(N, C)``."""
    return F.softmax(predict_logits(model, x, batch_size=batch_size), dim=1)


def evaluate(model: nn.Module, x: Tensor, y: Tensor, *, batch_size: int = 2048) -> dict[str, float]:
    """``{"loss", "nll", "accuracy", "error"}`` of ``model`` on the whole set ``(x, y)``.

    ``loss`` is the mean cross-entropy computed from the logits (equal to ``nll`` up to the
    probability clamp); accuracy and error are fractions in ``[0, 1]``.
    """
    logits = predict_logits(model, x, batch_size=batch_size)
    y = y.to(logits.device)
    loss = F.cross_entropy(logits.double(), y, reduction="mean").item()
    probs = F.softmax(logits.double(), dim=1)
    acc = accuracy(probs, y)
    return {"loss": loss, "nll": nll(probs, y), "accuracy": acc, "error": 1.0 - acc}
