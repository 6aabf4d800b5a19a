#!/usr/bin/env python
"""Benchmark 4: training throughput, on-device tensor pipeline vs a torchvision ``DataLoader``.

Same random uint8 CIFAR-shaped images (``--n`` of them, 32 x 32 x 3), same model, same optimiser
(SGD, momentum 0.9, weight decay 5e-4), batch 128, one epoch = one timed call, interleaved:

* **on-device**: the images converted once to a normalised float tensor on the device
  (``swa_lib.data.ArrayDataset``, as ``load_dataset`` returns it), then per epoch
  ``iterate_batches(..., shuffle=True, generator=gen)`` and ``ds.augment(xb, gen)`` (random crop
  with 4-pixel black padding and horizontal flip, on the device, batched);
* **DataLoader**: the usual torchvision CIFAR recipe -- a ``Dataset`` that makes a PIL image from
  each uint8 array and applies ``RandomCrop(32, padding=4)``, ``RandomHorizontalFlip()``,
  ``ToTensor()``, ``Normalize(mean, std)``; ``DataLoader(shuffle=True, batch_size=128)`` with
  ``num_workers`` 0 and 2 (not persistent, as in the SWA reference code; workers start each
  epoch), batches moved to the device.

Two rates: **data pipeline only** (batches produced and on the device, no model) and **full
training step**: one epoch of ``swa_lib.training.train_epoch``, the library's own step loop
(forward, loss, backward, SGD step, running loss on the device), fed by either pipeline. On a
CPU the model is the small BN CNN of ``common.small_cifar_cnn`` (``--width``: its compute decides
how much of a step the data pipeline is, so the full-step ratio is reported per width);
``gpu_check.py`` calls the same functions on CUDA with ``vgg16_bn`` / ``preresnet164``.

    python benchmarks/bench_training.py [--quick] [--n 4096] [--width 8 16] [--workers 0 2]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
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
from PIL import Image
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from swa_lib.data import CIFAR_MEAN, CIFAR_STD, ArrayDataset, iterate_batches
from swa_lib.training import build_optimizer, train_epoch

Batches = Iterable[tuple[Tensor, Tensor]]
Augment = Callable[[Tensor], Tensor]
Trainer = Callable[[Batches, "Augment | None"], int]


def make_images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random uint8 images ``(n, 32, 32, 3)`` (HWC, as in CIFAR's pickles) and labels."""
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8),
        rng.integers(0, 10, size=n).astype(np.int64),
    )


def on_device_dataset(images: np.ndarray, labels: np.ndarray, device: str) -> ArrayDataset:
    """The images as ``load_dataset`` holds CIFAR: normalised float32 NCHW tensors on ``device``."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255)
    mean = torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR_STD).view(1, 3, 1, 1)
    x = ((x - mean) / std).contiguous().to(device)
    y = torch.from_numpy(labels).to(device)
    return ArrayDataset(
        name="cifar10",
        x_train=x,
        y_train=y,
        x_test=x[:1],
        y_test=y[:1],
        num_classes=10,
        mean=CIFAR_MEAN,
        std=CIFAR_STD,
        augmentation="crop_flip",
    )


class PILImages(Dataset):
    """torchvision ``CIFAR10``'s ``__getitem__``: uint8 array -> PIL image -> transforms."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        from torchvision import transforms

        self.images, self.labels = images, labels
        self.transform = transforms.Compose(
            [
                transforms.RandomCrop(32, padding=4),
                transforms.RandomHorizontalFlip(),
                transforms.ToTensor(),
                transforms.Normalize(CIFAR_MEAN, CIFAR_STD),
            ]
        )

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])


def make_loader(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    workers: int,
    batch_size: int,
    pin_memory: bool = False,
) -> DataLoader:
    return DataLoader(
        PILImages(images, labels),
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        pin_memory=pin_memory,
    )


def make_trainer(
    model: nn.Module | None,
    device: str,
    *,
    amp: bool = False,
    channels_last: bool = False,
    lr: float = 0.05,
) -> Trainer:
    """``trainer(batches, augment) -> steps``: one epoch of the library's step loop.

    With a model: :func:`swa_lib.training.train_epoch` (the loop ``run`` and the course project
    train with) on SGD (momentum 0.9, weight decay 5e-4, constant ``lr``), so the benchmark times
    the library's own loop. With ``model=None``: the data pipeline only (batches produced and
    augmented on the device, no model).
    """
    if model is None:

        def pipeline_only(batches: Batches, augment: Augment | None) -> int:
            n = 0
            for xb, _ in batches:
                if augment is not None:
                    augment(xb)
                n += 1
            return n

        return pipeline_only
    model.to(device).train()
    if channels_last:
        model.to(memory_format=torch.channels_last)
    opt = build_optimizer("sgd", model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)

    def trainer(batches: Batches, augment: Augment | None) -> int:
        return train_epoch(
            model, opt, batches, augment=augment, amp=amp, channels_last=channels_last
        ).n_steps

    return trainer


def on_device_epoch(
    ds: ArrayDataset, batch_size: int, gen: torch.Generator, trainer: Trainer
) -> int:
    """One epoch of the on-device pipeline; returns the number of batches."""
    batches = iterate_batches(ds.x_train, ds.y_train, batch_size, shuffle=True, generator=gen)
    return trainer(batches, lambda xb: ds.augment(xb, gen))


