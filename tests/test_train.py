"""Training runs: validation, determinism, kill-and-resume equality, caching, averaging points."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from swa_lib.cli import main as cli_main
from swa_lib.training import TrainConfig, run
from swa_lib.training import loop as train_mod

TIME_COLUMNS = ["epoch_time_s"]


def tiny(root, **kw) -> TrainConfig:
    base = dict(dataset="mnist1d", model="cnn1d", epochs=4, swa_start=2, swa_lr=0.02,
                lr_init=0.05, batch_size=64, num_samples=400, data_root=str(root),
                model_kw={"width": 8})
    base.update(kw)
    return TrainConfig(**base)


def metrics_equal(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.drop(columns=TIME_COLUMNS), b.drop(columns=TIME_COLUMNS),
                                  check_exact=True)


def state_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


# -- validation ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "changes, field",
    [
        ({"dataset": "imagenet"}, "dataset"),
        ({"model": "resnet9000"}, "model"),
        ({"swa_start": 4}, "swa_start"),
        ({"swa_start": 0}, "swa_start"),
        ({"lr_init": 0.0}, "lr_init"),
        ({"swa_lr": -0.1}, "swa_lr"),
        ({"momentum": 1.0}, "momentum"),
        ({"batch_size": 0}, "batch_size"),
        ({"epochs": 2.5}, "epochs"),
        ({"swa_lr_schedule": "cosine"}, "swa_lr_schedule"),
        ({"device": "tpu"}, "device"),
        ({"swa": False, "collect_swag": True}, "collect_swag"),
    ],
)
def test_config_errors_name_the_field(tmp_path, changes, field) -> None:
    with pytest.raises(ValueError, match=rf"TrainConfig\.{field}\b"):
        tiny(tmp_path, **changes)


def test_config_defaults_and_roundtrip() -> None:
    cfg = TrainConfig(dataset="mnist1d", model="mlp")
    assert cfg.swa_start == 30 and cfg.epochs == 40 and cfg.swa_c_epochs == 1
    again = TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg and again.key() == cfg.key()
    assert cfg.replace(seed=1).key() != cfg.key()
    with pytest.raises(ValueError, match="unknown TrainConfig fields"):
        TrainConfig.from_dict({**cfg.to_dict(), "lr": 0.1})


def test_schedule_and_averaging_points_follow_the_paper() -> None:
    cfg = TrainConfig(dataset="mnist1d", model="mlp", epochs=10, swa_start=6, swa_c_epochs=2,
                      lr_init=0.1, swa_lr=0.02)
    averaged = [e for e in range(10) if cfg.averages_after(e)]
    assert averaged == [5, 7, 9]  # (e + 1 - swa_start) % c == 0, 0-based epochs
    assert cfg.learning_rate(0) == pytest.approx(0.1)
    assert cfg.learning_rate(9) == pytest.approx(0.02)
    sgd = cfg.replace(swa=False)
    assert sgd.learning_rate(9) == pytest.approx(0.001)
    cyc = cfg.replace(swa_lr_schedule="cyclic", swa_lr_max=0.05)
    ipe = 5  # the cycle (2 epochs = 10 iterations) ends exactly where a model is averaged
    assert cyc.learning_rate(5, ipe - 1, ipe) == pytest.approx(0.02)
    assert cyc.learning_rate(7, ipe - 1, ipe) == pytest.approx(0.02)
    assert cyc.learning_rate(6, 0, ipe) == pytest.approx(0.9 * 0.05 + 0.1 * 0.02)


def test_batch_size_larger_than_train_set_is_rejected(tmp_path, mnist1d_root) -> None:
    cfg = tiny(mnist1d_root, batch_size=10_000)
    with pytest.raises(ValueError, match=r"batch_size=10000 is larger than the training set"):
        run(cfg, tmp_path)


# -- runs ---------------------------------------------------------------------------------------

def test_run_is_deterministic_and_logs_one_row_per_epoch(tmp_path, mnist1d_root) -> None:
    cfg = tiny(mnist1d_root)
    a = run(cfg, tmp_path / "a")
    b = run(cfg, tmp_path / "b")
    metrics_equal(a.metrics, b.metrics)
    state_equal(torch.load(a.path / "swa.pt"), torch.load(b.path / "swa.pt"))
    m = a.metrics
    assert list(m["epoch"]) == [1, 2, 3, 4]
    assert list(m["swa_n"]) == [0, 1, 2, 3]
    assert m["swa_test_accuracy"].isna().tolist() == [True, False, False, False]
    assert m["sgd_test_nll"].notna().all()
    for col in ("lr", "sgd_train_loss", "sgd_train_accuracy", "sgd_test_loss", "swa_train_nll"):
        assert col in m.columns
    assert a.final["swa_n"] == 3
    on_disk = pd.read_csv(a.path / "metrics.csv")
    metrics_equal(on_disk, m)
    assert not (a.path / "checkpoint.pt").exists()


def test_swa_model_is_mean_of_averaged_iterates(tmp_path, mnist1d_root) -> None:
    cfg = tiny(mnist1d_root, snapshots=True)
    res = run(cfg, tmp_path)
    snaps = [torch.load(p) for p in res.snapshot_paths()]
    assert len(snaps) == 3
    swa = torch.load(res.path / "swa.pt")
    model = res.load_model("swa")
    for name, _ in model.named_parameters():
        mean = torch.stack([s[name].double() for s in snaps]).mean(0)
        torch.testing.assert_close(swa[name].double(), mean, rtol=1e-5, atol=1e-6)
    # the saved SWA model's BN stats were recomputed: evaluation matches the logged number
    from swa_lib.data import load_dataset
    from swa_lib.metrics import evaluate

    ds = load_dataset("mnist1d", mnist1d_root, num_samples=400)
    acc = evaluate(model, ds.x_test, ds.y_test)["accuracy"]
    assert acc == pytest.approx(res.final["swa_test_accuracy"])


class Killed(RuntimeError):
    pass


@pytest.mark.parametrize("kill_after", [0, 2])
def test_killed_run_resumes_to_identical_result(tmp_path, mnist1d_root, kill_after) -> None:
    cfg = tiny(mnist1d_root, ema_decay=0.9)
    full = run(cfg, tmp_path / "full")

    def kill(epoch, row):
        if epoch == kill_after:
            raise Killed

    with pytest.raises(Killed):
        run(cfg, tmp_path / "killed", callback=kill)
    folder = train_mod.run_dir_for(cfg, tmp_path / "killed")
    assert (folder / "checkpoint.pt").exists() and not (folder / "final.json").exists()
    assert len(pd.read_csv(folder / "metrics.csv")) == kill_after + 1  # finished work is on disk
    epochs_trained = []
    resumed = run(cfg, tmp_path / "killed", callback=lambda e, r: epochs_trained.append(e))
    assert epochs_trained == list(range(kill_after + 1, cfg.epochs))
    metrics_equal(resumed.metrics, full.metrics)
    for name in ("sgd", "swa", "ema"):
        state_equal(torch.load(resumed.path / f"{name}.pt"), torch.load(full.path / f"{name}.pt"))
    assert resumed.final["swa_test_accuracy"] == full.final["swa_test_accuracy"]


def test_cached_run_returns_without_training(tmp_path, mnist1d_root, monkeypatch) -> None:
    cfg = tiny(mnist1d_root, epochs=3)
    first = run(cfg, tmp_path)

    def boom(*a, **k):
        raise AssertionError("a cached run must not load data or train")

    monkeypatch.setattr(train_mod, "load_dataset", boom)
    again = run(cfg, tmp_path)
    assert again.cached and again.final == first.final
    metrics_equal(again.metrics, first.metrics)


def test_corrupt_checkpoint_names_the_file(tmp_path, mnist1d_root) -> None:
    cfg = tiny(mnist1d_root)

    def kill(epoch, row):
        raise Killed

    with pytest.raises(Killed):
        run(cfg, tmp_path, callback=kill)
    ckpt = train_mod.run_dir_for(cfg, tmp_path) / "checkpoint.pt"
    ckpt.write_bytes(b"not a checkpoint")
    metrics_before = (ckpt.parent / "metrics.csv").read_text()
    with pytest.raises(ValueError, match=r"checkpoint .*checkpoint\.pt is corrupt"):
        run(cfg, tmp_path)
    assert (ckpt.parent / "metrics.csv").read_text() == metrics_before  # nothing lost


def test_cli_train_and_errors(tmp_path, mnist1d_root, capsys) -> None:
    rc = cli_main(["train", "--dataset", "mnist1d", "--model", "mlp", "--epochs", "2",
                   "--swa-start", "1", "--num-samples", "200", "--batch-size", "50",
                   "--data-root", str(mnist1d_root), "--model-kw", '{"hidden": [16]}',
                   "--runs-dir", str(tmp_path), "--no-progress"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "swa_test_accuracy" in out and "trained" in out
    rc = cli_main(["train", "--dataset", "mnist1d", "--model", "mlp", "--epochs", "2",
                   "--swa-start", "5", "--runs-dir", str(tmp_path), "--no-progress"])
    assert rc == 2
    assert "TrainConfig.swa_start" in capsys.readouterr().err


def test_key_ignores_where_data_live_but_not_what_is_trained(tmp_path) -> None:
    a = tiny(tmp_path / "x")
    assert a.key() == a.replace(data_root="elsewhere", checkpoint_every=3).key()
    cifar = TrainConfig(dataset="cifar10", model="vgg16", epochs=4, swa_start=2, data_root="a")
    assert cifar.key() != cifar.replace(data_root="b").key()
    assert a.key() != a.replace(augment=False).key()
    assert a.key() != a.replace(num_samples=500).key()
