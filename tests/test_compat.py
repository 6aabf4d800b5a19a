"""The first layout's import paths still work and give the very modules of the new layout."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import swa_lib
from swa_lib._compat import MOVED


@pytest.mark.parametrize("old,new", sorted(MOVED.items()))
def test_old_path_is_the_new_module(old: str, new: str) -> None:
    assert importlib.import_module(old) is importlib.import_module(new)


def test_from_package_import_old_name() -> None:
    from swa_lib import train  # the most used old path

    assert train is importlib.import_module("swa_lib.training")
    assert train.TrainConfig is swa_lib.training.TrainConfig
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        swa_lib.nonexistent  # noqa: B018


def test_old_from_import_in_a_fresh_interpreter() -> None:
    # A fresh process: nothing imported yet, so the alias finder alone must resolve the path.
    code = (
        "from swa_lib.train import TrainConfig, run\n"
        "from swa_lib.flatness import hessian_trace\n"
        "import swa_lib.training as t\n"
        "assert TrainConfig is t.TrainConfig\n"
        "print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_every_new_home_exists_and_old_files_are_gone() -> None:
    root = Path(swa_lib.__path__[0])
    for old, new in MOVED.items():
        importlib.import_module(new)
        rel = old.removeprefix("swa_lib.").replace(".", "/")
        assert not (root / f"{rel}.py").exists(), f"{old} is still a file beside its alias"
