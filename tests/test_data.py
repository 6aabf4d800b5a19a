"""Tests for swa_lib.data: MNIST-1D generation + cache, CIFAR pickle reader, augmentation, batching.

Nothing here touches the network: MNIST-1D is generated offline (small ``num_samples``), CIFAR is
a handful of fake images written in torchvision's exact on-disk pickle format.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import mnist1d.data
import numpy as np
import pytest
import torch

from swa_lib import data as D
from swa_lib.data import (
    CIFAR_MANIFEST,
    CIFAR_MD5,
    CIFAR_MEAN,
    CIFAR_STD,
    DATASET_NAMES,
    ArrayDataset,
    iterate_batches,
    load_dataset,
)
from swa_lib.testing import write_md5_manifest

# -- MNIST-1D ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def mnist_small(mnist_root) -> ArrayDataset:
    return load_dataset("mnist1d", mnist_root, num_samples=500, seed=3)


def test_mnist1d_shapes_dtypes_classes(mnist_small):
    ds = mnist_small
    assert DATASET_NAMES == ("mnist1d", "cifar10", "cifar100")
    assert ds.name == "mnist1d" and ds.num_classes == 10
    assert ds.x_train.shape == (400, 1, 40) and ds.x_test.shape == (100, 1, 40)
    assert ds.x_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    assert ds.y_test.dtype == torch.int64 and ds.x_test.dtype == torch.float32
    assert ds.input_shape == (1, 40) and ds.device == torch.device("cpu")
    assert set(torch.cat([ds.y_train, ds.y_test]).tolist()) == set(range(10))
    # standardised with the training set's own statistics
    assert abs(ds.x_train.mean().item()) < 1e-5
    assert ds.x_train.double().std(unbiased=False).item() == pytest.approx(1.0, abs=1e-5)
    assert ds.augmentation == "shift_noise"


def test_mnist1d_split_matches_package(mnist_small):
    args = mnist1d.data.get_dataset_args()
    args.num_samples, args.seed = 500, 3
    ref = mnist1d.data.make_dataset(args)
    ds = mnist_small
    np.testing.assert_array_equal(ds.y_train.numpy(), ref["y"])
    np.testing.assert_array_equal(ds.y_test.numpy(), ref["y_test"])
    mean, std = ref["x"].mean(), ref["x"].std()
    np.testing.assert_allclose(ds.x_train[:, 0].numpy(), (ref["x"] - mean) / std, atol=1e-5)
    np.testing.assert_allclose(ds.x_test[:, 0].numpy(), (ref["x_test"] - mean) / std, atol=1e-5)
    assert ds.mean == pytest.approx((mean,)) and ds.std == pytest.approx((std,))


def test_mnist1d_cache_hit_and_determinism(mnist_root, mnist_small, monkeypatch):
    files = list((mnist_root / "mnist1d").glob("*.npz"))
    assert len(files) == 1 and not list((mnist_root / "mnist1d").glob("*.tmp"))

    def boom(*a, **k):
        raise AssertionError("make_dataset called on a cache hit")

    monkeypatch.setattr(mnist1d.data, "make_dataset", boom)
    again = load_dataset("mnist1d", mnist_root, num_samples=500, seed=3)
    for k in ("x_train", "y_train", "x_test", "y_test"):
        assert torch.equal(getattr(again, k), getattr(mnist_small, k))
    monkeypatch.undo()

    # a fresh root (no cache) with the same seed regenerates identical tensors; the global RNGs
    # that make_dataset reseeds are left as they were
    np.random.seed(123)
    expected_next = np.random.rand()
    np.random.seed(123)
    fresh = load_dataset("mnist1d", mnist_root / "other", num_samples=500, seed=3)
    assert np.random.rand() == expected_next
    assert torch.equal(fresh.x_train, mnist_small.x_train)
    # a different seed / generation option is a different cache entry and different data
    other = load_dataset("mnist1d", mnist_root, num_samples=500, seed=4, iid_noise_scale=0.05)
    assert not torch.equal(other.x_train, mnist_small.x_train)
    assert len(list((mnist_root / "mnist1d").glob("*.npz"))) == 2


def test_mnist1d_corrupt_cache_is_regenerated(tmp_path):
    ds = load_dataset("mnist1d", tmp_path, num_samples=100, seed=1, augment=False)
    (cache,) = (tmp_path / "mnist1d").glob("*.npz")
    cache.write_bytes(b"torn")
    again = load_dataset("mnist1d", tmp_path, num_samples=100, seed=1, augment=False)
    assert torch.equal(again.x_train, ds.x_train)
    assert again.augmentation is None
    x = again.x_train[:5]
    assert again.augment(x, torch.Generator().manual_seed(0)) is x


def test_bad_inputs(tmp_path):
    with pytest.raises(ValueError, match=r"name='mnist'.*mnist1d, cifar10, cifar100"):
        load_dataset("mnist", tmp_path)
    with pytest.raises(ValueError, match="multiple of 10"):
        load_dataset("mnist1d", tmp_path, num_samples=55)
    with pytest.raises(ValueError, match="at least 20"):
        load_dataset("mnist1d", tmp_path, num_samples=10)
    with pytest.raises(ValueError, match="num_samples must be an int"):
        load_dataset("mnist1d", tmp_path, num_samples=50.0)
    with pytest.raises(ValueError, match=r"option\(s\).*noise_scale.*allowed:.*shear_scale"):
        load_dataset("mnist1d", tmp_path, num_samples=100, noise_scale=0.1)
    with pytest.raises(ValueError, match="url"):
        load_dataset("mnist1d", tmp_path, num_samples=100, url="http://example.invalid")
    with pytest.raises(ValueError, match="empty train or test"):
        load_dataset("mnist1d", tmp_path, num_samples=100, train_split=1.0)
    assert not (tmp_path / "mnist1d").exists()  # validation happens before any generation


# -- fake CIFAR in torchvision's on-disk format -----------------------------------------------


def _write_pickle(path: Path, obj) -> None:
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)


# torchvision's layout, spelled out here independently of swa_lib.data.CIFAR_FOLDERS
TV_LAYOUT = {
    "cifar10": (
        "cifar-10-batches-py",
        [f"data_batch_{i}" for i in range(1, 6)],
        ["test_batch"],
        "labels",
        "batches.meta",
        "label_names",
    ),
    "cifar100": (
        "cifar-100-python",
        ["train"],
        ["test"],
        "fine_labels",
        "meta",
        "fine_label_names",
    ),
}


def _make_fake_cifar(
    root: Path, name: str, n_per_file: int, rng: np.random.Generator, *, manifest: bool = True
) -> dict:
    """Write a fake ``cifar-10-batches-py`` / ``cifar-100-python`` folder; return what it holds.

    Its bytes are not the official ones: with ``manifest`` the folder lists their MD5 sums (the
    explicit way to make the loader accept them), without it loading must refuse."""
    folder, train_files, test_files, label_key, meta_file, meta_key = TV_LAYOUT[name]
    n_classes = 10 if name == "cifar10" else 100
    (root / folder).mkdir(parents=True)
    out = {}
    for split, files in (("train", train_files), ("test", test_files)):
        xs, ys = [], []
        for fname in files:
            x = rng.integers(0, 256, size=(n_per_file, 3072), dtype=np.uint8)
            y = rng.integers(0, n_classes, size=n_per_file).tolist()
            entry = {
                "batch_label": f"fake {fname}",
                "data": x,
                "filenames": [f"img_{i}.png" for i in range(n_per_file)],
                label_key: y,
            }
            if name == "cifar100":
                entry["coarse_labels"] = [c // 5 for c in y]
            _write_pickle(root / folder / fname, entry)
            xs.append(x)
            ys += y
        out[split] = (np.concatenate(xs), np.asarray(ys))
    names = [f"class_{i}" for i in range(n_classes)]
    meta = {meta_key: names, "num_cases_per_batch": n_per_file}
    if name == "cifar100":
        meta["coarse_label_names"] = [f"super_{i}" for i in range(20)]
    _write_pickle(root / folder / meta_file, meta)
    if manifest:
        write_md5_manifest(root / folder, train_files + test_files + [meta_file])
    out["classes"] = tuple(names)
    return out


def _reference_normalise(x_uint8: np.ndarray) -> np.ndarray:
    x = x_uint8.reshape(-1, 3, 32, 32).astype(np.float64) / 255.0
    return (x - np.reshape(CIFAR_MEAN, (1, 3, 1, 1))) / np.reshape(CIFAR_STD, (1, 3, 1, 1))


@pytest.mark.parametrize("name, n_per_file", [("cifar10", 4), ("cifar100", 12)])
def test_fake_cifar_loads(tmp_path, name, n_per_file):
    fake = _make_fake_cifar(tmp_path, name, n_per_file, np.random.default_rng(0))
    ds = load_dataset(name, tmp_path)
    n_train = len(fake["train"][1])
    assert ds.num_classes == (10 if name == "cifar10" else 100)
    assert ds.x_train.shape == (n_train, 3, 32, 32) and ds.x_test.shape == (n_per_file, 3, 32, 32)
    assert ds.x_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    np.testing.assert_array_equal(ds.y_train.numpy(), fake["train"][1])
    np.testing.assert_array_equal(ds.y_test.numpy(), fake["test"][1])
    np.testing.assert_allclose(
        ds.x_train.numpy(), _reference_normalise(fake["train"][0]), atol=1e-5, rtol=0
    )
    np.testing.assert_allclose(
        ds.x_test.numpy(), _reference_normalise(fake["test"][0]), atol=1e-5, rtol=0
    )
    assert ds.classes == fake["classes"] and ds.augmentation == "crop_flip"


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_fake_cifar_agrees_with_torchvision(tmp_path, monkeypatch, name):
    tv_cifar = pytest.importorskip("torchvision.datasets.cifar")
    fake = _make_fake_cifar(tmp_path, name, 3, np.random.default_rng(1))
    # torchvision checks the md5 of the *real* files; fake files cannot pass, so only that check is
    # switched off -- the reading code is torchvision's own.
    monkeypatch.setattr(tv_cifar, "check_integrity", lambda *a, **k: True)
    ds = load_dataset(name, tmp_path, augment=False)
    tv_class = tv_cifar.CIFAR10 if name == "cifar10" else tv_cifar.CIFAR100
    for train, x, y in ((True, ds.x_train, ds.y_train), (False, ds.x_test, ds.y_test)):
        tv = tv_class(str(tmp_path), train=train, download=False)
        assert tv.targets == y.tolist()
        chw = torch.from_numpy(tv.data).permute(0, 3, 1, 2).double() / 255  # HWC uint8 -> CHW
        ref = (chw - torch.tensor(CIFAR_MEAN, dtype=torch.float64).view(1, 3, 1, 1)) / torch.tensor(
            CIFAR_STD, dtype=torch.float64
        ).view(1, 3, 1, 1)
        torch.testing.assert_close(x.double(), ref, atol=1e-5, rtol=0)
        assert tuple(tv.classes) == ds.classes == fake["classes"]


def test_cifar_subset_and_options(tmp_path):
    _make_fake_cifar(tmp_path, "cifar10", 6, np.random.default_rng(2))  # 30 train / 6 test
    full = load_dataset("cifar10", tmp_path)
    sub = load_dataset("cifar10", tmp_path, num_samples=12, seed=5)
    assert len(sub.y_train) == 10 and len(sub.y_test) == 2
    # the subset rows are rows of the full set, in file order, and reproducible from the seed
    rows = [int((full.x_train == xi).flatten(1).all(1).nonzero()) for xi in sub.x_train]
    assert rows == sorted(rows) and torch.equal(full.y_train[rows], sub.y_train)
    assert torch.equal(
        load_dataset("cifar10", tmp_path, num_samples=12, seed=5).x_train, sub.x_train
    )
    with pytest.raises(ValueError, match="num_samples=1000"):
        load_dataset("cifar10", tmp_path, num_samples=1000)
    with pytest.raises(ValueError, match=r"unknown option\(s\).*max_shift"):
        load_dataset("cifar10", tmp_path, max_shift=2)
    custom = load_dataset("cifar10", tmp_path, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    torch.testing.assert_close(
        custom.x_train,
        (
            full.x_train * torch.tensor(CIFAR_STD).view(1, 3, 1, 1)
            + torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1)
            - 0.5
        )
        / 0.25,
        atol=1e-5,
        rtol=0,
    )


@pytest.mark.parametrize(
    "name, folder", [("cifar10", "cifar-10-batches-py"), ("cifar100", "cifar-100-python")]
)
def test_missing_cifar_message(tmp_path, name, folder):
    with pytest.raises(FileNotFoundError) as err:
        load_dataset(name, tmp_path)
    msg = str(err.value)
    assert str(tmp_path / folder) in msg and "download=True" in msg and "copy" in msg


def test_cifar_partial_folder_and_corrupt_file(tmp_path):
    _make_fake_cifar(tmp_path, "cifar10", 2, np.random.default_rng(3))
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match="missing: data_batch_3"):
        load_dataset("cifar10", tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="data_batch_3 failed its MD5 check"):
        load_dataset("cifar10", tmp_path)
    # listed in the manifest with its own sum, it gets as far as the unpickler
    folder = tmp_path / "cifar-10-batches-py"
    write_md5_manifest(folder, sorted(p.name for p in folder.iterdir() if "json" not in p.name))
    with pytest.raises(ValueError, match="data_batch_3 is not a readable CIFAR pickle"):
        load_dataset("cifar10", tmp_path)


# -- CIFAR integrity: MD5 before unpickling ------------------------------------------------------


def test_md5_table_is_torchvisions():
    tv_cifar = pytest.importorskip("torchvision.datasets.cifar")
    for name, cls in (("cifar10", tv_cifar.CIFAR10), ("cifar100", tv_cifar.CIFAR100)):
        expected = dict(cls.train_list + cls.test_list)
        expected[cls.meta["filename"]] = cls.meta["md5"]
        assert CIFAR_MD5[name] == expected


def test_md5_matches_hashlib_of_the_bytes(tmp_path):
    import hashlib

    path = tmp_path / "blob"
    path.write_bytes(bytes(range(256)) * 5000)  # > 1 MiB: several chunks
    assert D.file_md5(path) == hashlib.md5(path.read_bytes()).hexdigest()


class _Bomb:
    """Unpickling this runs code: it creates the file ``_Bomb.target``."""

    target = ""

    def __reduce__(self):
        return (Path.touch, (Path(self.target),))


def _plant_bomb(tmp_path: Path) -> Path:
    _make_fake_cifar(tmp_path, "cifar100", 3, np.random.default_rng(9), manifest=False)
    marker = tmp_path / "exploded"
    _Bomb.target = str(marker)
    _write_pickle(tmp_path / "cifar-100-python" / "train", {"data": _Bomb()})
    return marker


def test_files_failing_their_md5_are_never_unpickled(tmp_path):
    marker = _plant_bomb(tmp_path)
    with pytest.raises(ValueError) as err:
        load_dataset("cifar100", tmp_path)
    msg = str(err.value)
    assert "cifar-100-python/train failed its MD5 check" in msg
    assert CIFAR_MD5["cifar100"]["train"] in msg and "download=True" in msg
    assert not marker.exists()  # the pickle was never loaded
    pickle.loads((tmp_path / "cifar-100-python" / "train").read_bytes())
    assert marker.exists()  # (it would have run code)


def test_a_manifest_cannot_make_the_loader_run_code(tmp_path):
    marker = _plant_bomb(tmp_path)
    write_md5_manifest(tmp_path / "cifar-100-python", ["train", "test", "meta"])
    with pytest.raises(ValueError, match="is not allowed in a CIFAR pickle"):
        load_dataset("cifar100", tmp_path)
    assert not marker.exists()


def test_manifest_is_checked_like_the_official_sums(tmp_path):
    _make_fake_cifar(tmp_path, "cifar10", 2, np.random.default_rng(6))
    folder = tmp_path / "cifar-10-batches-py"
    ds = load_dataset("cifar10", tmp_path)
    assert ds.info["checksums"].startswith("manifest")
    raw = bytearray((folder / "test_batch").read_bytes())
    raw[-5] ^= 1  # one flipped bit in the image bytes: still a valid pickle
    (folder / "test_batch").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"test_batch failed its MD5 check.*its swa_lib_md5"):
        load_dataset("cifar10", tmp_path)
    (folder / CIFAR_MANIFEST).write_text("{not json")
    with pytest.raises(ValueError, match="not a checksum manifest"):
        load_dataset("cifar10", tmp_path)


def test_official_sums_load_with_the_plain_unpickler(tmp_path, monkeypatch):
    """Files with the official MD5 need no manifest (simulated: the table holds the fake's sums)."""
    fake = _make_fake_cifar(tmp_path, "cifar10", 2, np.random.default_rng(7), manifest=False)
    folder = tmp_path / "cifar-10-batches-py"
    sums = {p.name: D.file_md5(p) for p in folder.iterdir()}
    monkeypatch.setitem(CIFAR_MD5, "cifar10", sums)
    ds = load_dataset("cifar10", tmp_path)
    assert ds.info["checksums"] == "official"
    np.testing.assert_array_equal(ds.y_train.numpy(), fake["train"][1])


def test_cifar_download_calls_torchvision(tmp_path, monkeypatch):
    import torchvision

    calls = []

    class FakeCIFAR100:  # stands in for the download: writes the files where torchvision would
        def __init__(self, root, train=True, download=False):
            calls.append((root, download))
            _make_fake_cifar(Path(root), "cifar100", 5, np.random.default_rng(4))

    monkeypatch.setattr(torchvision.datasets, "CIFAR100", FakeCIFAR100)
    ds = load_dataset("cifar100", tmp_path, download=True)
    assert calls == [(str(tmp_path), True)] and ds.x_train.shape == (5, 3, 32, 32)
    load_dataset("cifar100", tmp_path, download=True)  # present: no second download
    assert len(calls) == 1


# -- augmentation -----------------------------------------------------------------------------


def _brute_force_crop_flip(x, top, left, flip, padding, fill):
    out = torch.empty_like(x)
    for i in range(x.shape[0]):
        c, h, w = x.shape[1:]
        p = fill.view(c, 1, 1).expand(c, h + 2 * padding, w + 2 * padding).clone()
        p[:, padding : padding + h, padding : padding + w] = x[i]
        crop = p[:, int(top[i]) : int(top[i]) + h, int(left[i]) : int(left[i]) + w]
        out[i] = crop.flip(-1) if bool(flip[i]) else crop
    return out


def test_crop_flip_matches_brute_force():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 3, 8, 10, generator=g)  # non-square catches row/column mix-ups
    fill = torch.tensor([-2.0, -1.0, -3.0])
    top, left, flip = D.draw_crop_flip(64, 4, torch.Generator().manual_seed(1))
    assert top.min() >= 0 and top.max() <= 8 and left.min() >= 0 and left.max() <= 8
    assert flip.dtype == torch.bool and 0 < flip.sum() < 64
    out = D.crop_flip(x, top, left, flip, padding=4, fill=fill)
    assert torch.equal(out, _brute_force_crop_flip(x, top, left, flip, 4, fill))
    # no shift and no flip is the identity
    zeros = torch.full((64,), 4)
    assert torch.equal(
        D.crop_flip(x, zeros, zeros, torch.zeros(64, dtype=torch.bool), padding=4, fill=fill), x
    )


