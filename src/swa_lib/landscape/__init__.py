r"""Loss-landscape geometry: flat weight vectors, directions, planes, and grids of metrics.

Everything here works on *flat* weight vectors in ``torch.nn.utils.parameters_to_vector`` order
(``model.parameters()``, each tensor flattened row-major). Buffers (BatchNorm running statistics,
``num_batches_tracked``) are never part of these vectors: they are handled explicitly, either kept
from the model you pass (``bn_recompute=False``, as Li et al.'s ``loss-landscape`` does) or
recomputed at every point with :func:`swa_lib.averaging.update_bn` on the training data
(``bn_recompute=True``, as the SWA and mode-connectivity papers' figures do).

Geometry
--------
* :func:`filter_normalize`, :func:`random_direction`, :func:`random_plane` -- Li et al. (2018)'s
  filter-normalised random directions (``tomgoldstein/loss-landscape/net_plotter.py``).
* :func:`plane_basis`, :func:`plane_coordinates` -- Garipov et al. (2018)'s Gram-Schmidt plane
  through three points (``timgaripov/dnn-mode-connectivity/plane.py``), in weight-space L2 units.

Evaluation
----------
:func:`evaluate_plane` (2-D grid ``center + a*u + b*v``), :func:`ray_profile` (``center + t *
d/||d||``, ``t`` in L2 units) and :func:`line_profile` (``w_a + t (w_b - w_a)``, any ``t``) all
reduce to :func:`evaluate_points`: a list of *cells* ``base + coeffs[n] @ directions``, each
evaluated on the whole train and/or test set (exact means over all samples, never means of
per-batch means). Metric names are ``"{split}_{kind}"`` with ``split`` in ``train``/``test`` and
``kind`` one of

* ``nll``  -- mean per-sample loss ``loss_fn(output, target)`` (cross-entropy by default),
* ``loss`` -- ``nll + 0.5 * weight_decay * ||w||^2`` (the objective SGD with ``weight_decay``
  minimises, the "train loss" of ``dnn-mode-connectivity``; equals ``nll`` when
  ``weight_decay=0``),
* ``err``  -- classification error in percent (arg-max of the output), ``acc`` -- accuracy in %.

Caching, resuming and sharding
------------------------------
With ``cache=`` a directory (or an ``.npz`` file name), the values are stored in an ``.npz`` keyed
by everything that defines them (hashes of the base point and directions, the cell coordinates,
the model architecture -- and its buffers when they are used --, the data, the metric list, the BN
option, the weight decay, the loss function's name). The key is stored inside the file and
compared on load: a stale or mismatched file raises :class:`CacheMismatchError` (or is overwritten
with ``on_mismatch="overwrite"``), it is never silently reused. The file is written atomically
(temporary file + ``os.replace``) every ``checkpoint_every`` cells and when an exception stops the
loop, so a killed grid continues with the missing cells only.

Inside an initialised ``torch.distributed`` process group (gloo on CPU, nccl on GPU; or launched by
``torchrun``, in which case the group is created on first use) the missing cells are split over
the ranks, and every round of ``checkpoint_every`` cells is combined with an ``all_reduce`` so
every rank returns the same array a single process would; rank 0 writes the cache.

Speed
-----
The data is moved once to the device, evaluation runs under ``torch.inference_mode`` in large
batches (slices of device tensors, no ``DataLoader``), and several grid points can share one
forward pass (``points_per_pass=K``):
``torch.func.functional_call`` + ``vmap`` over ``K`` stacked weight vectors; with BN
recomputation the running statistics are stacked too and updated in train mode with the same
size-weighted momentum ``b/(n+b)`` :func:`~swa_lib.averaging.update_bn` uses. The defaults
(``points_per_pass=None``, ``batch_size=None``) follow measurements made with
``benchmarks/bench_landscape.py`` (see :func:`default_points_per_pass`, :func:`default_batch_size`):
on an H100 a 21x21 grid is 12-25x faster than a ``loss-landscape``-style per-point
``DataLoader`` loop; on a 2-core CPU, where the convolutions dominate, 1.0-1.6x (``vmap`` is
slower there and therefore off by default).

On CUDA, cuDNN convolutions use TF32 by default (``torch.backends.cudnn.allow_tf32``), so values
computed with different batch sizes or ``points_per_pass`` differ by ~1e-4 in the loss (and a
prediction can flip); set ``torch.backends.cudnn.allow_tf32 = False`` for float32 agreement.
"""


from __future__ import annotations

from .directions import (
    filter_normalize,
    plane_basis,
    plane_coordinates,
    random_direction,
    random_plane,
)
from .engine import (
    CacheMismatchError,
    default_batch_size,
    default_points_per_pass,
    evaluate_points,
)
from .results import METRICS, Profile, Surface
from .surfaces import evaluate_plane, line_profile, ray_profile
from .vectors import (
    flatten,
    get_flat_buffers,
    get_flat_params,
    set_flat_buffers_,
    set_flat_params_,
    unflatten_like,
)

__all__ = [
    # flat vectors
    "flatten",
    "unflatten_like",
    "get_flat_params",
    "set_flat_params_",
    "get_flat_buffers",
    "set_flat_buffers_",
    # directions and planes
    "filter_normalize",
    "random_direction",
    "random_plane",
    "plane_basis",
    "plane_coordinates",
    # evaluation
    "METRICS",
    "Surface",
    "Profile",
    "CacheMismatchError",
    "evaluate_points",
    "evaluate_plane",
    "ray_profile",
    "line_profile",
    "default_points_per_pass",
    "default_batch_size",
]

