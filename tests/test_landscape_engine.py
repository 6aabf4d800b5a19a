"""swa_lib.landscape.engine: BN recomputation against a brute-force loop, vmap against the
per-point loop, the canonical metric names (fractions) and their deprecated percent aliases."""

from __future__ import annotations

import copy
import inspect

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from landscape_fixtures import tiny_bn_cnn, tiny_data, tiny_plane

from swa_lib import landscape as L
from swa_lib.averaging import update_bn


def _brute_force(model, w, data, bn_batch_size):
    fresh = copy.deepcopy(model)
    L.set_flat_params_(fresh, w)
    x, y = data["train"]
    update_bn(fresh, [x[i : i + bn_batch_size] for i in range(0, len(x), bn_batch_size)])
    fresh.eval()
    with torch.no_grad():
        train_loss = F.cross_entropy(fresh(x), y).item()
        xt, yt = data["test"]
        test_err = 100.0 * (fresh(xt).argmax(1) != yt).double().mean().item()
    return train_loss, test_err


@pytest.mark.parametrize("k", [1, 3])
def test_bn_recompute_matches_brute_force(k):
    model = tiny_bn_cnn()
    data = tiny_data()
    w0, d1, d2 = tiny_plane(model)
    alphas, betas = [-0.5, 0.5], [0.0, 1.0]
    s = L.evaluate_plane(
        model,
        w0,
        d1,
        d2,
        alphas,
        betas,
        data=data,
        bn_recompute=True,
        bn_batch_size=16,
        points_per_pass=k,
        progress=False,
    )
    for i, a in enumerate(alphas):
        for j, b in enumerate(betas):
            loss, err = _brute_force(model, w0 + a * d1 + b * d2, data, 16)
            assert s["train_loss"][i, j] == pytest.approx(loss, abs=1e-5)
            assert s["test_err"][i, j] == pytest.approx(err, abs=1e-9)
    # without recompute the model's own BN statistics are used, so values differ
    s_fixed = L.evaluate_plane(model, w0, d1, d2, alphas, betas, data=data, progress=False)
    assert not np.allclose(s_fixed["train_loss"], s["train_loss"])


@pytest.mark.parametrize("bn", [False, True])
def test_vmap_equals_per_point(bn):
    model = tiny_bn_cnn()
    data = tiny_data()
    w0, d1, d2 = tiny_plane(model)
    opts = dict(
        data=data,
        bn_recompute=bn,
        bn_batch_size=32,
        progress=False,
        metrics=("train_loss", "train_err", "test_nll", "test_acc"),
    )
    grid = (np.linspace(-1, 1, 3), np.linspace(-1, 1, 2))
    one = L.evaluate_plane(model, w0, d1, d2, *grid, points_per_pass=1, **opts)
    many = L.evaluate_plane(model, w0, d1, d2, *grid, points_per_pass=4, batch_size=40, **opts)
    for m in one.metrics:
        np.testing.assert_allclose(many[m], one[m], rtol=0, atol=1e-5)


# ------------------------------------------------------------------------------ metric names


def _brute_counts(model, w, data, split):
    """Correct predictions and sample count at ``w`` (the model's own BN statistics)."""
    fresh = copy.deepcopy(model)
    L.set_flat_params_(fresh, w)
    fresh.eval()
    x, y = data[split]
    with torch.no_grad():
        return int((fresh(x).argmax(1) == y).sum()), len(y)


@pytest.mark.parametrize("k", [1, 3])
def test_error_accuracy_are_fractions_and_old_names_percent(k):
    model = tiny_bn_cnn()
    data = tiny_data()
    w0, d1, d2 = tiny_plane(model)
    alphas, betas = [-0.5, 0.5], [0.0, 1.0]
    names = (
        "train_error",
        "train_accuracy",
        "test_error",
        "test_accuracy",
        "train_err",
        "train_acc",
        "test_err",
        "test_acc",
    )
    s = L.evaluate_plane(
        model,
        w0,
        d1,
        d2,
        alphas,
        betas,
        data=data,
        metrics=names,
        points_per_pass=k,
        progress=False,
    )
    for i, a in enumerate(alphas):
        for j, b in enumerate(betas):
            for split in ("train", "test"):
                correct, n = _brute_counts(model, w0 + a * d1 + b * d2, data, split)
                assert s[f"{split}_accuracy"][i, j] == correct / n
                assert s[f"{split}_error"][i, j] == (n - correct) / n
                # the deprecated names keep their percent formulas, bit for bit
                assert s[f"{split}_acc"][i, j] == 100.0 * correct / n
                assert s[f"{split}_err"][i, j] == 100.0 - 100.0 * correct / n


