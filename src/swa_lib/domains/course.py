"""The course project's two-phase protocol exactly as its code runs it, on any domain.

Every experiment of the course (BayesianML-SWA, ``src/swa_benchmark/scripts/*``) does the same:

1. **Pre-training** (``utils/training.py`` ``train``, lines 50-70): AdamW (``weight_decay=1e-4``)
   for ``pretrain_epochs`` epochs, the rate set every iteration from the cosine table of
   :func:`~swa_lib.domains.course_schedules.course_cosine_table`; loss MSE or cross-entropy.
2. **SWA phase** (``swa_train``, lines 73-124): plain ``torch.optim.SGD`` (no momentum,
   ``weight_decay=1e-4``) on the linear-cycle table of
   :func:`~swa_lib.domains.course_schedules.course_swa_linear_table`; after epoch ``e``
   (0-based) with ``e > 0`` and ``(e + 1) % L == 0`` the *parameters* (not the buffers) are folded
   into ``swa_model``, a freshly built network (``swa.py``: ``w <- (w n + p) / (n + 1)``); for the
   image scripts (``bn_update=True``) one train-mode pass over the training loader follows, which
   does not reset the BN statistics (:func:`swa_lib.training.course_project.update_bn_no_reset`);
   then, for the image scripts (``return_ensemble=True``), a deep copy of ``swa_model`` -- the
   *running average*, not the SGD iterate -- joins the Ensemble (``models/ensemble.py``:
   ``log(mean softmax)`` over its members).
3. **Evaluation** (``test_epoch``, lines 26-40): the mean over test batches of each batch's loss
   and accuracy (per-batch averaged; batch 1,024 for images and graphs, 256 or the whole test set
   for regression).

:func:`course_swa_run` does (1) once per seed (cached) and then one SWA phase per
:class:`SWAPhase`: the course's (:func:`course_phase`) or the paper's Table 2 protocol from a
pre-trained model (:func:`paper_table2_phase`, the paper's Section 4.2: cyclic rate
``1e-3 -> 1e-5`` with one-epoch cycles, a model averaged every cycle, BN recomputed exactly; SGD
momentum 0.9, the authors' code's default). It reports for the
pre-trained model, the last iterate ("Final"), the Ensemble and SWA the loss and metric both per
batch (the course's numbers) and exactly (sample-weighted), and what the phase changed: the
parameter distance travelled from the pre-trained point, the distance between SWA and Final, the
snapshots' prediction disagreement (classification: mean pairwise fraction of test points on which
two snapshots' predicted classes differ; regression: mean pairwise RMS difference of predictions)
and the fraction of test predictions on which SWA and Final differ.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.utils import parameters_to_vector

from ..averaging import update_bn
from ..io import atomic_save_json, atomic_torch_save, stable_hash
from ..schedules import cyclic_lr, swa_schedule
from ..training.config import resolve_device
from ..training.course_project import update_bn_no_reset
from ..training.runs import FINAL_FILE, load_weights, locked, read_final, seed_everything
from .course_schedules import course_cosine_table, course_swa_linear_table

__all__ = [
    "SWAPhase",
    "CourseRecipe",
    "course_phase",
    "paper_table2_phase",
    "course_swa_run",
    "evaluate_course",
    "fold_parameters",
    "ensemble_predict",
    "CACHE_VERSION",
]

#: Bump when a code change alters the numbers a recipe produces.
CACHE_VERSION = 1

# ``build_domain(seed) -> domain`` and ``build_model(domain) -> nn.Module``.
DomainBuilder = Callable[[int], Any]
ModelBuilder = Callable[[Any], nn.Module]


@dataclass(frozen=True)
class SWAPhase:
    """One SWA phase from the pre-trained model.

    Fields: ``name``; ``epochs``; ``lr_max``, ``lr_min`` (the rate range); ``schedule``
    (``"course_linear"``: :func:`course_swa_linear_table`; ``"paper_cyclic"``: paper Eq. 2,
    :func:`swa_lib.schedules.cyclic_lr`); ``cycle_epochs`` (a model averaged at the end of each
    cycle); ``momentum``, ``weight_decay`` (SGD); ``bn`` (``"course"``: parameters averaged into a
    fresh model, then :func:`update_bn_no_reset` after each snapshot if the model has BN;
    ``"exact"``: :func:`swa_lib.averaging.update_bn` once at the end); ``start``
    (``"pretrained"``: from the pre-trained model; ``"scratch"``: from a fresh initialisation, the
    full SWA run at the same budget); ``swa_start`` (``schedule="paper_swa"`` only: the paper's
    schedule, :func:`swa_lib.schedules.swa_schedule` -- ``lr_max`` until half of ``swa_start``,
    linear to ``lr_min`` at 90 % of it, then constant -- with a model averaged after every epoch
    from ``swa_start`` on).
    """

    name: str
    epochs: int
    lr_max: float
    lr_min: float
    cycle_epochs: int
    schedule: str = "course_linear"
    momentum: float = 0.0
    weight_decay: float = 1e-4
    bn: str = "course"
    start: str = "pretrained"
    swa_start: int = 0

    def __post_init__(self) -> None:
        if self.schedule not in ("course_linear", "paper_cyclic", "paper_swa"):
            raise ValueError(
                f"schedule={self.schedule!r}; allowed: 'course_linear', 'paper_cyclic', 'paper_swa'"
            )
        if self.start not in ("pretrained", "scratch"):
            raise ValueError(f"start={self.start!r}; allowed: 'pretrained', 'scratch'")
        if self.schedule == "paper_swa" and not 0 < self.swa_start < self.epochs:
            raise ValueError(f"need 0 < swa_start < epochs={self.epochs}, got {self.swa_start}")
        if self.bn not in ("course", "exact"):
            raise ValueError(f"bn={self.bn!r}; allowed: 'course', 'exact'")
        if self.cycle_epochs < 1 or self.epochs % self.cycle_epochs:
            raise ValueError(
                f"cycle_epochs must divide epochs={self.epochs}, got {self.cycle_epochs}"
            )
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")

    def rates(self, iters_per_epoch: int) -> np.ndarray:
        """One rate per iteration of the phase."""
        if self.schedule == "course_linear":
            return course_swa_linear_table(
                self.epochs,
                iters_per_epoch,
                lr_min=self.lr_min,
                lr_max=self.lr_max,
                cycle_epochs=self.cycle_epochs,
            )
        if self.schedule == "paper_swa":
            return np.array(
                [
                    swa_schedule(
                        i / iters_per_epoch,
                        lr_init=self.lr_max,
                        swa_lr=self.lr_min,
                        swa_start=self.swa_start,
                    )
                    for i in range(self.epochs * iters_per_epoch)
                ]
            )
        cycle = self.cycle_epochs * iters_per_epoch
        return np.array(
            [
                cyclic_lr(i, lr_max=self.lr_max, lr_min=self.lr_min, cycle=cycle)
                for i in range(1, self.epochs * iters_per_epoch + 1)
            ]
        )

    def snapshot_after(self, epoch: int) -> bool:
        """``(epoch + 1) % L == 0``; the course's phase also requires ``epoch > 0``
        (``training.py`` line 104; it matters only for one-epoch cycles)."""
        if self.schedule == "paper_swa":
            return epoch + 1 > self.swa_start
        first_ok = epoch > 0 or self.schedule != "course_linear"
        return first_ok and (epoch + 1) % self.cycle_epochs == 0


@dataclass(frozen=True)
class CourseRecipe:
    """A course experiment's pre-training and evaluation (``scripts/*``): ``pretrain_epochs``,
    ``pretrain_lr_max``/``pretrain_lr_min`` (AdamW, cosine), ``weight_decay``, ``batch_size``
    (training), ``test_batch_size`` (its per-batch averaged evaluation; ``None`` = the whole test
    set in one batch), and ``swa``, the course's own SWA phase."""

    pretrain_epochs: int
    pretrain_lr_max: float
    pretrain_lr_min: float
    swa: SWAPhase
    batch_size: int = 256
    test_batch_size: int | None = 1024
    weight_decay: float = 1e-4

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def course_phase(recipe: CourseRecipe) -> SWAPhase:
    """The course's SWA phase of ``recipe`` (as its script sets it)."""
    return recipe.swa


