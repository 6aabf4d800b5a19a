"""swa_lib.testing: the fake CIFAR folders load with our reader and with torchvision's."""

from __future__ import annotations

import pytest
import torch

from swa_lib.data import CIFAR_MEAN, CIFAR_STD, load_dataset
from swa_lib.testing import write_fake_cifar


@pytest.mark.parametrize("name, n_classes", [("cifar10", 10), ("cifar100", 100)])
def test_fake_cifar_loads_with_requested_sizes(tmp_path, name, n_classes):
    folder = write_fake_cifar(tmp_path, name, n_train=13, n_test=4, seed=1)
    assert folder.parent == tmp_path and folder.is_dir()
    ds = load_dataset(name, tmp_path)
    assert ds.x_train.shape == (13, 3, 32, 32) and ds.x_test.shape == (4, 3, 32, 32)
    assert ds.num_classes == n_classes and ds.classes[0] == "class_0"
    assert int(ds.y_train.max()) < n_classes and int(ds.y_train.min()) >= 0
    # deterministic: the same call writes the same data; another seed different data
    write_fake_cifar(tmp_path, name, n_train=13, n_test=4, seed=1)
    assert torch.equal(load_dataset(name, tmp_path).x_train, ds.x_train)
    write_fake_cifar(tmp_path / "other", name, n_train=13, n_test=4, seed=2)
    assert not torch.equal(load_dataset(name, tmp_path / "other").x_train, ds.x_train)


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_fake_cifar_agrees_with_torchvision(tmp_path, monkeypatch, name):
    tv_cifar = pytest.importorskip("torchvision.datasets.cifar")
    write_fake_cifar(tmp_path, name, n_train=7, n_test=3)
    monkeypatch.setattr(tv_cifar, "check_integrity", lambda *a, **k: True)  # md5 of real files
    ds = load_dataset(name, tmp_path, augment=False)
    cls = tv_cifar.CIFAR10 if name == "cifar10" else tv_cifar.CIFAR100
    for train, x, y in ((True, ds.x_train, ds.y_train), (False, ds.x_test, ds.y_test)):
        tv = cls(str(tmp_path), train=train, download=False)
        assert tv.targets == y.tolist() and tuple(tv.classes) == ds.classes
        chw = torch.from_numpy(tv.data).permute(0, 3, 1, 2).double() / 255
        ref = (chw - torch.tensor(CIFAR_MEAN, dtype=torch.float64).view(1, 3, 1, 1)) / torch.tensor(
            CIFAR_STD, dtype=torch.float64
        ).view(1, 3, 1, 1)
        torch.testing.assert_close(x.double(), ref, atol=1e-5, rtol=0)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="allowed: cifar10, cifar100"):
        write_fake_cifar(tmp_path, "mnist1d", 4, 2)
    with pytest.raises(ValueError, match="n_test"):
        write_fake_cifar(tmp_path, "cifar10", 4, 0)
