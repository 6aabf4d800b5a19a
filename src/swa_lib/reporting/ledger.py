"""The paper ledger: what each experiment notebook measured for each claim of the SWA paper.

Each experiment notebook that tests a claim of Izmailov et al. (2018) ends with
:func:`record_claims`, which writes its :class:`Claim` records to
``<runs_dir>/ledger/<notebook>.json`` (atomically, replacing that notebook's earlier records).
The ledger chapter reads them all back (:func:`read_claims`), computes a verdict per item of the
paper from the numbers (:func:`claim_verdict`) and prints one row per item and regime
(:func:`ledger_frame`, :func:`ledger_markdown`). :data:`PAPER_ITEMS` is the catalogue of the
paper's items, in the paper's order, each with its claim in one sentence.

The verdict rule. A record is one *regime* (e.g. "paper's recipe ratio 0.3") of one item, with
the mean of a statistic whose sign the paper's claim predicts (``expected``) and its 95 %
interval over ``n`` seeds. With ``k`` regimes recorded for one item, each regime's two-sided
p-value is recovered from its t interval (:func:`claim_pvalue`) and the ``k`` tests are
Holm-corrected (:func:`swa_lib.reporting.stats.holm`): a regime *supports* the claim when its
estimate has the expected sign and Holm rejects "zero effect" at 5 %. With one regime this is
exactly "the 95 % interval lies on the expected side of zero".
"""

from __future__ import annotations

import json
import math
import numbers
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as _st

from ..io import atomic_save_json
from .stats import holm, paired_interval
from .text import signed, significant

__all__ = [
    "Claim",
    "PaperItem",
    "PAPER_ITEMS",
    "record_claims",
    "read_claims",
    "read_records",
    "claim_pvalue",
    "regime_support",
    "claim_verdict",
    "ledger_frame",
    "ledger_markdown",
    "verdict_counts",
    "item_summary",
]

EXPECTED = ("positive", "negative")
_NOTEBOOK = re.compile(r"^[0-9]{2}_[a-z0-9_]+$")
_VERSION = 1


@dataclass(frozen=True)
class PaperItem:
    """One item of the paper: ``item`` ("Figure 4"), its ``section``, the paper's ``claim`` in
    one sentence, and ``needs``: what the paper's scale takes ("CIFAR and a GPU"), or ``None``
    when it runs on a CPU. ``laptop``: whether this book tests the item at laptop scale
    (MNIST-1D on a CPU); an item without a record and without a laptop test is "not run here"."""

    item: str
    section: str
    claim: str
    needs: str | None
    laptop: bool = True


