"""training.config: validation names the field, defaults, keys, schedules, averaging points."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from training_fixtures import tiny

from swa_lib.training import TrainConfig, resolve_device
from swa_lib.training.config import FieldCheck


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
        ({"eval_every": 0}, "eval_every"),
        ({"eval_epochs": (0,)}, "eval_epochs"),
        ({"eval_epochs": (5,)}, "eval_epochs"),
        ({"eval_epochs": 3}, "eval_epochs"),
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
    """The run folders of the book stay valid: keys pinned when they were last changed."""
    # Values printed by TrainConfig.key() with canonical keys (CACHE_VERSION 2, issue 16); a
    # change here means every cached run would be retrained: bump CACHE_VERSION and say so.
    mlp = TrainConfig(
        dataset="mnist1d",
        model="mlp",
        epochs=4,
        swa_start=2,
        swa_lr=0.02,
        ema_decay=0.9,
        num_samples=600,
        batch_size=50,
        data_root="x",
        model_kw={"hidden": [32, 32]},
        snapshots=True,
    )
    assert mlp.key() == "c73176e5a7b0"
    assert mlp.replace(swa=False).key() == "ba2d7b06153b"
    cnn = TrainConfig(
        dataset="mnist1d",
        model="cnn1d",
        epochs=5,
        swa_start=2,
        swa_c_epochs=2,
        swa_lr=0.01,
        swa_lr_schedule="cyclic",
        swa_lr_max=0.05,
        collect_swag=True,
        swag_rank=3,
        num_samples=600,
        batch_size=64,
        data_root="y",
        model_kw={"width": 8},
        eval_every=2,
    )
    assert cnn.key() == "dd5772376ff5"


def test_schedule_and_averaging_points_follow_the_paper() -> None:
    cfg = TrainConfig(
        dataset="mnist1d",
        model="mlp",
        epochs=10,
        swa_start=6,
        swa_c_epochs=2,
        lr_init=0.1,
        swa_lr=0.02,
    )
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
    cfg = TrainConfig(dataset="mnist1d", model="mlp", epochs=7, eval_every=3, checkpoint_every=2)
    assert [e for e in range(7) if cfg.evaluates_after(e)] == [2, 5, 6]  # and always the last
    assert [e for e in range(7) if cfg.checkpoints_after(e)] == [1, 3, 5, 6]
    listed = cfg.replace(eval_every=None, eval_epochs=[4, 1, 4])
    assert listed.eval_epochs == (1, 4) and listed.evaluated_epochs() == (1, 4, 7)
    assert cfg.replace(eval_every=None).evaluated_epochs() == (7,)  # the final one always
    both = cfg.replace(eval_epochs=(1,))
    assert both.evaluated_epochs() == (1, 3, 6, 7)
    again = TrainConfig.from_dict(json.loads(json.dumps(listed.to_dict())))
    assert again == listed  # a JSON list reads back as the same tuple


def test_sgd_baselines_ignore_swa_only_fields(tmp_path) -> None:
    """Canonical keys: baselines differing only in fields they never read are one run."""
    sgd = tiny(tmp_path, swa=False)
    same = [
        sgd.replace(swa_start=3),
        sgd.replace(swa_lr=0.3),
        sgd.replace(swa_c_epochs=2),
        sgd.replace(swa_lr_schedule="cyclic", swa_lr_max=0.2),
        sgd.replace(swag_rank=5),
        sgd.replace(snapshots=True),
        sgd.replace(average_only=["features.*"]),
        sgd.replace(eval_every=None, eval_epochs=(2,)),
        sgd.replace(checkpoint_every=2),
    ]
    assert {c.key() for c in same} == {sgd.key()}
    differ = [
        sgd.replace(epochs=5),
        sgd.replace(lr_init=0.1),
        sgd.replace(seed=1),
        sgd.replace(ema_decay=0.9),
        sgd.replace(momentum=0.5),
        sgd.replace(swa=True),
        sgd.replace(weight_decay=0.0),
        sgd.replace(batch_size=32),
        sgd.replace(optimizer="adamw"),
        sgd.replace(model_kw={"width": 4}),
    ]
    keys = {c.key() for c in differ} | {sgd.key()}
    assert len(keys) == len(differ) + 1
    # with an EMA the parameter subsets choose what it averages: they matter again
    ema = sgd.replace(ema_decay=0.9)
    assert ema.key() != ema.replace(average_only=["features.*"]).key()


def test_swa_keys_hold_what_the_swa_run_computes(tmp_path) -> None:
    swa = tiny(tmp_path)
    for changes in (
        {"swa_start": 3},
        {"swa_lr": 0.03},
        {"swa_c_epochs": 2},
        {"swa_lr_schedule": "cyclic"},
        {"collect_swag": True},
    ):
        assert swa.replace(**changes).key() != swa.key(), changes
    # a constant schedule never reads swa_lr_max, nor a run without SWAG its rank
    assert swa.replace(swa_lr_max=0.3).key() == swa.key()
    assert swa.replace(swag_rank=5).key() == swa.key()
    cyc = swa.replace(swa_lr_schedule="cyclic", swa_lr_max=0.05)
    assert cyc.replace(swa_lr_max=0.04).key() != cyc.key()
    swag = swa.replace(collect_swag=True)
    assert swag.replace(swag_rank=5).key() != swag.key()
    # what a run records is not what it computes
    assert swa.replace(snapshots=True, eval_every=2, eval_epochs=(1,)).key() == swa.key()


def test_covers_and_merged_are_about_what_is_recorded(tmp_path) -> None:
    every = tiny(tmp_path)  # epochs 4, evaluated every epoch
    final = every.replace(eval_every=None)
    some = every.replace(eval_every=None, eval_epochs=(2,))
    assert every.covers(final) and every.covers(some) and some.covers(final)
    assert not final.covers(some) and not some.covers(every)
    assert not every.covers(every.replace(snapshots=True))
    assert every.replace(snapshots=True).covers(every)
    assert final.replace(swa=False).covers(final.replace(swa=False, snapshots=True))
    assert not every.covers(every.replace(seed=1))  # another run altogether
    union = final.replace(eval_epochs=(1,)).merged(some.replace(snapshots=True))
    assert union.evaluated_epochs() == (1, 2, 4) and union.snapshots
    assert union.key() == every.key()
    assert final.merged(every).evaluated_epochs() == (1, 2, 3, 4)
    assert final.merged(every).eval_every == 1 and final.merged(every).eval_epochs == ()
    with pytest.raises(ValueError, match="different runs"):
        final.merged(final.replace(seed=3))


def test_key_ignores_where_data_live_but_not_what_is_trained(tmp_path) -> None:
    a = tiny(tmp_path / "x")
    assert a.key() == a.replace(data_root="elsewhere", checkpoint_every=3).key()
    cifar = TrainConfig(dataset="cifar10", model="vgg16", epochs=4, swa_start=2, data_root="a")
    assert cifar.key() != cifar.replace(data_root="b").key()
    assert a.key() != a.replace(augment=False).key()
    assert a.key() != a.replace(num_samples=500).key()
    assert a.replace(device="auto").key() == a.replace(device=resolve_device("auto")).key()
