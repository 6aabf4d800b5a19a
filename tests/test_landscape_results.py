"""swa_lib.landscape.results: metric names and their deprecated aliases; Surface and Profile as
the plotting functions take them."""

from __future__ import annotations

import numpy as np
import pytest

from swa_lib import landscape as L
from swa_lib.landscape.results import metric_spec


def test_metric_spec_and_alias_lookup_both_ways():
    assert metric_spec("train_loss") == ("train", "loss", False)
    assert metric_spec("test_accuracy") == ("test", "accuracy", False)
    assert metric_spec("test_acc") == ("test", "accuracy", True)
    with pytest.raises(ValueError, match="unknown metric 'test_error_pct'"):
        metric_spec("test_error_pct")
    frac = np.array([0.25, 0.5])
    new = L.Profile(t=np.zeros(2), values={"test_error": frac}, distances=np.zeros(2))
    np.testing.assert_array_equal(new["test_err"], [25.0, 50.0])
    old = L.Profile(
        t=np.zeros(2), values={"train_acc": np.array([75.0, 50.0])}, distances=np.zeros(2)
    )
    np.testing.assert_array_equal(old["train_accuracy"], [0.75, 0.5])
    assert old.metrics == ("train_acc",)
    with pytest.raises(KeyError):
        old["train_error"]  # error is not derived from accuracy: only the same metric renamed
