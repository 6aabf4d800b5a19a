"""domains: the course's schedules, fold, ensemble, data generators and GCN, against references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from swa_lib.domains import (
    CLUSTER_RECIPE,
    COURSE_RECIPES,
    CourseCNN,
    CourseGCN,
    course_cosine_table,
    course_swa_linear_table,
    ensemble_predict,
    fold_parameters,
    make_friedman,
    make_sbm_cluster,
    make_two_d,
    normalized_adjacency,
    scale_epochs,
    two_d_function,
)
from swa_lib.reporting.published import COURSE_PROJECT_TABLES, course_project_table


def test_cosine_table_matches_course_formula_loop():
    t = course_cosine_table(3, 4, lr_min=1e-3, lr_max=1e-2)
    ref = [1e-3 + 0.5 * (1e-2 - 1e-3) * (1 + math.cos(s / 11 * math.pi)) for s in range(12)]
    assert np.allclose(t, ref) and t[0] == pytest.approx(1e-2) and t[-1] == pytest.approx(1e-3)


def test_swa_linear_table_cycles_end_at_min():
    t = course_swa_linear_table(6, 2, lr_min=1e-4, lr_max=1e-3, cycle_epochs=3)
    assert t.shape == (12,)
    assert np.allclose(t[:6], np.linspace(1e-3, 1e-4, 6)) and np.allclose(t[:6], t[6:])
    with pytest.raises(ValueError, match="cycle_epochs"):
        course_swa_linear_table(5, 2, lr_min=1e-4, lr_max=1e-3, cycle_epochs=3)


def test_fold_parameters_is_running_mean_and_leaves_buffers():
    torch.manual_seed(0)
    models = [torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2)) for _ in range(4)]
    avg = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    models[0][1].running_mean.fill_(5.0)
    for n, m in enumerate(models):
        fold_parameters(avg, m, n)
    mean_w = torch.stack([m[0].weight for m in models]).mean(0)
    assert torch.allclose(avg[0].weight, mean_w, atol=1e-6)
    assert torch.equal(avg[1].running_mean, torch.zeros(2))  # buffers untouched


def test_ensemble_is_log_of_mean_softmax():
    torch.manual_seed(0)
    ms = [torch.nn.Linear(4, 3) for _ in range(3)]
    x = torch.randn(5, 4)
    ref = torch.log(torch.stack([torch.softmax(m(x), 1) for m in ms]).mean(0))
    assert torch.allclose(ensemble_predict(ms, x, "classification"), ref, atol=1e-6)


def test_friedman_equals_sklearn_generator():
    from sklearn.datasets import make_friedman1

    d = make_friedman(1, 200, seed=3)
    x, y = make_friedman1(n_samples=200, n_features=5, noise=0.1, random_state=3)
    got = torch.cat([d.x_train, d.x_test]).numpy()
    assert d.x_train.shape == (160, 5)
    # the split is a permutation of sklearn's rows
    order = np.lexsort(got.T)
    assert np.allclose(got[order], x.astype(np.float32)[np.lexsort(x.astype(np.float32).T)])


def test_two_d_function_and_grid():
    d = make_two_d(10, noise=0.0)
    x = torch.cat([d.x_train, d.x_test])
    y = torch.cat([d.y_train, d.y_test]).squeeze(1)
    ref = (
        2 * torch.cos(torch.pi * x[:, 0] * x[:, 1])
        - 0.5 * x[:, 0]
        + 0.08 * x[:, 1]
        + torch.sin(torch.pi * x[:, 0])
        - torch.sin(torch.pi * x[:, 1])
    )
    assert (
        x.shape == (100, 2)
        and torch.allclose(y, ref)
        and float(two_d_function(torch.tensor(0.0), torch.tensor(0.0))) == pytest.approx(2.0)
    )


def test_sbm_graphs_follow_cluster_recipe():
    d = make_sbm_cluster(20, 2, seed=0)
    same, diff = [], []
    for g in d.train:
        n = g.num_nodes
        counts = torch.bincount(g.y, minlength=6)
        assert counts.min() >= CLUSTER_RECIPE["size_min"]
        assert counts.max() <= CLUSTER_RECIPE["size_max"]
        assert int(g.x[:, 1:].sum()) == 6  # one revealed node per community
        a = torch.zeros(n, n)
        a[g.edges[0], g.edges[1]] = 1
        assert torch.equal(a, a.T) and a.diag().sum() == 0
        s = g.y[:, None] == g.y[None, :]
        off = ~torch.eye(n, dtype=torch.bool)
        same.append(a[s & off].mean())
        diff.append(a[~s].mean())
    assert float(torch.stack(same).mean()) == pytest.approx(0.55, abs=0.02)
    assert float(torch.stack(diff).mean()) == pytest.approx(0.25, abs=0.02)


def test_normalized_adjacency_dense_reference():
    edges = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    a = torch.zeros(3, 3)
    a[edges[0], edges[1]] = 1
    a = a + torch.eye(3)
    d = a.sum(1).rsqrt()
    assert torch.allclose(normalized_adjacency(edges, 3).to_dense(), d[:, None] * a * d[None])


def test_gcn_matches_torch_geometric():
    pyg = pytest.importorskip("torch_geometric.nn.models")
    torch.manual_seed(0)
    g = make_sbm_cluster(1, 1, seed=1).train[0]
    ours = CourseGCN()
    ref = pyg.GCN(in_channels=7, hidden_channels=32, out_channels=32, num_layers=3)
    with torch.no_grad():
        for conv, rc in zip(ours.convs, ref.convs):
            rc.lin.weight.copy_(conv.lin.weight)
            rc.bias.copy_(conv.bias)
    out = ours.mlp(ref(g.x, g.edges))
    assert torch.allclose(ours(g.x, normalized_adjacency(g.edges, g.num_nodes)), out, atol=1e-5)


def test_course_cnn_parameter_count_and_digit_input():
    m = CourseCNN(1, 10, 32, 3)
    # conv 20 + 76 + 296 + 1168 + 4640 + 18496, linear 2080 + 330
    assert sum(p.numel() for p in m.parameters()) == 27_106
    assert m(torch.zeros(2, 1, 8, 8)).shape == (2, 10)


def test_recipes_and_scale():
    r = COURSE_RECIPES["cifar100_mobilenet"][0]
    assert (r.pretrain_epochs, r.swa.epochs, r.swa.cycle_epochs, r.batch_size) == (20, 12, 3, 256)
    assert r.swa.momentum == 0.0 and r.weight_decay == 1e-4
    s = scale_epochs(r, 0.5)
    assert s.swa.epochs // s.swa.cycle_epochs == 4 and s.pretrain_epochs == 10


def test_course_tables_complete():
    t = course_project_table()
    assert len(t) == 13 and set(COURSE_PROJECT_TABLES) >= {"two_d", "cifar10_cnn", "cluster"}
    assert t.loc[("cifar10_cnn", "accuracy"), "Ensemble"] == 58.58
    assert np.isnan(t.loc[("friedman1", "mse"), "Ensemble"])


def _tiny_friedman(s):
    return make_friedman(1, 300, seed=s)


def test_stacked_seeds_equal_sequential_runs(tmp_path):
    from swa_lib.domains import CourseMLP, SWAPhase, course_swa_run, course_swa_runs
    from swa_lib.domains import paper_table2_phase as t2

    recipe = scale_epochs(COURSE_RECIPES["friedman1"][0], 0.03)
    phases = [
        recipe.swa,
        t2(recipe),
        SWAPhase(
            "scratch_swa",
            4,
            lr_max=0.01,
            lr_min=0.001,
            cycle_epochs=1,
            schedule="paper_swa",
            momentum=0.9,
            start="scratch",
            swa_start=2,
        ),
    ]

    def build(d):
        return CourseMLP(5, 8, 1, 2)

    stacked = course_swa_runs(
        {"domain": "t"}, _tiny_friedman, build, recipe, phases, [0, 1], tmp_path / "a"
    )
    for j, s in enumerate([0, 1]):
        seq = course_swa_run(
            {"domain": "t"}, _tiny_friedman, build, recipe, phases, s, tmp_path / "b"
        )
        assert stacked[j]["pretrained"]["metric"] == pytest.approx(
            seq["pretrained"]["metric"], rel=1e-4
        )
        for ph in ("course", "paper_table2", "scratch_swa"):
            for col in ("final", "swa", "ensemble", "snapshot_ensemble"):
                assert stacked[j][ph][col]["metric_per_batch"] == pytest.approx(
                    seq[ph][col]["metric_per_batch"], rel=1e-3
                ), (ph, col)
            assert stacked[j][ph]["n_averaged"] == seq[ph]["n_averaged"]
            assert stacked[j][ph]["dist_pretrained_to_final"] == pytest.approx(
                seq[ph]["dist_pretrained_to_final"], rel=1e-3
            )
    again = course_swa_runs(
        {"domain": "t"}, _tiny_friedman, build, recipe, phases, [0, 1], tmp_path / "a"
    )
    assert again == stacked


def test_stacked_forward_cnn_matches_members():
    from swa_lib.domains import stacked_forward

    torch.manual_seed(0)
    members = [CourseCNN(1, 10, 8, 3) for _ in range(3)]
    params = {k: torch.stack([m.state_dict()[k] for m in members]) for k in members[0].state_dict()}
    x = torch.randn(3, 4, 1, 8, 8)
    out = stacked_forward(members[0], params, x)
    for j, m in enumerate(members):
        assert torch.allclose(out[j], m(x[j]), atol=1e-5)


def test_paper_swa_phase_rates_and_snapshots():
    from swa_lib.domains import SWAPhase

    ph = SWAPhase(
        "s", 8, lr_max=0.1, lr_min=0.01, cycle_epochs=1, schedule="paper_swa", swa_start=6
    )
    r = ph.rates(2)
    assert r[0] == pytest.approx(0.1) and r[-1] == pytest.approx(0.01)
    assert [e for e in range(8) if ph.snapshot_after(e)] == [6, 7]
    with pytest.raises(ValueError, match="swa_start"):
        SWAPhase("s", 8, lr_max=0.1, lr_min=0.01, cycle_epochs=1, schedule="paper_swa")


def test_standardize_domain_uses_train_statistics_only():
    import numpy as np

    from swa_lib.domains import make_friedman, standardize_domain

    raw = make_friedman(3, 400, seed=1)
    std = standardize_domain(raw)
    # float64 numpy reference: training mean/std (ddof=1) applied to both splits
    xtr, xte = raw.x_train.double().numpy(), raw.x_test.double().numpy()
    ytr, yte = raw.y_train.double().numpy(), raw.y_test.double().numpy()
    m, s = xtr.mean(0), xtr.std(0, ddof=1)
    np.testing.assert_allclose(std.x_test.numpy(), (xte - m) / s, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(std.x_train.double().numpy().mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(std.x_train.double().numpy().std(0, ddof=1), 1.0, rtol=1e-4)
    assert abs(std.x_test.double().numpy().mean(0)).max() > 1e-4  # test stats not used
    ym, ys = ytr.mean(), ytr.std(ddof=1)
    np.testing.assert_allclose(std.y_test.numpy(), (yte - ym) / ys, rtol=1e-4, atol=1e-5)
    # an MSE in standardised units is the original one divided by s_y^2
    pred = np.full_like(yte, 0.3)
    mse_raw = ((pred - yte) ** 2).mean()
    mse_std = (((pred - ym) / ys - std.y_test.double().numpy()) ** 2).mean()
    assert mse_std == pytest.approx(mse_raw / std.info["y_std"][0] ** 2, rel=1e-4)
    assert std.info["standardized"] == {"inputs": True, "targets": True}


def test_standardize_domain_options_and_refusals():
    import torch

    from swa_lib.domains import domain_and_model, make_two_d, standardize_domain

    d = make_two_d(10, seed=0)
    only_y = standardize_domain(d, inputs=False)
    assert torch.equal(only_y.x_train, d.x_train)
    assert not torch.equal(only_y.y_train, d.y_train)
    const = d.__class__(
        "c",
        "regression",
        torch.ones(5, 1),
        torch.arange(5.0)[:, None],
        torch.ones(2, 1),
        torch.zeros(2, 1),
        1,
    )
    assert torch.equal(standardize_domain(const).x_train, torch.zeros(5, 1))  # s = 0: centred
    with pytest.raises(ValueError, match="nothing to do"):
        standardize_domain(d, inputs=False, targets=False)
    build, _ = domain_and_model("friedman3", friedman_samples=200, standardize=True)
    assert build(0).info["standardized"]["inputs"]
    with pytest.raises(ValueError, match="regression row"):
        domain_and_model("digits", standardize=True)
