#!/usr/bin/env python
"""Benchmark 3: a 2-D loss-landscape grid, ``swa_lib.landscape.evaluate_plane`` vs a per-point
loop in the style of ``tomgoldstein/loss-landscape``.

Cases: the MNIST-1D CNN (``build_model("cnn1d", 10)``, ``load_dataset("mnist1d",
num_samples=5000)``: 4000 train / 1000 test) and a small CIFAR-shaped BN CNN
(``common.small_cifar_cnn(width=16)``) on random 3x32x32 data; a ``grid x grid`` plane
(``linspace(-1, 1, grid)``) spanned by two filter-normalised random directions around the
freshly initialised model; metrics train loss and test error (``test_error``, a fraction); with
and without recomputing BN statistics at every point (``bn_batch_size`` 128 on both sides).

Methods (timed interleaved, medians reported):

* ``loss-landscape``: for each point set ``p.data = w + a*dx + b*dy`` (``net_plotter.set_weights``),
  then one pass over a ``torch.utils.data.DataLoader`` (batch 128, its default) per split as in
  ``evaluation.eval_loss`` (``loss.item() * batch_size`` summed; batches moved to the device one
  by one); with BN recompute, ``swa_lib.averaging.update_bn`` over a batch-128 train loader first
  (``loss-landscape`` itself never recomputes BN, so this is the fairest equivalent).
* ``ours K=1``: ``evaluate_plane(..., points_per_pass=1)``: data kept on the device, the
  default batch size (256 on CPU, 4096 on CUDA) under ``inference_mode``, one point at a time.
* ``ours K=k``: ``points_per_pass=k``: ``torch.func.vmap`` over ``k`` stacked weight vectors.
* the default (``points_per_pass=None``) is one of the two; the ratio printed is
  ``loss-landscape / ours(default)``;
* ``floor``: the bare forward passes a point needs and nothing around them -- the same model,
  the data already on the device, under ``inference_mode``: with BN recomputation one
  train-mode pass over the training inputs in batches of ``bn_batch_size`` (128), then eval-mode
  passes over the training and test inputs in the engine's batches (256 on CPU, 4096 on CUDA);
  no weight setting, no loss, no accumulation. ``ours(default) / floor`` per point is the
  engine's overhead (target: within 1.2x on the CPU).

All methods must give the same values: the max abs difference against the baseline is printed
per metric (float32, so ~1e-6 for the loss; the test error agrees to float64 rounding -- the
baseline's percent is converted -- unless a logit tie flips). The measured tables are in the
landscape section of ``benchmarks/README.md``.

    python benchmarks/bench_landscape.py            # 21x21, both cases, CPU (slow: many minutes)
    python benchmarks/bench_landscape.py --quick    # 7x7, smaller data, 3 repeats
    python benchmarks/bench_landscape.py --device cuda
"""

from __future__ import annotations

import argparse
import copy
import sys
from typing import Any

