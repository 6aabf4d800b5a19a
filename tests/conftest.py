"""Shared test settings: one torch thread (the CI machine has 2 cores and the tests use small
models, where threads only add overhead), no progress bars."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("SWA_LIB_PROGRESS", "0")
os.environ.setdefault("MPLBACKEND", "Agg")
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def mnist1d_root(tmp_path_factory: pytest.TempPathFactory):
    """One generated MNIST-1D cache shared by the tests that train (generation takes seconds)."""
    return tmp_path_factory.mktemp("data")
