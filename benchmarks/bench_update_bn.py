#!/usr/bin/env python
"""Benchmark 2: BN recomputation, ``swa_lib.averaging.update_bn`` vs ``torch.optim.swa_utils``.

Same model weights, same data, same batches (batch 128, no shuffling, a smaller last batch):

* ours: ``update_bn(model, iterate_batches(x, y, 128, shuffle=False))`` -- the data are tensors on
  the device and each batch is a slice (a view);
* torch: ``torch.optim.swa_utils.update_bn(DataLoader(TensorDataset(x, y), batch_size=128), model)``
  -- the standard loader, which indexes and collates sample by sample.

Cases: ``cnn1d`` on MNIST-1D-shaped data (4000 x 1 x 40), a small CIFAR BN CNN
(``common.small_cifar_cnn``, width 32) on 3000 random 3 x 32 x 32 images (``--quick``: width 16,
2000 images), an MLP with a dropout (p = 0.3) *before* a BN on the MNIST-1D shape, and without
``--quick`` also ``vgg16_bn`` on 600 images (3 repeats on a CPU). All models are in eval mode,
as an average's module is: ours switches only the BN layers to train mode, torch's
``model.train()`` switches the dropout on too, and its noise enters the statistics.

Reported: median seconds per full pass (interleaved), and the max abs error of every BN's
``running_mean`` (and ``running_var``) against a float64 reference: the float64 copy of the model
run over the same batches, whose BN inputs give the exact sample mean over all ``N`` samples,
``sum_j b_j mean_j / N`` (and ``sum_j b_j var_j / N`` with batch ``j``'s unbiased variance
``var_j``, the quantity BN tracks). torch's ``momentum=None`` weights batches equally, so its
error grows with the last batch's deficit; ours weights by batch size. The reference runs with
only the BN layers in train mode (dropout off, as at evaluation).

With ``--baseline-module PATH`` (an older ``averaging.py``, e.g. ``git show
2b7a9c0:src/swa_lib/averaging.py``) its ``update_bn`` is timed as well, and the max abs
difference of every BN buffer between the two is reported (0 where the model has no dropout:
the BN-only train mode changes nothing else).

    python benchmarks/bench_update_bn.py [--quick] [--device cuda] [--baseline-module PATH]
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
    fmt_s,
    interleaved,
    machine_info,
    markdown_table,
    set_threads,
    small_cifar_cnn,
    summarize,
    threads_arg,
    write_json,
)
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.optim.swa_utils import update_bn as torch_update_bn
from torch.utils.data import DataLoader, TensorDataset

from swa_lib.averaging import update_bn
from swa_lib.data import iterate_batches
from swa_lib.models import build_model
from swa_lib.modes import train_mode


def bn_layers(model: nn.Module) -> list[_BatchNorm]:
    return [m for m in model.modules() if isinstance(m, _BatchNorm)]


@torch.no_grad()
def float64_reference(model: nn.Module, x: Tensor, batch_size: int) -> list[tuple[Tensor, Tensor]]:
    """Per BN layer, the exact ``(mean, var)`` of its inputs over the batches, in float64."""
    ref = copy.deepcopy(model).double().eval()
    sums: dict[int, list[Any]] = {}

    def hook(i: int):
        def pre(_m: nn.Module, args: tuple[Tensor, ...]) -> None:
            a = args[0]
            dims = [d for d in range(a.dim()) if d != 1]
            n = a.numel() // a.shape[1]
            mean = a.mean(dim=dims)
            var = a.var(dim=dims, unbiased=True) if n > 1 else torch.zeros_like(mean)
            b = a.shape[0]
            acc = sums.setdefault(i, [0.0, 0.0, 0])
            acc[0] = acc[0] + b * mean
            acc[1] = acc[1] + b * var
            acc[2] += b

        return pre

    handles = [bn.register_forward_pre_hook(hook(i)) for i, bn in enumerate(bn_layers(ref))]
    with train_mode(ref, only=lambda m: isinstance(m, _BatchNorm)):  # dropout off
        for i in range(0, x.shape[0], batch_size):
            ref(x[i : i + batch_size].double())
    for h in handles:
        h.remove()
    return [(s[0] / s[2], s[1] / s[2]) for _, s in sorted(sums.items())]


def max_errors(model: nn.Module, reference: list[tuple[Tensor, Tensor]]) -> tuple[float, float]:
    bns = bn_layers(model)
    err_mean = max(
        float((bn.running_mean.double() - m).abs().max()) for bn, (m, _) in zip(bns, reference)
    )
    err_var = max(
        float((bn.running_var.double() - v).abs().max()) for bn, (_, v) in zip(bns, reference)
    )
    return err_mean, err_var


def bench_case(
    name: str,
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    batch_size: int,
    repeats: int,
    device: str,
    baseline: Any = None,
) -> dict[str, Any]:
    model = model.to(device).eval()
    x, y = x.to(device), y.to(device)
    ours_model, ref_model, old_model = (copy.deepcopy(model) for _ in range(3))

    def ours() -> None:
        update_bn(ours_model, iterate_batches(x, y, batch_size, shuffle=False))

    def ref() -> None:
        loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=False)
        torch.manual_seed(0)  # the dropout draws
        torch_update_bn(loader, ref_model)

    def old() -> None:
        torch.manual_seed(0)
        baseline.update_bn(old_model, iterate_batches(x, y, batch_size, shuffle=False))

    fns = {"ours": ours, "torch": ref} | ({"baseline": old} if baseline is not None else {})
    times = interleaved(fns, repeats=repeats, warmup=1, device=device)
    reference = float64_reference(model, x, batch_size)
    for fn in fns.values():
        fn()
    e_ours = max_errors(ours_model, reference)
    e_ref = max_errors(ref_model, reference)
    t_ours, t_ref = summarize(times["ours"]), summarize(times["torch"])
    n = x.shape[0]
    row = {
        "case": name,
        "n": n,
        "batch_size": batch_size,
        "last_batch": n % batch_size or batch_size,
        "bn_layers": len(bn_layers(model)),
        "device": device,
        "ours_s": t_ours,
        "torch_s": t_ref,
        "speedup": t_ref["median_s"] / t_ours["median_s"],
        "mean_err_ours": e_ours[0],
        "mean_err_torch": e_ref[0],
        "var_err_ours": e_ours[1],
        "var_err_torch": e_ref[1],
    }
    if baseline is not None:
        row["baseline_s"] = summarize(times["baseline"])
        row["max_abs_diff_vs_baseline"] = max(
            float((a.double() - b.double()).abs().max())
            for a, b in zip(ours_model.buffers(), old_model.buffers())
        )
    return row


def dropout_mlp() -> nn.Module:
    """Dropout (p = 0.3) feeding a BN: where ``model.train()`` puts noise into the statistics."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(40, 256),
        nn.ReLU(),
        nn.Dropout(0.3),
        nn.Linear(256, 256),
        nn.BatchNorm1d(256),
        nn.ReLU(),
        nn.Linear(256, 10),
    )


