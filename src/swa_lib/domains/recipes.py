"""Each course experiment's settings, read from its script, and the book's offline domains.

:data:`COURSE_RECIPES` maps a row name to ``(recipe, source)``: the :class:`CourseRecipe` the
course's script sets (file and lines of BayesianML-SWA in ``source``). All use AdamW and SGD with
weight decay 1e-4, batch 256 (16 graphs for CLUSTER) and the linear-cycle SWA rates:

========== ================================= ====================== ======================
row        pre-training (epochs, rates)      SWA phase (epochs, rates, cycle) test batch
========== ================================= ====================== ======================
two_d      300, 1e-1 -> 1e-2                 100, 1e-2 -> 1e-3, 10  whole test set
friedman1  100, 1e-2 -> 1e-3                 100, 1e-4 -> 5e-5, 5   256
friedman3  200, 1e-2 -> 1e-4                 100, 1e-5 -> 1e-7, 10  256
mnist      5, 1e-2 -> 1e-3                   12, 1e-3 -> 1e-4, 3    1,024
cifar      20, 1e-2 -> 1e-3                  12, 1e-3 -> 1e-4, 3    1,024
cluster    20, 1e-3 -> 1e-4                  10, 1e-5 -> 1e-6, 2    1,024
========== ================================= ====================== ======================

:data:`DIGITS_EPOCH_SCALE`: scikit-learn's digits have 1,437 training images (6 batches of 256)
where MNIST has 60,000 (235 batches); the ``digits`` recipe is the MNIST one with every epoch
count multiplied by 39 so that both phases take as many SGD steps as the course's MNIST run (the
snapshots fall at the same steps). :func:`domain_and_model` builds the domain and the course's
network for a row; :func:`cifar_domain` wraps :func:`swa_lib.data.load_dataset`.
"""

from __future__ import annotations

from typing import Any

from .base import TensorDomain
from .course import CourseRecipe, SWAPhase
from .course_models import CourseCNN, CourseMLP, CourseMobileNetV2
from .digits import load_digits_domain
from .graphs import CourseGCN, make_sbm_cluster
from .regression import make_friedman, make_two_d, standardize_domain

__all__ = [
    "COURSE_RECIPES",
    "DIGITS_EPOCH_SCALE",
    "domain_and_model",
    "cifar_domain",
    "scale_epochs",
    "ROW_NAMES",
]

#: Epoch multiplier of the digits recipe (MNIST's 235 batches per epoch / the digits' 6).
DIGITS_EPOCH_SCALE = 39


def _recipe(
    pre: tuple[int, float, float],
    swa: tuple[int, float, float, int],
    *,
    batch_size: int = 256,
    test_batch_size: int | None = 1024,
) -> CourseRecipe:
    return CourseRecipe(
        pre[0],
        pre[1],
        pre[2],
        SWAPhase("course", swa[0], lr_max=swa[1], lr_min=swa[2], cycle_epochs=swa[3]),
        batch_size=batch_size,
        test_batch_size=test_batch_size,
    )


_S = DIGITS_EPOCH_SCALE

#: row -> (the course's recipe, its source in BayesianML-SWA).
COURSE_RECIPES: dict[str, tuple[CourseRecipe, str]] = {
    "two_d": (
        _recipe((300, 0.1, 0.01), (100, 0.01, 0.001, 10), test_batch_size=None),
        "src/swa_benchmark/scripts/synthetic/mlp2D.py lines 16-57",
    ),
    "friedman1": (
        _recipe((100, 0.01, 0.001), (100, 1e-4, 5e-5, 5), test_batch_size=256),
        "src/swa_benchmark/scripts/synthetic/mlpFriedman1.py lines 16-58",
    ),
    "friedman3": (
        _recipe((200, 0.01, 1e-4), (100, 1e-5, 1e-7, 10), test_batch_size=256),
        "src/swa_benchmark/scripts/synthetic/mlpFriedman3.py lines 16-58",
    ),
    "mnist": (
        _recipe((5, 0.01, 0.001), (12, 1e-3, 1e-4, 3)),
        "src/swa_benchmark/scripts/mnist/cnn.py lines 15-110",
    ),
    "digits": (
        _recipe((5 * _S, 0.01, 0.001), (12 * _S, 1e-3, 1e-4, 3 * _S)),
        "the MNIST recipe (scripts/mnist/cnn.py lines 15-110), epochs x 39",
    ),
    "cifar10_cnn": (
        _recipe((20, 0.01, 0.001), (12, 1e-3, 1e-4, 3)),
        "src/swa_benchmark/scripts/cifar/cifar10_cnn.py lines 16-113",
    ),
    "cifar10_mobilenet": (
        _recipe((20, 0.01, 0.001), (12, 1e-3, 1e-4, 3)),
        "src/swa_benchmark/scripts/cifar/cifar10_mobilenet.py",
    ),
    "cifar100_mobilenet": (
        _recipe((20, 0.01, 0.001), (12, 1e-3, 1e-4, 3)),
        "src/swa_benchmark/scripts/cifar/cifar100_mobilenet.py lines 16-98",
    ),
    "cluster": (
        _recipe((20, 1e-3, 1e-4), (10, 1e-5, 1e-6, 2), batch_size=16),
        "src/swa_benchmark/scripts/Cluster/gcn.py lines 16-54",
    ),
}

