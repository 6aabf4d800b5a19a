"""Every example in the package's docstrings runs and prints what it says (``doctest``).

Each module of ``swa_lib`` is imported and its docstring examples (``>>>``) are executed; a module
whose optional dependency is missing (e.g. ``lightning``) is skipped, naming the dependency.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import swa_lib

MODULES = sorted(m.name for m in pkgutil.walk_packages(swa_lib.__path__, "swa_lib."))


def test_every_module_is_collected() -> None:
    # A guard against an empty walk (e.g. a namespace-package mistake): the core modules are there.
    assert {"swa_lib.averaging", "swa_lib.models", "swa_lib.training.loop"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:  # an optional extra that is not installed
        if exc.name and exc.name.split(".")[0] != "swa_lib":
            pytest.skip(f"{name} needs {exc.name}")
        raise
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name):  # globals: the module's own
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed"
