#!/usr/bin/env python
"""Benchmark 7: what a laptop run spends its time on -- evaluation before and after issue 16.

One ``training.run`` from an empty folder, its evaluation timed inside the run: every call of
``loop._evaluate`` (whole train and test sets for the SGD iterate and, once it exists, BN
recomputation and the same for the SWA model) is wrapped with a timer, and so is
``loop._checkpoint`` (weights-only checkpoint and ``metrics.csv`` after every epoch). Two
evaluation schedules of the same run:

* **every epoch** -- ``eval_every=1``, what every run did before (the laptop preset's default,
  which notebooks 01 and 02 still ask for because they plot per-epoch curves);
* **final only** -- ``eval_every=None``: the final epoch alone, what a notebook that reads only
  the final metrics now asks for.

The share printed is evaluation time / run time (target: at most 15 % for final-only runs).
Cases: the laptop MLP (``presets.laptop_mnist1d("mlp")``: 60 epochs, SWA from 45) and the BN
CNN of notebooks 03 and 07 (width 16, 20 epochs, SWA from 15); both as the SWA run and as the
SGD baseline.

    python benchmarks/bench_run_cost.py [--quick] [--repeats 1] [--cases mlp cnn1d]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from common import (
    ROOT,
    add_common_args,
    command_line,
    machine_info,
    markdown_table,
    median,
    set_threads,
    threads_arg,
    write_json,
)

from swa_lib.training import TrainConfig, loop, run
from swa_lib.training.presets import laptop_mnist1d

#: name -> laptop_mnist1d arguments
CASES = {
    "mlp": dict(model="mlp"),
    "cnn1d": dict(model="cnn1d", epochs=20, swa_start=15, model_kw={"width": 16}),
}
SCHEDULES = {"every epoch": {"eval_every": 1}, "final only": {"eval_every": None}}


class Timed:
    """Wraps ``loop.<name>`` with a timer while installed (seconds summed in ``total``)."""

    def __init__(self, name: str) -> None:
        self.name, self.total, self.real = name, 0.0, getattr(loop, name)

    def __enter__(self) -> Timed:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return self.real(*args, **kwargs)
            finally:
                self.total += time.perf_counter() - t0

        setattr(loop, self.name, timed)
        return self

    def __exit__(self, *exc: Any) -> None:
        setattr(loop, self.name, self.real)


def one_run(config: TrainConfig) -> dict[str, float]:
    """Seconds of the whole run, of its evaluations and of its checkpoints."""
    folder = Path(tempfile.mkdtemp(prefix="bench-run-cost-"))
    try:
        with Timed("_evaluate") as ev, Timed("_checkpoint") as ck:
            t0 = time.perf_counter()
            run(config, folder, progress=False)
            total = time.perf_counter() - t0
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"total_s": total, "eval_s": ev.total, "checkpoint_s": ck.total}


def measure(case: str, swa: bool, repeats: int) -> list[dict[str, Any]]:
    base = laptop_mnist1d(**CASES[case], data_root=str(ROOT / "data"))
    configs = {
        name: TrainConfig(**{**base, **changes}, swa=swa) for name, changes in SCHEDULES.items()
    }
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in configs}
    for r in range(repeats):  # interleaved: the order alternates per round
        for name in list(configs) if r % 2 == 0 else list(configs)[::-1]:
            samples[name].append(one_run(configs[name]))
    rows = []
    for name, runs in samples.items():
        total = median([s["total_s"] for s in runs])
        ev = median([s["eval_s"] for s in runs])
        ck = median([s["checkpoint_s"] for s in runs])
        cfg = configs[name]
        rows.append(
            {
                "case": case,
                "run": "SWA" if swa else "SGD",
                "schedule": name,
                "epochs": cfg.epochs,
                "evaluated": len(cfg.evaluated_epochs()),
                "run_s": total,
                "eval_s": ev,
                "checkpoint_s": ck,
                "eval_share": ev / total,
                "checkpoint_share": ck / total,
                "n": len(runs),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    add_common_args(ap)
    ap.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    args = ap.parse_args(argv)
    set_threads(threads_arg(args.threads))
    repeats = args.repeats or (1 if args.quick else 3)
    print(f"# {command_line()}\n# {machine_info()}", flush=True)
    rows = []
    for case in args.cases:
        for swa in (True, False):
            new = measure(case, swa, repeats)
            for r in new:
                print(
                    f"  {case} {r['run']} {r['schedule']}: run {r['run_s']:.1f} s, evaluation "
                    f"{r['eval_s']:.1f} s ({100 * r['eval_share']:.1f} %)",
                    flush=True,
                )
            rows += new
    print(
        f"\n## Benchmark 7: evaluation share of a laptop run (cpu, "
        f"{torch.get_num_threads()} thread(s), median of {repeats})\n"
    )
    print(
        markdown_table(
            [
                {
                    "case": r["case"],
                    "run": r["run"],
                    "schedule": r["schedule"],
                    "evaluated epochs": f"{r['evaluated']} of {r['epochs']}",
                    "time": f"{r['run_s']:.1f} s",
                    "evaluation": f"{r['eval_s']:.2f} s",
                    "evaluation share": f"{100 * r['eval_share']:.1f} %",
                    "checkpoints": f"{100 * r['checkpoint_share']:.1f} %",
                    "n": r["n"],
                }
                for r in rows
            ]
        )
    )
    result = {
        "benchmark": "run_cost",
        "command": command_line(),
        "machine": machine_info(),
        "rows": rows,
    }
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
