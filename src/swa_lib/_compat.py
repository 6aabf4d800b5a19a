"""Old import paths kept working: ``swa_lib.train`` is ``swa_lib.training``, and so on.

The first layout had one flat module per concept; the package now groups them into subpackages
(see the map in :mod:`swa_lib`). Every old path in :data:`MOVED` still imports, and gives the
*same* module object as its new home (``swa_lib.train is swa_lib.training``), so code written
for the old layout, pickles of its classes and ``monkeypatch`` targets keep working.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys

MOVED: dict[str, str] = {
    "swa_lib.train": "swa_lib.training",
    "swa_lib.presets": "swa_lib.training.presets",
    "swa_lib.course_project": "swa_lib.training.course_project",
    "swa_lib.flatness": "swa_lib.landscape.hessian",
    "swa_lib.landscape_summary": "swa_lib.landscape.summary",
    "swa_lib.plotting_calibration": "swa_lib.plotting.calibration",
    "swa_lib.report": "swa_lib.reporting",
    "swa_lib.stats": "swa_lib.reporting.stats",
    "swa_lib.published": "swa_lib.reporting.published",
    "swa_lib.fake_data": "swa_lib.testing",
    "swa_lib.fge": "swa_lib.training.fge",
}
"""Old module path -> the module that now holds its names."""


class _AliasLoader(importlib.abc.Loader):
    """Loads an old path by importing its new home and putting that module in its place."""

    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None  # a throw-away module; exec_module replaces it in sys.modules

    def exec_module(self, module: object) -> None:
        # importlib returns sys.modules[name] after exec_module, so the import yields the target.
        sys.modules[module.__name__] = importlib.import_module(self.target)  # type: ignore[attr-defined]


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: object, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        new = MOVED.get(fullname)
        if new is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(new))


def install() -> None:
    """Register the alias finder once (called by ``swa_lib/__init__``)."""
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.append(_AliasFinder())


def resolve(name: str) -> object:
    """The module an old short name (``"train"``) stands for, for ``from swa_lib import train``."""
    return importlib.import_module(MOVED[f"swa_lib.{name}"])
