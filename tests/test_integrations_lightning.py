"""The Lightning callbacks with Lightning's own Trainer on CPU: validation sees the average with BN
recomputed (float64 reference), no swap before the first update, training unaffected, and a
resume in the middle of the averaging phase equal to the uninterrupted run."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

pl = pytest.importorskip("lightning.pytorch")

from swa_lib.integrations.lightning import EMACallback, SWACallback  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")

BATCH, N_TRAIN, EPOCHS = 16, 64, 4


class Net(pl.LightningModule):
    """BN right after a linear layer, so its exact statistics are known in closed form."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
        self.snapshots: list[dict[str, torch.Tensor]] = []  # live weights after each step
        self.epoch_ends: list[int] = []  # indices into snapshots of each epoch's last step
        self.seen_in_validation: list[tuple[int, dict[str, torch.Tensor]]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.cross_entropy(self(x), y)

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        self.snapshots.append({k: v.detach().double().clone() for k, v in self.named_parameters()})
        if batch_idx + 1 == self.trainer.num_training_batches:
            self.epoch_ends.append(len(self.snapshots) - 1)

    def validation_step(self, batch, batch_idx):
        if batch_idx == 0:
            self.seen_in_validation.append(
                (self.current_epoch, {k: v.detach().clone() for k, v in self.state_dict().items()})
            )
        x, y = batch
        self.log("val_loss", F.cross_entropy(self(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.2, momentum=0.9)


def data() -> tuple[DataLoader, DataLoader]:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(N_TRAIN, 4, generator=g) * 2 + 1
    y = (x[:, 0] > 1).long() + (x[:, 1] > 1).long()
    xv = torch.randn(32, 4, generator=g)
    yv = torch.randint(0, 3, (32,), generator=g)
    return (
        DataLoader(TensorDataset(x, y), batch_size=BATCH, shuffle=False),
        DataLoader(TensorDataset(xv, yv), batch_size=32),
    )


def fit(
    model: Net, callbacks: list, max_epochs: int = EPOCHS, ckpt_path=None, checkpoint_dir=None
) -> pl.Trainer:
    if checkpoint_dir is not None:
        callbacks = callbacks + [
            pl.callbacks.ModelCheckpoint(
                dirpath=checkpoint_dir, filename="{epoch}", save_top_k=-1, every_n_epochs=1
            )
        ]
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=max_epochs,
        logger=False,
        enable_checkpointing=checkpoint_dir is not None,
        callbacks=callbacks,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train, val = data()
        trainer.fit(model, train, val, ckpt_path=ckpt_path)
    return trainer


def exact_bn_stats(lin: nn.Linear, train: DataLoader) -> tuple[torch.Tensor, torch.Tensor]:
    """float64 statistics of the BN input lin(x): sample mean, size-weighted batch variances."""
    with torch.no_grad():
        h = [x.double() @ lin.weight.double().T + lin.bias.double() for x, _ in train]
    n = sum(len(b) for b in h)
    return torch.cat(h).mean(0), sum(len(b) * b.var(0, unbiased=True) for b in h) / n


def test_validation_sees_the_average_with_bn_recomputed_and_training_is_untouched() -> None:
    swa_start = 1
    plain = Net()
    fit(plain, [])
    model = Net()
    cb = SWACallback(swa_start=swa_start)
    fit(model, [cb])
    # the swaps never touch training: the same trajectory as without the callback
    assert len(model.snapshots) == len(plain.snapshots) == EPOCHS * N_TRAIN // BATCH
    for a, b in zip(model.snapshots, plain.snapshots):
        for k in a:
            torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    ends = [model.snapshots[i] for i in model.epoch_ends]
    initial = {k: v.double() for k, v in Net().named_parameters()}
    train, _ = data()
    for epoch, seen in model.seen_in_validation:
        if epoch < swa_start:  # no update yet: the training weights, not the copy made at start
            for k, v in ends[epoch].items():
                torch.testing.assert_close(seen[k].double(), v, rtol=0, atol=0)
            assert not torch.allclose(seen["net.0.weight"].double(), initial["net.0.weight"])
            continue
        averaged = ends[swa_start : epoch + 1]
        for k in averaged[0]:
            mean64 = torch.stack([s[k] for s in averaged]).mean(0)
            torch.testing.assert_close(seen[k].double(), mean64, rtol=1e-5, atol=1e-6)
        lin = nn.Linear(4, 8)
        lin.weight.data, lin.bias.data = seen["net.0.weight"], seen["net.0.bias"]
        mean, var = exact_bn_stats(lin, train)
        torch.testing.assert_close(seen["net.1.running_mean"].double(), mean, rtol=0, atol=1e-5)
        torch.testing.assert_close(seen["net.1.running_var"].double(), var, rtol=1e-5, atol=1e-5)
        assert int(seen["net.1.num_batches_tracked"]) == N_TRAIN // BATCH
    assert [e for e, _ in model.seen_in_validation] == list(range(EPOCHS))
    # after fit the module holds the average (BN recomputed)
    assert cb.average is not None and cb.average.n_averaged == EPOCHS - swa_start
    for k, v in cb.average.module.state_dict().items():
        assert torch.equal(model.state_dict()[k], v)


def _state(cb) -> dict[str, torch.Tensor]:
    return cb.average.module.state_dict()


@pytest.mark.parametrize(
    "make",
    [lambda: SWACallback(swa_start=1), lambda: EMACallback(0.8, warmup=True, update_every=2)],
    ids=["swa", "ema"],
)
def test_resume_in_the_middle_of_averaging_equals_the_uninterrupted_run(tmp_path, make) -> None:
    whole_cb = make()
    whole = Net()
    fit(whole, [whole_cb])
    # killed after epoch 1 (the averaging phase has begun): resume from the epoch checkpoint
    first_cb = make()
    first = fit(Net(), [first_cb], max_epochs=2, checkpoint_dir=tmp_path / "ckpt")
    assert first_cb.average.n_averaged >= 1
    first.save_checkpoint(tmp_path / "after_fit.ckpt")  # the module holds the average here
    for ckpt in (tmp_path / "ckpt" / "epoch=1.ckpt", tmp_path / "after_fit.ckpt"):
        cb = make()
        resumed = Net()
        fit(resumed, [cb], ckpt_path=str(ckpt))
        assert cb.average.n_averaged == whole_cb.average.n_averaged
        for k, v in _state(whole_cb).items():
            torch.testing.assert_close(_state(cb)[k], v, rtol=1e-6, atol=1e-7)
        for k, v in whole.state_dict().items():  # and the transferred final module
            torch.testing.assert_close(resumed.state_dict()[k], v, rtol=1e-6, atol=1e-7)
        if isinstance(cb, EMACallback):
            assert cb.average.step == whole_cb.average.step == EPOCHS * N_TRAIN // BATCH


def test_ema_callback_follows_the_step_recursion() -> None:
    decay, every = 0.7, 2
    model = Net()
    cb = EMACallback(decay, update_every=every)
    fit(model, [cb], max_epochs=2)
    expected = None
    for step, snap in enumerate(model.snapshots, start=1):
        if step % every:
            continue
        w = torch.cat([v.flatten() for v in snap.values()])
        d = decay**every
        expected = w if expected is None else d * expected + (1 - d) * w
    got = torch.cat([v.detach().double().flatten() for v in cb.average.module.parameters()])
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="swa_start"):
        SWACallback(swa_start=-1)
    with pytest.raises(ValueError, match="every_n_epochs"):
        SWACallback(swa_start=0, every_n_epochs=0)
    with pytest.raises(ValueError, match="decay"):
        EMACallback(1.5)