def paper_table2_phase(
    recipe: CourseRecipe, *, epochs: int | None = None, cycle_epochs: int = 1
) -> SWAPhase:
    """The paper's protocol from a pre-trained model (Izmailov et al. 2018, Section 4.2
    "ImageNet", Table 2: torchvision's pre-trained networks, SWA for 10 epochs on the cyclical
    schedule with ``alpha_1 = 1e-3``, ``alpha_2 = 1e-5`` and ``c = 1`` epoch, a model averaged at
    the end of every cycle, BN recomputed), run for the course's SWA epochs unless ``epochs`` is
    given. The section names no momentum; 0.9 is the default of the authors' code
    (timgaripov/swa ``train.py`` line 31, ``--momentum``), which the book uses for every SGD
    phase of the paper's protocol."""
    return SWAPhase(
        "paper_table2",
        epochs or recipe.swa.epochs,
        lr_max=1e-3,
        lr_min=1e-5,
        cycle_epochs=cycle_epochs,
        schedule="paper_cyclic",
        momentum=0.9,
        weight_decay=recipe.weight_decay,
        bn="exact",
    )


def _forward(model: nn.Module, inputs: Any) -> Tensor:
    return model(*inputs) if isinstance(inputs, tuple) else model(inputs)


def _loss(task: str, out: Tensor, y: Tensor) -> Tensor:
    if task == "regression":
        return nn.functional.mse_loss(out, y)
    return nn.functional.cross_entropy(out, y)


