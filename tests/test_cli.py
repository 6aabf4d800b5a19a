"""The swa-lib command: train and compare print what they trained; errors exit with 2."""

from __future__ import annotations

import json

from swa_lib.cli import compare, main
from swa_lib.training import TrainConfig, run_dir_for

ARGS = [
    "--dataset",
    "mnist1d",
    "--model",
    "mlp",
    "--epochs",
    "2",
    "--swa-start",
    "1",
    "--num-samples",
    "200",
    "--batch-size",
    "50",
    "--model-kw",
    '{"hidden": [16]}',
]


def test_train_prints_the_final_metrics_and_errors_name_the_field(
    tmp_path, mnist1d_root, capsys
) -> None:
    rc = main(
        [
            "train",
            *ARGS,
            "--data-root",
            str(mnist1d_root),
            "--runs-dir",
            str(tmp_path),
            "--no-progress",
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "swa_test_accuracy" in out and "trained" in out
    rc = main(
        [
            "train",
            "--dataset",
            "mnist1d",
            "--model",
            "mlp",
            "--epochs",
            "2",
            "--swa-start",
            "5",
            "--runs-dir",
            str(tmp_path),
            "--no-progress",
        ]
    )
    assert rc == 2
    assert "TrainConfig.swa_start" in capsys.readouterr().err


def test_compare_table_summary_and_plot(tmp_path, mnist1d_root, capsys) -> None:
    plot = tmp_path / "curves.png"
    rc = main(
        [
            "compare",
            *ARGS,
            "--data-root",
            str(mnist1d_root),
            "--seeds",
            "0",
            "1",
            "--runs-dir",
            str(tmp_path),
            "--no-progress",
            "--plot",
            str(plot),
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    for col in (
        "seed",
        "sgd_accuracy",
        "swa_accuracy",
        "swa_run_last_iterate_accuracy",
        "sgd_nll",
        "swa_nll",
        "diff_accuracy",
        "diff_nll",
        "95% CI",
        "plot:",
    ):
        assert col in out
    assert plot.stat().st_size > 0

    base = dict(
        dataset="mnist1d",
        model="mlp",
        epochs=2,
        swa_start=1,
        num_samples=200,
        batch_size=50,
        model_kw={"hidden": [16]},
        data_root=str(mnist1d_root),
    )
    df = compare(base, [0, 1], tmp_path, progress=False)  # cached now
    assert list(df.columns) == [
        "seed",
        "sgd_accuracy",
        "swa_accuracy",
        "swa_run_last_iterate_accuracy",
        "sgd_nll",
        "swa_nll",
        "diff_accuracy",
        "diff_nll",
    ]
    for row in df.itertuples():
        sgd = json.loads(
            (
                run_dir_for(TrainConfig(**base, seed=row.seed, swa=False), tmp_path) / "final.json"
            ).read_text()
        )
        swa = json.loads(
            (
                run_dir_for(TrainConfig(**base, seed=row.seed, swa=True), tmp_path) / "final.json"
            ).read_text()
        )
        assert row.sgd_accuracy == sgd["sgd_test_accuracy"]
        assert row.swa_nll == swa["swa_test_nll"]
        assert row.swa_run_last_iterate_accuracy == swa["sgd_test_accuracy"]
        assert row.diff_accuracy == swa["swa_test_accuracy"] - sgd["sgd_test_accuracy"]
        assert row.diff_nll == swa["swa_test_nll"] - sgd["sgd_test_nll"]


def test_compare_with_another_swa_rate_reuses_the_baselines(tmp_path, mnist1d_root) -> None:
    """``swa-lib compare --swa-lr x`` after another rate trains only the SWA runs."""
    common = [
        *ARGS,
        "--data-root",
        str(mnist1d_root),
        "--seeds",
        "0",
        "1",
        "--runs-dir",
        str(tmp_path),
        "--no-progress",
    ]
    assert main(["compare", *common, "--swa-lr", "0.05"]) == 0
    assert len(list(tmp_path.iterdir())) == 4
    assert main(["compare", *common, "--swa-lr", "0.015"]) == 0
    assert len(list(tmp_path.iterdir())) == 6  # two new SWA runs, the two baselines shared
