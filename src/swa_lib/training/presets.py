"""Named base configurations shared by the book's notebooks (so they share cached runs).

``laptop_mnist1d(model)`` is the laptop-scale protocol of the book: MNIST-1D with 5,000 samples
(4,000 train / 1,000 test), on-device augmentation (circular shift ±3, noise 0.05), SGD with
momentum 0.9 and weight decay 5e-4, batch 100. With augmentation the SGD iterate keeps moving at a
constant learning rate, which is the regime where the paper expects averaging to help (a probe
without augmentation memorised the training set, and SWA changed nothing there).
``paper_cifar(model, dataset)`` holds the recipes of the SWA authors' README.

``experiment_base(dataset, model, ...)`` is what every experiment notebook builds its base config
with: the laptop protocol for ``dataset="mnist1d"`` (exactly ``laptop_mnist1d``, so the cached runs
stay the same) and the paper's recipe for ``"cifar10"`` / ``"cifar100"``, with the notebook's knobs
(``epochs``, ``swa_start``, ``swa_lr``, ``budget``, ``num_samples``, ``width``) meaning the same
thing for both. ``require_dataset(dataset, data_dir)`` is the first call of a notebook's paper
profile: it stops at once, saying how to get CIFAR, when CIFAR is not on disk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = [
    "laptop_mnist1d",
    "paper_cifar",
    "PAPER_RECIPES",
    "EXPERIMENT_DATASETS",
    "LAPTOP_MODELS",
    "experiment_base",
    "require_dataset",
    "PAPER_SECONDS",
    "paper_gpu_hours",
]

#: The datasets an experiment notebook runs on: the laptop problem and the paper's two.
EXPERIMENT_DATASETS = ("mnist1d", "cifar10", "cifar100")
#: The models of the laptop protocol (MNIST-1D); the CIFAR models are those of PAPER_RECIPES.
LAPTOP_MODELS = ("mlp", "cnn1d")


def laptop_mnist1d(model: str = "mlp", **overrides: Any) -> dict[str, Any]:
    """TrainConfig keyword arguments of the laptop protocol (override any field)."""
    base: dict[str, Any] = dict(
        dataset="mnist1d",
        model=model,
        num_samples=5000,
        augment=True,
        epochs=60,
        lr_init=0.05,
        momentum=0.9,
        weight_decay=5e-4,
        batch_size=100,
        swa_start=45,
        swa_lr=0.05,
        swa_c_epochs=1,
        eval_every=1,
    )
    base.update(overrides)
    return base


#: (lr_init, weight_decay, swa_lr by dataset, SGD budget in epochs, swa_start) from the README of
#: the authors' code, https://github.com/timgaripov/swa.
PAPER_RECIPES: dict[str, dict[str, Any]] = {
    "vgg16": dict(
        lr_init=0.05,
        weight_decay=5e-4,
        swa_lr={"cifar10": 0.01, "cifar100": 0.01},
        budget=200,
        swa_start=161,
    ),
    "preresnet110": dict(
        lr_init=0.1,
        weight_decay=3e-4,
        swa_lr={"cifar10": 0.01, "cifar100": 0.05},
        budget=150,
        swa_start=126,
    ),
    "preresnet164": dict(
        lr_init=0.1,
        weight_decay=3e-4,
        swa_lr={"cifar10": 0.01, "cifar100": 0.05},
        budget=150,
        swa_start=126,
    ),
    "wrn28_10": dict(
        lr_init=0.1,
        weight_decay=5e-4,
        swa_lr={"cifar10": 0.05, "cifar100": 0.05},
        budget=200,
        swa_start=161,
    ),
}


def paper_cifar(
    model: str,
    dataset: str = "cifar100",
    *,
    budget: float = 1.0,
    swa: bool = True,
    **overrides: Any,
) -> dict[str, Any]:
    """TrainConfig keyword arguments of the paper's CIFAR recipe at ``budget`` x the SGD epochs."""
    if model not in PAPER_RECIPES:
        raise ValueError(f"model={model!r} has no paper recipe; allowed: {sorted(PAPER_RECIPES)}")
    if dataset not in ("cifar10", "cifar100"):
        raise ValueError(f"dataset={dataset!r}: allowed values are 'cifar10', 'cifar100'")
    r = PAPER_RECIPES[model]
    base: dict[str, Any] = dict(
        dataset=dataset,
        model=model,
        epochs=round(r["budget"] * budget),
        lr_init=r["lr_init"],
        weight_decay=r["weight_decay"],
        momentum=0.9,
        batch_size=128,
        swa=swa,
        swa_start=r["swa_start"],
        swa_lr=r["swa_lr"][dataset],
        eval_every=5,
        device="auto",
        amp=True,
        channels_last=True,
    )
    if not swa:
        base["epochs"] = r["budget"]
    base.update(overrides)
    return base


