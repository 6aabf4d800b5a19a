"""swa_lib.landscape.vectors: flat parameter and buffer vectors round-trip."""

from __future__ import annotations

import pytest
import torch
from landscape_fixtures import tiny_bn_cnn
from torch import nn

from swa_lib import landscape as L


def test_flat_params_and_buffers_roundtrip():
    model = tiny_bn_cnn()
    vec = L.get_flat_params(model)
    torch.testing.assert_close(vec, nn.utils.parameters_to_vector(model.parameters()))
    other = tiny_bn_cnn(seed=1)
    L.set_flat_params_(other, vec)
    torch.testing.assert_close(L.get_flat_params(other), vec)
    model[1].running_mean.fill_(3.0)
    bufs = L.get_flat_buffers(model)
    assert bufs.numel() == 4 * 4  # two BNs x (mean, var); num_batches_tracked excluded
    L.set_flat_buffers_(other, bufs)
    torch.testing.assert_close(other[1].running_mean, torch.full((4,), 3.0))
    parts = L.unflatten_like(vec, list(model.parameters()))
    assert [p.shape for p in parts] == [p.shape for p in model.parameters()]
    with pytest.raises(ValueError):
        L.set_flat_params_(other, vec[:-1])


def test_state_params_and_load_flat_states_follow_the_parameter_order(tmp_path) -> None:
    from swa_lib.landscape import get_flat_params, load_flat_states, state_params

    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
    # reference: parameters_to_vector (independent of the state dict's key order and buffers)
    ref = torch.nn.utils.parameters_to_vector(m.parameters()).detach()
    state = dict(reversed(list(m.state_dict().items())))  # keys in another order, buffers too
    assert torch.equal(state_params(state, m), ref)
    paths = []
    for k in range(3):
        with torch.no_grad():
            for p in m.parameters():
                p.add_(1.0)
        paths.append(tmp_path / f"s{k}.pt")
        torch.save(m.state_dict(), paths[-1])
    stacked = load_flat_states(paths, m)
    assert stacked.shape == (3, ref.numel())
    torch.testing.assert_close(stacked[2], get_flat_params(m))
    torch.testing.assert_close(stacked[1] - stacked[0], torch.ones_like(ref))
    bad = dict(m.state_dict())
    bad.pop("0.weight")
    with pytest.raises(ValueError, match="0.weight"):
        state_params(bad, m)
    with pytest.raises(ValueError, match="empty"):
        load_flat_states([], m)
