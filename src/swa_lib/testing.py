"""Tiny fake CIFAR folders in torchvision's exact on-disk format, to exercise the CIFAR code path.

:func:`write_fake_cifar` writes ``cifar-10-batches-py/`` or ``cifar-100-python/`` (the layout
``torchvision.datasets.CIFAR10/100`` and :func:`swa_lib.data.load_dataset` read: protocol-2
pickles with ``data`` as uint8 ``(N, 3072)`` in R, G, B planes, the label key, and a meta file
with the class names), filled with uniform random pixels and random labels drawn from a seeded
generator. The numbers a model reaches on it mean nothing; the point is that the real loading,
augmentation, model and training code runs end to end without the real 170 MB download (the
smoke profile of the CIFAR notebook and the tests use it).

The loader checks every CIFAR pickle against the official MD5 sums before unpickling it
(:func:`swa_lib.data.verify_cifar_files`); fake files have other bytes, so the writer also
emits a checksum manifest (:data:`swa_lib.data.CIFAR_MANIFEST`, :func:`write_md5_manifest`)
listing their sums -- the documented way to accept them. Files accepted by a manifest are read
by a restricted unpickler (numpy arrays and plain containers only) and the dataset's
``info["checksums"]`` says so.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np

from .data import CIFAR_FOLDERS, CIFAR_MANIFEST, file_md5
from .io import atomic_write_bytes

__all__ = ["write_fake_cifar", "write_md5_manifest"]


def write_fake_cifar(
    root: str | Path, name: str, n_train: int, n_test: int, *, seed: int = 0
) -> Path:
    """Write a fake ``name`` (``"cifar10"`` / ``"cifar100"``) with ``n_train`` / ``n_test`` images.

    The training images are spread over the format's training files (five ``data_batch_k`` for
    CIFAR-10, one ``train`` for CIFAR-100) with ``np.array_split``; CIFAR-100 also gets
    ``coarse_labels`` (``fine // 5``). Every file is written atomically, and the same arguments
    always write the same bytes, so concurrent writers and re-runs are harmless. The checksum
    manifest (:func:`write_md5_manifest`) is written last.

    Returns:
        The dataset folder (``root/cifar-10-batches-py`` or ``root/cifar-100-python``).
    """
    if name not in CIFAR_FOLDERS:
        raise ValueError(f"name={name!r}; allowed: {', '.join(CIFAR_FOLDERS)}")
    for arg, value in (("n_train", n_train), ("n_test", n_test)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{arg} must be an int >= 1, got {value!r}")
    folder, train_files, test_files, label_key, meta_file, meta_key = CIFAR_FOLDERS[name]
    n_classes = 10 if name == "cifar10" else 100
    rng = np.random.default_rng(seed)
    path = Path(root) / folder
    for files, n in ((train_files, n_train), (test_files, n_test)):
        x = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        y = rng.integers(0, n_classes, size=n)
        for fname, idx in zip(files, np.array_split(np.arange(n), len(files))):
            labels = [int(v) for v in y[idx]]
            entry = {
                "batch_label": f"fake {fname}",
                "data": x[idx],
                label_key: labels,
                "filenames": [f"fake_{fname}_{i}.png" for i in idx],
            }
            if name == "cifar100":
                entry["coarse_labels"] = [c // 5 for c in labels]
            atomic_write_bytes(path / fname, pickle.dumps(entry, protocol=2))
    meta = {meta_key: [f"class_{i}" for i in range(n_classes)], "num_cases_per_batch": n_train}
    if name == "cifar100":
        meta["coarse_label_names"] = [f"superclass_{i}" for i in range(20)]
    atomic_write_bytes(path / meta_file, pickle.dumps(meta, protocol=2))
    write_md5_manifest(path, train_files + test_files + (meta_file,))
    return path


def write_md5_manifest(folder: str | Path, files: tuple[str, ...] | list[str]) -> Path:
    """Write ``folder/`` :data:`~swa_lib.data.CIFAR_MANIFEST`: the MD5 of each of ``files``.

    ``swa_lib.data.load_dataset`` accepts a CIFAR file whose bytes are not the official ones only
    if this manifest lists its exact MD5 (and then reads it with a restricted unpickler). Write
    one only for files you made yourself: it is how a folder says "these bytes are mine".

    Returns:
        The manifest's path.
    """
    folder = Path(folder)
    sums = {f: file_md5(folder / f) for f in files}
    text = json.dumps({"written_by": "swa_lib.testing", "md5": sums}, indent=1, sort_keys=True)
    atomic_write_bytes(folder / CIFAR_MANIFEST, (text + "\n").encode())
    return folder / CIFAR_MANIFEST
