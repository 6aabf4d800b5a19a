"""Atomic file writes, stable hashing, and the keyed result cache.

* **Atomic writes.** Every result file is written to a temporary file in the same directory and
  then moved into place with ``os.replace`` (atomic on POSIX), so a reader sees the old file or
  the new one, never a torn one (:func:`atomic_write_bytes` and the savers built on it).
* **Stable hashes.** :func:`stable_hash` of a JSON-able dict (equal configs, equal hashes) and
  :func:`digest` of an array's dtype, shape and bytes.
* **Keyed result cache.** :class:`ResultCache` is one ``.npz`` file holding a result together with
  the key of everything that defines it; the key is compared on load and a stale file is an
  error (:class:`CacheMismatchError`), never silently reused. :func:`cached` wraps a computation
  in it. The landscape grids (``swa_lib.landscape``), the Hessian estimates
  (``swa_lib.landscape.hessian``) and the SWAG predictions (``swa_lib.swag.predict_bma``) all take
  ``cache=`` through it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_save_json",
    "atomic_savez",
    "atomic_torch_save",
    "stable_hash",
    "load_torch",
    "digest",
    "CacheMismatchError",
    "ResultCache",
    "CachedResult",
    "cached",
    "read_meta",
    "ON_MISMATCH",
]


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file + fsync + ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_save_json(path: str | Path, obj: Any, *, allow_nan: bool = True) -> Path:
    """``obj`` as indented JSON (sorted keys; non-JSON values by ``str``), written atomically.

    ``allow_nan=False`` makes the file strict JSON: a NaN or infinite float raises
    ``ValueError`` naming the file instead of writing ``NaN`` / ``Infinity``, which
    ``json.loads`` of Python accepts but strict parsers (JavaScript, ``jq``) refuse.
    """
    try:
        text = json.dumps(obj, indent=2, sort_keys=True, default=str, allow_nan=allow_nan)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc} (NaN or infinity; this file is strict JSON)") from exc
    return atomic_write_text(path, text + "\n")


def atomic_savez(path: str | Path, **arrays: Any) -> Path:
    """``np.savez`` into memory, then an atomic write (a reader never sees a torn ``.npz``)."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return atomic_write_bytes(path, buf.getvalue())


def atomic_torch_save(path: str | Path, obj: Any) -> Path:
    """``torch.save`` to memory, then an atomic write."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    return atomic_write_bytes(path, buf.getvalue())


def load_torch(path: str | Path, *, what: str = "file") -> Any:
    """``torch.load(path, map_location="cpu", weights_only=True)``, naming the file on failure.

    ``weights_only=True`` unpickles only tensors, plain containers (dict, list, tuple), numbers,
    strings and ``None``: loading never runs code from the file. A file holding any other
    pickled object -- which ``weights_only=False`` would import and call, e.g. a class whose
    ``__reduce__`` runs a shell command -- is refused with a ``ValueError``, as is a torn or
    truncated file. Everything the library saves (state dicts, averages, SWAG states,
    checkpoints with RNG states as tensors and lists) is of that kind.
    """
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # re-raised with the file named
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else ""
        raise ValueError(
            f"{what} {path} is corrupt or not a weights-only file (torch.load with "
            f"weights_only=True refused it: {type(exc).__name__}: {reason}); delete it to "
            f"start that part again"
        ) from exc


def stable_hash(obj: Any, length: int = 12) -> str:
    """Hex digest of the canonical JSON of ``obj`` (sorted keys): equal configs, equal hashes."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:length]