def test_default_metrics_are_canonical_and_results_answer_both_names():
    model = tiny_bn_cnn()
    data = tiny_data()
    w0, d1, d2 = tiny_plane(model)
    s = L.evaluate_plane(model, w0, d1, d2, [0.0, 1.0], [0.0], data=data, progress=False)
    assert s.metrics == ("train_loss", "test_error")
    assert np.all((s["test_error"] >= 0) & (s["test_error"] <= 1))
    np.testing.assert_array_equal(s["test_err"], 100 * s["test_error"])  # via the alias table
    old = L.evaluate_plane(
        model,
        w0,
        d1,
        d2,
        [0.0, 1.0],
        [0.0],
        data=data,
        progress=False,
        metrics=("train_loss", "test_err"),
    )
    np.testing.assert_allclose(old["test_error"], s["test_error"], rtol=1e-15, atol=0)
    np.testing.assert_allclose(old["test_err"], s["test_err"], rtol=1e-15, atol=0)
    with pytest.raises(KeyError, match="test_nll"):
        s["test_nll"]


def test_alias_table_is_the_only_mapping():
    assert set(L.METRICS) == {
        f"{s}_{k}" for s in ("train", "test") for k in ("loss", "nll", "error", "accuracy")
    }
    assert L.METRIC_ALIASES == {
        "train_err": ("train_error", 100.0),
        "train_acc": ("train_accuracy", 100.0),
        "test_err": ("test_error", 100.0),
        "test_acc": ("test_accuracy", 100.0),
    }


def test_bad_metric_and_option_and_no_private_keyword():
    model = tiny_bn_cnn()
    data = tiny_data()
    w0, d1, d2 = tiny_plane(model)
    with pytest.raises(ValueError, match="unknown metric 'test_acuracy'.*deprecated"):
        L.evaluate_plane(model, w0, d1, d2, [0.0], [0.0], data=data, metrics=("test_acuracy",))
    with pytest.raises(ValueError, match="metrics is empty"):
        L.evaluate_points(model, w0, d1, [[0.0]], data=data, metrics=())
    with pytest.raises(TypeError, match="unknown option.*'bn_recomptue'"):
        L.evaluate_plane(model, w0, d1, d2, [0.0], [0.0], data=data, bn_recomptue=True)
    with pytest.raises(ValueError, match="on_mismatch"):
        L.ray_profile(model, w0, d1, [0.0], data=data, on_mismatch="ignore")
    with pytest.raises(ValueError, match="coeffs must have shape"):
        L.evaluate_points(model, w0, torch.stack([d1, d2]), [[0.0]], data=data)
    with pytest.raises(ValueError, match="need the test split"):
        L.evaluate_points(model, w0, d1, [[0.0]], train=data["train"])
    assert not [p for p in inspect.signature(L.evaluate_points).parameters if p.startswith("_")]


def test_bn_recompute_with_dropout_vmap_equals_per_point():
    """BN statistics are recomputed with only the BN layers in train mode (dropout off), in the
    vmap path as in the per-point loop (``update_bn``), so both give the same values."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv1d(1, 4, 3, padding=1),
        torch.nn.BatchNorm1d(4),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.5),
        torch.nn.Flatten(),
        torch.nn.Linear(48, 3),
    )
    data = tiny_data()
    w0, d1, d2 = tiny_plane(model)
    opts = dict(
        data=data,
        bn_recompute=True,
        bn_batch_size=16,
        progress=False,
        metrics=("train_nll", "test_error"),
    )
    grid = ([-0.5, 0.5], [0.0, 1.0])
    one = L.evaluate_plane(model, w0, d1, d2, *grid, points_per_pass=1, **opts)
    many = L.evaluate_plane(model, w0, d1, d2, *grid, points_per_pass=3, **opts)
    np.testing.assert_allclose(many["train_nll"], one["train_nll"], rtol=0, atol=1e-6)
    np.testing.assert_array_equal(many["test_error"], one["test_error"])
    # reference: BN statistics as the exact mean/variance of the dropout-free activations
    fresh = copy.deepcopy(model)
    L.set_flat_params_(fresh, w0 + 0.5 * d1 + 1.0 * d2)
    x, y = data["train"]
    with torch.no_grad():
        h = fresh[0](x)
        bn = fresh[1]
        batches = [h[i : i + 16] for i in range(0, len(h), 16)]
        n = len(h)
        bn.running_mean.copy_(h.mean((0, 2)))
        bn.running_var.copy_(sum(b.shape[0] * b.var((0, 2), unbiased=True) for b in batches) / n)
        fresh.eval()
        nll = F.cross_entropy(fresh(x), y).item()
    assert one["train_nll"][1, 1] == pytest.approx(nll, abs=1e-5)