def _train(
    model: nn.Module,
    domain: Any,
    opt: torch.optim.Optimizer,
    rates: np.ndarray,
    epochs: int,
    batch_size: int,
    gen: torch.Generator,
    after_epoch: Callable[[int], None] | None = None,
) -> None:
    """The course's ``train_epoch`` loop: rate ``rates[epoch * len(loader) + it]`` per step."""
    step = 0
    for epoch in range(epochs):
        model.train()
        for inputs, y in domain.batches("train", batch_size, shuffle=True, generator=gen):
            for group in opt.param_groups:
                group["lr"] = float(rates[step])
            opt.zero_grad()
            loss = _loss(domain.task, _forward(model, domain.augment(inputs, gen)), y)
            loss.backward()
            opt.step()
            step += 1
        if after_epoch is not None:
            after_epoch(epoch)


def _iters_per_epoch(domain: Any, batch_size: int) -> int:
    return sum(1 for _ in domain.batches("train", batch_size))


@torch.no_grad()
def fold_parameters(swa_model: nn.Module, model: nn.Module, n: int) -> None:
    """The course's ``update_swa`` (``utils/swa.py``): ``w <- (w n + p) / (n + 1)`` for every
    parameter; buffers (BN statistics) are left as they are."""
    for w, p in zip(swa_model.parameters(), model.parameters()):
        w.copy_((w * n + p.detach()) / (n + 1))


@torch.no_grad()
def ensemble_predict(models: list[nn.Module], inputs: Any, task: str) -> Tensor:
    """The course's ``Ensembling`` (``models/ensemble.py``): ``log(mean softmax)`` of the members
    (classification) or the mean output (regression, ``after_softmax=False``)."""
    if not models:
        raise ValueError("models must not be empty")
    for m in models:
        m.eval()
    if task == "regression":
        return sum(_forward(m, inputs) for m in models) / len(models)
    return torch.log(sum(torch.softmax(_forward(m, inputs), 1) for m in models) / len(models))


@torch.no_grad()
def batch_summary(losses: list[float], metrics: list[float], sizes: list[int]) -> dict[str, float]:
    """Per-batch values summarised both ways: the course's mean over batches (``*_per_batch``,
    which over-weights a smaller last batch) and the exact size-weighted mean over samples."""
    w = np.asarray(sizes, np.float64) / sum(sizes)
    return {
        "loss_per_batch": float(np.mean(losses)),
        "loss": float(np.dot(w, losses)),
        "metric_per_batch": float(np.mean(metrics)),
        "metric": float(np.dot(w, metrics)),
    }


def evaluate_course(
    predict: Callable[[Any], Tensor], domain: Any, test_batch_size: int | None
) -> dict[str, float]:
    """Loss and metric of ``predict(inputs) -> outputs`` on the test split, two ways.

    ``loss_per_batch`` / ``metric_per_batch``: the course's ``test_epoch`` -- the mean over
    batches of each batch's mean loss (MSE or cross-entropy) and accuracy; ``loss`` / ``metric``:
    the exact sample-weighted means. The metric is the MSE for regression and the accuracy (a
    fraction) for classification.
    """
    bs = test_batch_size or domain.n("test")
    losses, metrics, sizes = [], [], []
    for inputs, y in domain.batches("test", bs):
        out = predict(inputs)
        loss = float(_loss(domain.task, out, y))
        losses.append(loss)
        metrics.append(
            loss if domain.task == "regression" else float((out.argmax(1) == y).double().mean())
        )
        sizes.append(int(y.shape[0]))
    return batch_summary(losses, metrics, sizes)


