"""The course's protocol for several seeds at once: one vmapped network, the same numbers faster.

:func:`course_swa_runs` does what :func:`swa_lib.domains.course.course_swa_run` does for each
seed of ``seeds``, but trains the seeds together: every parameter is stacked along a new first
dimension (one slice per seed), the forward pass is ``torch.func.vmap`` over
``torch.func.functional_call`` of one template network, and the loss is the *sum* over seeds of
each seed's mean loss, so that each slice receives exactly its own seed's gradient. AdamW and SGD
(with or without momentum, with weight decay) are elementwise, so one optimiser over the stacked
tensors is each seed's optimiser; the course's parameter fold ``w <- (w n + p) / (n + 1)`` is
elementwise too. Each seed keeps its own data draw, initialisation (``seed_everything(seed)``
before building its network) and shuffling generators (``seed`` for pre-training, ``seed + 7919``
for each SWA phase), as the sequential path. The numbers equal the sequential path's up to
floating-point reassociation (``tests/test_domains_course.py``); the cost is that of one seed
plus a little, since the per-step Python overhead dominates these small networks.

Only networks without BatchNorm and domains without augmentation
(:class:`~swa_lib.domains.base.TensorDomain` of equal shapes) are stacked: the regression MLPs
and the course's CNN on the digits. Everything else goes through the sequential path.

Test outputs are computed once per snapshot (for the snapshot disagreement and both ensembles)
and once at the end; the course's per-batch averaged metrics are computed from them, batch by
batch, as :func:`~swa_lib.domains.course.evaluate_course` does (the networks have no BN and no
dropout, so the outputs do not depend on the batching).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ..io import atomic_save_json, atomic_torch_save, stable_hash
from ..training.runs import FINAL_FILE, locked, read_final, seed_everything
from .base import TensorDomain
from .course import (
    CACHE_VERSION,
    CourseRecipe,
    DomainBuilder,
    ModelBuilder,
    SWAPhase,
    _disagreement,
    _has_bn,
    batch_summary,
    course_swa_run,
)
from .course_models import CourseCNN, CourseMLP
from .course_schedules import course_cosine_table

__all__ = ["course_swa_runs", "stackable", "metrics_from_outputs", "stacked_forward"]


def _seq(mod: nn.Sequential, prefix: str, params: dict[str, Tensor], x: Tensor, k: int) -> Tensor:
    """``mod`` applied to the stacked ``x``: ``(K, B, F)`` for linear layers, ``(B, K*C, H, W)``
    for convolutions (grouped, one group per seed)."""
    for name, m in mod.named_children():
        p = f"{prefix}{name}."
        if isinstance(m, nn.Sequential):
            x = _seq(m, p, params, x, k)
        elif isinstance(m, nn.Linear):
            w, b = params[p + "weight"], params[p + "bias"]
            x = torch.baddbmm(b.unsqueeze(1), x, w.transpose(1, 2))
        elif isinstance(m, nn.Conv2d):
            w, b = params[p + "weight"], params[p + "bias"]
            x = F.conv2d(x, w.flatten(0, 1), b.flatten(), padding=m.padding, groups=k)
        elif isinstance(m, nn.ReLU):
            x = torch.relu(x)
        elif isinstance(m, nn.MaxPool2d):
            x = F.max_pool2d(x, m.kernel_size, m.stride)
        else:
            raise TypeError(f"cannot stack {type(m).__name__}")
    return x


def stacked_forward(template: nn.Module, params: dict[str, Tensor], x: Tensor) -> Tensor:
    """``K`` copies of ``template`` (a :class:`CourseMLP` or :class:`CourseCNN`) with the stacked
    ``params`` (``name -> (K, *shape)``) on inputs ``x`` of shape ``(K, B, ...)``; output
    ``(K, B, outputs)``. Member ``k`` computes ``template`` with ``params[name][k]`` on
    ``x[k]``."""
    k = x.shape[0]
    if isinstance(template, CourseMLP):
        return _seq(template.main, "main.", params, x, k)
    if isinstance(template, CourseCNN):
        b = x.shape[1]
        h = x.transpose(0, 1).flatten(1, 2)  # (B, K*C, H, W)
        h = _seq(template.features, "features.", params, h, k)
        h = F.adaptive_max_pool2d(h, (1, 1)).view(b, k, -1).transpose(0, 1)
        return _seq(template.classifier, "classifier.", params, h, k)
    raise TypeError(f"cannot stack {type(template).__name__}")


def stackable(domains: Sequence[Any], model: nn.Module) -> bool:
    """Whether ``domains`` (one per seed) and ``model`` can be trained stacked."""
    if _has_bn(model) or not all(isinstance(d, TensorDomain) for d in domains):
        return False
    if any(d.augment_fn is not None for d in domains):
        return False
    shapes = {(tuple(d.x_train.shape), tuple(d.x_test.shape)) for d in domains}
    return (
        len(shapes) == 1
        and not any(True for _ in model.buffers())
        and isinstance(model, (CourseMLP, CourseCNN))
    )


def metrics_from_outputs(
    out: Tensor, y: Tensor, task: str, test_batch_size: int | None
) -> dict[str, float]:
    """:func:`~swa_lib.domains.course.evaluate_course` from the test outputs ``out``."""
    bs = test_batch_size or int(y.shape[0])
    losses, metrics, sizes = [], [], []
    for i in range(0, int(y.shape[0]), bs):
        o, t = out[i : i + bs], y[i : i + bs]
        if task == "regression":
            loss = float(nn.functional.mse_loss(o, t))
            metric = loss
        else:
            loss = float(nn.functional.cross_entropy(o, t))
            metric = float((o.argmax(1) == t).double().mean())
        losses.append(loss)
        metrics.append(metric)
        sizes.append(int(t.shape[0]))
    return batch_summary(losses, metrics, sizes)


class _Stack:
    """The seeds' data and one template network, vmapped."""

    def __init__(self, domains: Sequence[TensorDomain], template: nn.Module) -> None:
        self.task = domains[0].task
        self.xtr = torch.stack([d.x_train for d in domains])
        self.ytr = torch.stack([d.y_train for d in domains])
        self.xte = torch.stack([d.x_test for d in domains])
        self.yte = [d.y_test for d in domains]
        self.k, self.n = self.xtr.shape[0], self.xtr.shape[1]
        self.template = template

    def forward(self, params: dict[str, Tensor], x: Tensor) -> Tensor:
        return stacked_forward(self.template, params, x)

    def loss(self, out: Tensor, y: Tensor) -> Tensor:
        if self.task == "regression":
            return (out - y).pow(2).flatten(1).mean(1).sum()
        ce = nn.functional.cross_entropy(out.flatten(0, 1), y.flatten(), reduction="none")
        return ce.view(self.k, -1).mean(1).sum()

    @torch.no_grad()
    def test_outputs(self, params: dict[str, Tensor]) -> Tensor:
        return self.forward(params, self.xte)

    def iters(self, batch_size: int) -> int:
        return -(-self.n // batch_size)

    def train(
        self,
        params: dict[str, Tensor],
        opt: torch.optim.Optimizer,
        rates: np.ndarray,
        epochs: int,
        batch_size: int,
        gens: Sequence[torch.Generator],
        after_epoch: Any = None,
    ) -> None:
        rows = torch.arange(self.k).unsqueeze(1)
        step = 0
        for epoch in range(epochs):
            perm = torch.stack([torch.randperm(self.n, generator=g) for g in gens])
            for i in range(0, self.n, batch_size):
                idx = perm[:, i : i + batch_size]
                for group in opt.param_groups:
                    group["lr"] = float(rates[step])
                opt.zero_grad()
                self.loss(self.forward(params, self.xtr[rows, idx]), self.ytr[rows, idx]).backward()
                opt.step()
                step += 1
            if after_epoch is not None:
                after_epoch(epoch)


def _leaf(params: dict[str, Tensor]) -> dict[str, Tensor]:
    return {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}


def _norms(a: dict[str, Tensor], b: dict[str, Tensor]) -> Tensor:
    """Per-seed L2 distance between two stacked parameter sets."""
    return torch.stack([(a[k] - b[k]).detach().flatten(1).pow(2).sum(1) for k in a]).sum(0).sqrt()


def _ens(outputs: list[Tensor], task: str) -> Tensor:
    if task == "regression":
        return sum(outputs) / len(outputs)
    return torch.log(sum(torch.softmax(o, -1) for o in outputs) / len(outputs))


def _sgd_step(
    params: dict[str, Tensor], bufs: dict[str, Tensor], lr: Tensor, mom: Tensor, wd: Tensor
) -> None:
    """``torch.optim.SGD`` (no dampening, no Nesterov) with one rate, momentum and weight decay
    per member (shapes ``(M,)``): ``g = grad + wd p``, ``buf = mom buf + g`` (``buf = g`` at the
    first step, as torch), ``p -= lr buf``."""
    with torch.no_grad():
        for k, p in params.items():
            shape = (-1,) + (1,) * (p.dim() - 1)
            g = p.grad + wd.view(shape) * p
            buf = bufs.get(k)
            buf = g if buf is None else buf.mul_(mom.view(shape)).add_(g)
            bufs[k] = buf
            p.sub_(lr.view(shape) * buf)
            p.grad = None


def _phases(
    st: _Stack,
    pre: dict[str, Tensor],
    scratch: dict[str, Tensor],
    recipe: CourseRecipe,
    phases: Sequence[SWAPhase],
    seeds: Sequence[int],
) -> list[list[dict[str, Any]]]:
    """Phases of equal length trained together: member ``p * K + j`` is phase ``p``, seed
    ``seeds[j]``. Returns ``[phase][seed]`` results."""
    k, n_ph = st.k, len(phases)
    m_all = n_ph * k
    rep = lambda t: t.repeat((n_ph,) + (1,) * (t.dim() - 1))  # noqa: E731
    xtr, ytr, xte = rep(st.xtr), rep(st.ytr), rep(st.xte)
    params = _leaf(
        {
            name: torch.cat([(pre if ph.start == "pretrained" else scratch)[name] for ph in phases])
            for name in pre
        }
    )
    gens = [torch.Generator().manual_seed(s + 7919) for _ in phases for s in seeds]
    iters = st.iters(recipe.batch_size)
    rates = torch.tensor(
        np.stack([ph.rates(iters) for ph in phases for _ in seeds]), dtype=torch.float32
    ).T.contiguous()
    mom = torch.tensor([ph.momentum for ph in phases for _ in seeds])
    wd = torch.tensor([ph.weight_decay for ph in phases for _ in seeds])
    swa = {name: torch.zeros_like(v) for name, v in params.items()}
    counts = torch.zeros(m_all)
    snap_out: list[list[Tensor]] = [[] for _ in range(m_all)]
    run_out: list[list[Tensor]] = [[] for _ in range(m_all)]
    bufs: dict[str, Tensor] = {}
    rows = torch.arange(m_all).unsqueeze(1)
    fwd = lambda p, x: stacked_forward(st.template, p, x)  # noqa: E731
    step = 0
    for epoch in range(phases[0].epochs):
        perm = torch.stack([torch.randperm(st.n, generator=g) for g in gens])
        for i in range(0, st.n, recipe.batch_size):
            idx = perm[:, i : i + recipe.batch_size]
            st.loss(fwd(params, xtr[rows, idx]), ytr[rows, idx]).backward()
            _sgd_step(params, bufs, rates[step], mom, wd)
            step += 1
        mask = torch.tensor([ph.snapshot_after(epoch) for ph in phases for _ in seeds])
        if not mask.any():
            continue
        with torch.no_grad():
            for name, p in params.items():
                shape = (-1,) + (1,) * (p.dim() - 1)
                c = counts.view(shape)
                swa[name] = torch.where(mask.view(shape), (swa[name] * c + p) / (c + 1), swa[name])
            counts += mask.float()
            o_p, o_s = fwd(params, xte), fwd(swa, xte)
        for m in torch.nonzero(mask).flatten().tolist():
            snap_out[m].append(o_p[m])
            run_out[m].append(o_s[m])
    with torch.no_grad():
        out_final, out_swa = fwd(params, xte), fwd(swa, xte)
        start = {
            name: torch.cat([(pre if ph.start == "pretrained" else scratch)[name] for ph in phases])
            for name in pre
        }
        d_pre, d_swa = _norms(params, start), _norms(swa, params)
    tb, task = recipe.test_batch_size, st.task
    results: list[list[dict[str, Any]]] = []
    for pi, ph in enumerate(phases):
        res = []
        for j in range(k):
            m, y = pi * k + j, st.yte[j]
            same = (
                torch.allclose(out_final[m], out_swa[m])
                if task == "regression"
                else bool((out_final[m].argmax(1) == out_swa[m].argmax(1)).all())
            )
            res.append(
                {
                    "final": metrics_from_outputs(out_final[m], y, task, tb),
                    "swa": metrics_from_outputs(out_swa[m], y, task, tb),
                    "ensemble": metrics_from_outputs(_ens(run_out[m], task), y, task, tb),
                    "snapshot_ensemble": metrics_from_outputs(_ens(snap_out[m], task), y, task, tb),
                    "n_averaged": len(snap_out[m]),
                    "dist_pretrained_to_final": float(d_pre[m]),
                    "dist_swa_to_final": float(d_swa[m]),
                    "snapshot_disagreement": _disagreement(snap_out[m], task),
                    "swa_final_disagreement": _disagreement([out_final[m], out_swa[m]], task),
                    "swa_predictions_identical": same,
                }
            )
        results.append(res)
        if ph.name == "course":
            sl = slice(pi * k, (pi + 1) * k)
            _last_states["final"] = {name: v.detach()[sl].clone() for name, v in params.items()}
            _last_states["swa"] = {name: v[sl].clone() for name, v in swa.items()}
    del xtr, ytr, xte
    return results


_last_states: dict[str, dict[str, Tensor]] = {}


def _run_key(
    spec: dict[str, Any], recipe: CourseRecipe, phases: Sequence[SWAPhase], seed: int, device: str
) -> str:
    return stable_hash(
        {
            "spec": spec,
            "recipe": recipe.to_dict(),
            "seed": seed,
            "device": device,
            "phases": [dataclasses.asdict(p) for p in phases],
            "version": CACHE_VERSION,
            "stacked": True,
        }
    )


def course_swa_runs(
    spec: dict[str, Any],
    build_domain: DomainBuilder,
    build_model: ModelBuilder,
    recipe: CourseRecipe,
    phases: list[SWAPhase],
    seeds: Sequence[int],
    runs_dir: str | Path = "runs",
) -> list[dict[str, Any]]:
    """:func:`~swa_lib.domains.course.course_swa_run` for every seed of ``seeds`` (CPU), the
    seeds trained stacked when :func:`stackable` (else one after the other).

    Each seed's result is cached in ``course14-<domain>-<key>/final.json`` (its own key, marked
    ``stacked``); the folder also holds ``pretrained.pt``, ``final.pt`` and ``swa.pt`` (the
    course phase's last iterate and average) for the landscape. Returns the results in seed order.
    """
    names = [p.name for p in phases]
    if len(set(names)) != len(names) or "pretrained" in names:
        raise ValueError(f"phase names must be distinct and not 'pretrained', got {names}")
    runs_dir = Path(runs_dir)
    paths = {
        s: runs_dir / f"course14-{spec['domain']}-{_run_key(spec, recipe, phases, s, 'cpu')}"
        for s in seeds
    }
    cached = {s: read_final(p) for s, p in paths.items()}
    if all(v is not None for v in cached.values()):
        return [cached[s] for s in seeds]
    domains = [build_domain(s) for s in seeds]
    if not stackable(domains, build_model(domains[0])):
        return [
            course_swa_run(spec, build_domain, build_model, recipe, phases, s, runs_dir)
            for s in seeds
        ]
    t0 = time.perf_counter()
    members, scratch_members = [], []
    for s, d in zip(seeds, domains):
        seed_everything(s)
        members.append(build_model(d).state_dict())
        torch.manual_seed(s + 2)
        scratch_members.append(build_model(d).state_dict())
    template = build_model(domains[0])
    pre = _leaf({k: torch.stack([m[k] for m in members]) for k in members[0]})
    scratch = {k: torch.stack([m[k] for m in scratch_members]) for k in members[0]}
    st = _Stack(domains, template)
    opt = torch.optim.AdamW(
        list(pre.values()), lr=recipe.pretrain_lr_max, weight_decay=recipe.weight_decay
    )
    rates = course_cosine_table(
        recipe.pretrain_epochs,
        st.iters(recipe.batch_size),
        lr_min=recipe.pretrain_lr_min,
        lr_max=recipe.pretrain_lr_max,
    )
    st.train(
        pre,
        opt,
        rates,
        recipe.pretrain_epochs,
        recipe.batch_size,
        [torch.Generator().manual_seed(s) for s in seeds],
    )
    pre = {k: v.detach() for k, v in pre.items()}
    out_pre = st.test_outputs(pre)
    results: list[dict[str, Any]] = [
        {"pretrained": metrics_from_outputs(out_pre[j], st.yte[j], st.task, recipe.test_batch_size)}
        for j in range(st.k)
    ]
    _last_states.clear()
    for epochs in dict.fromkeys(p.epochs for p in phases):
        group = [p for p in phases if p.epochs == epochs]
        for phase, res in zip(group, _phases(st, pre, scratch, recipe, group, seeds)):
            for j, r in enumerate(res):
                results[j][phase.name] = r
    wall = (time.perf_counter() - t0) / len(seeds)
    for j, s in enumerate(seeds):
        with locked(paths[s]) as path:
            results[j].update(key=path.name, wall_time_s=wall, stacked_seeds=list(seeds))
            atomic_torch_save(path / "pretrained.pt", {k: v[j].clone() for k, v in pre.items()})
            for name, state in _last_states.items():
                atomic_torch_save(path / f"{name}.pt", {k: v[j].clone() for k, v in state.items()})
            atomic_save_json(path / FINAL_FILE, results[j])
    return results
