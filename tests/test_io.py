"""swa_lib.io: atomic writes, digests, and the keyed result cache (hit, stale key, overwrite,
unreadable file, a write killed half-way)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from swa_lib.io import (
    CacheMismatchError,
    ResultCache,
    atomic_save_json,
    atomic_savez,
    atomic_torch_save,
    cached,
    digest,
    load_torch,
    read_meta,
    stable_hash,
)


def test_digest_is_of_dtype_shape_and_bytes():
    a = torch.arange(6, dtype=torch.float32)
    assert digest(a) == digest(a.clone()) == digest(a.reshape(2, 3).reshape(-1))
    assert digest(a) != digest(a.reshape(2, 3))  # same bytes, other shape
    assert digest(a) != digest(a.double())
    assert digest(a[::2]) == digest(a[::2].contiguous())  # a strided view: its values
    # independent reference: BLAKE2b-16 of the header text and the raw bytes
    h = hashlib.blake2b(digest_size=16)
    h.update(b"torch.float32(6,)")
    h.update(np.arange(6, dtype=np.float32).tobytes())
    assert digest(a) == h.hexdigest()
    n = np.arange(6, dtype=np.float32)
    h = hashlib.blake2b(digest_size=16)
    h.update(b"float32(6,)")
    h.update(n.tobytes())
    assert digest(n) == h.hexdigest()


def test_stable_hash_ignores_key_order():
    assert stable_hash({"a": 1, "b": [1, 2]}) == stable_hash({"b": [1, 2], "a": 1})
    blob = json.dumps({"a": 1}, sort_keys=True, separators=(",", ":"))
    assert stable_hash({"a": 1}, length=64) == hashlib.sha256(blob.encode()).hexdigest()


def test_cache_hit_returns_same_arrays_without_recomputing(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"y": np.linspace(0, 1, 7), "n": 3}

    parts = {"x": 1, "opts": {"tol": 1e-3}}
    first = cached(tmp_path, parts, compute, name="demo")
    again = cached(tmp_path, {"opts": {"tol": 1e-3}, "x": 1}, compute, name="demo")
    assert len(calls) == 1 and not first.hit and again.hit
    assert again.path == first.path and first.path.name.startswith("demo-")
    np.testing.assert_array_equal(again.arrays["y"], np.linspace(0, 1, 7))
    assert again.arrays["y"].dtype == np.float64 and int(again.arrays["n"]) == 3
    assert again.seconds == first.seconds >= 0
    assert read_meta(first.path) == {"seconds": first.seconds}
    # another key in the same directory: another file, computed
    cached(tmp_path, {"x": 2, "opts": {"tol": 1e-3}}, compute, name="demo")
    assert len(calls) == 2 and len(list(tmp_path.glob("demo-*.npz"))) == 2


def test_stale_key_raises_naming_the_parts_and_overwrite_recomputes(tmp_path):
    path = tmp_path / "r.npz"
    calls = []

    def compute():
        calls.append(1)
        return {"y": np.full(2, float(len(calls)))}

    cached(path, {"seed": 0, "n": 5, "model": "a"}, compute)
    with pytest.raises(CacheMismatchError, match=r"differs in: model, seed\)"):
        cached(path, {"seed": 1, "n": 5, "model": "b"}, compute)
    assert len(calls) == 1
    with pytest.warns(UserWarning, match="overwriting"):
        res = cached(path, {"seed": 1, "n": 5, "model": "b"}, compute, on_mismatch="overwrite")
    assert not res.hit and len(calls) == 2 and res.arrays["y"].tolist() == [2.0, 2.0]
    assert cached(path, {"seed": 1, "n": 5, "model": "b"}, compute).hit  # replaced
    with pytest.raises(ValueError, match="on_mismatch"):
        ResultCache(path, {}, on_mismatch="ignore")
    with pytest.raises(ValueError, match="reserved"):
        ResultCache(tmp_path / "s.npz", {}).save(key=np.zeros(1))


def test_unreadable_file_is_an_error_unless_overwrite(tmp_path):
    path = tmp_path / "broken.npz"
    path.write_bytes(b"not a zip file")
    with pytest.raises(CacheMismatchError, match="unreadable"):
        ResultCache(path, {"a": 1}).load()
    with pytest.warns(UserWarning, match="recomputing"):
        assert ResultCache(path, {"a": 1}, on_mismatch="overwrite").load() is None
    # a file without a key (an npz written by something else) is unreadable too
    atomic_savez(path, values=np.zeros(3))
    with pytest.raises(CacheMismatchError, match="unreadable"):
        ResultCache(path, {"a": 1}).load()


def test_failed_write_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "r.npz"
    ResultCache(path, {"v": 1}).save(y=np.arange(3))
    import swa_lib.io as io_module

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(io_module.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        ResultCache(path, {"v": 2}, on_mismatch="overwrite").save(y=np.arange(1000))
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["r.npz"]
    assert ResultCache(path, {"v": 1}).load()["y"].tolist() == [0, 1, 2]


def test_killed_write_leaves_no_partial_file(tmp_path):
    """A process killed (SIGKILL) while it writes leaves the previous complete file in place."""
    path = tmp_path / "r.npz"
    ResultCache(path, {"v": 1}).save(y=np.arange(3))
    script = textwrap.dedent(f"""
        import os, signal
        import numpy as np
        import swa_lib.io as io

        def die(src, dst):  # killed after the temporary is written, before it is moved
            os.kill(os.getpid(), signal.SIGKILL)

        io.os.replace = die
        io.ResultCache({str(path)!r}, {{"v": 2}}, on_mismatch="overwrite").save(
            y=np.arange(10**6))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()
    # the result file is the old one, whole; only a hidden temporary is left beside it
    assert sorted(p.name for p in tmp_path.glob("*.npz")) == ["r.npz"]
    assert ResultCache(path, {"v": 1}).load()["y"].tolist() == [0, 1, 2]
    with pytest.raises(CacheMismatchError, match="v"):
        ResultCache(path, {"v": 2}).load()