def test_dataset_augment_crop_flip_replays_draws(tmp_path):
    _make_fake_cifar(tmp_path, "cifar10", 4, np.random.default_rng(5))
    ds = load_dataset("cifar10", tmp_path)
    x = ds.x_train
    out = ds.augment(x, torch.Generator().manual_seed(7))
    assert torch.equal(out, ds.augment(x, torch.Generator().manual_seed(7)))
    assert not torch.equal(out, ds.augment(x, torch.Generator().manual_seed(8)))
    top, left, flip = D.draw_crop_flip(len(x), 4, torch.Generator().manual_seed(7))
    black = -torch.tensor(CIFAR_MEAN) / torch.tensor(CIFAR_STD)
    assert torch.allclose(out, _brute_force_crop_flip(x, top, left, flip, 4, black), atol=1e-6)
    # the padding is black in pixel space: un-normalised padded pixels are 0
    edge = D.crop_flip(
        x,
        torch.zeros(len(x), dtype=torch.long),
        torch.zeros(len(x), dtype=torch.long),
        torch.zeros(len(x), dtype=torch.bool),
        padding=4,
        fill=black,
    )[:, :, :4, :]
    pixels = edge * torch.tensor(CIFAR_STD).view(1, 3, 1, 1) + torch.tensor(CIFAR_MEAN).view(
        1, 3, 1, 1
    )
    assert pixels.abs().max() < 1e-6


