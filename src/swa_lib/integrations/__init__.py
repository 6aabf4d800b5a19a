"""Integrations with training frameworks (optional dependencies, imported on demand).

* ``swa_lib.integrations.lightning`` -- :class:`SWACallback` and :class:`EMACallback` for
  Lightning's ``Trainer`` (needs ``lightning``).
"""
