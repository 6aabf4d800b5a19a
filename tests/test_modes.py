"""swa_lib.modes: each submodule's train/eval flag is set for the block and restored exactly."""

from __future__ import annotations

import pytest
from torch import nn

from swa_lib.modes import eval_mode, restored_modes, train_mode


def _mixed() -> nn.Sequential:
    """A frozen, eval-mode backbone (BN + dropout) under a training head."""
    net = nn.Sequential(
        nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Dropout(0.5)), nn.Linear(4, 2)
    )
    net.train()
    net[0].eval()
    return net


def _flags(model: nn.Module) -> list[bool]:
    return [m.training for m in model.modules()]


def test_eval_mode_sets_every_submodule_and_restores_mixed_modes() -> None:
    net = _mixed()
    before = _flags(net)
    assert before == [True, False, False, False, False, True]
    with eval_mode(net) as m:
        assert m is net and not any(_flags(net))
    assert _flags(net) == before


def test_train_mode_all_or_only_selected_modules() -> None:
    net = _mixed().eval()
    with train_mode(net):
        assert all(_flags(net))
    assert not any(_flags(net))
    with train_mode(net, only=lambda m: isinstance(m, nn.BatchNorm1d)):
        assert [type(m).__name__ for m in net.modules() if m.training] == ["BatchNorm1d"]
    assert not any(_flags(net))


def test_modes_are_restored_when_the_block_raises() -> None:
    net = _mixed()
    before = _flags(net)
    with pytest.raises(KeyError), restored_modes(net):
        net.eval()
        raise KeyError("boom")
    assert _flags(net) == before
    with pytest.raises(KeyError), train_mode(net):
        raise KeyError("boom")
    assert _flags(net) == before