PAPER_ITEMS: tuple[PaperItem, ...] = (
    PaperItem(
        "Figure 1",
        "Section 1",
        "On the plane through three FGE samples the SWA average of them lies at the centre of "
        "the region of low test error, and on the plane through SGD and SWA the SGD solution "
        "sits near the edge of a wide region that SWA reaches the centre of.",
        "CIFAR and a GPU",
    ),
    PaperItem(
        "Figure 2",
        "Section 3.1",
        "With a cyclical learning rate the iterate's test error follows the rate: it is lowest "
        "at the end of each cycle, where the rate is smallest and where SWA collects its points.",
        "CIFAR and a GPU",
    ),
    PaperItem(
        "Figure 3",
        "Section 3.1",
        "With a cyclical or a constant rate, the SGD iterates stay at the periphery of a region "
        "of low train loss and test error on the plane through three of them, and their average "
        "lies inside it, with lower test error than the iterates.",
        "CIFAR and a GPU",
    ),
    PaperItem(
        "Section 3.3",
        "Section 3.3",
        "SWA costs almost nothing over SGD: one extra copy of the weights, an averaging step "
        "per cycle and one pass over the data to recompute BatchNorm statistics.",
        None,
    ),
    PaperItem(
        "Figure 4",
        "Section 3.4",
        "Along random directions from each solution, train loss and test error rise more slowly "
        "from SWA than from SGD: SWA's optimum is wider.",
        "CIFAR and a GPU",
    ),
    PaperItem(
        "Figure 5",
        "Section 3.4",
        "On the line from SGD to SWA, SGD lies near the edge of the low-train-loss region and "
        "SWA near its centre; SWA has higher train loss but lower test error than SGD, because "
        "the test-error surface is shifted relative to the train loss.",
        "CIFAR and a GPU",
    ),
    PaperItem(
        "Section 3.4",
        "Section 3.4",
        "SWA finds much flatter solutions than SGD (the abstract; the section measures "
        "flatness as width along random directions and on the SGD-SWA line, Figures 4 and 5; "
        "curvature, e.g. the Hessian, is not the paper's measure but the same claim).",
        "CIFAR and a GPU",
    ),
    PaperItem(
        "Section 3.5",
        "Section 3.5",
        "To first order in the spread of the averaged weights, SWA's prediction equals FGE's "
        "ensemble prediction, so SWA approximates FGE's ensemble with a single model.",
        "CIFAR and a GPU",
    ),
    PaperItem(
        "Section 3.6",
        "Section 3.6",
        "In the convex case SWA is Polyak-Ruppert averaging, whose averaged SGD iterate "
        "converges at the optimal rate even with a constant or slowly decaying step.",
        None,
    ),
    PaperItem(
        "Table 1",
        "Section 4.1",
        "On CIFAR-10 and CIFAR-100, SWA with the same training budget as SGD (and more so with "
        "1.25 and 1.5 budgets) has higher test accuracy than SGD, comparable to FGE's ensemble.",
        "CIFAR and a GPU",
    ),
    PaperItem(
        "Table 2",
        "Section 4.2",
        "On ImageNet, 5 or 10 extra epochs of SWA from pre-trained ResNet-50, ResNet-152 and "
        "DenseNet-161 raise top-1 accuracy over the pre-trained models by about 0.6-0.9 points.",
        "ImageNet and a GPU",
        laptop=False,
    ),
    PaperItem(
        "Figure 6",
        "Section 4.3",
        "SWA's test error depends on the learning-rate schedule of the averaging phase: both "
        "cyclical and constant rates reach low error, the more aggressive constant rate "
        "converging fastest.",
        "CIFAR and a GPU",
    ),
    PaperItem(
        "Figure 7",
        "Section 4.4",
        "Trained from scratch with one constant learning rate, SWA reaches the test error of "
        "conventional SGD with a decaying schedule, far better than SGD at that constant rate.",
        "CIFAR and a GPU",
    ),
)
_ITEMS = {p.item: p for p in PAPER_ITEMS}


@dataclass(frozen=True)
class Claim:
    """What one notebook measured for one regime of one item of the paper.

    ``statistic`` names what was measured, with units (e.g. "SWA - SGD test accuracy
    (points)"); ``estimate`` is its mean and ``[low, high]`` its 95 % interval over ``n``
    seeds (``low`` and ``high`` may be NaN only when ``n == 1``); ``expected`` is the sign the
    paper's claim predicts for the statistic, "positive" or "negative".
    """

    item: str
    regime: str
    protocol: str
    scale: str
    statistic: str
    estimate: float
    low: float
    high: float
    n: int
    expected: str = "positive"

    @classmethod
    def from_diffs(
        cls,
        diffs: Sequence[float],
        *,
        item: str,
        regime: str,
        protocol: str,
        scale: str,
        statistic: str,
        expected: str = "positive",
    ) -> Claim:
        """The claim of paired differences ``diffs`` (one per seed, NaNs dropped): their mean,
        the 95 % Student-t interval of :func:`~swa_lib.reporting.stats.paired_interval` and
        their count (NaN bounds for a single difference)."""
        d = np.asarray(diffs, dtype=np.float64).ravel()
        d = d[~np.isnan(d)]
        if d.size == 0:
            raise ValueError(f"Claim.from_diffs for {item!r}: no (non-NaN) difference given")
        lo, hi = paired_interval(d)
        return cls(
            item, regime, protocol, scale, statistic, float(d.mean()), lo, hi, d.size, expected
        )

    def __post_init__(self) -> None:
        # NumPy scalars are welcome (np.float64, np.int64): stored as plain float / int
        for name in ("estimate", "low", "high"):
            value = getattr(self, name)
            if isinstance(value, numbers.Real) and not isinstance(value, bool):
                object.__setattr__(self, name, float(value))
        if isinstance(self.n, numbers.Integral) and not isinstance(self.n, bool):
            object.__setattr__(self, "n", int(self.n))
        _validate(self)