def test_shift_noise_augment(mnist_small):
    ds = mnist_small
    x = ds.x_train[:200]
    g = torch.Generator().manual_seed(11)
    out = ds.augment(x, g)
    assert torch.equal(out, ds.augment(x, torch.Generator().manual_seed(11)))
    # replay the draws: shifts, then noise
    g = torch.Generator().manual_seed(11)
    shifts = D.draw_shifts(200, 3, g)
    noise = torch.randn(x.shape, generator=g)
    assert set(shifts.tolist()) == set(range(-3, 4))
    rolled = torch.stack([torch.roll(x[i], int(shifts[i]), dims=-1) for i in range(200)])
    assert torch.equal(D.circular_shift(x, shifts), rolled)
    torch.testing.assert_close(out, rolled + 0.05 * noise)
    # without noise each output is a circular shift of its input by at most 3 samples
    clean = D.shift_noise_augment(x, torch.Generator().manual_seed(2), noise_std=0.0)
    for xi, oi in zip(x, clean):
        matches = [s for s in range(-3, 4) if torch.equal(torch.roll(xi, s, dims=-1), oi)]
        assert matches, "output is not a circular shift of the input within +-3"
    noise_only = D.shift_noise_augment(x, torch.Generator().manual_seed(2), max_shift=0)
    assert (noise_only - x).std().item() == pytest.approx(0.05, rel=0.05)


