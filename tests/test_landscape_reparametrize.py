"""relu_rescaled: the rescaled copy computes the same function, its gradients scale as the
chain rule says, and models outside the rule are refused."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from swa_lib.landscape.reparametrize import relu_rescaled
from swa_lib.models import MLP, VGG, CNN1d, PreResNet, WideResNet


def _trained_bn(model: nn.Module, x: torch.Tensor) -> nn.Module:
    """Non-trivial BN statistics and affine parameters (a fresh BN is the identity map)."""
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(x)
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return model.eval()


CASES = {
    "mlp": (lambda: MLP(10, in_features=40, hidden=(16, 16)), (6, 1, 40)),
    "cnn1d": (lambda: CNN1d(10, width=4), (6, 1, 40)),
    "preresnet": (lambda: PreResNet(10, depth=8), (4, 3, 32, 32)),
    "wrn": (lambda: WideResNet(10, depth=10, widen_factor=1), (4, 3, 32, 32)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_logits_and_chain_rule_gradients(name: str) -> None:
    torch.manual_seed(0)
    build, shape = CASES[name]
    x = torch.randn(*shape)
    model = _trained_bn(build(), x)
    c = 3.0
    rescaled = relu_rescaled(model, c, x)
    torch.testing.assert_close(rescaled(x), model(x), atol=1e-5, rtol=1e-5)
    # Independent check: the rescaled weights are exactly c * w / (w / c) of the original, and a
    # weight divided by c has its gradient multiplied by c (chain rule on the same function).
    y = torch.randint(0, 10, (shape[0],))
    grads = []
    for m in (model, rescaled):
        m.zero_grad()
        nn.functional.cross_entropy(m(x), y).backward()
        grads.append({n: p.grad.clone() for n, p in m.named_parameters()})
    params = dict(model.named_parameters())
    changed = 0
    for n, p in rescaled.named_parameters():
        ratio = (p.detach() / params[n].detach())[params[n].detach().abs() > 1e-6]
        if torch.allclose(ratio, torch.full_like(ratio, 1 / c)):
            torch.testing.assert_close(grads[1][n], c * grads[0][n], atol=1e-5, rtol=1e-4)
            changed += 1
        elif not torch.allclose(ratio, torch.ones_like(ratio)):
            assert torch.allclose(ratio, torch.full_like(ratio, c)), n
            changed += 1
    assert changed >= 2  # one layer scaled up, one down


def test_vgg_classifier_pair() -> None:
    torch.manual_seed(0)
    model = VGG(10).eval()  # classifier: Linear -> ReLU -> Dropout -> Linear -> ...
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(relu_rescaled(model, 0.25, x)(x), model(x), atol=1e-5, rtol=1e-4)


def test_model_is_not_changed_and_bad_input_refused() -> None:
    torch.manual_seed(0)
    model = MLP(10, in_features=40, hidden=(8, 8))
    before = [p.clone() for p in model.parameters()]
    relu_rescaled(model, 2.0, torch.randn(3, 1, 40))
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    with pytest.raises(ValueError, match="c must be > 0"):
        relu_rescaled(model, 0.0, torch.randn(3, 1, 40))
    with pytest.raises(ValueError, match="model: relu_rescaled needs"):
        relu_rescaled(nn.Sequential(nn.Conv1d(1, 2, 3)), 2.0, torch.randn(3, 1, 40))
    tanh = nn.Sequential(nn.Flatten(), nn.Linear(40, 8), nn.Tanh(), nn.Linear(8, 10))
    with pytest.raises(ValueError, match="not ReLU-homogeneous"):
        relu_rescaled(tanh, 2.0, torch.randn(3, 1, 40))
