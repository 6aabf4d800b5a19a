#!/usr/bin/env python
"""Benchmark 1: ``SWA.update`` vs ``torch.optim.swa_utils.AveragedModel.update_parameters``.

For each model (MNIST-1D MLP ~1e5 parameters, PreResNet-164 ~1.7e6 in 494 tensors,
WRN-28-10 ~3.6e7) both averagers are built from the same model and fed the same second model;
an update with ``n_averaged >= 1`` (the lerp path, not the first copy) is timed, interleaved, and
the median is reported. Also measured:

* **peak memory during one update** (new tensor memory alive at once, temporaries included; see
  ``common.peak_tensor_bytes``), next to the size of the averaged copy itself;
* **equality**: after 5 updates with different models, the max abs difference between the two
  averages and against the float64 mean of the 5 models;
* with ``--variants``: the alternatives considered for the CPU fast path (``_foreach_lerp_``, a
  per-tensor ``lerp_`` loop, ``_foreach_mul_`` + ``_foreach_add_``, one ``lerp_`` over flat
  buffers -- a lower bound only reachable if both models lived in flat buffers -- and gathering
  the source into a flat buffer first, the realistic flat path);
* with ``--guarantees`` (the models of ``--guarantee-models``): what the guarantees cost --
  a **bf16** model's update into our float32 average vs ``AveragedModel``'s bf16 one, and the
  error of each after ``--drift-updates`` updates of slowly drifting weights against the float64
  mean of the bf16 values; ``EMA.update`` vs ``AveragedModel`` with
  ``get_ema_multi_avg_fn``, and ``EMA(update_every=4)`` per call; the **stale-BN guard**'s
  forward pre-hook, timed alone and as a share of an eval forward of one batch of 4.

    python benchmarks/bench_averaging.py            # all three models, CPU
    python benchmarks/bench_averaging.py --quick    # fewer repeats (run_all.py)
    python benchmarks/bench_averaging.py --device cuda --models wrn28_10
    git show c728647:src/swa_lib/averaging.py > /tmp/averaging_old.py
    python benchmarks/bench_averaging.py --baseline-module /tmp/averaging_old.py --no-variants
    python benchmarks/bench_averaging.py --guarantees --no-variants --models mlp
"""

from __future__ import annotations

import argparse
import copy
import sys
from typing import Any

import torch
from common import (
    add_common_args,
    command_line,
    fmt_bytes,
    fmt_s,
    interleaved,
    machine_info,
    markdown_table,
    peak_python_bytes,
    peak_tensor_bytes,
    set_threads,
    summarize,
    tensor_bytes,
    threads_arg,
    write_json,
)
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from swa_lib.averaging import EMA, SWA, update_bn
from swa_lib.averaging.guard import StaleBNGuard
from swa_lib.models import build_model

MODELS = ("mlp", "preresnet164", "wrn28_10")


def perturbed(model: nn.Module, seed: int, scale: float = 0.01) -> nn.Module:
    """A copy of ``model`` with Gaussian noise of std ``scale`` added to its float tensors."""
    out = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in list(out.parameters()) + list(out.buffers()):
            if t.is_floating_point():
                t.add_(scale * torch.randn(t.shape, generator=gen).to(t.device))
    return out


def _state(ref: AveragedModel) -> dict[str, torch.Tensor]:
    return {k[len("module.") :]: v for k, v in ref.state_dict().items() if k.startswith("module.")}


def equality(model: nn.Module, k: int = 5) -> dict[str, float]:
    """Max abs differences after ``k`` updates: ours vs AveragedModel, each vs the float64 mean."""
    ours, ref = SWA(model), AveragedModel(model)
    names = [n for n, _ in model.named_parameters()]
    mean64 = {n: torch.zeros_like(p, dtype=torch.float64) for n, p in model.named_parameters()}
    for i in range(k):
        m = perturbed(model, 100 + i, scale=0.1)
        ours.update(m)
        ref.update_parameters(m)
        for n, p in m.named_parameters():
            mean64[n] += p.detach().double() / k
        del m
    a, b = ours.module.state_dict(), _state(ref)
    return {
        "max_abs_diff_vs_averagedmodel": max(float((a[n] - b[n]).abs().max()) for n in names),
        "max_abs_err_ours_vs_f64": max(
            float((a[n].double() - mean64[n]).abs().max()) for n in names
        ),
        "max_abs_err_ref_vs_f64": max(
            float((b[n].double() - mean64[n]).abs().max()) for n in names
        ),
        "n_updates": k,
    }


