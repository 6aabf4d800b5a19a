"""training.config: validation names the field, defaults, keys, schedules, averaging points."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from swa_lib.training import TrainConfig, resolve_device
from swa_lib.training.config import FieldCheck


def tiny(root, **kw) -> TrainConfig:
    base = dict(dataset="mnist1d", model="cnn1d", epochs=4, swa_start=2, swa_lr=0.02,
                lr_init=0.05, batch_size=64, num_samples=400, data_root=str(root),
                model_kw={"width": 8})
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"dataset": "imagenet"}, "dataset"),
        ({"model": "resnet9000"}, "model"),
        ({"swa_start": 4}, "swa_start"),
        ({"swa_start": 0}, "swa_start"),
        ({"swa_start": 2.0}, "swa_start"),
        ({"lr_init": 0.0}, "lr_init"),
        ({"swa_lr": -0.1}, "swa_lr"),
        ({"swa_lr": float("inf")}, "swa_lr"),
        ({"momentum": 1.0}, "momentum"),
        ({"weight_decay": -1e-4}, "weight_decay"),
        ({"batch_size": 0}, "batch_size"),
        ({"epochs": 2.5}, "epochs"),
        ({"eval_every": True}, "eval_every"),
        ({"swa_lr_schedule": "cosine"}, "swa_lr_schedule"),
        ({"swa_lr_schedule": "cyclic", "swa_lr_max": 0.01}, "swa_lr_max"),
        ({"ema_decay": 1.0}, "ema_decay"),
        ({"num_samples": 10}, "num_samples"),
        ({"device": "tpu"}, "device"),
        ({"swa": False, "collect_swag": True}, "collect_swag"),
    ],
)
def test_config_errors_name_the_field(tmp_path, changes, field) -> None:
    with pytest.raises(ValueError, match=rf"TrainConfig\.{field}\b.* is invalid: "):
        tiny(tmp_path, **changes)


def test_field_check_formats_one_message_for_any_config() -> None:
    @dataclass
    class Demo:
        n: object = 3
        rate: object = 0.1
        kind: str = "a"

    with pytest.raises(ValueError, match=r"^Demo\.n=0 is invalid: must be an integer >= 1$"):
        FieldCheck(Demo(n=0)).integers("n")
    with pytest.raises(ValueError, match=r"^Demo\.n=True is invalid"):
        FieldCheck(Demo(n=True)).integers("n", minimum=None)
    with pytest.raises(ValueError, match=r"^Demo\.rate=nan is invalid: must be a positive"):
        FieldCheck(Demo(rate=float("nan"))).positive("rate")
    with pytest.raises(ValueError, match=r"^Demo\.rate=nan is invalid: must be >= 0$"):
        FieldCheck(Demo(rate=float("nan"))).non_negative("rate")
    with pytest.raises(ValueError, match=r"^Demo\.kind='c' is invalid: allowed values are a, b$"):
        FieldCheck(Demo(kind="c")).one_of("kind", ("a", "b"))
    FieldCheck(Demo()).integers("n")  # valid values pass
    FieldCheck(Demo()).unit_interval("rate")


def test_config_defaults_and_roundtrip() -> None:
    cfg = TrainConfig(dataset="mnist1d", model="mlp")
    assert cfg.swa_start == 30 and cfg.epochs == 40 and cfg.swa_c_epochs == 1
    again = TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg and again.key() == cfg.key()
    assert cfg.replace(seed=1).key() != cfg.key()
    with pytest.raises(ValueError, match="unknown TrainConfig fields"):
        TrainConfig.from_dict({**cfg.to_dict(), "lr": 0.1})


def test_keys_are_those_of_the_cached_runs() -> None:
    """The run folders of the book stay valid: keys computed by the first layout's code."""
    # Values printed by TrainConfig.key() before the training stack was refactored
    # (CACHE_VERSION 1); a change here means every cached run would be retrained.
    mlp = TrainConfig(dataset="mnist1d", model="mlp", epochs=4, swa_start=2, swa_lr=0.02,
                      ema_decay=0.9, num_samples=600, batch_size=50, data_root="x",
                      model_kw={"hidden": [32, 32]}, snapshots=True)
    assert mlp.key() == "6b7c09a77651"
    cnn = TrainConfig(dataset="mnist1d", model="cnn1d", epochs=5, swa_start=2, swa_c_epochs=2,
                      swa_lr=0.01, swa_lr_schedule="cyclic", swa_lr_max=0.05,
                      collect_swag=True, swag_rank=3, num_samples=600, batch_size=64,
                      data_root="y", model_kw={"width": 8}, eval_every=2)
    assert cnn.key() == "3fa6e1e5fa0d"


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


def test_evaluation_and_checkpoint_epochs() -> None:
    cfg = TrainConfig(dataset="mnist1d", model="mlp", epochs=7, eval_every=3,
                      checkpoint_every=2)
    assert [e for e in range(7) if cfg.evaluates_after(e)] == [2, 5, 6]  # and always the last
    assert [e for e in range(7) if cfg.checkpoints_after(e)] == [1, 3, 5, 6]


def test_key_ignores_where_data_live_but_not_what_is_trained(tmp_path) -> None:
    a = tiny(tmp_path / "x")
    assert a.key() == a.replace(data_root="elsewhere", checkpoint_every=3).key()
    cifar = TrainConfig(dataset="cifar10", model="vgg16", epochs=4, swa_start=2, data_root="a")
    assert cifar.key() != cifar.replace(data_root="b").key()
    assert a.key() != a.replace(augment=False).key()
    assert a.key() != a.replace(num_samples=500).key()
    assert a.replace(device="auto").key() == a.replace(device=resolve_device("auto")).key()
