"""Weight averaging (SWA, EMA) and BatchNorm recomputation.

The public names, as in ``torch.optim.swa_utils`` but with the anchors' pitfalls fixed:

* :class:`SWA` (``average``) -- the equal-weight running mean of the weights (Izmailov et al.
  2018), ``w_swa <- (n * w_swa + w) / (n + 1)``, one fused in-place ``lerp_`` per dtype/device
  group.
* :class:`EMA` (``ema``) -- ``w_ema <- d * w_ema + (1 - d) * w``, with timm ``ModelEmaV3``'s
  warm-up, ``update_every`` (``d^k``), a start step, and its step counter in the state dict.
* :func:`update_bn` (``batchnorm``) -- recompute every BatchNorm's running statistics with one
  pass over the data: the exact size-weighted mean, only the BN layers in train mode (dropout
  stays off), a batch / sample budget, and the union's statistics under ``torch.distributed``.
* :func:`unwrap_model`, :func:`strip_wrapper_prefixes` (``wrappers``) -- DDP / DataParallel /
  ``torch.compile`` wrappers removed from what an average holds and loads.

Both averages keep the average of a bf16/fp16 model in float32 (``dtype=``), take a user-built
copy or factory instead of deep-copying (``module=``; FSDP2 shards are averaged rank-locally),
average the bare model of a wrapped one, and guard against stale BatchNorm statistics
(:mod:`.guard`). ``SWA(model).module.state_dict()`` has exactly the keys of
``model.state_dict()`` (no ``module.`` prefix), so the averaged weights load into a plain model.
"""

from __future__ import annotations

from .average import SWA
from .batchnorm import _default_forward as _default_forward  # private names other modules use
from .batchnorm import _to_device as _to_device
from .batchnorm import batch_size_of, update_bn
from .ema import EMA
from .wrappers import strip_wrapper_prefixes, unwrap_model

__all__ = ["SWA", "EMA", "update_bn", "batch_size_of", "unwrap_model", "strip_wrapper_prefixes"]