def _validate(c: Claim) -> None:
    if c.item not in _ITEMS:
        raise ValueError(f"Claim.item={c.item!r}: allowed values are {list(_ITEMS)}")
    if c.expected not in EXPECTED:
        raise ValueError(f"Claim.expected={c.expected!r}: allowed values are {list(EXPECTED)}")
    for name in ("regime", "protocol", "scale", "statistic"):
        value = getattr(c, name)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"Claim.{name}={value!r}: must be a non-empty string")
    if isinstance(c.n, bool) or not isinstance(c.n, int) or c.n < 1:
        raise ValueError(f"Claim.n={c.n!r}: must be an integer >= 1")
    for name in ("estimate", "low", "high"):
        value = getattr(c, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"Claim.{name}={value!r}: must be a float")
        if not math.isfinite(value) and not (name != "estimate" and c.n == 1):
            raise ValueError(
                f"Claim.{name}={value!r}: must be finite (NaN bounds only with n == 1)"
            )
    if c.n > 1 or (math.isfinite(c.low) and math.isfinite(c.high)):
        if not c.low <= c.estimate <= c.high:
            raise ValueError(
                f"Claim low <= estimate <= high violated: low={c.low}, "
                f"estimate={c.estimate}, high={c.high}"
            )


def _ledger_dir(runs_dir: str | Path) -> Path:
    return Path(runs_dir) / "ledger"


def record_claims(runs_dir: str | Path, notebook: str, claims: Sequence[Claim]) -> Path:
    """Write ``claims`` as ``<runs_dir>/ledger/<notebook>.json`` (atomic, strict JSON; NaN bounds
    stored as ``null``), replacing that notebook's earlier records, and return the path.

    ``notebook`` is the notebook's stem (``"13_fge"``); each claim is validated again here.
    """
    if not isinstance(notebook, str) or not _NOTEBOOK.match(notebook):
        raise ValueError(f"notebook={notebook!r}: must be a notebook stem like '13_fge'")
    rows = []
    for c in claims:
        if not isinstance(c, Claim):
            raise TypeError(f"claims must be Claim objects, got {type(c).__name__}")
        _validate(c)
        row = asdict(c)
        for k in ("estimate", "low", "high"):
            row[k] = float(row[k]) if math.isfinite(row[k]) else None
        rows.append(row)
    payload = {"version": _VERSION, "notebook": notebook, "claims": rows}
    return atomic_save_json(_ledger_dir(runs_dir) / f"{notebook}.json", payload, allow_nan=False)


_FIELDS = {f.name for f in fields(Claim)}


def _claim_from_json(row: object, where: str) -> Claim:
    if not isinstance(row, dict) or set(row) != _FIELDS:
        got = sorted(row) if isinstance(row, dict) else type(row).__name__
        raise ValueError(
            f"{where}: a claim must have exactly the keys {sorted(_FIELDS)}, got {got}"
        )
    values = dict(row)
    for k in ("low", "high"):
        values[k] = math.nan if values[k] is None else values[k]
    try:
        return Claim(**values)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from exc


def read_claims(runs_dir: str | Path) -> list[Claim]:
    """Every recorded claim, notebooks in name order (:func:`read_records` adds which notebook
    recorded each)."""
    return [c for _, c in read_records(runs_dir)]


def read_records(runs_dir: str | Path) -> list[tuple[str, Claim]]:
    """Every recorded claim as ``(notebook, claim)``, notebooks in name order.

    Plain JSON only (no pickles); a file whose shape is not what :func:`record_claims` writes
    raises ``ValueError`` naming the file. No ledger directory: an empty list.
    """
    out: list[tuple[str, Claim]] = []
    folder = _ledger_dir(runs_dir)
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from exc
        if (
            not isinstance(data, dict)
            or set(data) != {"version", "notebook", "claims"}
            or data["version"] != _VERSION
            or data["notebook"] != path.stem
            or not isinstance(data["claims"], list)
        ):
            raise ValueError(
                f"{path}: expected {{'version': {_VERSION}, 'notebook': {path.stem!r}, "
                "'claims': [...]}"
            )
        for i, row in enumerate(data["claims"]):
            out.append((path.stem, _claim_from_json(row, f"{path} claim {i}")))
    return out


