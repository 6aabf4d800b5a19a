"""training.compare: SGD/SWA pairs per seed and their paired table."""

from __future__ import annotations

import json

import pytest

from swa_lib.training import pairs_frame, run_dir_for, sgd_and_swa
from swa_lib.training.config import TrainConfig


def _base(root) -> dict:
    return dict(
        dataset="mnist1d",
        model="mlp",
        epochs=2,
        swa_start=1,
        num_samples=200,
        batch_size=50,
        data_root=str(root),
        model_kw={"hidden": [8]},
    )


def test_pairs_are_the_sgd_baseline_and_the_swa_run_of_each_seed(tmp_path, mnist1d_root) -> None:
    base = _base(mnist1d_root)
    pairs = sgd_and_swa(
        base, [1, 0], tmp_path, swa_changes={"ema_decay": 0.9}, sgd_changes={"epochs": 3}
    )
    assert [p.seed for p in pairs] == [1, 0]
    for p in pairs:
        assert p.sgd.config == TrainConfig(**{**base, "epochs": 3, "seed": p.seed, "swa": False})
        assert p.swa.config == TrainConfig(
            **{**base, "ema_decay": 0.9, "seed": p.seed, "swa": True}
        )
        assert p.sgd.path == run_dir_for(p.sgd.config, tmp_path)
    df = pairs_frame(pairs, ("test_accuracy", "train_loss"))
    for row, p in zip(df.itertuples(), pairs):
        sgd = json.loads((p.sgd.path / "final.json").read_text())  # read back independently
        swa = json.loads((p.swa.path / "final.json").read_text())
        assert row.sgd_test_accuracy == sgd["sgd_test_accuracy"]
        assert row.swa_test_accuracy == swa["swa_test_accuracy"]
        assert row.swa_run_last_test_accuracy == swa["sgd_test_accuracy"]
        assert row.diff_train_loss == swa["swa_train_loss"] - sgd["sgd_train_loss"]


@pytest.mark.parametrize("name", ["seed", "swa"])
def test_base_must_not_set_per_run_fields(tmp_path, name) -> None:
    with pytest.raises(ValueError, match=f"base must not set '{name}'"):
        sgd_and_swa({"dataset": "mnist1d", "model": "mlp", name: 0}, [0], tmp_path)


def test_pairs_train_seeds_together_and_share_baselines(
    tmp_path, mnist1d_root, monkeypatch
) -> None:
    """One run_many call: the seeds' baselines stack, so do their SWA runs; a second SWA rate
    reuses the baselines (an SGD run does not read swa_lr)."""
    from swa_lib.training import batched

    stacks = []
    real = batched._train_stack
    monkeypatch.setattr(
        batched,
        "_train_stack",
        lambda items, progress: stacks.append(len(items)) or real(items, progress),
    )
    base = _base(mnist1d_root)
    first = sgd_and_swa({**base, "swa_lr": 0.01}, [0, 1, 2], tmp_path)
    assert stacks == [3, 3]
    second = sgd_and_swa({**base, "swa_lr": 0.02}, [0, 1, 2], tmp_path)
    assert stacks == [3, 3, 3]  # only the new SWA runs trained
    for a, b in zip(first, second):
        assert b.sgd.cached and b.sgd.path == a.sgd.path and b.sgd.config.swa_lr == 0.02
        assert not b.swa.cached and b.swa.path != a.swa.path
