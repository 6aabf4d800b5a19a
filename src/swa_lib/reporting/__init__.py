"""Reporting results as the book prints them.

* :mod:`.glue` -- glue numbers, text and figures into the book (works without myst-nb, e.g. Colab).
* :mod:`.text` -- mean ± std, signed differences, paired intervals and verdicts in words, and the
  small number formats of the prose (significant digits, lists, ranges, counts).
* :mod:`.stats` -- the numbers behind them: mean and std over seeds, paired t intervals and
  p-values, the Holm correction.
* :mod:`.ledger` -- the paper ledger: the claims notebooks record, and a verdict per item.
* :mod:`.published` -- numbers published by others (the SWA and SWAG READMEs, the course report).
"""

from .glue import Text, glue, glue_number, glue_text
from .stats import mean_and_std, paired_interval, paired_sign, summarize_paired
from .text import (
    count_text,
    interval_text,
    interval_verdict,
    listing,
    mean_std,
    mean_std_text,
    paired_text,
    pct,
    pct_mean_std,
    range_text,
    signed,
    significant,
    verdict,
)

__all__ = [
    "Text",
    "glue",
    "glue_text",
    "glue_number",
    "pct",
    "pct_mean_std",
    "paired_text",
    "signed",
    "mean_std_text",
    "mean_std",
    "verdict",
    "interval_verdict",
    "significant",
    "listing",
    "range_text",
    "count_text",
    "interval_text",
    "mean_and_std",
    "paired_interval",
    "paired_sign",
    "summarize_paired",
]
