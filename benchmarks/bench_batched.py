#!/usr/bin/env python
"""Benchmark 6: seeds trained together -- ``training.run_many`` vs sequential ``training.run``.

**A. Whole runs** (the target). ``K`` seeds (default 5) of the laptop protocol
(``swa_lib.training.presets.laptop_mnist1d(model)``: MNIST-1D, 4,000 training signals, batch
100, SGD + SWA) shortened to ``--epochs`` (the ratio is per epoch: setup and the final
evaluation are a small part), evaluated only at the final epoch (what the notebooks read).
Each call trains from an empty run folder, in one process, interleaved:

* **sequential**: ``[run(c, d) for c in configs]``;
* **run_many**: ``run_many(configs, d)``, the seeds stacked into one model
  (:mod:`swa_lib.training.stacked`).

The ratio printed is ``sequential / run_many`` (target: at least 1.25x on the CPU, 10x on a
GPU). Beside it, the equality of the two: the max abs difference of the final weights
(``sgd.pt``, ``swa.pt``, BN buffers included) and of every ``metrics.csv`` value, over all
seeds. Over many steps the BN CNN's difference grows beyond rounding (a ReLU input within
rounding of 0 flips, and SGD is chaotic: see ``run_many``'s docstring); the exact per-step
equality is in ``tests/test_training_batched.py``.

**B. One training step** (why this implementation): ``K`` single-model SGD steps against one
step of the stack and one step of ``torch.func.vmap`` over ``functional_call`` (stacked
parameters, the same batches), forward + backward + SGD update.

Cases: ``mlp`` (40-256-256-10), ``cnn1d`` at width 32 (the preset's default) and ``cnn1d-w16``
at width 16 (what notebooks 03, 07 and 10 train).

    python benchmarks/bench_batched.py [--quick] [--seeds 5] [--epochs 6] [--models mlp cnn1d]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from common import (
    ROOT,
    add_common_args,
    command_line,
    fmt_s,
    interleaved,
    machine_info,
    markdown_table,
    set_threads,
    summarize,
    threads_arg,
    write_json,
)
from torch import nn

from swa_lib.models import build_model
from swa_lib.training import TrainConfig, run, run_many
from swa_lib.training.presets import laptop_mnist1d
from swa_lib.training.stacked import stack_state, stacked_model

#: name -> (model, model_kw)
CASES = {"mlp": ("mlp", {}), "cnn1d": ("cnn1d", {}), "cnn1d-w16": ("cnn1d", {"width": 16})}


# -- A. whole runs --------------------------------------------------------------------------------


def configs_for(case: str, seeds: int, epochs: int, device: str) -> list[TrainConfig]:
    model, kw = CASES[case]
    base = laptop_mnist1d(
        model,
        epochs=epochs,
        swa_start=max(1, epochs - 2),
        eval_every=None,
        model_kw=kw,
        data_root=str(ROOT / "data"),
        device=device,
    )
    return [TrainConfig(**base, seed=s) for s in range(seeds)]


def max_differences(seq: list[Any], many: list[Any]) -> tuple[float, float]:
    """Max abs difference of the final weights and of the metrics over all seeds."""
    dw = dm = 0.0
    for a, b in zip(seq, many):
        for name in ("sgd.pt", "swa.pt"):
            sa = torch.load(a.path / name, weights_only=True)
            sb = torch.load(b.path / name, weights_only=True)
            dw = max(dw, max((sa[k].double() - sb[k].double()).abs().max().item() for k in sa))
        ma, mb = (r.metrics.drop(columns="epoch_time_s") for r in (a, b))
        dm = max(dm, float((ma - mb).abs().max().max()))
    return dw, dm


def whole_runs(case: str, seeds: int, epochs: int, repeats: int, device: str) -> dict[str, Any]:
    cfgs = configs_for(case, seeds, epochs, device)
    scratch = Path(tempfile.mkdtemp(prefix="bench-batched-"))
    kept: dict[str, list[Any]] = {}

    def fresh(name: str, train: Callable[[Path], list[Any]]) -> Callable[[], None]:
        def call() -> None:
            d = scratch / name
            shutil.rmtree(d, ignore_errors=True)
            kept[name] = train(d)

        return call

    fns = {
        "sequential": fresh("sequential", lambda d: [run(c, d) for c in cfgs]),
        "run_many": fresh("run_many", lambda d: run_many(cfgs, d)),
    }
    times = interleaved(fns, repeats=repeats, warmup=1, device=device)
    dw, dm = max_differences(kept["sequential"], kept["run_many"])
    shutil.rmtree(scratch, ignore_errors=True)
    seq, many = summarize(times["sequential"]), summarize(times["run_many"])
    return {
        "case": case,
        "seeds": seeds,
        "epochs": epochs,
        "sequential_s": seq["median_s"],
        "run_many_s": many["median_s"],
        "ratio": seq["median_s"] / many["median_s"],
        "max_abs_d_weights": dw,
        "max_abs_d_metrics": dm,
        "n": len(times["sequential"]),
    }


# -- B. one training step -------------------------------------------------------------------------


def step_fns(case: str, k: int, device: str) -> dict[str, Callable[[], None]]:
    """One SGD step (batch 100 per model) of: K single models, the stack, vmap."""
    model, kw = CASES[case]
    members = []
    for seed in range(k):
        torch.manual_seed(seed)
        members.append(build_model(model, 10, **kw).to(device).train())
    xs = [torch.randn(100, 1, 40, device=device) for _ in range(k)]
    ys = [torch.randint(0, 10, (100,), device=device) for _ in range(k)]
    y = torch.stack(ys)

    def sgd(params: Any) -> torch.optim.Optimizer:
        return torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=5e-4)

    opts = [sgd(m.parameters()) for m in members]

    def sequential() -> None:
        for m, o, x, t in zip(members, opts, xs, ys):
            loss = F.cross_entropy(m(x), t)
            o.zero_grad()
            loss.backward()
            o.step()

    stack = stacked_model(members[0], k)
    stack.load_state_dict(stack_state([m.state_dict() for m in members]))
    stack_opt = sgd(stack.parameters())

    def stacked() -> None:
        logits = stack(stack.stack_inputs(xs))
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none")
        stack_opt.zero_grad()
        loss.view(k, -1).mean(1).sum().backward()
        stack_opt.step()

    from torch.func import functional_call, vmap

    base = members[0]
    params = {
        n: nn.Parameter(torch.stack([dict(m.named_parameters())[n].detach() for m in members]))
        for n, _ in base.named_parameters()
    }
    buffers = {
        n: torch.stack([dict(m.named_buffers())[n] for m in members])
        for n, _ in base.named_buffers()
    }
    vmap_opt = sgd(list(params.values()))

    def one(p: dict, b: dict, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(functional_call(base, (p, b), (x,)), t)

    xs_t = torch.stack(xs)

    def vmapped() -> None:
        loss = vmap(one)(params, buffers, xs_t, y).sum()
        vmap_opt.zero_grad()
        loss.backward()
        vmap_opt.step()

    fns = {"sequential": sequential, "stacked (ours)": stacked, "vmap": vmapped}
    try:
        vmapped()
    except RuntimeError as exc:  # BN's in-place running stats under vmap
        print(f"  {case}: vmap failed ({str(exc).splitlines()[0][:80]}); left out")
        del fns["vmap"]
    return fns


def one_step(case: str, k: int, repeats: int, device: str) -> list[dict[str, Any]]:
    times = interleaved(step_fns(case, k, device), repeats=repeats, warmup=2, device=device)
    base = summarize(times["sequential"])["median_s"]
    return [
        {
            "case": case,
            "method": name,
            "per step": fmt_s(summarize(ts)["median_s"]),
            "median_s": summarize(ts)["median_s"],
            "speedup": base / summarize(ts)["median_s"],
            "n": len(ts),
        }
        for name, ts in times.items()
    ]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    add_common_args(ap)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=None, help="epochs per run (6; quick 4)")
    ap.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    ap.add_argument("--no-steps", action="store_true", help="skip part B")
    args = ap.parse_args(argv)
    set_threads(threads_arg(args.threads))
    epochs = args.epochs or (4 if args.quick else 6)
    repeats = args.repeats or (3 if args.quick else 5)
    print(f"# {command_line()}\n# {machine_info()}", flush=True)
    runs, steps = [], []
    for case in args.cases:
        r = whole_runs(case, args.seeds, epochs, repeats, args.device)
        print(
            f"  {case}: sequential {r['sequential_s']:.1f} s, run_many {r['run_many_s']:.1f} s"
            f" -> {r['ratio']:.2f}x; max |d weights| {r['max_abs_d_weights']:.1e}, "
            f"max |d metrics| {r['max_abs_d_metrics']:.1e}",
            flush=True,
        )
        runs.append(r)
        if not args.no_steps:
            steps += one_step(case, args.seeds, max(repeats, 10), args.device)
    print(
        f"\n## Benchmark 6: {args.seeds} seeds, run_many vs sequential run ({args.device}, "
        f"{epochs} epochs each, {torch.get_num_threads()} thread(s), median of {repeats})\n"
    )
    print(
        markdown_table(
            [
                {
                    "case": r["case"],
                    "sequential": f"{r['sequential_s']:.1f} s",
                    "run_many": f"{r['run_many_s']:.1f} s",
                    "speed-up": f"{r['ratio']:.2f}x",
                    "max abs d weights": f"{r['max_abs_d_weights']:.1e}",
                    "max abs d metrics": f"{r['max_abs_d_metrics']:.1e}",
                    "n": r["n"],
                }
                for r in runs
            ]
        )
    )
    if steps:
        print(f"\n### One SGD step of {args.seeds} models\n")
        print(markdown_table(steps, ["case", "method", "per step", "speedup", "n"]))
    result = {
        "benchmark": "batched",
        "command": command_line(),
        "machine": machine_info(),
        "device": args.device,
        "runs": runs,
        "steps": steps,
    }
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
