#!/usr/bin/env python
"""One prepared GPU check: does training/evaluation use the GPU well, and how fast are we there?

On a CUDA machine (< 5 minutes on an H100):

1. **train (eager)**: ``swa_lib.training.run`` with ``TrainConfig(device="cuda", amp=True,
   channels_last=True)`` (``vgg16_bn`` on a fake CIFAR-10 folder, 2560 train images, 3 epochs,
   SWA from epoch 2). A global forward hook watches every ``Conv2d`` call and records, separately
   for training steps, BN updates and evaluation: input and weight on CUDA, bf16 autocast
   enabled with dtype bf16, bf16 outputs, channels_last input and weight. Training steps must
   show all of them.
2. **averaging on CUDA** (benchmark 1): ``SWA.update`` vs ``AveragedModel.update_parameters`` on
   WRN-28-10, peak memory, equality.
3. **training throughput** (benchmark 4): on-device pipeline vs torchvision ``DataLoader``
   (workers 0 / 4 / 8, pinned memory), ``vgg16_bn``, batch 128, bf16 autocast + channels_last;
   data pipeline only and full training step.
4. **train (compile)**: the run of 1 with ``compile=True``, in a subprocess with a time limit (a
   compile failure or hang is reported, not fatal); steady-state epoch time vs eager.
5. **landscape** (benchmark 3): ``bench_landscape.main(["--quick", "--device", "cuda"])`` when
   that module imports.

Prints a table with the device name and writes ``$OUT/gpu_results.json`` when ``OUT`` is set
(also after every section, so a timeout keeps what was done). Exits 0 with a message when there
is no GPU; 1 if a required check (1-3) failed.

    python benchmarks/gpu_check.py                       # on the GPU machine
    python benchmarks/gpu_check.py --device cpu --tiny   # exercise every code path on a CPU
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from common import BENCH_DIR, fmt_bytes, fmt_s, machine_info, markdown_table, write_json
from torch import nn

RESULTS: dict[str, Any] = {}
T0 = time.perf_counter()


def out_path() -> Path | None:
    out = os.environ.get("OUT")
    return Path(out) / "gpu_results.json" if out else None


def save() -> None:
    RESULTS["elapsed_s"] = time.perf_counter() - T0
    write_json(out_path(), RESULTS)


def section(name: str, fn: Callable[[], dict[str, Any]], *, required: bool = True) -> None:
    """Run one section, record ``{"status", "seconds", ...}`` (the error on failure), save."""
    print(f"\n== {name} ==", flush=True)
    t0 = time.perf_counter()
    try:
        res = fn()
        res.setdefault("status", "ok")
    except Exception as exc:
        traceback.print_exc()
        res = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    res["seconds"] = time.perf_counter() - t0
    res["required"] = required
    RESULTS[name] = res
    print(f"-- {name}: {res['status']} in {res['seconds']:.1f} s", flush=True)
    save()


# -- 1. training on the device: placement, autocast, layout ---------------------------------------


class ConvWatch:
    """Global forward hook: per phase, counts of Conv2d calls meeting each property."""

    KEYS = (
        "calls",
        "input_on_device",
        "weight_on_device",
        "autocast_on",
        "autocast_bf16",
        "output_bf16",
        "input_channels_last",
        "weight_channels_last",
    )

    def __init__(self, device_type: str) -> None:
        self.device_type = device_type
        self.stats: dict[str, dict[str, int]] = {}
        self.handle: Any = None

    @staticmethod
    def _autocast(device_type: str) -> tuple[bool, torch.dtype | None]:
        try:
            on = torch.is_autocast_enabled(device_type)
        except TypeError:  # torch < 2.4: no argument, means CUDA
            on = torch.is_autocast_enabled() if device_type == "cuda" else False
        try:
            dtype = torch.get_autocast_dtype(device_type)
        except (AttributeError, TypeError):
            dtype = torch.get_autocast_gpu_dtype() if device_type == "cuda" else None
        return bool(on), dtype

    def hook(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        if not isinstance(module, nn.Conv2d) or not args or not torch.is_tensor(args[0]):
            return
        if not module.training:
            phase = "eval"
        elif torch.is_grad_enabled():
            phase = "train"
        else:
            phase = "bn_update"
        s = self.stats.setdefault(phase, dict.fromkeys(self.KEYS, 0))
        x, w = args[0], module.weight
        on, dtype = self._autocast(self.device_type)
        cl = torch.channels_last
        s["calls"] += 1
        s["input_on_device"] += x.device.type == self.device_type
        s["weight_on_device"] += w.device.type == self.device_type
        s["autocast_on"] += on
        s["autocast_bf16"] += on and dtype == torch.bfloat16
        s["output_bf16"] += torch.is_tensor(output) and output.dtype == torch.bfloat16
        s["input_channels_last"] += x.dim() == 4 and x.is_contiguous(memory_format=cl)
        s["weight_channels_last"] += w.dim() == 4 and w.is_contiguous(memory_format=cl)

    def __enter__(self) -> ConvWatch:
        self.handle = nn.modules.module.register_module_forward_hook(self.hook)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.handle.remove()


def write_cifar(root: Path, n_train: int, n_test: int) -> None:
    """A fake CIFAR-10 folder (``swa_lib.testing`` when present, else the same format here)."""
    try:
        from swa_lib.testing import write_fake_cifar

        write_fake_cifar(root, "cifar10", n_train, n_test)
        return
    except ImportError:
        pass
    rng = np.random.default_rng(0)
    path = root / "cifar-10-batches-py"
    path.mkdir(parents=True, exist_ok=True)
    files = [f"data_batch_{i}" for i in range(1, 6)]
    for names, n in ((files, n_train), (["test_batch"], n_test)):
        x = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        y = rng.integers(0, 10, size=n)
        for fname, idx in zip(names, np.array_split(np.arange(n), len(names))):
            entry = {
                "batch_label": fname,
                "data": x[idx],
                "labels": [int(v) for v in y[idx]],
                "filenames": [f"{fname}_{i}.png" for i in idx],
            }
            (path / fname).write_bytes(pickle.dumps(entry, protocol=2))
    meta = {"label_names": [f"class_{i}" for i in range(10)], "num_cases_per_batch": n_train}
    (path / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))


def train_config(args: argparse.Namespace, data_root: Path, compile_: bool) -> Any:
    from swa_lib.training import TrainConfig

    n = 24 if args.tiny else 3072  # load_dataset keeps 5/6 for training: 20 / 2560
    return TrainConfig(
        dataset="cifar10",
        model=args.train_model,
        epochs=2 if args.tiny else 3,
        swa_start=1 if args.tiny else 2,
        batch_size=10 if args.tiny else 128,
        num_samples=n,
        data_root=str(data_root),
        device=args.device,
        amp=True,
        channels_last=True,
        compile=compile_,
        checkpoint_every=3,
        seed=0,
    )


def epoch_times(result: Any) -> dict[str, Any]:
    t = [float(v) for v in result.metrics["epoch_time_s"]]
    return {
        "epoch_times_s": t,
        "steady_epoch_s": float(np.median(t[1:])) if len(t) > 1 else t[0],
        "sgd_test_accuracy": float(result.final["sgd_test_accuracy"]),
        "swa_test_accuracy": float(result.final.get("swa_test_accuracy", float("nan"))),
    }


def check_train(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from swa_lib.training import run

    write_cifar(work / "data", *((20, 4) if args.tiny else (2560, 512)))
    config = train_config(args, work / "data", compile_=False)
    dev_type = torch.device(args.device).type
    with ConvWatch(dev_type) as watch:
        result = run(config, work / "runs", progress=False)
    res: dict[str, Any] = {"model": config.model, "conv_stats": watch.stats, **epoch_times(result)}
    train = watch.stats.get("train", {})
    calls = train.get("calls", 0)
    checks = {k: calls > 0 and train.get(k, 0) == calls for k in ConvWatch.KEYS[1:]}
    if dev_type != "cuda":  # autocast/bf16 are CUDA-only in TrainConfig: expected off on a CPU
        for k in ("autocast_on", "autocast_bf16", "output_bf16"):
            checks[k] = train.get(k, 0) == 0
    res["checks"] = checks
    res["status"] = "ok" if calls > 0 and all(checks.values()) else "failed"
    res["matmul_precision"] = torch.get_float32_matmul_precision()
    res["cudnn_allow_tf32"] = bool(torch.backends.cudnn.allow_tf32)
    for phase, s in sorted(watch.stats.items()):
        print(f"  {phase:<10} " + ", ".join(f"{k}={v}" for k, v in s.items()))
    print(f"  checks (training steps): {checks}")
    print(f"  epoch times {[round(t, 2) for t in res['epoch_times_s']]} s")
    return res


def compile_child(args: argparse.Namespace) -> int:
    """``--section compile``: the compiled run, in its own process; JSON on stdout's last line."""
    from swa_lib.training import run

    work = Path(args.work)
    if torch.device(args.device).type == "cuda":
        torch.backends.cudnn.benchmark = True  # as in the eager run
    config = train_config(args, work / "data", compile_=True)
    t0 = time.perf_counter()
    result = run(config, work / "runs", progress=False)
    res = {"wall_s": time.perf_counter() - t0, **epoch_times(result)}
    print("RESULT " + json.dumps(res))
    return 0


