"""Command line: ``swa-lib train`` (one run, every TrainConfig field a flag) and ``swa-lib compare``
(SGD baseline vs SWA over seeds, with the paired difference; the seeds train together as one
stacked model where they can, :func:`swa_lib.training.run_many`, and the baselines are shared
with every earlier comparison that differs only in SWA settings).

Examples::

    swa-lib train --dataset mnist1d --model cnn1d --epochs 30 --swa-start 20 --swa-lr 0.05
    swa-lib compare --dataset mnist1d --model mlp --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .training import Pair, TrainConfig, TrainingDiverged, pairs_frame, run, sgd_and_swa

__all__ = ["main", "compare", "compare_frame"]

_REQUIRED = ("dataset", "model")


def _field_parser(tp: Any):
    """argparse ``type`` for a dataclass field annotation (string annotations resolved)."""

    def parse_bool(s: str) -> bool:
        if s.lower() in ("1", "true", "yes", "on"):
            return True
        if s.lower() in ("0", "false", "no", "off"):
            return False
        raise argparse.ArgumentTypeError(f"expected true/false, got {s!r}")

    def parse_json(s: str) -> Any:
        try:
            return json.loads(s)
        except json.JSONDecodeError as exc:
            raise argparse.ArgumentTypeError(f"expected JSON, got {s!r}") from exc

    origin = typing.get_origin(tp)
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        inner = _field_parser(args[0])

        def optional(s: str) -> Any:
            return None if s.lower() == "none" else inner(s)

        return optional
    if tp is bool:
        return parse_bool
    if tp in (int, float, str):
        return tp
    return parse_json


def _add_config_args(p: argparse.ArgumentParser, skip: Sequence[str] = ()) -> None:
    hints = typing.get_type_hints(TrainConfig)
    for f in dataclasses.fields(TrainConfig):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        required = f.name in _REQUIRED
        default = None if required else argparse.SUPPRESS
        help_default = "" if required else f" (default: {_default_of(f)})"
        p.add_argument(
            flag,
            dest=f.name,
            type=_field_parser(hints[f.name]),
            required=required,
            default=default,
            help=f"TrainConfig.{f.name}{help_default}",
        )


def _default_of(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None


def _config_from(ns: argparse.Namespace, skip: Sequence[str] = ()) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(TrainConfig)} - set(skip)
    return {k: v for k, v in vars(ns).items() if k in names}


#: ``compare``'s columns -> the ``training.pairs_frame`` column each one is.
_COMPARE_COLUMNS = {
    "seed": "seed",
    "sgd_accuracy": "sgd_test_accuracy",
    "swa_accuracy": "swa_test_accuracy",
    "swa_run_last_iterate_accuracy": "swa_run_last_test_accuracy",
    "sgd_nll": "sgd_test_nll",
    "swa_nll": "swa_test_nll",
    "diff_accuracy": "diff_test_accuracy",
    "diff_nll": "diff_test_nll",
}


def compare_frame(pairs: Sequence[Pair]):
    """The per-seed table of ``pairs`` (from :func:`swa_lib.training.sgd_and_swa`).

    Columns: ``seed``, ``sgd_accuracy``, ``swa_accuracy``, ``swa_run_last_iterate_accuracy``
    (the SWA run's own last SGD iterate), ``sgd_nll``, ``swa_nll`` (test set; accuracy a
    fraction, NLL in nats), ``diff_accuracy`` and ``diff_nll`` (SWA - SGD, paired by seed).
    """
    df = pairs_frame(pairs, ("test_accuracy", "test_nll"))
    return df[list(_COMPARE_COLUMNS.values())].rename(
        columns={v: k for k, v in _COMPARE_COLUMNS.items()}
    )


def compare(
    base: dict[str, Any],
    seeds: Sequence[int],
    runs_dir: str | Path = "runs",
    *,
    progress: bool = True,
):
    """SGD baseline (``swa=False``) vs SWA for each seed (trained or read from the cache by
    :func:`swa_lib.training.sgd_and_swa`); returns :func:`compare_frame`'s table."""
    return compare_frame(sgd_and_swa(base, seeds, runs_dir, progress=progress))


def _summary(df) -> str:
    from .reporting.stats import mean_std, paired_interval

    lines = [df.to_string(index=False, float_format=lambda v: f"{v:.4f}"), ""]
    for col in ("sgd_accuracy", "swa_accuracy", "sgd_nll", "swa_nll"):
        lines.append(f"{col:>14}: {mean_std(df[col])}")
    for col in ("diff_accuracy", "diff_nll"):
        lo, hi = paired_interval(df[col])
        lines.append(
            f"{col:>14}: {mean_std(df[col])}   95% CI [{lo:+.4f}, {hi:+.4f}] "
            f"(SWA - SGD, paired by seed, t interval)"
        )
    return "\n".join(lines)


def _save_plot(pairs: Sequence[Pair], file: str) -> None:
    import matplotlib.pyplot as plt

    from .plotting import plot_compare_curves

    fig = plot_compare_curves(pairs)
    fig.savefig(file, dpi=120)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="swa-lib", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p_train = sub.add_parser("train", help="train one configuration (cached by config hash)")
    _add_config_args(p_train)
    p_train.add_argument("--runs-dir", default="runs")
    p_train.add_argument("--no-progress", action="store_true")

    p_cmp = sub.add_parser("compare", help="SGD vs SWA over seeds, paired difference")
    _add_config_args(p_cmp, skip=("seed", "swa"))
    p_cmp.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p_cmp.add_argument("--runs-dir", default="runs")
    p_cmp.add_argument("--plot", default=None, help="save a per-epoch test-accuracy plot here")
    p_cmp.add_argument("--no-progress", action="store_true")

    ns = parser.parse_args(argv)
    try:
        if ns.command == "train":
            t0 = time.perf_counter()
            res = run(TrainConfig(**_config_from(ns)), ns.runs_dir, progress=not ns.no_progress)
            print(
                f"run folder: {res.path} ({'cached' if res.cached else 'trained'}, "
                f"{time.perf_counter() - t0:.1f} s)"
            )
            print(json.dumps({k: v for k, v in res.final.items() if k != "key"}, indent=2))
        else:
            t0 = time.perf_counter()
            base = _config_from(ns, skip=("seed", "swa"))
            pairs = sgd_and_swa(base, ns.seeds, ns.runs_dir, progress=not ns.no_progress)
            print(_summary(compare_frame(pairs)))
            if ns.plot:
                _save_plot(pairs, ns.plot)
                print(f"plot: {ns.plot}")
            print(f"wall time: {time.perf_counter() - t0:.1f} s")
    except (ValueError, FileNotFoundError, TrainingDiverged) as exc:
        print(f"swa-lib: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