import numpy as np
import torch
from common import (
    ROOT,
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
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from swa_lib.averaging import update_bn
from swa_lib.landscape import (
    default_points_per_pass,
    evaluate_plane,
    get_flat_params,
    random_plane,
    unflatten_like,
)
from swa_lib.landscape.engine import default_batch_size

# -- the loss-landscape style baseline -----------------------------------------------------------


def eval_loss(
    net: nn.Module, criterion: nn.Module, loader: DataLoader, device: torch.device
) -> tuple[float, float]:
    """``loss-landscape/evaluation.py::eval_loss``: mean loss and accuracy (%) over a loader."""
    correct = 0
    total_loss = 0.0
    total = 0
    net.eval()
    with torch.no_grad():
        for inputs, targets in loader:
            batch_size = inputs.size(0)
            total += batch_size
            inputs, targets = inputs.to(device), targets.to(device)
            outputs = net(inputs)
            loss = criterion(outputs, targets)
            total_loss += loss.item() * batch_size
            _, predicted = torch.max(outputs.data, 1)
            correct += predicted.eq(targets).sum().item()
    return total_loss / total, 100.0 * correct / total


def baseline_grid(
    model: nn.Module,
    w0: torch.Tensor,
    d1: torch.Tensor,
    d2: torch.Tensor,
    alphas: np.ndarray,
    betas: np.ndarray,
    loaders: dict[str, DataLoader],
    bn: bool,
    device: torch.device,
) -> dict[str, np.ndarray]:
    net = copy.deepcopy(model).to(device)
    params = list(net.parameters())
    weights = [t.clone() for t in unflatten_like(w0.to(device), params)]
    dx = [t.clone() for t in unflatten_like(d1.to(device), params)]
    dy = [t.clone() for t in unflatten_like(d2.to(device), params)]
    criterion = nn.CrossEntropyLoss()
    train_loss = np.zeros((len(alphas), len(betas)))
    test_error = np.zeros_like(train_loss)
    for i, a in enumerate(alphas):
        for j, b in enumerate(betas):
            for p, w, x, y in zip(params, weights, dx, dy):  # net_plotter.set_weights
                p.data = w + (float(a) * x + float(b) * y)
            if bn:
                update_bn(net, loaders["bn"], device=device)
            train_loss[i, j], _ = eval_loss(net, criterion, loaders["train"], device)
            _, acc = eval_loss(net, criterion, loaders["test"], device)
            test_error[i, j] = 1.0 - acc / 100.0  # eval_loss gives the accuracy in %
    return {"train_loss": train_loss, "test_error": test_error}


def floor_points(
    model: nn.Module,
    n_points: int,
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    bn: bool,
    bn_batch_size: int,
    batch_size: int,
) -> None:
    """The bare forward passes of ``n_points`` grid points: per point, with ``bn`` a train-mode
    pass over the training inputs in batches of ``bn_batch_size``, then eval-mode passes over the
    training and test inputs in batches of ``batch_size`` (the outputs are discarded)."""
    x_train, x_test = train[0], test[0]
    with torch.inference_mode():
        for _ in range(n_points):
            if bn:
                model.train()
                for i in range(0, x_train.shape[0], bn_batch_size):
                    model(x_train[i : i + bn_batch_size])
            model.eval()
            for x in (x_train, x_test):
                for i in range(0, x.shape[0], batch_size):
                    model(x[i : i + batch_size])


# -- cases ----------------------------------------------------------------------------------------


def make_case(name: str, quick: bool, device: torch.device) -> dict[str, Any]:
    torch.manual_seed(0)
    if name == "mnist1d-cnn1d":
        from swa_lib.data import load_dataset
        from swa_lib.models import build_model

        ds = load_dataset(
            "mnist1d",
            root=ROOT / "data",
            num_samples=1000 if quick else 5000,
            device="cpu",
            augment=False,
        )
        model = build_model("cnn1d", 10)
        train, test = (ds.x_train, ds.y_train), (ds.x_test, ds.y_test)
    elif name == "cifar-shaped-cnn":
        n_train, n_test = (300, 200) if quick else (1000, 500)
        g = torch.Generator().manual_seed(0)
        train = (
            torch.randn(n_train, 3, 32, 32, generator=g),
            torch.randint(0, 10, (n_train,), generator=g),
        )
        test = (
            torch.randn(n_test, 3, 32, 32, generator=g),
            torch.randint(0, 10, (n_test,), generator=g),
        )
        model = small_cifar_cnn(10, width=16)
    else:
        raise ValueError(name)
    return {
        "name": name,
        "model": model.to(device),
        "cpu_train": train,
        "cpu_test": test,
        "train": tuple(t.to(device) for t in train),
        "test": tuple(t.to(device) for t in test),
        "params": sum(p.numel() for p in model.parameters()),
    }


def run_case(
    case: dict[str, Any], grid: int, bn: bool, ks: list[int], repeats: int, device: torch.device
) -> list[dict[str, Any]]:
    model = case["model"]
    w0 = get_flat_params(model)
    d1, d2 = random_plane(model, seed=0)
    alphas = betas = np.linspace(-1.0, 1.0, grid)
    bs = 128
    loaders = {
        "train": DataLoader(TensorDataset(*case["cpu_train"]), batch_size=bs, shuffle=False),
        "test": DataLoader(TensorDataset(*case["cpu_test"]), batch_size=bs, shuffle=False),
        "bn": DataLoader(TensorDataset(*case["cpu_train"]), batch_size=bs, shuffle=False),
    }
    default_k = default_points_per_pass(model, device, bn)
    results: dict[str, dict[str, np.ndarray]] = {}

    def ours(k: int, a: np.ndarray = alphas, b: np.ndarray = betas) -> dict[str, np.ndarray]:
        s = evaluate_plane(
            model,
            w0,
            d1,
            d2,
            a,
            b,
            train=case["train"],
            test=case["test"],
            metrics=("train_loss", "test_error"),
            bn_recompute=bn,
            bn_batch_size=bs,
            points_per_pass=k,
            progress=False,
            distributed=False,
        )
        return s.values

    fns = {
        "loss-landscape": lambda: results.__setitem__(
            "loss-landscape", baseline_grid(model, w0, d1, d2, alphas, betas, loaders, bn, device)
        ),
    }
    for k in sorted(set([1, *ks])):
        fns[f"ours K={k}"] = lambda k=k: results.__setitem__(f"ours K={k}", ours(k))
    floor_model = copy.deepcopy(model).to(device)
    fns["floor"] = lambda: floor_points(
        floor_model, grid**2, case["train"], case["test"], bn, bs, default_batch_size(device)
    )
    # warm-up on a small grid (lazy init, allocator, cudnn autotune), then the timed full grids
    baseline_grid(model, w0, d1, d2, alphas[:1], betas[:2], loaders, bn, device)
    for k in sorted(set([1, *ks])):
        ours(k, alphas[:2], betas[: min(grid, max(1, k))])
    floor_points(floor_model, 1, case["train"], case["test"], bn, bs, default_batch_size(device))
    times = interleaved(fns, repeats=repeats, warmup=0, device=device)
    base = results["loss-landscape"]
    t_base = summarize(times["loss-landscape"])["median_s"]
    t_floor = summarize(times.pop("floor"))["median_s"]
    rows = []
    for method, ts in times.items():
        med = summarize(ts)["median_s"]
        vals = results[method]
        is_default = method == f"ours K={default_k}"
        rows.append(
            {
                "case": case["name"],
                "params": case["params"],
                "bn recompute": bn,
                "method": method + (" (default)" if is_default else ""),
                "grid": f"{grid}x{grid}",
                "median": fmt_s(med),
                "median_s": med,
                "per point": fmt_s(med / grid**2),
                "speed-up": t_base / med,
                "floor per point": fmt_s(t_floor / grid**2),
                "vs floor": med / t_floor,
                "max|d train_loss|": float(np.abs(vals["train_loss"] - base["train_loss"]).max()),
                "max|d test_error|": float(np.abs(vals["test_error"] - base["test_error"]).max()),
                "n": len(ts),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_args(ap)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--grid", type=int, default=None, help="points per axis (21; quick 7)")
    ap.add_argument("--cases", nargs="+", default=["mnist1d-cnn1d", "cifar-shaped-cnn"])
    ap.add_argument("--bn", nargs="+", default=["off", "on"], choices=["off", "on"])
    ap.add_argument(
        "--k",
        type=int,
        nargs="+",
        default=None,
        help="points per vmap pass of the vmap variants (default: CPU 8, CUDA 16)",
    )
    args = ap.parse_args(argv)
    set_threads(threads_arg(args.threads))
    device = torch.device(args.device)
    grid = args.grid or (7 if args.quick else 21)
    repeats = args.repeats or (3 if args.quick else 1)
    ks = args.k or [16 if device.type == "cuda" else 8]
    print(f"# {command_line()}")
    print(f"# {machine_info()}")
    rows: list[dict[str, Any]] = []
    for name in args.cases:
        case = make_case(name, args.quick, device)
        for bn in args.bn:
            new = run_case(case, grid, bn == "on", ks, repeats, device)
            rows += new
            print(
                markdown_table(
                    new,
                    [
                        "case",
                        "bn recompute",
                        "method",
                        "grid",
                        "median",
                        "per point",
                        "speed-up",
                        "floor per point",
                        "vs floor",
                        "max|d train_loss|",
                        "max|d test_error|",
                        "n",
                    ],
                ),
                flush=True,
            )
    print()
    print(
        markdown_table(
            rows,
            [
                "case",
                "params",
                "bn recompute",
                "method",
                "grid",
                "median",
                "per point",
                "speed-up",
                "floor per point",
                "vs floor",
                "max|d train_loss|",
                "max|d test_error|",
                "n",
            ],
        )
    )
    print()
    for r in rows:
        if r["method"].endswith("(default)"):
            print(
                f"ratio loss-landscape / ours: {r['speed-up']:.2f}x; ours / floor: "
                f"{r['vs floor']:.2f}x  ({r['case']}, bn recompute {r['bn recompute']}, "
                f"{r['grid']}, {args.device})"
            )
    write_json(args.json, {"command": command_line(), "machine": machine_info(), "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
