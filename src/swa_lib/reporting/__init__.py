"""Reporting results as the book prints them.

* :mod:`.glue` -- glue numbers, text and figures into the book (works without myst-nb, e.g. Colab).
* :mod:`.text` -- mean ± std, signed differences, paired intervals and verdicts in words.
* :mod:`.stats` -- the numbers behind them: paired t intervals over seeds.
* :mod:`.published` -- numbers published by others (the SWA and SWAG READMEs, the course report).
"""

from .glue import Text, glue, glue_text
from .stats import mean_std, paired_interval, summarize_paired
from .text import (
    interval_verdict,
    mean_std_text,
    paired_text,
    pct,
    pct_mean_std,
    signed,
    verdict,
)

__all__ = ["Text", "glue", "glue_text", "pct", "pct_mean_std", "paired_text", "signed",
           "mean_std_text", "verdict", "interval_verdict", "mean_std", "paired_interval",
           "summarize_paired"]
