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