def claim_pvalue(claim: Claim) -> float:
    """Two-sided p-value of "zero effect" recovered from the claim's 95 % t interval.

    The interval is ``centre ± t_{0.975, n-1} * se``, so ``se = (high - low) / (2 t_q)`` and
    ``p = 2 * P(T_{n-1} > |centre| / se)`` with ``centre = (low + high) / 2`` (the estimate for a
    symmetric interval). NaN for ``n == 1``; 0 or 1 for a zero-width interval.
    """
    if claim.n < 2 or not (math.isfinite(claim.low) and math.isfinite(claim.high)):
        return math.nan
    centre, half = (claim.low + claim.high) / 2, (claim.high - claim.low) / 2
    if half == 0.0:
        return 1.0 if centre == 0.0 else 0.0
    se = half / _st.t.ppf(0.975, claim.n - 1)
    return float(min(1.0, 2.0 * _st.t.sf(abs(centre) / se, claim.n - 1)))


def regime_support(claims: Sequence[Claim], alpha: float = 0.05) -> list[str]:
    """For each claim of one item: ``"supports"`` (expected sign, Holm-rejected at ``alpha``
    over the ``len(claims)`` regimes), ``"opposes"`` (opposite sign, Holm-rejected),
    ``"inconclusive"`` (not rejected: the corrected interval covers zero) or
    ``"one seed"`` (``n == 1``, no interval)."""
    rejected = holm([claim_pvalue(c) for c in claims], alpha)
    out = []
    for c, rej in zip(claims, rejected):
        if c.n < 2:
            out.append("one seed")
        elif not rej:
            out.append("inconclusive")
        else:
            positive = (c.low + c.high) / 2 > 0
            out.append("supports" if positive == (c.expected == "positive") else "opposes")
    return out


def claim_verdict(claims: Sequence[Claim], item: str | None = None) -> str:
    """The ledger's verdict on one item of the paper, computed from its records.

    ``claims``: every record of one item (any number of regimes; their item must agree).
    No record: ``"not run here (needs <what>)"`` when the item needs CIFAR/ImageNet and a GPU
    and the book has no laptop test of it, else ``"not run in this execution"`` (pass ``item``
    then). Otherwise, with :func:`regime_support` over the regimes: ``"reproduced"`` (every
    regime supports the claim), ``"reproduced only in regime X"`` (some; ``"regimes X; Y (2 of
    5)"`` for several), or
    ``"not reproduced at this scale"`` with why: the interval covers zero, or lies on the
    other side of zero.
    """
    items = {c.item for c in claims} | ({item} if item else set())
    if len(items) != 1:
        raise ValueError(f"claim_verdict takes the records of one item, got items {sorted(items)}")
    (name,) = items
    if name not in _ITEMS:
        raise ValueError(f"item={name!r}: allowed values are {list(_ITEMS)}")
    if not claims:
        p = _ITEMS[name]
        return (
            f"not run here (needs {p.needs})"
            if p.needs and not p.laptop
            else "not run in this execution"
        )
    support = regime_support(claims)
    ok = [c.regime for c, s in zip(claims, support) if s == "supports"]
    if len(ok) == len(claims):
        return "reproduced"
    if len(ok) == 1:
        return f"reproduced only in regime {ok[0]}"
    if ok:  # regimes may hold commas: "; " between them
        return f"reproduced only in regimes {'; '.join(ok)} ({len(ok)} of {len(claims)})"
    if all(s == "one seed" for s in support):
        return "not reproduced at this scale (one seed: no interval)"
    if "opposes" in support and "inconclusive" not in support:
        why = (
            "the interval lies on the other side of zero"
            if len(claims) == 1
            else "the intervals lie on the other side of zero"
        )
    elif "opposes" in support:
        why = "intervals cover zero or lie on the other side of zero"
    else:
        why = "the interval covers zero" if len(claims) == 1 else "the intervals cover zero"
    return f"not reproduced at this scale ({why})"


def _result_text(c: Claim) -> str:
    est = signed(c.estimate, 2) if abs(c.estimate) >= 0.01 else significant(c.estimate, 2)
    if c.n < 2:
        return f"{c.statistic}: {est} (n=1)"
    lo, hi = (signed(v, 2) if abs(v) >= 0.01 else significant(v, 2) for v in (c.low, c.high))
    return f"{c.statistic}: {est} (95% CI {lo} to {hi}, n={c.n})"


