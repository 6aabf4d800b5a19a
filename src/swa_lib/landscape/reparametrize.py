r"""A function-preserving rescaling of a ReLU network: Dinh et al. (2017)'s caveat, as code.

Dinh, Pascanu, Bengio and Bengio ("Sharp Minima Can Generalize For Deep Nets", ICML 2017) show
that curvature is not a property of the function a network computes: because
:math:`\mathrm{relu}(c z) = c\,\mathrm{relu}(z)` for :math:`c > 0`, multiplying the layer in
front of a ReLU by :math:`c` and dividing the layer after it by :math:`c` changes no output but
rescales the Hessian blocks of those layers by :math:`1/c^2` and :math:`c^2`.

:func:`relu_rescaled` applies that rescaling to the architectures of :mod:`swa_lib.models`:

* **two or more** ``nn.Linear`` **layers** (the MLP; VGG's classifier ``Linear -> ReLU ->
  Dropout -> Linear``): the first Linear's weight and bias times ``c``, the second's weight
  divided by ``c`` (its bias unchanged);
* **one** ``nn.Linear`` **after a final BatchNorm** (the 1-D CNN ``... BN -> ReLU -> flatten ->
  Linear``; PreResNet and WRN ``... BN -> ReLU -> average pool -> Linear``): that BatchNorm's
  affine weight and bias times ``c`` (its output is ``weight * x_hat + bias``, so the scaling
  holds in train and eval mode alike), the Linear's weight divided by ``c``. Pooling and
  flattening are linear, so the factor passes through them.

Which layers qualify is read from the module order (``model.modules()``, the order of
registration); :func:`relu_rescaled` checks the result on an input you give, so a model outside
these shapes is refused instead of silently changed.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

__all__ = ["relu_rescaled"]

_BN = (nn.BatchNorm1d, nn.BatchNorm2d)


def _rescale_pair(model: nn.Module, c: float) -> str:
    """Rescale ``model`` in place; return which rule applied (for the error message)."""
    modules = list(model.modules())
    linears = [m for m in modules if isinstance(m, nn.Linear)]
    if len(linears) >= 2:
        first, second = linears[0], linears[1]
        first.weight.mul_(c)
        if first.bias is not None:
            first.bias.mul_(c)
        second.weight.div_(c)
        return "first two Linear layers"
    if len(linears) == 1:
        last = modules.index(linears[0])
        bns = [m for m in modules[:last] if isinstance(m, _BN)]
        if bns and bns[-1].affine:
            bns[-1].weight.mul_(c)
            bns[-1].bias.mul_(c)
            linears[0].weight.div_(c)
            return "last BatchNorm and the Linear after it"
    raise ValueError(
        "model: relu_rescaled needs two Linear layers (MLP, VGG) or one Linear after an affine "
        f"BatchNorm (CNN1d, PreResNet, WRN); {type(model).__name__} has {len(linears)} Linear "
        "layer(s) and no such BatchNorm"
    )


@torch.no_grad()
def relu_rescaled(model: nn.Module, c: float, check_input: Tensor, atol: float = 1e-4) -> nn.Module:
    """A copy of ``model`` with one ReLU-separated pair of layers rescaled by ``c`` and ``1/c``.

    Args:
        model: a network of :mod:`swa_lib.models` (see the module docstring for the rule).
        c: the factor, a float > 0 (``c = 1`` returns an identical copy).
        check_input: a batch the copy must map to the same logits as ``model`` (both in eval
            mode), e.g. a few test inputs ``(N, ...)``.
        atol: the largest allowed absolute change of a logit (float32 rounding is ~1e-6 here).

    Returns:
        The rescaled copy (``model`` itself is not changed; its train/eval mode is kept).

    Raises:
        ValueError: ``c <= 0``; a model without a qualifying pair; or a copy whose logits on
            ``check_input`` differ by more than ``atol`` (the rescaling would not preserve the
            function, e.g. a non-ReLU activation between the layers).
    """
    if not c > 0:
        raise ValueError(f"c must be > 0 (a positive rescaling), got {c!r}")
    rescaled = copy.deepcopy(model)
    rule = _rescale_pair(rescaled, float(c))
    was_training = model.training
    model.eval(), rescaled.eval()
    change = float((model(check_input) - rescaled(check_input)).abs().max())
    model.train(was_training), rescaled.train(was_training)
    if not change <= atol:
        raise ValueError(
            f"rescaling the {rule} by c={c:g} changed a logit by {change:.2e} > atol={atol:g}: "
            "this model is not ReLU-homogeneous between those layers"
        )
    return rescaled