# -- weights-only loading and strict JSON -------------------------------------------------------


class _Payload:
    """Unpickling this object opens (creates) ``marker``: arbitrary code run by ``torch.load``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_load_torch_reads_plain_data_and_refuses_a_pickled_object_unexecuted(tmp_path):
    plain = {
        "probs": torch.rand(3, 2),
        "seconds": 1.5,
        "rows": [{"epoch": 1, "name": "x"}],
        "state": {"w": torch.arange(4)},
        "none": None,
    }
    atomic_torch_save(tmp_path / "plain.pt", plain)
    back = load_torch(tmp_path / "plain.pt")
    assert back["seconds"] == 1.5 and back["rows"] == plain["rows"] and back["none"] is None
    assert torch.equal(back["probs"], plain["probs"])

    marker = tmp_path / "executed"
    torch.save({"probs": torch.zeros(2), "evil": _Payload(marker)}, tmp_path / "evil.pt")
    with pytest.raises(
        ValueError,
        match=r"^SWAG state .*evil\.pt is corrupt or not a "
        r"weights-only file",
    ):
        load_torch(tmp_path / "evil.pt", what="SWAG state")
    assert not marker.exists()
    torch.load(tmp_path / "evil.pt", weights_only=False)  # the payload is live: refusing mattered
    assert marker.exists()

    (tmp_path / "torn.pt").write_bytes((tmp_path / "plain.pt").read_bytes()[:50])
    with pytest.raises(ValueError, match=r"torn\.pt is corrupt"):
        load_torch(tmp_path / "torn.pt")


def test_strict_json_refuses_nan_and_names_the_file(tmp_path):
    atomic_save_json(tmp_path / "loose.json", {"x": float("nan")})  # the default: Python's JSON
    assert "NaN" in (tmp_path / "loose.json").read_text()
    with pytest.raises(ValueError, match=r"strict\.json: Out of range float"):
        atomic_save_json(tmp_path / "strict.json", {"x": float("inf")}, allow_nan=False)
    assert not (tmp_path / "strict.json").exists()
    atomic_save_json(tmp_path / "ok.json", {"x": 1.0}, allow_nan=False)
    assert json.loads((tmp_path / "ok.json").read_text()) == {"x": 1.0}