def loader_epoch(loader: DataLoader, device: str, trainer: Trainer) -> int:
    """One epoch of the DataLoader pipeline (batches moved to ``device``)."""
    non_blocking = torch.device(device).type == "cuda"
    batches = (
        (xb.to(device, non_blocking=non_blocking), yb.to(device, non_blocking=non_blocking))
        for xb, yb in loader
    )
    return trainer(batches, None)


def compare(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    device: str,
    workers: list[int],
    batch_size: int,
    repeats: int,
    model_fn: Callable[[], nn.Module] | None,
    amp: bool = False,
    channels_last: bool = False,
    warmup: int = 1,
    budget_s: float | None = None,
) -> dict[str, Any]:
    """Median seconds per epoch of each pipeline (``model_fn=None``: data pipeline only).

    Every pipeline trains its own copy of the same initial model, so they do identical work.
    """
    ds = on_device_dataset(images, labels, device)
    gen = torch.Generator(device=device).manual_seed(0)
    init = model_fn() if model_fn is not None else None

    def fresh() -> nn.Module | None:
        if init is None:
            return None
        m = model_fn()  # type: ignore[misc]
        m.load_state_dict(init.state_dict())
        return m

    pin = torch.device(device).type == "cuda"
    train_dev = make_trainer(fresh(), device, amp=amp, channels_last=channels_last)
    fns: dict[str, Callable[[], Any]] = {
        "on-device": lambda: on_device_epoch(ds, batch_size, gen, train_dev)
    }
    for w in workers:
        loader = make_loader(images, labels, workers=w, batch_size=batch_size, pin_memory=pin)
        train_w = make_trainer(fresh(), device, amp=amp, channels_last=channels_last)
        fns[f"DataLoader w={w}"] = lambda loader=loader, train_w=train_w: loader_epoch(
            loader, device, train_w
        )
    times = interleaved(fns, repeats=repeats, warmup=warmup, device=device, budget_s=budget_s)
    out = {name: summarize(ts) for name, ts in times.items()}
    return out


def rows_from(kind: str, res: dict[str, Any], n: int) -> list[dict[str, Any]]:
    base = res["on-device"]["median_s"]
    rows = []
    for name, s in res.items():
        rows.append(
            {
                "measure": kind,
                "pipeline": name,
                "s_per_epoch": s["median_s"],
                "epochs_per_s": 1.0 / s["median_s"],
                "images_per_s": n / s["median_s"],
                "on_device_speedup": s["median_s"] / base,
                "n_repeats": s["n"],
            }
        )
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    add_common_args(ap)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--n", type=int, default=None, help="images (default 4096; 2048 with --quick)")
    ap.add_argument(
        "--width",
        type=int,
        nargs="+",
        default=None,
        help="small CNN width(s) for the full training step (default 8 16; 16 with "
        "--quick): the model's share of a step decides the full-step ratio",
    )
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    ap.add_argument("--batch-size", type=int, default=128)
    args = ap.parse_args(argv)
    set_threads(threads_arg(args.threads))
    n = args.n or (2048 if args.quick else 4096)
    widths = args.width or ([16] if args.quick else [8, 16])
    repeats = args.repeats or (3 if args.quick else 5)
    images, labels = make_images(n)

    kw: dict[str, Any] = dict(device=args.device, workers=args.workers, batch_size=args.batch_size)
    data_only = compare(images, labels, model_fn=None, repeats=max(repeats, 5), **kw)
    print(
        "  data pipeline only: "
        + ", ".join(f"{k} {fmt_s(v['median_s'])}/epoch" for k, v in data_only.items()),
        flush=True,
    )
    rows = rows_from("data pipeline only", data_only, n)
    for width in widths:
        torch.manual_seed(0)
        full = compare(
            images, labels, model_fn=lambda w=width: small_cifar_cnn(10, w), repeats=repeats, **kw
        )
        print(
            f"  full training step, width {width}: "
            + ", ".join(f"{k} {fmt_s(v['median_s'])}/epoch" for k, v in full.items()),
            flush=True,
        )
        rows += rows_from(f"full training step, CNN width {width}", full, n)
    print(
        f"\n## Benchmark 4: training throughput ({args.device}, {n} images, batch "
        f"{args.batch_size}, {torch.get_num_threads()} thread(s) in the main process, median "
        f"of {repeats}+)\n"
    )
    print(
        markdown_table(
            [
                {
                    "measure": r["measure"],
                    "pipeline": r["pipeline"],
                    "s/epoch": fmt_s(r["s_per_epoch"]),
                    "epochs/s": f"{r['epochs_per_s']:.2f}",
                    "images/s": f"{r['images_per_s']:.0f}",
                    "on-device speedup": f"{r['on_device_speedup']:.2f}x",
                }
                for r in rows
            ]
        )
    )
    result = {
        "benchmark": "training",
        "command": command_line(),
        "machine": machine_info(),
        "n_images": n,
        "widths": widths,
        "batch_size": args.batch_size,
        "rows": rows,
    }
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