def experiment_base(
    dataset: str = "mnist1d",
    model: str = "mlp",
    *,
    epochs: int | None = None,
    swa_start: int | None = None,
    swa_lr: float | None = None,
    budget: float = 1.0,
    num_samples: int | None = None,
    width: int | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """TrainConfig keyword arguments (without ``seed`` / ``swa``) of an experiment notebook's base
    protocol on ``dataset``: the laptop one on MNIST-1D, the paper's recipe on CIFAR.

    One set of knobs means the same thing on both problems, so a notebook switches problem by
    its ``DATASET`` / ``MODEL`` parameters alone. A knob left at ``None`` takes the protocol's
    value; a given value is used as is (in that problem's epochs and rates):

    * ``epochs``: MNIST-1D 60; CIFAR the recipe's SGD budget (200 for VGG16 and WRN-28-10, 150
      for the PreResNets);
    * ``swa_start``: 45; CIFAR the recipe's (161 or 126);
    * ``swa_lr``: 0.05; CIFAR the recipe's for that dataset (0.01 or 0.05);
    * ``num_samples``: 5000 (4,000 train / 1,000 test); CIFAR ``None``, all 60,000 images;
    * ``width``: the ``cnn1d`` channels (``model_kw``); CIFAR must be ``None`` (the published
      widths).

    ``budget`` scales the default ``epochs`` (``round(budget * E)``, ``E`` the SGD budget; the
    paper's Table 1 budgets are 1, 1.25, 1.5); with ``epochs`` given it must stay 1. On MNIST-1D
    the result equals ``laptop_mnist1d(model, **knobs, **overrides)``, so notebooks keep sharing
    runs with ``01_quickstart``; on CIFAR it is ``paper_cifar(model, dataset)`` (lr_init, weight
    decay, momentum 0.9, batch 128, bf16 autocast and channels-last on a GPU) without its
    ``swa`` flag, which the notebook sets per run.

    Raises:
        ValueError: an unknown ``dataset``, a ``model`` that is not one of that problem's (the
            message lists the allowed names), a ``width`` for a model that has none, or
            ``budget`` together with ``epochs``.
    """
    if dataset not in EXPERIMENT_DATASETS:
        raise ValueError(f"dataset={dataset!r}; allowed: {', '.join(EXPERIMENT_DATASETS)}")
    if not budget > 0 or (epochs is not None and budget != 1.0):
        raise ValueError(
            f"budget={budget!r} must be > 0 and can only scale the default epochs "
            f"(give epochs=None with it, or budget=1 with epochs={epochs!r})"
        )
    if dataset == "mnist1d":
        base = _laptop_base(model, width)
    else:
        base = _cifar_base(model, dataset, width)
    base["epochs"] = round(budget * base["epochs"]) if epochs is None else epochs
    for key, value in (("swa_start", swa_start), ("swa_lr", swa_lr), ("num_samples", num_samples)):
        if value is not None:
            base[key] = value
    base.update(overrides)
    return base


def _laptop_base(model: str, width: int | None) -> dict[str, Any]:
    if model not in LAPTOP_MODELS:
        raise ValueError(
            f"model={model!r} is not a model of dataset='mnist1d'; allowed: "
            f"{', '.join(LAPTOP_MODELS)} (the paper's CIFAR models {', '.join(PAPER_RECIPES)} "
            f"need dataset='cifar10' or 'cifar100')"
        )
    base = laptop_mnist1d(model)
    if width is not None:
        if model != "cnn1d":
            raise ValueError(f"width={width!r} is only a knob of model='cnn1d', not {model!r}")
        base["model_kw"] = {"width": width}
    return base


def _cifar_base(model: str, dataset: str, width: int | None) -> dict[str, Any]:
    if model not in PAPER_RECIPES:
        raise ValueError(
            f"model={model!r} has no paper recipe for dataset={dataset!r}; allowed: "
            f"{', '.join(PAPER_RECIPES)} (the laptop models {', '.join(LAPTOP_MODELS)} need "
            f"dataset='mnist1d')"
        )
    if width is not None:
        raise ValueError(
            f"width={width!r}: the paper's CIFAR models keep their published widths; "
            f"give width=None with dataset={dataset!r}"
        )
    base = paper_cifar(model, dataset)
    del base["swa"]  # the notebook sets it per run (sgd_and_swa, TrainConfig(..., swa=...))
    base["num_samples"] = None
    return base


def require_dataset(dataset: str, data_dir: str | Path, *, download: bool = False) -> None:
    """Stop at once, with how to get it, when ``dataset`` is not under ``data_dir``.

    MNIST-1D is generated offline (nothing to check). For CIFAR the files present are checked
    against their MD5 sums (:func:`swa_lib.data.verify_cifar_files`, about a second for the
    170 MB of pickles) before a notebook spends hours on them; missing ones make
    :func:`swa_lib.data.load_dataset` raise its message (where it expected them), or, with
    ``download``, fetch them first (needs internet).

    Raises:
        FileNotFoundError: CIFAR is absent; the message is the loader's (the folder and files
            expected) plus the ways to get it.
        ValueError: an unknown ``dataset``, or files that fail their checksum.
    """
    if dataset not in EXPERIMENT_DATASETS:
        raise ValueError(f"dataset={dataset!r}; allowed: {', '.join(EXPERIMENT_DATASETS)}")
    if dataset == "mnist1d":
        return
    from ..data import CIFAR_FOLDERS, load_dataset, verify_cifar_files  # torch: imported late

    folder, train_files, test_files, *_ = CIFAR_FOLDERS[dataset]
    path = Path(data_dir) / folder
    if all((path / f).is_file() for f in train_files + test_files):
        verify_cifar_files(dataset, path)  # MD5 before anything is unpickled
        return
    try:  # the loader's message names the folder and files (or, with download, fetches them)
        load_dataset(dataset, data_dir, download=download, num_samples=6, augment=False)
    except FileNotFoundError as exc:
        raise FileNotFoundError(
            f"{exc}\n\nThis notebook runs on {dataset} here (its paper profile: "
            f"DATASET={dataset!r}) and stops before training anything without it. To get it "
            f"(170 MB, checked against the official MD5 sums before use), from the repository "
            f"root on a machine with internet:\n\n"
            f'    python -c "from swa_lib.data import load_dataset; '
            f"load_dataset({dataset!r}, 'data', download=True)\"\n\n"
            f"or copy the extracted official archive (torchvision's layout) into data/; or run "
            f"the notebook at the laptop profile (DATASET='mnist1d')."
        ) from None


#: GPU seconds per training epoch and per evaluation (the BN update plus both splits) of the
#: paper's models on CIFAR, measured once on one H100 (bf16 autocast, channels-last, a fake data
#: set of CIFAR's size; notebook 11's Cost line). PreResNet-110 was not measured.
PAPER_SECONDS: dict[str, dict[str, float]] = {
    "vgg16": dict(epoch=2.7, evaluation=1.0),
    "preresnet164": dict(epoch=26.0, evaluation=11.0),
    "wrn28_10": dict(epoch=8.6, evaluation=12.0),
}


def paper_gpu_hours(model: str, epochs: float, evaluations: float = 0.0) -> float:
    """GPU-hours of ``epochs`` training epochs plus ``evaluations`` evaluations of ``model`` on
    CIFAR at :data:`PAPER_SECONDS`' rates: ``(epochs * s_epoch + evaluations * s_eval) / 3600``.

    An estimate for a notebook's Cost line (one H100; an H200 is about as fast for these small
    models); it ignores data loading and start-up.
    """
    if model not in PAPER_SECONDS:
        raise ValueError(
            f"model={model!r} has no measured timing; allowed: {', '.join(PAPER_SECONDS)}"
        )
    if epochs < 0 or evaluations < 0:
        raise ValueError(f"epochs={epochs!r} and evaluations={evaluations!r} must be >= 0")
    rate = PAPER_SECONDS[model]
    return (epochs * rate["epoch"] + evaluations * rate["evaluation"]) / 3600