#: The rows this module can build (``mnist`` itself needs MNIST: use ``digits``).
ROW_NAMES = (
    "two_d",
    "friedman1",
    "friedman3",
    "digits",
    "cluster",
    "cifar10_cnn",
    "cifar10_mobilenet",
    "cifar100_mobilenet",
)


def cifar_domain(
    name: str,
    root: str,
    *,
    augment: bool,
    num_samples: int | None = None,
    seed: int = 42,
    device: str = "cpu",
) -> TensorDomain:
    """CIFAR from :func:`swa_lib.data.load_dataset` as a :class:`TensorDomain`. ``augment``
    turns on the library's random crop and flip -- the nearest to the course's flip, rotation,
    affine and colour jitter (``datasets/cifar.py`` lines 10-21) for its MobileNetV2 rows; the
    course's CIFAR-10 CNN trained without augmentation (``cifar10_cnn.py`` line 19)."""
    from ..data import load_dataset

    ds = load_dataset(
        name, root, device=device, num_samples=num_samples, seed=seed, augment=augment
    )
    return TensorDomain(
        name,
        "classification",
        ds.x_train,
        ds.y_train,
        ds.x_test,
        ds.y_test,
        ds.num_classes,
        augment_fn=ds.augment if augment else None,
        info={"source": "swa_lib.data.load_dataset", "seed": seed},
    )


def domain_and_model(row: str, **kw: Any) -> tuple[Any, Any]:
    """``(build_domain(seed), build_model(domain))`` for ``row`` of :data:`ROW_NAMES`.

    Keywords: ``cluster``: ``num_train``, ``num_test`` (graphs); CIFAR rows: ``data_root``,
    ``num_samples``; Friedman rows: ``friedman_samples`` (``None``: the course's 10,000); the
    regression rows: ``standardize=True`` for inputs and targets standardised by the training
    split (:func:`~swa_lib.domains.regression.standardize_domain`; the course used raw data).
    The data of seed ``s`` are drawn with ``s`` (regression, digits split, SBM graphs); CIFAR
    keeps one subset for all seeds.
    """
    if row not in ROW_NAMES:
        raise ValueError(f"row={row!r}; allowed: {', '.join(ROW_NAMES)}")
    if kw.get("standardize"):
        if row not in ("two_d", "friedman1", "friedman3"):
            raise ValueError(f"standardize=True needs a regression row, got row={row!r}")
        build, model = domain_and_model(row, **{**kw, "standardize": False})
        return (lambda s: standardize_domain(build(s))), model
    if row == "two_d":
        return (lambda s: make_two_d(seed=s), lambda d: CourseMLP(2, 16, 1, 3))
    if row in ("friedman1", "friedman3"):
        f = int(row[-1])
        n = kw.get("friedman_samples") or 10_000
        return (
            lambda s: make_friedman(f, n, seed=s),
            lambda d: CourseMLP(int(d.x_train.shape[1]), 32, 1, 3),
        )
    if row == "digits":
        return load_digits_domain, lambda d: CourseCNN(1, 10, 32, 3)
    if row == "cluster":
        n_train, n_test = kw.get("num_train", 10_000), kw.get("num_test", 1_000)
        return (
            lambda s: make_sbm_cluster(n_train, n_test, seed=s),
            lambda d: CourseGCN(7, d.num_outputs, 32, 32, 3),
        )
    name = "cifar100" if row.startswith("cifar100") else "cifar10"
    augment = row.endswith("mobilenet")
    root, num = kw.get("data_root", "data"), kw.get("num_samples")

    def build(s: int) -> TensorDomain:
        return cifar_domain(name, root, augment=augment, num_samples=num)

    if augment:
        return build, lambda d: CourseMobileNetV2(3, d.num_outputs)
    return build, lambda d: CourseCNN(3, d.num_outputs, 32, 3)


def scale_epochs(recipe: CourseRecipe, factor: float) -> CourseRecipe:
    """``recipe`` with every epoch count multiplied by ``factor`` (at least 1 epoch, the same
    number of SWA cycles); ``factor = 1`` is the course's recipe. For smoke tests and budgets."""
    import dataclasses

    if not factor > 0:
        raise ValueError(f"factor must be > 0, got {factor}")
    if factor == 1:
        return recipe
    swa = recipe.swa
    cycle = max(1, round(factor * swa.cycle_epochs))
    new_swa = dataclasses.replace(
        swa, cycle_epochs=cycle, epochs=cycle * (swa.epochs // swa.cycle_epochs)
    )
    return dataclasses.replace(
        recipe, swa=new_swa, pretrain_epochs=max(1, round(factor * recipe.pretrain_epochs))
    )