def variants(
    avg: list[torch.Tensor],
    new: list[torch.Tensor],
    repeats: int,
    device: str,
    budget_s: float | None,
) -> dict[str, float]:
    """Median seconds of the candidate fast paths on the same tensors (alpha = 0.25)."""
    alpha = 0.25
    flat_avg = torch.cat([t.reshape(-1) for t in avg])
    flat_new = torch.cat([t.reshape(-1) for t in new])
    scratch = torch.empty_like(flat_new)

    def gather_then_flat() -> None:
        torch.cat([t.reshape(-1) for t in new], out=scratch)
        flat_avg.lerp_(scratch, alpha)

    fns = {
        "foreach_lerp_": lambda: torch._foreach_lerp_(avg, new, alpha),
        "loop lerp_": lambda: [a.lerp_(n, alpha) for a, n in zip(avg, new)],
        "foreach mul_+add_": lambda: (
            torch._foreach_mul_(avg, 1 - alpha),
            torch._foreach_add_(avg, new, alpha=alpha),
        ),
        "flat lerp_ (both flat)": lambda: flat_avg.lerp_(flat_new, alpha),
        "cat source + flat lerp_": gather_then_flat,
    }
    with torch.no_grad():
        times = interleaved(fns, repeats=repeats, warmup=1, device=device, budget_s=budget_s)
    return {k: summarize(v)["median_s"] for k, v in times.items()}


def drift(model: nn.Module, t: int, steps: dict[str, torch.Tensor]) -> None:
    """Set each parameter to ``base + t * step`` (rounded to its dtype): slow drift."""
    with torch.no_grad():
        for n, p in model.named_parameters():
            base, step = steps[n]
            p.copy_(base + t * step)


def bench_bf16(
    name: str, *, device: str, repeats: int, updates: int, budget_s: float | None
) -> dict[str, Any]:
    """bf16 model: update time and final error (vs the float64 mean) of ours (float32 average)
    and AveragedModel (bf16 average)."""
    torch.manual_seed(0)
    model = build_model(name, 10).to(device)
    gen = torch.Generator().manual_seed(3)
    steps = {
        n: (
            p.detach().double().clone(),
            1e-4 * torch.rand(p.shape, generator=gen, dtype=torch.float64).to(device),
        )
        for n, p in model.named_parameters()
    }
    model = model.to(torch.bfloat16)
    other = perturbed(model, 1)
    ours, ref = SWA(model), AveragedModel(model)
    ours.update(model)
    ref.update_parameters(model)
    times = interleaved(
        {"ours": lambda: ours.update(other), "ref": lambda: ref.update_parameters(other)},
        repeats=repeats,
        warmup=1,
        device=device,
        budget_s=budget_s,
    )
    ours, ref = SWA(model), AveragedModel(model)
    mean64 = {n: torch.zeros_like(p, dtype=torch.float64) for n, p in model.named_parameters()}
    for t in range(updates):
        drift(model, t, steps)
        ours.update(model)
        ref.update_parameters(model)
        for n, p in model.named_parameters():
            mean64[n] += p.detach().double() / updates
    a, b = dict(ours.module.named_parameters()), dict(ref.module.named_parameters())

    def err(avg: dict[str, torch.Tensor]) -> float:
        return max(float((avg[n].detach().double() - m).abs().max()) for n, m in mean64.items())

    return {
        "model": name,
        "ours_s": summarize(times["ours"])["median_s"],
        "ref_s": summarize(times["ref"])["median_s"],
        "updates": updates,
        "err_ours": err(a),
        "err_ref": err(b),
        "average_dtype": str(a[next(iter(a))].dtype),
    }


def bench_ema_and_guard(
    name: str, *, device: str, repeats: int, budget_s: float | None
) -> dict[str, Any]:
    """EMA.update vs AveragedModel's EMA; update_every=4 per call; the guard hook's cost."""
    torch.manual_seed(0)
    model = build_model(name, 10).to(device)
    other = perturbed(model, 1)
    ema, sparse = EMA(model, 0.999), EMA(model, 0.999, update_every=4)
    ref = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.999))
    for m in (ema, sparse):
        for _ in range(4):
            m.update(model)
    ref.update_parameters(model)
    # the guard on an average that is not updated while timing (no stale statistics, and the
    # same memory traffic for the guarded and the bare copy)
    x = torch.randn((4, *_input_shape(name)), device=device)
    guarded = SWA(model)
    guarded.update(model)
    update_bn(guarded.module, [x])
    bare = copy.deepcopy(guarded.module)
    bare._forward_pre_hooks.clear()
    noop = copy.deepcopy(bare)  # PyTorch's cost of having any forward pre-hook at all
    noop.register_forward_pre_hook(lambda module, args: None)
    guard = StaleBNGuard(guarded)
    with torch.no_grad():
        times = interleaved(
            {
                "ema": lambda: ema.update(other),
                "ref": lambda: ref.update_parameters(other),
                "sparse x4": lambda: [sparse.update(other) for _ in range(4)],
            },
            repeats=repeats,
            warmup=1,
            device=device,
            budget_s=budget_s,
        )
        times.update(
            interleaved(
                {  # apart from the updates, whose memory traffic blurs these
                    "hook": lambda: guard(guarded.module, (x,)),
                    "forward": lambda: guarded.module(x),
                    "forward_no_hook": lambda: bare(x),
                    "forward_noop_hook": lambda: noop(x),
                },
                repeats=repeats,
                warmup=1,
                device=device,
                budget_s=budget_s,
            )
        )
    med = {k: summarize(v)["median_s"] for k, v in times.items()}
    med["sparse"] = med.pop("sparse x4") / 4  # mean per call over a cycle of 4
    return {"model": name, **{f"{k}_s": v for k, v in med.items()}}