def test_augment_options_and_to(tmp_path):
    ds = load_dataset("mnist1d", tmp_path, num_samples=100, max_shift=1, noise_std=0.0)
    assert ds.max_shift == 1 and ds.noise_std == 0.0
    moved = ds.to("cpu")
    assert moved is not ds and torch.equal(moved.x_train, ds.x_train) and moved.max_shift == 1


# -- batching ---------------------------------------------------------------------------------


def test_iterate_batches_epoch_cover_and_sizes():
    x = torch.arange(23, dtype=torch.float32).view(23, 1)
    y = torch.arange(23)
    g = torch.Generator().manual_seed(0)
    batches = list(iterate_batches(x, y, 5, shuffle=True, generator=g))
    assert [len(b[1]) for b in batches] == [5, 5, 5, 5, 3]
    seen = torch.cat([b[1] for b in batches])
    assert sorted(seen.tolist()) == list(range(23)) and seen.tolist() != list(range(23))
    for xb, yb in batches:
        assert torch.equal(xb[:, 0].long(), yb)  # x and y stay paired
    dropped = list(
        iterate_batches(
            x, y, 5, shuffle=True, drop_last=True, generator=torch.Generator().manual_seed(0)
        )
    )
    assert [len(b[1]) for b in dropped] == [5, 5, 5, 5]
    assert torch.equal(torch.cat([b[1] for b in dropped]), seen[:20])
    ordered = list(iterate_batches(x, y, 10, shuffle=False))
    assert torch.equal(torch.cat([b[1] for b in ordered]), y) and len(ordered[-1][1]) == 3
    assert len(list(iterate_batches(x, y, 23, shuffle=False, drop_last=True))) == 1
    assert list(iterate_batches(x, y, 24, shuffle=False, drop_last=True)) == []


def test_iterate_batches_deterministic_and_advances_generator():
    x, y = torch.randn(50, 2), torch.arange(50)

    def epoch(g):
        return torch.cat([b for _, b in iterate_batches(x, y, 8, shuffle=True, generator=g)])

    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    e1, e2 = epoch(g1), epoch(g2)
    assert torch.equal(e1, e2)
    assert not torch.equal(epoch(g1), e1)  # the next epoch gets a new permutation
    with pytest.raises(ValueError, match="batch_size"):
        iterate_batches(x, y, 0, shuffle=False)
    with pytest.raises(ValueError, match="rows"):
        iterate_batches(x, y[:3], 4, shuffle=False)
