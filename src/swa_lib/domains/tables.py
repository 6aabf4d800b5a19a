"""The numbers of :func:`swa_lib.domains.course.course_swa_run` as the chapter's tables.

:func:`runs_frame` flattens runs (one per row and seed) into a tidy DataFrame: one line per
``(row, seed, phase)`` with ``Pretrained`` / ``Final`` / ``Ensemble`` / ``SWA`` metric columns
(the course's per-batch averaged metric, or the exact one with ``per_batch=False``; MSE for
regression, accuracy as a fraction for classification) and the phase's measurements.
:func:`summary_table` prints it per row and phase as ``mean ± std`` over seeds (accuracy in %),
with the paired difference SWA - Final and its 95 % t interval
(:func:`swa_lib.reporting.text.paired_text`), ``n`` seeds stated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ..reporting.text import mean_std_text, paired_text

__all__ = ["runs_frame", "summary_table", "COLUMNS", "MEASURES"]

#: The course's four columns.
COLUMNS = ("Pretrained", "Final", "Ensemble", "SWA")
#: What a phase changed (see :mod:`swa_lib.domains.course`).
MEASURES = (
    "n_averaged",
    "dist_pretrained_to_final",
    "dist_swa_to_final",
    "snapshot_disagreement",
    "swa_final_disagreement",
    "swa_predictions_identical",
)


def runs_frame(
    runs: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    tasks: Mapping[str, str],
    per_batch: bool = True,
) -> pd.DataFrame:
    """``runs[row]`` = the results of its seeds (in seed order); ``tasks[row]`` its task."""
    key = "metric_per_batch" if per_batch else "metric"
    lines = []
    for row, results in runs.items():
        for seed, r in enumerate(results):
            for phase, p in r.items():
                if not isinstance(p, Mapping) or "final" not in p:
                    continue
                lines.append(
                    {
                        "row": row,
                        "task": tasks[row],
                        "seed": seed,
                        "phase": phase,
                        "Pretrained": r["pretrained"][key],
                        "Final": p["final"][key],
                        "Ensemble": p["ensemble"][key],
                        "SWA": p["swa"][key],
                        **{m: p[m] for m in MEASURES},
                    }
                )
    return pd.DataFrame(lines)


def summary_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per ``(row, phase)``: each column as ``mean ± std`` (accuracy in %, MSE with 4
    significant decimals), ``SWA - Final`` paired over seeds with its interval, and ``n``."""
    out = []
    for (row, phase), g in frame.groupby(["row", "phase"], sort=False):
        cls = g["task"].iloc[0] == "classification"
        scale, digits = (100.0, 2) if cls else (1.0, 5)
        cells = {c: mean_std_text(g[c].tolist(), digits, scale=scale) for c in COLUMNS}
        diff = (g["SWA"] - g["Final"]).tolist()
        unit = " points" if cls else " MSE"
        cells["SWA - Final"] = paired_text(diff, scale=scale, digits=digits, unit=unit)
        out.append(
            {
                "row": row,
                "phase": phase,
                "metric": "accuracy %" if cls else "MSE",
                **cells,
                "n": len(g),
            }
        )
    return pd.DataFrame(out).set_index(["row", "phase"])