def _input_shape(name: str) -> tuple[int, ...]:
    return (1, 40) if name in ("mlp", "cnn1d") else (3, 32, 32)


def load_module(path: str) -> Any:
    """Import a Python file as a module (an older ``averaging.py`` to compare against)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("averaging_baseline", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bench_model(
    name: str,
    *,
    device: str,
    repeats: int,
    with_variants: bool,
    budget_s: float | None = None,
    baseline: Any = None,
) -> dict[str, Any]:
    torch.manual_seed(0)
    model = build_model(name, 10).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    other = perturbed(model, 1)
    ours, ref = SWA(model), AveragedModel(model)
    ours.update(model)
    ref.update_parameters(model)
    fns = {"ours": lambda: ours.update(other), "ref": lambda: ref.update_parameters(other)}
    if baseline is not None:
        old = baseline.SWA(model)
        old.update(model)
        fns["baseline"] = lambda: old.update(other)

    times = interleaved(fns, repeats=repeats, warmup=1, device=device, budget_s=budget_s)
    t_ours, t_ref = summarize(times["ours"]), summarize(times["ref"])

    mem_ours = peak_tensor_bytes(lambda: ours.update(other), device)
    mem_ref = peak_tensor_bytes(lambda: ref.update_parameters(other), device)
    py_ours = peak_python_bytes(lambda: ours.update(other))
    py_ref = peak_python_bytes(lambda: ref.update_parameters(other))
    largest = max(p.numel() * p.element_size() for p in model.parameters())
    row: dict[str, Any] = {
        "model": name,
        "params": n_params,
        "tensors": len(list(model.parameters())),
        "device": device,
        "ours_s": t_ours,
        "ref_s": t_ref,
        "speedup": t_ref["median_s"] / t_ours["median_s"],
        "param_bytes": tensor_bytes(model.parameters()),
        "largest_tensor_bytes": largest,
        "averaged_copy_bytes_ours": tensor_bytes(
            list(ours.module.parameters()) + list(ours.module.buffers())
        ),
        "averaged_copy_bytes_ref": tensor_bytes(list(ref.parameters()) + list(ref.buffers())),
        "update_peak_bytes_ours": mem_ours["peak"],
        "update_peak_bytes_ref": mem_ref["peak"],
        "update_python_peak_bytes_ours": py_ours,
        "update_python_peak_bytes_ref": py_ref,
    }
    if baseline is not None:
        row["baseline_s"] = summarize(times["baseline"])
        row["speedup_vs_baseline"] = row["baseline_s"]["median_s"] / t_ours["median_s"]
    row.update(equality(model))
    if with_variants:
        avg = [p.detach().clone() for p in model.parameters()]
        new = [p.detach() for p in other.parameters()]
        row["variants_s"] = variants(avg, new, repeats, device, budget_s)
    return row


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    add_common_args(ap)
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    ap.add_argument("--device", default="cpu")
    ap.add_argument(
        "--no-variants",
        dest="variants",
        action="store_false",
        help="skip the comparison of fast-path candidates",
    )
    ap.add_argument(
        "--baseline-module",
        default=None,
        metavar="PATH",
        help="also time SWA from this file (e.g. an older averaging.py from git)",
    )
    ap.add_argument(
        "--guarantees",
        action="store_true",
        help="also measure the cost of bf16 averaging, EMA options and the BN guard",
    )
    ap.add_argument("--guarantee-models", nargs="+", default=["mlp", "preresnet164"])
    ap.add_argument("--drift-updates", type=int, default=300)
    args = ap.parse_args(argv)
    set_threads(threads_arg(args.threads))
    repeats = args.repeats or (5 if args.quick else 11)
    baseline = load_module(args.baseline_module) if args.baseline_module else None
    budget = 20.0 if args.quick else None

    rows = []
    for name in args.models:
        row = bench_model(
            name,
            device=args.device,
            repeats=repeats,
            with_variants=args.variants,
            budget_s=budget,
            baseline=baseline,
        )
        rows.append(row)
        print(
            f"  {name}: ours {fmt_s(row['ours_s']['median_s'])}, AveragedModel "
            f"{fmt_s(row['ref_s']['median_s'])} -> {row['speedup']:.1f}x",
            flush=True,
        )

    print(
        f"\n## Benchmark 1: SWA.update vs AveragedModel.update_parameters ({args.device}, "
        f"{torch.get_num_threads()} thread(s), median of {repeats})\n"
    )
    print(
        markdown_table(
            [
                {
                    "model": r["model"],
                    "params": f"{r['params']:.2e}",
                    "tensors": r["tensors"],
                    "ours": fmt_s(r["ours_s"]["median_s"]),
                    "AveragedModel": fmt_s(r["ref_s"]["median_s"]),
                    "speedup": f"{r['speedup']:.1f}x",
                    "peak extra (ours)": fmt_bytes(r["update_peak_bytes_ours"]),
                    "peak extra (ref)": fmt_bytes(r["update_peak_bytes_ref"]),
                    "average copy": fmt_bytes(r["averaged_copy_bytes_ours"]),
                    "max |ours-ref|": f"{r['max_abs_diff_vs_averagedmodel']:.1e}",
                    "ours vs f64": f"{r['max_abs_err_ours_vs_f64']:.1e}",
                    "ref vs f64": f"{r['max_abs_err_ref_vs_f64']:.1e}",
                }
                for r in rows
            ]
        )
    )
    if baseline is not None:
        print(f"\nSWA.update from {args.baseline_module} vs this one:\n")
        print(
            markdown_table(
                [
                    {
                        "model": r["model"],
                        "baseline": fmt_s(r["baseline_s"]["median_s"]),
                        "ours": fmt_s(r["ours_s"]["median_s"]),
                        "speedup": f"{r['speedup_vs_baseline']:.2f}x",
                    }
                    for r in rows
                ]
            )
        )
    if args.variants:
        print("\nCandidate fast paths (median per update of the parameters; alpha = 0.25):\n")
        print(
            markdown_table(
                [
                    {"model": r["model"], **{k: fmt_s(v) for k, v in r["variants_s"].items()}}
                    for r in rows
                ]
            )
        )
    result = {
        "benchmark": "averaging",
        "command": command_line(),
        "machine": machine_info(),
        "repeats": repeats,
        "rows": rows,
    }
    if args.guarantees:
        result["guarantees"] = guarantees(args, repeats, budget)
    write_json(args.json, result)
    return result


def guarantees(args: Any, repeats: int, budget: float | None) -> dict[str, Any]:
    """Run and print the ``--guarantees`` tables."""
    bf16 = [
        bench_bf16(
            m, device=args.device, repeats=repeats, updates=args.drift_updates, budget_s=budget
        )
        for m in args.guarantee_models
    ]
    print(
        f"\nbf16 model: ours (float32 average) vs AveragedModel (bf16); error after "
        f"{args.drift_updates} updates of drifting weights vs the float64 mean:\n"
    )
    print(
        markdown_table(
            [
                {
                    "model": r["model"],
                    "ours": fmt_s(r["ours_s"]),
                    "AveragedModel": fmt_s(r["ref_s"]),
                    "ratio": f"{r['ours_s'] / r['ref_s']:.2f}",
                    "error ours": f"{r['err_ours']:.1e}",
                    "error AveragedModel": f"{r['err_ref']:.1e}",
                }
                for r in bf16
            ]
        )
    )
    other = [
        bench_ema_and_guard(m, device=args.device, repeats=repeats, budget_s=budget)
        for m in args.guarantee_models
    ]
    print("\nEMA and the stale-BN guard (medians; forward = eval forward of 4 inputs):\n")
    print(
        markdown_table(
            [
                {
                    "model": r["model"],
                    "EMA.update": fmt_s(r["ema_s"]),
                    "AveragedModel EMA": fmt_s(r["ref_s"]),
                    "EMA(update_every=4), per call": fmt_s(r["sparse_s"]),
                    "guard hook": fmt_s(r["hook_s"]),
                    "forward": fmt_s(r["forward_s"]),
                    "forward, no-op hook": fmt_s(r["forward_noop_hook_s"]),
                    "forward, no hook": fmt_s(r["forward_no_hook_s"]),
                }
                for r in other
            ]
        )
    )
    return {"bf16": bf16, "ema_guard": other}


if __name__ == "__main__":
    main(sys.argv[1:])
