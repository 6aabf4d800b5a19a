r"""Loss-landscape geometry: flat weight vectors, directions, planes, grids of metrics, flatness.

Everything here works on *flat* weight vectors in ``torch.nn.utils.parameters_to_vector`` order
(``model.parameters()``, each tensor flattened row-major). Buffers (BatchNorm running statistics,
``num_batches_tracked``) are never part of these vectors: they are handled explicitly, either kept
from the model you pass (``bn_recompute=False``, as Li et al.'s ``loss-landscape`` does) or
recomputed at every point with :func:`swa_lib.averaging.update_bn` on the training data
(``bn_recompute=True``, as the SWA and mode-connectivity papers' figures do).

Modules (in the order a computation uses them)
----------------------------------------------
=================  ==============================================================================
``vectors``        flat vectors: :func:`flatten`, :func:`unflatten_like`, :func:`get_flat_params`,
                   :func:`set_flat_params_`, :func:`get_flat_buffers`, :func:`set_flat_buffers_`
``directions``     Li et al. (2018)'s filter-normalised random directions
                   (``tomgoldstein/loss-landscape/net_plotter.py``): :func:`filter_normalize`,
                   :func:`random_direction`, :func:`random_plane`; Garipov et al. (2018)'s
                   Gram-Schmidt plane through three points
                   (``timgaripov/dnn-mode-connectivity/plane.py``), in weight-space L2 units:
                   :func:`plane_basis`, :func:`plane_coordinates`
``surfaces``       the three shapes the book evaluates: :func:`evaluate_plane` (2-D grid
                   ``center + a*u + b*v``), :func:`ray_profile` (``center + t * d/||d||``, ``t``
                   in L2 units), :func:`line_profile` (``w_a + t (w_b - w_a)``, any ``t``)
``engine``         :func:`evaluate_points`, which all three reduce to: *cells*
                   ``base + coeffs[n] @ directions``, each evaluated on the whole train and/or
                   test set (exact means over all samples, never means of per-batch means);
                   :func:`default_points_per_pass`, :func:`default_batch_size`
``cache``          the grid cache (key, load/compare, atomic save, resume) on
                   :class:`swa_lib.io.ResultCache`; :class:`CacheMismatchError`
``distributed``    sharding over a ``torch.distributed`` process group (round-robin split,
                   ``all_reduce``)
``results``        what the evaluators return: :class:`Surface`, :class:`Profile`; the metric
                   names :data:`METRICS` and the deprecated ones, :data:`METRIC_ALIASES`
``summary``        numbers the book quotes from results: ``evaluate_at``, ``rise_distance``,
                   ``profile_minimum``, ``level_interval``
``hessian``        flatness of a minimum: ``hessian_top_eigenvalue``, ``hessian_trace``
                   (matrix-free, with ``cache=``)
``reparametrize``  :func:`relu_rescaled`: Dinh et al. (2017)'s function-preserving rescaling,
                   which changes the curvature but not the function
=================  ==============================================================================

Metrics
-------
Names are ``"{split}_{kind}"`` with ``split`` in ``train``/``test`` and ``kind`` one of

* ``nll`` -- mean per-sample loss ``loss_fn(output, target)`` (cross-entropy by default),
* ``loss`` -- ``nll + 0.5 * weight_decay * ||w||^2`` (the objective SGD with ``weight_decay``
  minimises, the "train loss" of ``dnn-mode-connectivity``; equals ``nll`` when
  ``weight_decay=0``),
* ``error``, ``accuracy`` -- classification error and accuracy (arg-max of the output) as
  *fractions* in ``[0, 1]``, as in the rest of the library.

**Deprecated:** ``{split}_err`` and ``{split}_acc``, the same in *percent*. They still work (as
requested metrics and as keys of a result) through the one table :data:`METRIC_ALIASES`, and give
exactly the numbers they always gave; new code uses ``error`` / ``accuracy``.

Caching, resuming and sharding
------------------------------
With ``cache=`` a directory (or an ``.npz`` file name), the values are stored keyed by everything
that defines them (:mod:`swa_lib.landscape.cache`); a stale file raises
:class:`CacheMismatchError` (or is recomputed with ``on_mismatch="overwrite"``), it is never
silently reused. The file is written atomically every ``checkpoint_every`` cells and when an
exception stops the loop, so a killed grid continues with the missing cells only. Inside an
initialised ``torch.distributed`` process group (or under ``torchrun``) the missing cells are
split over the ranks and every rank returns the array a single process would
(:mod:`swa_lib.landscape.distributed`); rank 0 writes the cache.

Speed
-----
The data is moved once to the device, evaluation runs under ``torch.inference_mode`` in large
batches, and with ``points_per_pass=K`` several grid points share one forward pass (``vmap``).
The defaults follow measurements (:func:`default_points_per_pass`, :func:`default_batch_size`);
the tables -- GPU and CPU, against a ``loss-landscape``-style per-point ``DataLoader`` loop -- are
in the landscape section of ``benchmarks/README.md``.

On CUDA, cuDNN convolutions use TF32 by default (``torch.backends.cudnn.allow_tf32``), so values
computed with different batch sizes or ``points_per_pass`` differ by ~1e-4 in the loss (and a
prediction can flip); set ``torch.backends.cudnn.allow_tf32 = False`` for float32 agreement.
"""

from __future__ import annotations

# the re-exports, grouped in __all__ as in the module table above
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
from .results import KINDS, METRIC_ALIASES, METRICS, SPLITS, Profile, Surface
from .surfaces import evaluate_plane, line_profile, ray_profile
from .vectors import (
    flatten,
    get_flat_buffers,
    get_flat_params,
    load_flat_states,
    set_flat_buffers_,
    set_flat_params_,
    state_params,
    unflatten_like,
)

__all__ = [
    # flat vectors (vectors)
    "flatten",
    "unflatten_like",
    "get_flat_params",
    "state_params",
    "load_flat_states",
    "set_flat_params_",
    "get_flat_buffers",
    "set_flat_buffers_",
    # directions and planes (directions)
    "filter_normalize",
    "random_direction",
    "random_plane",
    "plane_basis",
    "plane_coordinates",
    # evaluation (engine, surfaces, cache)
    "evaluate_points",
    "evaluate_plane",
    "ray_profile",
    "line_profile",
    "default_points_per_pass",
    "default_batch_size",
    "CacheMismatchError",
    # results and metric names (results)
    "Surface",
    "Profile",
    "METRICS",
    "METRIC_ALIASES",
    "SPLITS",
    "KINDS",
]
