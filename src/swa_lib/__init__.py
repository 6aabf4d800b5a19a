"""swa_lib: Stochastic Weight Averaging, re-examined (the library behind the swa-book).

Modules, one concept each: ``data``, ``models``, ``averaging`` (SWA, EMA, update_bn),
``schedules``, ``metrics``, ``train``, ``landscape``, ``flatness``, ``swag``, ``plotting``,
``stats``, ``io``. Import what you need from the module; the most used names are re-exported here.
"""

from .averaging import EMA, SWA, update_bn
from .schedules import cyclic_lr, sgd_schedule, swa_schedule

__version__ = "0.1.0"

__all__ = ["SWA", "EMA", "update_bn", "swa_schedule", "sgd_schedule", "cyclic_lr", "__version__"]
