"""reporting.glue: glued numbers are plain floats, glued text is refused if it would re-render."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

from swa_lib.reporting.glue import glue_number, glue_text

# the module (``swa_lib.reporting.glue`` the attribute is the function of the same name)
glue_module = importlib.import_module("swa_lib.reporting.glue")


def test_glue_number_glues_a_python_float(monkeypatch):
    seen = []
    monkeypatch.setattr(
        glue_module, "glue", lambda name, value, display=False: seen.append((name, value, display))
    )
    for value in (np.float64(0.25), torch.tensor(0.25), 0.25, np.float32(0.25)):
        assert glue_number("nbXX_x", value) == 0.25
    assert all(type(v) is float and v == 0.25 and d is False for _, v, d in seen)
    assert [n for n, _, _ in seen] == ["nbXX_x"] * 4


def test_glue_text_refuses_text_that_renders_differently(monkeypatch):
    monkeypatch.setattr(glue_module, "glue", lambda *a, **k: None)
    assert glue_text("k", "+4.4 points") == "+4.4 points"
    assert repr(glue_text("k", "0.44")) == "0.44"  # Text: repr is the text itself
    with pytest.raises(ValueError, match="would render as"):
        glue_text("k", "0.440")