@torch.no_grad()
def _outputs(model: nn.Module, domain: Any) -> Tensor:
    model.eval()
    return torch.cat([_forward(model, inputs) for inputs, _ in domain.batches("test", 1024)])


def _disagreement(outputs: list[Tensor], task: str) -> float:
    """Mean over pairs: fraction of differing predicted classes, or RMS output difference."""
    pairs = list(itertools.combinations(outputs, 2))
    if not pairs:
        return float("nan")
    if task == "regression":
        return float(np.mean([float((a - b).pow(2).mean().sqrt()) for a, b in pairs]))
    return float(np.mean([float((a.argmax(1) != b.argmax(1)).double().mean()) for a, b in pairs]))


def _has_bn(model: nn.Module) -> bool:
    return any(isinstance(m, _BatchNorm) for m in model.modules())


def _bn_batches(domain: Any, batch_size: int, gen: torch.Generator) -> Iterable[Any]:
    """The course's BN pass iterates its (shuffled, augmented) training loader."""
    return (
        (domain.augment(inputs, gen), y)
        for inputs, y in domain.batches("train", batch_size, shuffle=True, generator=gen)
    )


def _swa_phase(
    model: nn.Module,
    swa_model: nn.Module,
    domain: Any,
    recipe: CourseRecipe,
    phase: SWAPhase,
    seed: int,
    w_pre: Tensor,
) -> dict[str, Any]:
    """One SWA phase from the pre-trained ``model`` (trained in place) and its measurements."""
    gen = torch.Generator().manual_seed(seed + 7919)
    opt = torch.optim.SGD(
        model.parameters(),
        lr=phase.lr_max,
        momentum=phase.momentum,
        weight_decay=phase.weight_decay,
    )
    running: list[nn.Module] = []
    snapshots: list[nn.Module] = []
    bn = _has_bn(model)
    fwd = lambda m, batch: _forward(m, batch[0])  # noqa: E731 - (inputs, y) batches

    def after(epoch: int) -> None:
        if not phase.snapshot_after(epoch):
            return
        fold_parameters(swa_model, model, len(running))
        if bn and phase.bn == "course":
            update_bn_no_reset(swa_model, _bn_batches(domain, recipe.batch_size, gen), forward=fwd)
        elif bn:
            update_bn(swa_model, domain.batches("train", recipe.batch_size), forward=fwd)
        running.append(copy.deepcopy(swa_model))
        snapshots.append(copy.deepcopy(model))

    _train(
        model,
        domain,
        opt,
        phase.rates(_iters_per_epoch(domain, recipe.batch_size)),
        phase.epochs,
        recipe.batch_size,
        gen,
        after,
    )
    tb = recipe.test_batch_size
    out_final, out_swa = _outputs(model, domain), _outputs(swa_model, domain)
    w_final = parameters_to_vector(model.parameters()).detach()
    w_swa = parameters_to_vector(swa_model.parameters()).detach()
    same = (
        torch.allclose(out_final, out_swa)
        if domain.task == "regression"
        else bool((out_final.argmax(1) == out_swa.argmax(1)).all())
    )
    return {
        "final": evaluate_course(lambda x: _forward(model.eval(), x), domain, tb),
        "swa": evaluate_course(lambda x: _forward(swa_model.eval(), x), domain, tb),
        "ensemble": evaluate_course(
            lambda x: ensemble_predict(running, x, domain.task), domain, tb
        ),
        "snapshot_ensemble": evaluate_course(
            lambda x: ensemble_predict(snapshots, x, domain.task), domain, tb
        ),
        "n_averaged": len(running),
        "dist_pretrained_to_final": float((w_final - w_pre).norm()),
        "dist_swa_to_final": float((w_swa - w_final).norm()),
        "snapshot_disagreement": _disagreement(
            [_outputs(m, domain) for m in snapshots], domain.task
        ),
        "swa_final_disagreement": _disagreement([out_final, out_swa], domain.task),
        "swa_predictions_identical": same,
    }