def check_compile(args: argparse.Namespace, work: Path, eager: dict[str, Any]) -> dict[str, Any]:
    left = args.budget_s - (time.perf_counter() - T0)
    timeout = max(60.0, min(args.compile_limit_s, left - 60.0))  # 60 s kept for the landscape
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--section",
        "compile",
        "--work",
        str(work),
        "--device",
        args.device,
        "--train-model",
        args.train_model,
    ]
    if args.tiny:
        cmd.append("--tiny")
    print(f"  compile run (time limit {timeout:.0f} s)", flush=True)
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, cwd=str(BENCH_DIR)
        )
    except subprocess.TimeoutExpired:
        return {"status": "failed", "error": f"compile run exceeded {timeout:.0f} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
        print("\n".join("  | " + ln for ln in tail))
        return {
            "status": "failed",
            "error": tail[-1] if tail else f"rc={proc.returncode}",
            "stderr_tail": tail,
        }
    res = json.loads(lines[-1][len("RESULT ") :])
    if "steady_epoch_s" in eager:
        res["eager_steady_epoch_s"] = eager["steady_epoch_s"]
        res["compile_speedup"] = eager["steady_epoch_s"] / res["steady_epoch_s"]
    print(
        f"  epoch times {[round(t, 2) for t in res['epoch_times_s']]} s (first includes "
        f"compilation)"
    )
    return res


# -- 2-4. the benchmarks on the device ------------------------------------------------------------


def check_averaging(args: argparse.Namespace) -> dict[str, Any]:
    import bench_averaging

    name = "mlp" if args.tiny else "wrn28_10"
    row = bench_averaging.bench_model(
        name, device=args.device, repeats=3 if args.tiny else 11, with_variants=False
    )
    print(
        f"  {name}: ours {fmt_s(row['ours_s']['median_s'])}, AveragedModel "
        f"{fmt_s(row['ref_s']['median_s'])} -> {row['speedup']:.2f}x; peak extra "
        f"{fmt_bytes(row['update_peak_bytes_ours'])} vs "
        f"{fmt_bytes(row['update_peak_bytes_ref'])}; max|ours-ref| "
        f"{row['max_abs_diff_vs_averagedmodel']:.1e}"
    )
    ok = row["max_abs_diff_vs_averagedmodel"] < 1e-5
    return {"status": "ok" if ok else "failed", "row": row}


def check_throughput(args: argparse.Namespace) -> dict[str, Any]:
    import bench_training

    from swa_lib.models import build_model

    n = 256 if args.tiny else 10240
    workers = [0] if args.tiny else [0, 4, 8]
    model_name = "mlp" if args.tiny else args.throughput_model
    images, labels = bench_training.make_images(n)
    kw: dict[str, Any] = dict(
        device=args.device, workers=workers, batch_size=128, repeats=2 if args.tiny else 5
    )
    data_only = bench_training.compare(images, labels, model_fn=None, **kw)

    def model_fn() -> nn.Module:
        if args.tiny:
            return nn.Sequential(
                nn.Conv2d(3, 8, 3, padding=1),
                nn.BatchNorm2d(8),
                nn.ReLU(),
                nn.AdaptiveAvgPool2d(1),
                nn.Flatten(),
                nn.Linear(8, 10),
            )
        return build_model(model_name, 10)

    full = bench_training.compare(
        images, labels, model_fn=model_fn, amp=True, channels_last=True, **kw
    )
    rows = bench_training.rows_from("data pipeline only", data_only, n) + bench_training.rows_from(
        "full training step", full, n
    )
    for r in rows:
        print(
            f"  {r['measure']:<20} {r['pipeline']:<16} {fmt_s(r['s_per_epoch']):>10}/epoch "
            f"{r['images_per_s']:>9.0f} img/s  on-device speedup {r['on_device_speedup']:.2f}x"
        )
    return {"model": "tiny conv" if args.tiny else model_name, "n_images": n, "rows": rows}


def check_landscape(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    try:
        import bench_landscape
    except ImportError as exc:
        return {"status": "skipped", "error": f"bench_landscape not importable: {exc}"}
    path = work / "landscape.json"
    argv = ["--quick", "--device", args.device, "--json", str(path), "--threads", "0"]
    if args.tiny:
        argv += ["--cases", "cifar-shaped-cnn", "--bn", "off", "--grid", "3", "--repeats", "1"]
    rc = bench_landscape.main(argv)
    data = json.loads(path.read_text()) if path.exists() else {}
    rows = data.get("rows", [])
    return {"status": "ok" if rc in (0, None) and rows else "failed", "rows": rows}


# -- report ---------------------------------------------------------------------------------------


def summary_rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    tr = RESULTS.get("train (eager)", {})
    on_cpu = RESULTS.get("args", {}).get("device", "cuda").startswith("cpu")
    for k, v in tr.get("checks", {}).items():
        cpu_off = on_cpu and k in ("autocast_on", "autocast_bf16", "output_bf16")
        rows.append(
            {
                "check": f"train step: {k}",
                "result": "ok" if v else "NO",
                "detail": "off, as expected on a CPU" if cpu_off else "",
            }
        )
    if "steady_epoch_s" in tr:
        rows.append(
            {
                "check": "eager epoch (steady)",
                "result": fmt_s(tr["steady_epoch_s"]),
                "detail": f"{tr.get('model')}, amp + channels_last, incl. evaluation",
            }
        )
    ev = tr.get("conv_stats", {}).get("eval")
    if ev:
        rows.append(
            {
                "check": "evaluation convs",
                "result": f"{ev['calls']} calls",
                "detail": f"on device {ev['input_on_device']}, autocast "
                f"{ev['autocast_on']}, channels_last in "
                f"{ev['input_channels_last']}",
            }
        )
    av = RESULTS.get("averaging", {}).get("row")
    if av:
        rows.append(
            {
                "check": f"averaging {av['model']}: ours / AveragedModel",
                "result": f"{fmt_s(av['ours_s']['median_s'])} / {fmt_s(av['ref_s']['median_s'])}",
                "detail": f"{av['speedup']:.2f}x; peak extra "
                f"{fmt_bytes(av['update_peak_bytes_ours'])} vs "
                f"{fmt_bytes(av['update_peak_bytes_ref'])}; max diff "
                f"{av['max_abs_diff_vs_averagedmodel']:.1e}",
            }
        )
    for r in RESULTS.get("throughput", {}).get("rows", []):
        rows.append(
            {
                "check": f"throughput {r['measure']}: {r['pipeline']}",
                "result": f"{r['images_per_s']:.0f} img/s",
                "detail": f"on-device speedup {r['on_device_speedup']:.2f}x",
            }
        )
    for r in RESULTS.get("landscape", {}).get("rows", []):
        if str(r.get("method", "")).endswith("(default)"):
            rows.append(
                {
                    "check": f"landscape {r['case']}, bn {r['bn recompute']}",
                    "result": f"{r['median']} ({r['grid']})",
                    "detail": f"{r['speed-up']:.2f}x vs loss-landscape loop",
                }
            )
    co = RESULTS.get("train (compile)", {})
    if co:
        detail = (
            f"{co['compile_speedup']:.2f}x vs eager (steady epoch)"
            if "compile_speedup" in co
            else co.get("error", "")
        )
        res = fmt_s(co["steady_epoch_s"]) if "steady_epoch_s" in co else co.get("status")
        rows.append({"check": "compiled epoch (steady)", "result": res, "detail": detail})
    for name, sec in RESULTS.items():
        if isinstance(sec, dict) and "status" in sec:
            rows.append(
                {
                    "check": f"section {name}",
                    "result": sec["status"],
                    "detail": f"{sec.get('seconds', 0):.1f} s"
                    + (f"; {sec['error']}" if "error" in sec else ""),
                }
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--tiny", action="store_true", help="tiny sizes (to exercise paths on a CPU)")
    ap.add_argument(
        "--budget-s",
        type=float,
        default=280.0,
        help="total time budget; the compile run gets what is left",
    )
    ap.add_argument("--skip-compile", action="store_true")
    ap.add_argument(
        "--compile-limit-s",
        type=float,
        default=180.0,
        help="time limit of the compiled run (at most what the budget leaves)",
    )
    ap.add_argument("--train-model", default="vgg16_bn")
    ap.add_argument("--throughput-model", default="vgg16_bn", choices=["vgg16_bn", "preresnet164"])
    ap.add_argument("--section", default="all", choices=["all", "compile"], help=argparse.SUPPRESS)
    ap.add_argument("--work", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    os.environ.setdefault("SWA_LIB_PROGRESS", "0")

    if args.section == "compile":
        return compile_child(args)
    if torch.device(args.device).type == "cuda" and not torch.cuda.is_available():
        print(
            "gpu_check: no CUDA GPU visible (torch.cuda.is_available() is False); nothing to "
            "check. Run it on a GPU machine, or with --device cpu --tiny to exercise the code."
        )
        return 0
    if torch.device(args.device).type == "cuda":
        torch.backends.cudnn.benchmark = True
        name = torch.cuda.get_device_name()
    else:
        torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
        name = f"CPU ({machine_info()['cpu']})"
    RESULTS["device"] = name
    RESULTS["machine"] = machine_info()
    RESULTS["args"] = vars(args)
    print(f"gpu_check on {name}; torch {torch.__version__}", flush=True)

    with tempfile.TemporaryDirectory(prefix="swa-gpu-check-") as tmp:
        work = Path(tmp)
        section("train (eager)", lambda: check_train(args, work))
        section("averaging", lambda: check_averaging(args))
        section("throughput", lambda: check_throughput(args))
        if not args.skip_compile:
            eager = RESULTS.get("train (eager)", {})
            section("train (compile)", lambda: check_compile(args, work, eager), required=False)
        section("landscape", lambda: check_landscape(args, work), required=False)

    print(f"\n## gpu_check: {name} (torch {torch.__version__}, {time.perf_counter() - T0:.0f} s)\n")
    print(markdown_table(summary_rows(), ["check", "result", "detail"]))
    save()
    if out_path():
        print(f"\nwrote {out_path()}")
    failed = [
        k
        for k, v in RESULTS.items()
        if isinstance(v, dict) and v.get("required") and v.get("status") != "ok"
    ]
    if failed:
        print(f"required checks failed: {failed}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
