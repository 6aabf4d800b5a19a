"""swa_lib.landscape.cache: an interrupted grid resumes the missing cells only; a stale file is
detected and names what differs."""

from __future__ import annotations

import numpy as np
import pytest
from landscape_fixtures import tiny_bn_cnn, tiny_data, tiny_plane

from swa_lib import landscape as L


def test_interrupted_grid_resumes_missing_cells_only(tmp_path):
    model = tiny_bn_cnn()
    data = tiny_data()
    w0, d1, d2 = tiny_plane(model)
    grid = (np.linspace(-1, 1, 4), np.linspace(-1, 1, 3))
    opts = dict(data=data, progress=False, checkpoint_every=5, points_per_pass=2)
    full = L.evaluate_plane(model, w0, d1, d2, *grid, **opts)

    seen: list[int] = []

    def stop_after_7(cell, values):
        seen.append(cell)
        if len(seen) == 7:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        L.evaluate_plane(model, w0, d1, d2, *grid, cache=tmp_path, callback=stop_after_7, **opts)
    files = list(tmp_path.glob("plane-*.npz"))
    assert len(files) == 1
    with np.load(files[0]) as z:
        assert int(z["done"].sum()) == 7  # saved on the way out, not only at checkpoints

    resumed_cells: list[int] = []
    part = L.evaluate_plane(
        model,
        w0,
        d1,
        d2,
        *grid,
        cache=tmp_path,
        max_cells=2,
        callback=lambda c, v: resumed_cells.append(c),
        **opts,
    )
    assert not part.complete and part.evaluated == 2
    assert np.isnan(part["train_loss"]).sum() == 12 - 9
    rest = L.evaluate_plane(
        model,
        w0,
        d1,
        d2,
        *grid,
        cache=tmp_path,
        callback=lambda c, v: resumed_cells.append(c),
        **opts,
    )
    assert rest.complete and rest.evaluated == 3
    assert sorted(seen + resumed_cells) == list(range(12))  # every cell exactly once
    for m in full.metrics:
        np.testing.assert_allclose(rest[m], full[m], rtol=0, atol=1e-6)
    cached = L.evaluate_plane(model, w0, d1, d2, *grid, cache=tmp_path, **opts)
    assert cached.evaluated == 0
    np.testing.assert_array_equal(cached["test_err"], rest["test_err"])


def test_stale_cache_is_detected(tmp_path):
    model = tiny_bn_cnn()
    data = tiny_data()
    w0, d1, d2 = tiny_plane(model)
    grid = ([0.0, 1.0], [0.0])
    path = tmp_path / "grid.npz"
    L.evaluate_plane(model, w0, d1, d2, *grid, data=data, cache=path, progress=False)
    with pytest.raises(L.CacheMismatchError, match="metrics"):
        L.evaluate_plane(
            model, w0, d1, d2, *grid, data=data, cache=path, progress=False, metrics=("train_loss",)
        )
    with pytest.raises(L.CacheMismatchError, match="base"):
        L.evaluate_plane(model, w0 + 1, d1, d2, *grid, data=data, cache=path, progress=False)
    other = tiny_data(seed=5)
    with pytest.raises(L.CacheMismatchError, match="data"):
        L.evaluate_plane(model, w0, d1, d2, *grid, data=other, cache=path, progress=False)
    with pytest.raises(L.CacheMismatchError, match="bn_recompute"):
        L.evaluate_plane(
            model, w0, d1, d2, *grid, data=data, cache=path, progress=False, bn_recompute=True
        )
    with pytest.warns(UserWarning, match="overwriting"):
        s = L.evaluate_plane(
            model,
            w0,
            d1,
            d2,
            *grid,
            data=data,
            cache=path,
            progress=False,
            metrics=("train_loss",),
            on_mismatch="overwrite",
        )
    assert s.evaluated == 2
    # a directory cache keys the file name, so both grids live side by side
    L.evaluate_plane(model, w0, d1, d2, *grid, data=data, cache=tmp_path / "d", progress=False)
    L.evaluate_plane(
        model,
        w0,
        d1,
        d2,
        *grid,
        data=data,
        cache=tmp_path / "d",
        progress=False,
        metrics=("test_err",),
    )
    assert len(list((tmp_path / "d").glob("*.npz"))) == 2
    assert not list(tmp_path.glob("**/*.tmp"))
