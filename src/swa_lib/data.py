"""Datasets as tensors on the training device, on-device batch augmentation, and batching.

Three datasets, all returned by :func:`load_dataset` as an :class:`ArrayDataset` (whole splits as
tensors; no ``DataLoader``, no worker processes, no per-sample Python):

* ``"mnist1d"`` -- MNIST-1D (Greydanus 2020): 40-sample 1-D signals in 10 classes, generated
  offline from templates by ``mnist1d.data.make_dataset`` and cached as ``.npz`` under
  ``root/mnist1d/``. ``x``: ``(N, 1, 40)`` float32 (a channel dim for 1-D convolutions),
  standardised with the training set's scalar mean/std.
* ``"cifar10"`` / ``"cifar100"`` -- read from torchvision's on-disk pickle format
  (``root/cifar-10-batches-py/``, ``root/cifar-100-python/``) by a small reader of our own,
  after checking every file against the official MD5 sums (:func:`verify_cifar_files`: a
  pickle is code, and a corrupt or tampered one is never unpickled); ``x``: ``(N, 3, 32, 32)``
  float32, ``(x / 255 - mean) / std`` per channel.

Augmentation runs on the tensors' device, one batch at a time, and draws its randomness only from
the ``torch.Generator`` it is given, so a run is reproducible and resumes bit-exactly from a saved
generator state:

* MNIST-1D: a random circular shift of ``-max_shift..max_shift`` samples per example (default 3)
  plus i.i.d. Gaussian noise of std ``noise_std`` (default 0.05) in standardised units, i.e. 5 % of
  the data's standard deviation. (``make_dataset`` already scales the data to unit std, so this is
  the same 0.05 as in raw package units up to the ~1 % train/all difference.)
* CIFAR: pad 4 then a random 32x32 crop, and a horizontal flip with probability 1/2 -- the
  SWA reference's ``RandomCrop(32, padding=4)`` + ``RandomHorizontalFlip()``. The padding is
  *black in pixel space* (torchvision pads the ``[0, 1]`` image with 0 before ``Normalize``), i.e.
  ``-mean / std`` per channel in normalised units, so the result matches the reference exactly.

The random draws are exposed (:func:`draw_shifts`, :func:`draw_crop_flip`) and applied by pure
functions (:func:`circular_shift`, :func:`crop_flip`) so that tests can replay them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
import os
import pickle
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .io import atomic_savez, stable_hash

__all__ = [
    "DATASET_NAMES",
    "ArrayDataset",
    "load_dataset",
    "iterate_batches",
    "draw_shifts",
    "circular_shift",
    "shift_noise_augment",
    "draw_crop_flip",
    "crop_flip",
    "crop_flip_augment",
    "CIFAR_MEAN",
    "CIFAR_STD",
    "CIFAR_FOLDERS",
    "CIFAR_MD5",
    "CIFAR_MANIFEST",
    "verify_cifar_files",
    "file_md5",
]

DATASET_NAMES = ("mnist1d", "cifar10", "cifar100")

#: Per-channel mean/std of the SWA reference code (timgaripov/swa, PreResNet/WRN transforms; used
#: there for CIFAR-10 and CIFAR-100 alike). Override with ``load_dataset(..., mean=, std=)``.
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2023, 0.1994, 0.2010)

#: name -> (folder under root, train files, test files, labels key, meta file, class-names key):
#: torchvision's layout after extracting the official archives.
CIFAR_FOLDERS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...], str, str, str]] = {
    "cifar10": (
        "cifar-10-batches-py",
        tuple(f"data_batch_{i}" for i in range(1, 6)),
        ("test_batch",),
        "labels",
        "batches.meta",
        "label_names",
    ),
    "cifar100": (
        "cifar-100-python",
        ("train",),
        ("test",),
        "fine_labels",
        "meta",
        "fine_label_names",
    ),
}

#: name -> {file: MD5 hex digest} of the official pickles, as torchvision lists them
#: (torchvision/datasets/cifar.py: ``CIFAR10.train_list`` / ``test_list`` / ``meta``, same for
#: ``CIFAR100``). :func:`verify_cifar_files` checks every file against it *before* unpickling.
CIFAR_MD5: dict[str, dict[str, str]] = {
    "cifar10": {
        "data_batch_1": "c99cafc152244af753f735de768cd75f",
        "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
        "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
        "data_batch_4": "634d18415352ddfa80567beed471001a",
        "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
        "test_batch": "40351d587109b95175f43aff81a1287e",
        "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
    },
    "cifar100": {
        "train": "16019d7e3df5f24257cddd939b257f8d",
        "test": "f0ef6b0ae62326f3e7ffdfab6717acfc",
        "meta": "7973b15100ade9c7d40fb424638fde48",
    },
}

#: The checksum manifest a non-official CIFAR folder may carry next to its files (written by
#: :func:`swa_lib.testing.write_fake_cifar`): JSON ``{"md5": {file: hex digest}, ...}``.
CIFAR_MANIFEST = "swa_lib_md5.json"

_MNIST1D_GEN_SKIP = ("num_samples", "seed", "url")  # set by explicit arguments / never used
_MNIST1D_AUG_KW = ("max_shift", "noise_std")
_CIFAR_KW = ("crop_padding", "mean", "std")
_CACHE_FORMAT = 1  # bump when the cached .npz layout changes


# -- the dataset container ------------------------------------------------------------------------


@dataclass
class ArrayDataset:
    """Both splits of a dataset as tensors on one device.

    Attributes:
        name: one of :data:`DATASET_NAMES`.
        x_train, x_test: float32 inputs, ``(N, 1, 40)`` for MNIST-1D, ``(N, 3, 32, 32)`` for CIFAR,
            already normalised.
        y_train, y_test: int64 class labels ``(N,)`` in ``0..num_classes-1``.
        num_classes: 10 or 100.
        mean, std: what was subtracted / divided (per channel; one value for MNIST-1D), in the
            units of the raw data (pixel intensity in ``[0, 1]`` for CIFAR).
        augmentation: ``"shift_noise"`` (MNIST-1D), ``"crop_flip"`` (CIFAR) or ``None`` (off:
            :meth:`augment` returns its input).
        max_shift, noise_std: MNIST-1D augmentation (samples; standardised units).
        crop_padding: CIFAR augmentation padding in pixels.
        classes: class names when known.
        info: provenance (generation arguments, cache file, source folder).
    """

    name: str
    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    num_classes: int
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    augmentation: str | None = None
    max_shift: int = 3
    noise_std: float = 0.05
    crop_padding: int = 4
    classes: tuple[str, ...] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if x.shape[0] != y.shape[0]:
                raise ValueError(f"x_{split} has {x.shape[0]} rows but y_{split} {y.shape[0]}")
        if self.augmentation not in (None, "shift_noise", "crop_flip"):
            raise ValueError(
                f"augmentation={self.augmentation!r}; allowed: None, 'shift_noise', 'crop_flip'"
            )

    @property
    def device(self) -> torch.device:
        return self.x_train.device

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example, e.g. ``(1, 40)`` or ``(3, 32, 32)``."""
        return tuple(self.x_train.shape[1:])

    def to(self, device: str | torch.device) -> ArrayDataset:
        """A copy with all four tensors on ``device`` (no copy where they already are)."""
        return dataclasses.replace(
            self,
            x_train=self.x_train.to(device),
            y_train=self.y_train.to(device),
            x_test=self.x_test.to(device),
            y_test=self.y_test.to(device),
            info=dict(self.info),
        )

    def augment(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """Randomly augment a training batch ``x`` on ``x.device`` (a new tensor; ``x`` itself when
        augmentation is off).

        All randomness comes from ``generator``; the draws happen on ``generator.device`` and are
        moved to ``x.device`` (a CPU generator therefore gives the same augmentation on any device;
        a generator on ``x.device`` avoids the host round trip).
        """
        if self.augmentation is None:
            return x
        if self.augmentation == "shift_noise":
            return shift_noise_augment(
                x, generator, max_shift=self.max_shift, noise_std=self.noise_std
            )
        fill = _black_level(self.mean, self.std, x)
        return crop_flip_augment(x, generator, padding=self.crop_padding, fill=fill)


def _black_level(mean: Sequence[float], std: Sequence[float], like: Tensor) -> Tensor:
    """Normalised value of a black pixel, ``-mean / std``, shape ``(C,)``, on ``like``'s device."""
    m = torch.tensor(mean, dtype=torch.float64)
    s = torch.tensor(std, dtype=torch.float64)
    return (-m / s).to(device=like.device, dtype=like.dtype)


# -- augmentation: MNIST-1D -----------------------------------------------------------------------


def draw_shifts(n: int, max_shift: int, generator: torch.Generator) -> Tensor:
    """``n`` int64 shifts, uniform on ``-max_shift..max_shift``, on ``generator.device``."""
    return torch.randint(
        -max_shift, max_shift + 1, (n,), generator=generator, device=generator.device
    )


def circular_shift(x: Tensor, shifts: Tensor) -> Tensor:
    """Roll each example of ``x`` ``(N, C, L)`` along its last axis by ``shifts[i]`` samples.

    Same convention as ``torch.roll(x[i], shifts[i], dims=-1)``: ``out[i, :, t] =
    x[i, :, (t - shifts[i]) mod L]``. One ``gather``, no Python loop.
    """
    n, c, length = x.shape
    t = torch.arange(length, device=x.device)
    idx = (t[None, :] - shifts.to(x.device)[:, None]) % length  # (N, L)
    return x.gather(-1, idx[:, None, :].expand(n, c, length))


def shift_noise_augment(
    x: Tensor, generator: torch.Generator, *, max_shift: int = 3, noise_std: float = 0.05
) -> Tensor:
    """MNIST-1D augmentation: per-example circular shift, then additive Gaussian noise.

    Draw order (fixed, for reproducibility): the ``N`` shifts, then the ``x.shape`` noise values.
    """
    out = circular_shift(x, draw_shifts(x.shape[0], max_shift, generator))
    if noise_std > 0:
        noise = torch.randn(x.shape, generator=generator, device=generator.device, dtype=x.dtype)
        out = out + noise_std * noise.to(x.device)
    return out


# -- augmentation: CIFAR --------------------------------------------------------------------------


def draw_crop_flip(
    n: int, padding: int, generator: torch.Generator
) -> tuple[Tensor, Tensor, Tensor]:
    """Random crop offsets and flips for ``n`` images (on ``generator.device``).

    Returns ``(top, left, flip)``: int64 offsets into the padded image, uniform on
    ``0..2*padding`` (the crop window's corner; ``padding`` means no shift), and a bool flip mask
    with probability 1/2. Draw order: ``(n, 2)`` offsets, then ``n`` flips.
    """
    offsets = torch.randint(
        0, 2 * padding + 1, (n, 2), generator=generator, device=generator.device
    )
    flip = torch.randint(0, 2, (n,), generator=generator, device=generator.device).bool()
    return offsets[:, 0], offsets[:, 1], flip


def crop_flip(
    x: Tensor, top: Tensor, left: Tensor, flip: Tensor, *, padding: int, fill: Tensor | float = 0.0
) -> Tensor:
    """Pad ``x`` ``(N, C, H, W)`` by ``padding`` with ``fill``, crop ``H x W`` at ``(top, left)``,
    then mirror horizontally where ``flip``.

    ``fill`` is a scalar or a per-channel ``(C,)`` tensor (use the normalised black level so that
    padding matches torchvision's). Implemented as one ``gather`` on the flattened padded images.
    """
    n, c, h, w = x.shape
    hp, wp = h + 2 * padding, w + 2 * padding
    fill_t = torch.as_tensor(fill, dtype=x.dtype, device=x.device).reshape(-1)
    padded = fill_t.reshape(1, -1, 1, 1).expand(n, c, hp, wp).clone()
    padded[:, :, padding : padding + h, padding : padding + w] = x
    top, left, flip = top.to(x.device), left.to(x.device), flip.to(x.device)
    rows = top[:, None] + torch.arange(h, device=x.device)  # (N, H)
    j = torch.arange(w, device=x.device)
    cols = left[:, None] + torch.where(flip[:, None], w - 1 - j, j)  # (N, W)
    flat = (rows[:, :, None] * wp + cols[:, None, :]).reshape(n, 1, h * w)
    out = padded.reshape(n, c, hp * wp).gather(-1, flat.expand(n, c, h * w))
    return out.reshape(n, c, h, w)


def crop_flip_augment(
    x: Tensor, generator: torch.Generator, *, padding: int = 4, fill: Tensor | float = 0.0
) -> Tensor:
    """CIFAR augmentation: :func:`draw_crop_flip` then :func:`crop_flip`."""
    top, left, flip = draw_crop_flip(x.shape[0], padding, generator)
    return crop_flip(x, top, left, flip, padding=padding, fill=fill)


# -- batching -------------------------------------------------------------------------------------


def iterate_batches(
    x: Tensor,
    y: Tensor,
    batch_size: int,
    *,
    shuffle: bool,
    generator: torch.Generator | None = None,
    drop_last: bool = False,
) -> Iterator[tuple[Tensor, Tensor]]:
    """Yield ``(x[idx], y[idx])`` mini-batches covering each example once.

    Without ``shuffle`` the batches are views (slices) in order. With ``shuffle`` one permutation
    is drawn per call with ``generator`` (on ``generator.device``; the global RNG of ``x.device``
    when ``None``) and the batches are gathered on ``x.device``. The last batch is smaller when
    ``batch_size`` does not divide ``N``, unless ``drop_last``.
    """
    n = x.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"x has {n} rows but y has {y.shape[0]}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    stop = n - n % batch_size if drop_last else n
    if not shuffle:
        return ((x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, stop, batch_size))
    # Drawn here, not lazily, so the generator advances when the iterator is created.
    gen_device = generator.device if generator is not None else x.device
    perm = torch.randperm(n, generator=generator, device=gen_device).to(x.device)
    chunks = (perm[i : i + batch_size] for i in range(0, stop, batch_size))
    return ((x[idx], y[idx]) for idx in chunks)


# -- loading --------------------------------------------------------------------------------------


def load_dataset(
    name: str,
    root: str | Path = "data",
    *,
    device: str | torch.device = "cpu",
    download: bool = False,
    num_samples: int | None = None,
    seed: int = 42,
    augment: bool = True,
    **kw: Any,
) -> ArrayDataset:
    """Load ``name`` from ``root`` as tensors on ``device``.

    Args:
        name: one of :data:`DATASET_NAMES`.
        root: data folder; MNIST-1D caches under ``root/mnist1d/``, CIFAR is read from
            ``root/cifar-10-batches-py/`` or ``root/cifar-100-python/``.
        device: where the tensors live (and the augmentation runs).
        download: CIFAR only: if the files are missing, fetch them with torchvision (internet).
            MNIST-1D is generated offline and ignores it.
        num_samples: total number of examples over train+test, split in the dataset's own ratio.
            MNIST-1D: passed to the generator (default 5000 -> 4000 train / 1000 test); a multiple
            of 10. CIFAR: a random subset (drawn with ``seed``) of each split, ``round(5/6 *
            num_samples)`` train images and the rest test; ``None`` keeps all 50000 / 10000.
        seed: MNIST-1D generation seed; CIFAR subset seed.
        augment: enable :meth:`ArrayDataset.augment` (else it is the identity).
        **kw: MNIST-1D: fields of ``mnist1d.data.get_dataset_args()`` to override
            (``corr_noise_scale``, ``iid_noise_scale``, ``train_split``, ...) and the augmentation
            settings ``max_shift``, ``noise_std``. CIFAR: ``crop_padding``, ``mean``, ``std``.

    Raises:
        ValueError: unknown ``name`` or option, bad ``num_samples``.
        FileNotFoundError: CIFAR files missing and ``download=False`` (the message says where).
        ValueError: a CIFAR file failing its MD5 check (:func:`verify_cifar_files`).
    """
    if name not in DATASET_NAMES:
        raise ValueError(
            f"name={name!r} is not a known dataset; allowed: {', '.join(DATASET_NAMES)}"
        )
    if num_samples is not None and (
        isinstance(num_samples, bool) or not isinstance(num_samples, int)
    ):
        raise ValueError(f"num_samples must be an int or None, got {num_samples!r}")
    if name == "mnist1d":
        ds = _load_mnist1d(Path(root), num_samples, seed, augment, kw)
    else:
        ds = _load_cifar(name, Path(root), download, num_samples, seed, augment, kw)
    return ds.to(device)


def _check_kw(name: str, kw: dict[str, Any], allowed: Sequence[str]) -> None:
    unknown = sorted(set(kw) - set(allowed))
    if unknown:
        raise ValueError(
            f"unknown option(s) for dataset {name!r}: {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )


def _mnist1d_generation_args(
    num_samples: int | None, seed: int, gen_kw: dict[str, Any]
) -> dict[str, Any]:
    import mnist1d.data

    args = mnist1d.data.get_dataset_args(as_dict=True)
    args.update(gen_kw)
    if num_samples is not None:
        args["num_samples"] = num_samples
    args["seed"] = int(seed)
    n = args["num_samples"]
    if n < 20 or n % 10:
        raise ValueError(
            f"num_samples={n} for mnist1d must be a multiple of 10 (one tenth per "
            f"class) and at least 20"
        )
    split = args["train_split"]
    if not 0 < int(n * split) < n:
        raise ValueError(
            f"train_split={split} with num_samples={n} leaves an empty train or test split"
        )
    return args


def _load_mnist1d(
    root: Path, num_samples: int | None, seed: int, augment: bool, kw: dict[str, Any]
) -> ArrayDataset:
    import mnist1d.data

    gen_fields = [
        k for k in mnist1d.data.get_dataset_args(as_dict=True) if k not in _MNIST1D_GEN_SKIP
    ]
    _check_kw("mnist1d", kw, gen_fields + list(_MNIST1D_AUG_KW))
    aug_kw = {k: kw[k] for k in _MNIST1D_AUG_KW if k in kw}
    args = _mnist1d_generation_args(
        num_samples, seed, {k: v for k, v in kw.items() if k in gen_fields}
    )

    key_args = {k: v for k, v in args.items() if k != "url"}
    try:
        version = importlib.metadata.version("mnist1d")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - vendored copy
        version = "unknown"
    key = stable_hash({"args": key_args, "mnist1d": version, "format": _CACHE_FORMAT}, 16)
    path = root / "mnist1d" / f"mnist1d_{key}.npz"
    arrays = _read_npz(path)
    if arrays is None:
        arrays = _generate_mnist1d(args)
        atomic_savez(path, **arrays)

    x_tr, x_te = arrays["x"], arrays["x_test"]  # float64 (N, 40)
    mean, std = float(x_tr.mean()), float(x_tr.std())

    def prep(a: np.ndarray) -> Tensor:
        return torch.from_numpy(((a - mean) / std).astype(np.float32)[:, None, :])

    return ArrayDataset(
        name="mnist1d",
        x_train=prep(x_tr),
        y_train=torch.from_numpy(arrays["y"].astype(np.int64)),
        x_test=prep(x_te),
        y_test=torch.from_numpy(arrays["y_test"].astype(np.int64)),
        num_classes=10,
        mean=(mean,),
        std=(std,),
        augmentation="shift_noise" if augment else None,
        max_shift=int(aug_kw.get("max_shift", 3)),
        noise_std=float(aug_kw.get("noise_std", 0.05)),
        info={"generation_args": key_args, "mnist1d_version": version, "cache": str(path)},
    )


def _generate_mnist1d(args: dict[str, Any]) -> dict[str, np.ndarray]:
    """Run ``mnist1d.data.make_dataset``, sparing the caller's global RNGs.

    ``make_dataset`` reseeds Python's ``random`` and NumPy's global RNG (``set_seed``) and draws
    from them; we restore both afterwards so loading data never changes a run's random stream.
    """
    import mnist1d.data
    from mnist1d.utils import ObjectView

    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        d = mnist1d.data.make_dataset(ObjectView(dict(args)))
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    return {k: np.asarray(d[k]) for k in ("x", "y", "x_test", "y_test")}


def _read_npz(path: Path) -> dict[str, np.ndarray] | None:
    """The cached arrays, or ``None`` when absent or unreadable (then it is regenerated)."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in ("x", "y", "x_test", "y_test")}
    except Exception:
        return None


def _missing_cifar_files(name: str, root: Path) -> list[Path]:
    folder, train, test, *_ = CIFAR_FOLDERS[name]
    return [root / folder / f for f in train + test if not (root / folder / f).is_file()]


def _load_cifar(
    name: str,
    root: Path,
    download: bool,
    num_samples: int | None,
    seed: int,
    augment: bool,
    kw: dict[str, Any],
) -> ArrayDataset:
    _check_kw(name, kw, _CIFAR_KW)
    mean = tuple(float(v) for v in kw.get("mean", CIFAR_MEAN))
    std = tuple(float(v) for v in kw.get("std", CIFAR_STD))
    if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        raise ValueError(
            f"mean and std must be 3 per-channel values with std > 0, got mean={mean}, std={std}"
        )
    folder, train_files, test_files, label_key, meta_file, meta_key = CIFAR_FOLDERS[name]
    missing = _missing_cifar_files(name, root)
    if missing and download:
        import torchvision

        cls = torchvision.datasets.CIFAR10 if name == "cifar10" else torchvision.datasets.CIFAR100
        cls(str(root), train=True, download=True)
        missing = _missing_cifar_files(name, root)
    if missing:
        expected = Path(os.path.abspath(root / folder))
        raise FileNotFoundError(
            f"{name} not found: expected the folder {expected} (i.e. '{folder}' under root "
            f"'{root}') holding {', '.join(train_files + test_files)}; missing: "
            f"{', '.join(p.name for p in missing)}. Fix: load_dataset({name!r}, "
            f"root={str(root)!r}, download=True) (needs internet), or copy the extracted "
            f"official archive (torchvision's layout) to {expected}."
        )

    checks = verify_cifar_files(name, root / folder)  # before anything is unpickled
    x_tr, y_tr = _read_cifar_split(root / folder, train_files, label_key, checks)
    x_te, y_te = _read_cifar_split(root / folder, test_files, label_key, checks)
    if num_samples is not None:
        n_total = len(y_tr) + len(y_te)
        n_train = round(num_samples * len(y_tr) / n_total)
        n_test = num_samples - n_train
        if not (1 <= n_train <= len(y_tr) and 1 <= n_test <= len(y_te)):
            raise ValueError(
                f"num_samples={num_samples} for {name} must give a non-empty subset "
                f"of both splits: 2..{n_total} (the files hold {len(y_tr)} train / "
                f"{len(y_te)} test)"
            )
        g = torch.Generator().manual_seed(int(seed))
        keep_tr = torch.randperm(len(y_tr), generator=g)[:n_train].sort().values.numpy()
        keep_te = torch.randperm(len(y_te), generator=g)[:n_test].sort().values.numpy()
        x_tr, y_tr, x_te, y_te = x_tr[keep_tr], y_tr[keep_tr], x_te[keep_te], y_te[keep_te]

    m = torch.tensor(mean).reshape(1, 3, 1, 1)
    s = torch.tensor(std).reshape(1, 3, 1, 1)

    def prep(a: np.ndarray) -> Tensor:  # uint8 (N, 3072) -> normalised float32 (N, 3, 32, 32)
        return (torch.from_numpy(a).reshape(-1, 3, 32, 32).float().div_(255) - m) / s

    classes = _read_cifar_meta(root / folder / meta_file, meta_key, checks)
    num_classes = 10 if name == "cifar10" else 100
    return ArrayDataset(
        name=name,
        x_train=prep(x_tr),
        y_train=torch.from_numpy(y_tr),
        x_test=prep(x_te),
        y_test=torch.from_numpy(y_te),
        num_classes=num_classes,
        mean=mean,
        std=std,
        augmentation="crop_flip" if augment else None,
        crop_padding=int(kw.get("crop_padding", 4)),
        classes=classes,
        info={
            "folder": str(root / folder),
            "checksums": "official"
            if set(checks.values()) == {"official"}
            else f"manifest {CIFAR_MANIFEST} (not the official files)",
        },
    )


# -- CIFAR integrity: MD5 before unpickling --------------------------------------------------------


def file_md5(path: str | Path) -> str:
    """The MD5 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_manifest(folder: Path) -> dict[str, str] | None:
    """The ``{file: md5}`` of ``folder``'s :data:`CIFAR_MANIFEST`, or ``None`` without one."""
    path = folder / CIFAR_MANIFEST
    if not path.is_file():
        return None
    try:
        sums = json.loads(path.read_text())["md5"]
        if not isinstance(sums, dict) or not all(isinstance(v, str) for v in sums.values()):
            raise TypeError("'md5' must map file names to hex digests")
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(
            f"{path} is not a checksum manifest ({type(exc).__name__}: {exc})"
        ) from exc
    return sums


def verify_cifar_files(name: str, folder: str | Path) -> dict[str, str]:
    """Check ``name``'s pickles in ``folder`` against their MD5 sums before any is unpickled.

    Each training and test file, and the meta file if present, must have the official MD5 of
    :data:`CIFAR_MD5` (torchvision's list) -- or be listed with its exact MD5 in the folder's
    :data:`CIFAR_MANIFEST`, the explicit way to accept other bytes (the fake CIFAR of
    :mod:`swa_lib.testing` writes one). Files accepted by a manifest are then read by a
    restricted unpickler that can only rebuild numpy arrays, lists, dicts and strings, so a
    manifest can make the loader read other data but never run code. A pickle is code: the
    check stops a corrupt, truncated or tampered file from being executed.

    Returns:
        ``{file: "official" | "manifest"}`` for the files checked.

    Raises:
        ValueError: a file whose MD5 matches neither (the message names the file, both sums and
            the fix); a malformed manifest.
    """
    if name not in CIFAR_MD5:
        raise ValueError(f"name={name!r}; allowed: {', '.join(CIFAR_MD5)}")
    folder = Path(folder)
    _, train, test, _, meta, _ = CIFAR_FOLDERS[name]
    files = list(train + test) + ([meta] if (folder / meta).is_file() else [])
    manifest = _read_manifest(folder)
    out: dict[str, str] = {}
    for fname in files:
        got, official = file_md5(folder / fname), CIFAR_MD5[name][fname]
        if got == official:
            out[fname] = "official"
        elif manifest is not None and manifest.get(fname) == got:
            out[fname] = "manifest"
        else:
            listed = (
                ""
                if manifest is None
                else (
                    f", nor the {manifest[fname]} its {CIFAR_MANIFEST} lists"
                    if fname in manifest
                    else f", and its {CIFAR_MANIFEST} does not list it"
                )
            )
            raise ValueError(
                f"{folder / fname} failed its MD5 check: {got} is not the official {name} sum "
                f"{official} (torchvision's list){listed}. The file is corrupt, truncated or not "
                f"the official archive, and was not unpickled. Fix: delete {folder} and "
                f"load_dataset({name!r}, root=..., download=True), or copy the extracted "
                f"official archive there."
            )
    return out


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and plain containers only: any other global is refused."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),  # numpy 1 pickles
        ("numpy._core.multiarray", "_reconstruct"),  # numpy 2 pickles
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(
                f"global {module}.{name} is not allowed in a CIFAR "
                f"pickle accepted by a checksum manifest"
            )
        return super().find_class(module, name)


def _unpickle(path: Path, check: str = "official") -> dict[str, Any]:
    """Load one CIFAR pickle (Python-2 era, hence ``latin1``), with ``str`` keys.

    ``check`` is what :func:`verify_cifar_files` said of the file: ``"official"`` bytes are
    unpickled as torchvision does; ``"manifest"`` ones by :class:`_ArraysOnlyUnpickler`.
    """
    try:
        with open(path, "rb") as f:
            if check == "official":
                entry = pickle.load(f, encoding="latin1")
            else:
                entry = _ArraysOnlyUnpickler(f, encoding="latin1").load()
    except Exception as exc:  # re-raised naming the file
        raise ValueError(
            f"{path} is not a readable CIFAR pickle ({type(exc).__name__}: {exc}); "
            f"delete the folder and download or copy it again"
        ) from exc
    if not isinstance(entry, dict):
        raise ValueError(f"{path} is not a CIFAR pickle (holds {type(entry).__name__})")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in entry.items()}


def _read_cifar_split(
    folder: Path, files: Sequence[str], label_key: str, checks: dict[str, str]
) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate ``data`` (uint8 ``(N, 3072)``, channel-major: R, G, B planes of 32x32) and
    labels (int64 ``(N,)``) of the given batch files (each verified: ``checks``)."""
    xs, ys = [], []
    for fname in files:
        entry = _unpickle(folder / fname, checks[fname])
        if "data" not in entry or label_key not in entry:
            raise ValueError(
                f"{folder / fname} lacks the keys 'data' and {label_key!r} (has {sorted(entry)})"
            )
        data = np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3 * 32 * 32)
        labels = np.asarray(entry[label_key], dtype=np.int64)
        if len(labels) != len(data):
            raise ValueError(f"{folder / fname}: {len(data)} images but {len(labels)} labels")
        xs.append(data)
        ys.append(labels)
    return np.concatenate(xs), np.concatenate(ys)


def _read_cifar_meta(path: Path, key: str, checks: dict[str, str]) -> tuple[str, ...] | None:
    if not path.is_file():
        return None
    names = _unpickle(path, checks[path.name]).get(key)
    return tuple(str(c) for c in names) if names is not None else None