def ledger_frame(runs_dir: str | Path) -> pd.DataFrame:
    """One row per item of :data:`PAPER_ITEMS` and recorded regime, in the paper's order.

    Columns: ``item``, ``claim`` (the paper's, with its section), ``regime``, ``protocol``,
    ``where tested`` (``{doc}`` link text to the notebook), ``scale``, ``result`` (the statistic,
    its mean and 95 % interval), ``this regime`` (:func:`regime_support`) and ``verdict`` (the
    item's, :func:`claim_verdict`). An item with no record has one row with empty cells.
    """
    records = read_records(runs_dir)
    rows = []
    for p in PAPER_ITEMS:
        mine = [(nb, c) for nb, c in records if c.item == p.item]
        verdict = claim_verdict([c for _, c in mine], item=p.item)
        claim = f"{p.claim} ({p.section})"
        if not mine:
            rows.append(
                dict(
                    item=p.item,
                    claim=claim,
                    regime="",
                    protocol="",
                    **{
                        "where tested": "",
                        "scale": "",
                        "result": "",
                        "this regime": "",
                        "verdict": verdict,
                    },
                )
            )
            continue
        support = regime_support([c for _, c in mine])
        for (nb, c), s in zip(mine, support):
            rows.append(
                dict(
                    item=p.item,
                    claim=claim,
                    regime=c.regime,
                    protocol=c.protocol,
                    **{
                        "where tested": f"{{doc}}`{nb}`",
                        "scale": c.scale,
                        "result": _result_text(c),
                        "this regime": s,
                        "verdict": verdict,
                    },
                )
            )
    return pd.DataFrame(rows)


def item_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per item of :func:`ledger_frame`'s ``frame``, in its order: ``item``, ``claim``,
    ``where tested`` (the distinct notebooks, joined by ", "), ``regimes`` (how many recorded)
    and ``verdict``."""
    rows = []
    for item, g in frame.groupby("item", sort=False):
        where = [w for w in dict.fromkeys(g["where tested"]) if w]
        rows.append(
            {
                "item": item,
                "claim": g["claim"].iloc[0],
                "where tested": ", ".join(where),
                "regimes": int((g["result"] != "").sum()),
                "verdict": g["verdict"].iloc[0],
            }
        )
    return pd.DataFrame(rows)


def verdict_counts(frame: pd.DataFrame) -> dict[str, int]:
    """How many items of the paper got each kind of verdict (one count per item, not per row):
    keys ``"reproduced"``, ``"reproduced only in some regimes"``, ``"not reproduced"``,
    ``"not run here"``, ``"not run in this execution"``."""
    per_item = frame.drop_duplicates("item")["verdict"]
    kinds = {
        "reproduced": lambda v: v == "reproduced",
        "reproduced only in some regimes": lambda v: v.startswith("reproduced only"),
        "not reproduced": lambda v: v.startswith("not reproduced"),
        "not run here": lambda v: v.startswith("not run here"),
        "not run in this execution": lambda v: v == "not run in this execution",
    }
    return {k: int(sum(f(v) for v in per_item)) for k, f in kinds.items()}


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|$~])")
_ROLE_COLUMNS = ("where tested",)  # cells that hold MyST roles, kept as they are


def ledger_markdown(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> str:
    """``frame`` as a MyST/Markdown pipe table, for ``{glue:md}`` with ``:format: myst`` (so the
    ``{doc}`` links of the ``where tested`` column resolve). Every other cell is escaped: a
    regime or statistic such as ``|t*| - |1 - t*|`` or ``swa_lr`` prints as typed, never as
    emphasis, a column break or math."""
    cols = list(columns or frame.columns)
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ValueError(f"columns {missing} not in the frame; allowed: {list(frame.columns)}")

    def cell(v: object, col: str) -> str:
        text = str(v).replace("\n", " ")
        return text.replace("|", "\\|") if col in _ROLE_COLUMNS else _MD_SPECIAL.sub(r"\\\1", text)

    lines = ["| " + " | ".join(_MD_SPECIAL.sub(r"\\\1", c) for c in cols) + " |"]
    lines.append("|" + "---|" * len(cols))
    lines += ["| " + " | ".join(cell(r[c], c) for c in cols) + " |" for _, r in frame.iterrows()]
    return "\n".join(lines)