def _pretrained_state(
    spec: dict[str, Any],
    domain: Any,
    build_model: ModelBuilder,
    recipe: CourseRecipe,
    seed: int,
    runs_dir: Path,
) -> dict[str, Tensor]:
    """Pre-train once per (spec, pre-training fields, seed); cached as ``model.pt``."""
    fields = {k: v for k, v in recipe.to_dict().items() if k != "swa"}
    key = stable_hash({"spec": spec, "recipe": fields, "seed": seed, "version": CACHE_VERSION})
    with locked(runs_dir / f"course14-pretrain-{spec['domain']}-{key}") as path:
        if read_final(path) is not None:
            return load_weights(path / "model.pt", what="pre-trained model")
        seed_everything(seed)
        gen = torch.Generator().manual_seed(seed)
        model = build_model(domain)
        opt = torch.optim.AdamW(
            model.parameters(), lr=recipe.pretrain_lr_max, weight_decay=recipe.weight_decay
        )
        rates = course_cosine_table(
            recipe.pretrain_epochs,
            _iters_per_epoch(domain, recipe.batch_size),
            lr_min=recipe.pretrain_lr_min,
            lr_max=recipe.pretrain_lr_max,
        )
        t0 = time.perf_counter()
        _train(model, domain, opt, rates, recipe.pretrain_epochs, recipe.batch_size, gen)
        state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        atomic_torch_save(path / "model.pt", state)
        atomic_save_json(path / FINAL_FILE, {"key": key, "wall_time_s": time.perf_counter() - t0})
        return state


def course_swa_run(
    spec: dict[str, Any],
    build_domain: DomainBuilder,
    build_model: ModelBuilder,
    recipe: CourseRecipe,
    phases: list[SWAPhase],
    seed: int,
    runs_dir: str | Path = "runs",
    *,
    device: str = "cpu",
) -> dict[str, Any]:
    """Pre-train (cached) and run every SWA phase of ``phases`` from the same pre-trained model.

    Args:
        spec: a JSON-able description of the domain and model (it is the cache key with the
            recipe, the phases and ``seed``; ``spec["domain"]`` names the run folder).
        build_domain: ``build_domain(seed)`` -> a domain (:mod:`swa_lib.domains.base`).
        build_model: ``build_model(domain)`` -> a freshly initialised network.
        recipe: the course's pre-training and evaluation settings.
        phases: SWA phases (:func:`course_phase`, :func:`paper_table2_phase`); distinct names.
        seed: seeds the data draw, the initialisation, the batches, and the fresh ``swa_model``.
        runs_dir: cache folder: ``course14-<domain>-<key>/final.json``.

    Returns ``{"pretrained": metrics, <phase name>: {...}, "wall_time_s": s}`` with the metrics
    of :func:`evaluate_course` and the phase measurements described in the module docstring.
    """
    names = [p.name for p in phases]
    if len(set(names)) != len(names) or "pretrained" in names:
        raise ValueError(f"phase names must be distinct and not 'pretrained', got {names}")
    runs_dir = Path(runs_dir)
    device = resolve_device(device)
    key = stable_hash(
        {
            "spec": spec,
            "recipe": recipe.to_dict(),
            "seed": seed,
            "device": device,
            "phases": [dataclasses.asdict(p) for p in phases],
            "version": CACHE_VERSION,
        }
    )
    with locked(runs_dir / f"course14-{spec['domain']}-{key}") as path:
        final = read_final(path)
        if final is not None:
            return final
        t0 = time.perf_counter()
        domain = build_domain(seed).to(device)
        state = _pretrained_state(
            spec, domain, lambda d: build_model(d).to(device), recipe, seed, runs_dir
        )
        result: dict[str, Any] = {"key": key}
        pre = build_model(domain).to(device)
        pre.load_state_dict(state)
        result["pretrained"] = evaluate_course(
            lambda x: _forward(pre.eval(), x), domain, recipe.test_batch_size
        )
        for phase in phases:
            torch.manual_seed(seed + 2)  # a from-scratch phase's initialisation
            model = build_model(domain).to(device)
            if phase.start == "pretrained":
                model.load_state_dict(state)
            torch.manual_seed(seed + 1)  # the course's swa_model: a fresh network
            swa_model = build_model(domain).to(device)
            w_pre = parameters_to_vector(model.parameters()).detach().clone()
            result[phase.name] = _swa_phase(model, swa_model, domain, recipe, phase, seed, w_pre)
        result["wall_time_s"] = time.perf_counter() - t0
        atomic_save_json(path / FINAL_FILE, result)
        return result
