"""swa_lib: Stochastic Weight Averaging, re-examined (the library behind the swa-book).

The package map (one concept per module; subpackages group the modules of one concept):

* ``averaging`` -- :class:`SWA`, :class:`EMA`, :func:`update_bn` (the averages and BN recompute).
* ``swag`` -- :class:`SWAG`, the Gaussian posterior over the SWA trajectory; ``predict_bma``.
* ``schedules`` -- the paper's learning-rate schedules (``swa_schedule``, ``sgd_schedule``,
  ``cyclic_lr``).
* ``metrics`` -- accuracy, NLL, ECE, reliability data, AUROC; exact over the whole set.
* ``data`` -- MNIST-1D (generated offline) and CIFAR-10/100 as tensors on the device.
* ``models`` -- ``build_model`` for the MNIST-1D nets and the paper's CIFAR nets.
* ``training/`` -- ``TrainConfig`` (``config``), ``run`` (``loop``), run folders and cache
  (``runs``), named base configs (``presets``), the course project's protocol
  (``course_project``).
* ``landscape/`` -- flat weight vectors (``vectors``), directions and planes (``directions``),
  the evaluation engine (``engine``, its grid ``cache`` and ``distributed`` sharding) behind
  planes/rays/lines (``surfaces``), their results
  (``results``), summaries (``summary``) and Hessian flatness (``hessian``).
* ``plotting/`` -- the paper's figure styles (``style``, ``landscape``, ``training``,
  ``calibration``).
* ``reporting/`` -- gluing numbers into the book (``glue``), statistics over seeds (``stats``),
  others' published numbers (``published``).
* ``io`` -- atomic writes and stable hashes; ``testing`` -- fixtures (a fake CIFAR on disk);
  ``cli`` -- the ``swa-lib`` command.

The first layout's flat paths (``swa_lib.train``, ``swa_lib.flatness``, ...) still import; see
``swa_lib._compat.MOVED``.
"""

from . import _compat
from .averaging import EMA, SWA, update_bn
from .schedules import cyclic_lr, sgd_schedule, swa_schedule

_compat.install()

__version__ = "0.1.0"

__all__ = ["SWA", "EMA", "update_bn", "swa_schedule", "sgd_schedule", "cyclic_lr", "__version__"]


def __getattr__(name: str) -> object:
    """``from swa_lib import train`` (an old module name) gives its new home."""
    if f"swa_lib.{name}" in _compat.MOVED:
        return _compat.resolve(name)
    raise AttributeError(f"module 'swa_lib' has no attribute {name!r}")