def digest(array: torch.Tensor | np.ndarray) -> str:
    """32 hex digits (BLAKE2b, 16 bytes) of an array's dtype, shape and raw bytes.

    Equal tensors give equal digests on any device (the bytes are read on the CPU); a tensor and
    the NumPy array of the same values do *not* (their dtype names differ). This is the digest the
    landscape cache keys have always used, so their keys do not change.
    """
    h = hashlib.blake2b(digest_size=16)
    if isinstance(array, np.ndarray):
        a = np.ascontiguousarray(array)
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(a.tobytes())
        return h.hexdigest()
    t = array.detach()
    h.update(f"{t.dtype}{tuple(t.shape)}".encode())
    flat = t.cpu().contiguous().reshape(-1)
    if flat.numel():
        h.update(flat.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


# ================================================================== the keyed result cache
ON_MISMATCH = ("error", "overwrite")
"""Allowed ``on_mismatch`` values: raise :class:`CacheMismatchError`, or warn and recompute."""

_RESERVED = ("key", "key_json", "meta_json")


class CacheMismatchError(RuntimeError):
    """A cache file exists but was computed for something else (its stored key differs), or it
    cannot be read. Delete the file, use another one, or pass ``on_mismatch="overwrite"``."""


class ResultCache:
    r"""One result file, keyed by a dict of everything that defines the result.

    The key is ``stable_hash(parts, length=64)`` (SHA-256 of the canonical JSON of ``parts``;
    tensors enter ``parts`` as their :func:`digest`). The file is an ``.npz`` holding the result's
    arrays plus ``key`` and ``key_json`` (the parts themselves), so a mismatch can name *which*
    parts differ; it is written atomically (:func:`atomic_savez`).

    Args:
        location: an ``.npz`` file, or a directory in which the file is named
            ``{name}-{key[:20]}.npz`` (results for different keys then live side by side).
        parts: JSON-able dict of everything the result depends on (data digests, the model,
            every option). Values that are not JSON types are keyed by ``str()``.
        name: the file-name prefix in a directory (e.g. ``"plane"``, ``"hessian-eig"``).
        on_mismatch: ``"error"``: :meth:`load` raises :class:`CacheMismatchError` when the file
            holds another key (or cannot be read); ``"overwrite"``: it warns and returns
            ``None``, so the caller recomputes and :meth:`save` replaces the file.
        label, subject: wording of the messages: ``"{label} {path} was computed for {subject}
            (differs in: ...)"``.

    Example:

    >>> import tempfile, numpy as np
    >>> folder = tempfile.mkdtemp()
    >>> cache = ResultCache(folder, {"n": 3, "seed": 0}, name="demo")
    >>> cache.load() is None          # nothing stored yet
    True
    >>> _ = cache.save(values=np.arange(3.0))
    >>> cache.load()["values"]
    array([0., 1., 2.])
    >>> ResultCache(cache.path, {"n": 4, "seed": 0}).load()
    Traceback (most recent call last):
    ...
    swa_lib.io.CacheMismatchError: cache ... was computed for other inputs (differs in: n); ...
    """

    def __init__(
        self,
        location: str | os.PathLike,
        parts: Mapping[str, Any],
        *,
        name: str = "result",
        on_mismatch: str = "error",
        label: str = "cache",
        subject: str = "other inputs",
    ) -> None:
        if on_mismatch not in ON_MISMATCH:
            raise ValueError(f"on_mismatch must be 'error' or 'overwrite', got {on_mismatch!r}")
        self.parts = dict(parts)
        self.key = stable_hash(self.parts, length=64)
        location = Path(location)
        self.path = (
            location if location.suffix == ".npz" else (location / f"{name}-{self.key[:20]}.npz")
        )
        self.on_mismatch = on_mismatch
        self.label, self.subject = label, subject
        self.meta: dict[str, Any] = {}

    def load(self) -> dict[str, np.ndarray] | None:
        """The stored arrays (without the key entries) when the file's key equals :attr:`key`;
        ``None`` when there is no file. A file with another key, or an unreadable one, raises
        :class:`CacheMismatchError` naming the differing parts (or, with
        ``on_mismatch="overwrite"``, warns and returns ``None``). The file's ``meta`` (see
        :meth:`save`) goes to :attr:`meta`."""
        if not self.path.exists():
            return None
        try:
            with np.load(self.path, allow_pickle=False) as z:
                stored_key = str(z["key"])
                stored_parts = json.loads(str(z["key_json"]))
                meta = json.loads(str(z["meta_json"])) if "meta_json" in z.files else {}
                arrays = {k: np.array(z[k]) for k in z.files if k not in _RESERVED}
        except Exception as exc:  # reported with the file named
            if self.on_mismatch == "overwrite":
                warnings.warn(
                    f"unreadable {self.label} {self.path} ({exc}); recomputing", stacklevel=3
                )
                return None
            raise CacheMismatchError(
                f"{self.label} {self.path} is unreadable ({type(exc).__name__}: {exc}); delete "
                f"it or pass on_mismatch='overwrite'"
            ) from exc
        if stored_key != self.key:
            differ = (
                sorted(
                    k
                    for k in set(stored_parts) | set(self.parts)
                    if stored_parts.get(k) != self.parts.get(k)
                )
                if isinstance(stored_parts, dict)
                else []
            )
            return self.mismatch(differ)
        self.meta = meta
        return arrays

    def mismatch(self, differ: list[str]) -> None:
        """Report a stale file (``differ``: the parts that differ, empty if unknown): raise
        :class:`CacheMismatchError`, or with ``on_mismatch="overwrite"`` warn (the caller then
        recomputes). For callers that also check the stored arrays' shapes."""
        msg = (
            f"{self.label} {self.path} was computed for {self.subject} (differs in: "
            f"{', '.join(differ) or 'key'}); delete it, use another file, or pass "
            f"on_mismatch='overwrite'"
        )
        if self.on_mismatch == "overwrite":
            warnings.warn(msg + "; overwriting", stacklevel=4)
            return None
        raise CacheMismatchError(msg)

    def save(self, meta: Mapping[str, Any] | None = None, **arrays: Any) -> Path:
        """Write ``arrays`` (names other than ``key``, ``key_json``, ``meta_json``) with the key,
        atomically; ``meta`` is a JSON-able dict stored beside them (e.g. the compute time) that
        is *not* part of the key."""
        bad = [k for k in arrays if k in _RESERVED]
        if bad:
            raise ValueError(f"array names {bad} are reserved for the cache's key")
        extra = {"meta_json": np.array(json.dumps(dict(meta), default=str))} if meta else {}
        return atomic_savez(
            self.path,
            key=np.array(self.key),
            key_json=np.array(json.dumps(self.parts)),
            **arrays,
            **extra,
        )


@dataclass
class CachedResult:
    """What :func:`cached` returns.

    Attributes:
        arrays: the result's arrays (computed now or loaded).
        hit: ``True`` when they came from the file.
        path: the cache file.
        seconds: wall-clock seconds the computation took when it ran (now, or when the file was
            written).
    """

    arrays: dict[str, np.ndarray]
    hit: bool
    path: Path
    seconds: float


def cached(
    location: str | os.PathLike,
    parts: Mapping[str, Any],
    compute: Callable[[], Mapping[str, Any]],
    *,
    name: str = "result",
    on_mismatch: str = "error",
) -> CachedResult:
    """``compute()`` once per key: load its arrays from the :class:`ResultCache` at ``location``
    when the stored key equals ``parts``'s, else call it and store what it returns (a dict of
    arrays; the wall time goes into the file's meta). Arguments as in :class:`ResultCache`.

    >>> import tempfile, numpy as np
    >>> calls = []
    >>> def work():
    ...     calls.append(1)
    ...     return {"y": np.array([1.0, 2.0])}
    >>> folder = tempfile.mkdtemp()
    >>> first = cached(folder, {"x": 1}, work, name="demo")
    >>> again = cached(folder, {"x": 1}, work, name="demo")
    >>> again.hit, len(calls), again.arrays["y"].tolist()
    (True, 1, [1.0, 2.0])
    """
    store = ResultCache(location, parts, name=name, on_mismatch=on_mismatch)
    arrays = store.load()
    if arrays is not None:
        return CachedResult(arrays, True, store.path, float(store.meta.get("seconds", "nan")))
    t0 = time.perf_counter()
    result = {k: np.asarray(v) for k, v in compute().items()}
    seconds = time.perf_counter() - t0
    store.save(meta={"seconds": seconds}, **result)
    return CachedResult(result, False, store.path, seconds)


def read_meta(path: str | os.PathLike) -> dict[str, Any]:
    """The ``meta`` dict stored in a cache file (``{}`` if it has none), without a key check:
    e.g. ``read_meta(p)["seconds"]``, the wall time of the computation that :func:`cached` (and
    so ``predict_bma(cache=p)``, ``hessian_trace(cache=p)``) stored in the file ``p``."""
    with np.load(Path(path), allow_pickle=False) as z:
        return json.loads(str(z["meta_json"])) if "meta_json" in z.files else {}