def cases(quick: bool, tiny: bool = False) -> list[tuple[str, nn.Module, Tensor, Tensor]]:
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    n1, n2 = (500, 300) if tiny else (4000, 2000) if quick else (4000, 3000)
    width = 16 if quick or tiny else 32
    out = [
        (
            "cnn1d, MNIST-1D shape",
            build_model("cnn1d", 10),
            torch.randn(n1, 1, 40, generator=gen),
            torch.randint(0, 10, (n1,), generator=gen),
        ),
        (
            f"small CIFAR BN CNN (width {width})",
            small_cifar_cnn(10, width),
            torch.randn(n2, 3, 32, 32, generator=gen),
            torch.randint(0, 10, (n2,), generator=gen),
        ),
        (
            "MLP, dropout before BN",
            dropout_mlp(),
            torch.randn(n1, 1, 40, generator=gen),
            torch.randint(0, 10, (n1,), generator=gen),
        ),
    ]
    if not quick and not tiny:
        out.append(
            (
                "vgg16_bn, CIFAR shape",
                build_model("vgg16_bn", 10),
                torch.randn(600, 3, 32, 32, generator=gen),
                torch.randint(0, 10, (600,), generator=gen),
            )
        )
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    add_common_args(ap)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument(
        "--baseline-module",
        default=None,
        metavar="PATH",
        help="also time update_bn from this file (an older averaging.py from git)",
    )
    args = ap.parse_args(argv)
    set_threads(threads_arg(args.threads))
    repeats = args.repeats or (5 if args.quick else 9)
    baseline = None
    if args.baseline_module:
        from bench_averaging import load_module

        baseline = load_module(args.baseline_module)

    rows = []
    for name, model, x, y in cases(args.quick):
        heavy = name.startswith("vgg16_bn") and torch.device(args.device).type == "cpu"
        row = bench_case(
            name,
            model,
            x,
            y,
            batch_size=args.batch_size,
            repeats=min(repeats, 3) if heavy else repeats,
            device=args.device,
            baseline=baseline,
        )
        rows.append(row)
        print(
            f"  {name}: ours {fmt_s(row['ours_s']['median_s'])}, torch "
            f"{fmt_s(row['torch_s']['median_s'])} -> {row['speedup']:.2f}x",
            flush=True,
        )

    print(
        f"\n## Benchmark 2: update_bn, ours (tensors + iterate_batches) vs torch.optim.swa_utils "
        f"(DataLoader) ({args.device}, {torch.get_num_threads()} thread(s), median of "
        f"{repeats})\n"
    )
    print(
        markdown_table(
            [
                {
                    "case": r["case"],
                    "N / batch / last": f"{r['n']} / {r['batch_size']} / {r['last_batch']}",
                    "ours": fmt_s(r["ours_s"]["median_s"]),
                    "torch": fmt_s(r["torch_s"]["median_s"]),
                    "speedup": f"{r['speedup']:.2f}x",
                    "mean err ours": f"{r['mean_err_ours']:.1e}",
                    "mean err torch": f"{r['mean_err_torch']:.1e}",
                    "var err ours": f"{r['var_err_ours']:.1e}",
                    "var err torch": f"{r['var_err_torch']:.1e}",
                }
                for r in rows
            ]
        )
    )
    if baseline is not None:
        print(f"\nupdate_bn from {args.baseline_module} vs this one:\n")
        print(
            markdown_table(
                [
                    {
                        "case": r["case"],
                        "baseline": fmt_s(r["baseline_s"]["median_s"]),
                        "ours": fmt_s(r["ours_s"]["median_s"]),
                        "ratio": f"{r['baseline_s']['median_s'] / r['ours_s']['median_s']:.2f}x",
                        "max |ours - baseline|": f"{r['max_abs_diff_vs_baseline']:.1e}",
                    }
                    for r in rows
                ]
            )
        )
    result = {
        "benchmark": "update_bn",
        "command": command_line(),
        "machine": machine_info(),
        "repeats": repeats,
        "rows": rows,
    }
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
