#!/usr/bin/env python
"""Run every benchmark (what ``make bench`` runs) and print each ratio against its target.

Each benchmark runs in its own process with ``--quick`` (small sizes, few repeats; the whole run
takes a few minutes on a 2-core CPU) and writes its JSON into ``--out`` (default: a new temporary
folder, printed at the end, with ``summary.json``):

1. ``bench_averaging.py``  -- SWA.update vs AveragedModel (target: >= 2x on WRN-28-10, no extra
   parameter copy during an update, equal results);
2. ``bench_update_bn.py``  -- update_bn vs torch.optim.swa_utils.update_bn (no slower, exact);
4. ``bench_training.py``   -- on-device pipeline vs torchvision DataLoader (>= 2x);
6. ``bench_batched.py``    -- run_many vs sequential runs, 5 seeds (>= 1.25x on the CPU, 10x on a
   GPU; ``--cases mlp cnn1d --epochs 6 --no-steps`` with ``--quick``: in 3-epoch runs the setup
   and the final evaluation are a third of the time, which laptop runs of 20-60 epochs are not);
7. ``bench_run_cost.py``   -- evaluation share of a laptop run, every epoch vs final only (final
   only <= 15 %);
3. ``bench_landscape.py``  -- landscape grid vs a loss-landscape-style loop, and ours vs the bare
   forward passes of a point (<= 1.2x on the CPU; with ``--quick --grid 5 --repeats 2``, and
   stopped when the budget of the run is spent);
5. ``bench_book.py``       -- the book's notebooks, cold and warm cache: only with ``--with-book``.

    python benchmarks/run_all.py                 # quick sizes (make bench)
    python benchmarks/run_all.py --full          # the benchmarks' default sizes (long)
    python benchmarks/run_all.py --with-book --out bench-results/

Exit status 1 if a benchmark crashed or timed out (a missed target is reported, not an error).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import BENCH_DIR, fmt_bytes, machine_info, markdown_table, write_json

# Landscape last: it is the longest, and the remaining time budget caps it.
T0 = time.perf_counter()
BENCHES = ("averaging", "update_bn", "training", "batched", "run_cost", "landscape")
# With --quick, extra arguments that keep the whole run near 10 minutes on a 2-core CPU
# (bench_landscape.py --quick alone, 7x7 grids x 3 repeats, takes over 10 minutes there).
QUICK_EXTRA = {
    "landscape": ["--grid", "5", "--repeats", "2"],
    "batched": ["--cases", "mlp", "cnn1d", "--epochs", "6", "--no-steps"],
}


def run_one(name: str, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    script = BENCH_DIR / f"bench_{name}.py"
    if not script.exists():
        print(f"\n### {name}: skipped ({script.name} does not exist yet)", flush=True)
        return {"status": "skipped", "seconds": 0.0}
    json_path = out / f"{name}.json"
    cmd = [sys.executable, str(script), "--json", str(json_path)]
    if not args.full and name != "book":
        cmd += ["--quick", *QUICK_EXTRA.get(name, [])]
    if args.threads is not None and name != "book":
        cmd += ["--threads", str(args.threads)]
    print(f"\n### {name}: {' '.join(['python', *cmd[1:]])}", flush=True)
    timeout = args.timeout
    if args.budget_s and name != "book":
        timeout = max(30.0, min(timeout, args.budget_s - (time.perf_counter() - T0)))
    t0 = time.perf_counter()
    try:
        rc = subprocess.run(cmd, cwd=str(BENCH_DIR.parent), timeout=timeout).returncode
        status = "ok" if rc == 0 else f"failed (rc {rc})"
    except subprocess.TimeoutExpired:
        status = f"timed out after {timeout:.0f} s"
    res: dict[str, Any] = {"status": status, "seconds": time.perf_counter() - t0}
    if json_path.exists():
        res["result"] = json.loads(json_path.read_text())
    return res


def _median(row: dict[str, Any], key: str) -> float:
    return float(row[key]["median_s"])


def targets(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per target: the measured value and whether it is met."""
    rows: list[dict[str, Any]] = []
    av = results.get("averaging", {}).get("result")
    if av:
        for r in av["rows"]:
            rows.append(
                {
                    "benchmark": "1 averaging",
                    "what": f"speedup on {r['model']}",
                    "value": f"{r['speedup']:.1f}x",
                    "target": ">= 2x (largest model)" if r["model"] == "wrn28_10" else "",
                    "met": ("yes" if r["speedup"] >= 2 else "NO")
                    if r["model"] == "wrn28_10"
                    else "",
                }
            )
        big = max(av["rows"], key=lambda r: r["params"])
        rows.append(
            {
                "benchmark": "1 averaging",
                "what": f"peak extra memory of an update ({big['model']})",
                "value": f"{fmt_bytes(big['update_peak_bytes_ours'])} (AveragedModel "
                f"{fmt_bytes(big['update_peak_bytes_ref'])})",
                "target": "no parameter copy",
                "met": "yes" if big["update_peak_bytes_ours"] < big["param_bytes"] / 100 else "NO",
            }
        )
        worst = max(r["max_abs_diff_vs_averagedmodel"] for r in av["rows"])
        rows.append(
            {
                "benchmark": "1 averaging",
                "what": "max |ours - AveragedModel|",
                "value": f"{worst:.1e}",
                "target": "float rounding (< 1e-5)",
                "met": "yes" if worst < 1e-5 else "NO",
            }
        )
    bn = results.get("update_bn", {}).get("result")
    if bn:
        for r in bn["rows"]:
            rows.append(
                {
                    "benchmark": "2 update_bn",
                    "what": f"speedup, {r['case']}",
                    "value": f"{r['speedup']:.2f}x",
                    "target": "no slower (>= 0.95x)",
                    "met": "yes" if r["speedup"] >= 0.95 else "NO",
                }
            )
            rows.append(
                {
                    "benchmark": "2 update_bn",
                    "what": f"running_mean error, {r['case']}",
                    "value": f"{r['mean_err_ours']:.1e} (torch {r['mean_err_torch']:.1e})",
                    "target": "exact (< 1e-5)",
                    "met": "yes" if r["mean_err_ours"] < 1e-5 else "NO",
                }
            )
    ls = results.get("landscape", {}).get("result")
    if ls:
        for r in ls.get("rows", []):
            if str(r.get("method", "")).endswith("(default)"):
                rows.append(
                    {
                        "benchmark": "3 landscape",
                        "what": f"{r['case']}, bn recompute {r['bn recompute']}",
                        "value": f"{r['speed-up']:.2f}x",
                        "target": "",
                        "met": "",
                    }
                )
    rows += _issue16_targets(results)
    tr = results.get("training", {}).get("result")
    if tr:
        for r in tr["rows"]:
            if r["pipeline"] == "on-device":
                continue
            rows.append(
                {
                    "benchmark": "4 training",
                    "what": f"{r['measure']} vs {r['pipeline']}",
                    "value": f"{r['on_device_speedup']:.2f}x",
                    "target": ">= 2x",
                    "met": "yes" if r["on_device_speedup"] >= 2 else "NO",
                }
            )
    bk = results.get("book", {}).get("result")
    if bk and "cold_s" in bk:
        rows.append(
            {
                "benchmark": "5 book",
                "what": "cold / warm wall time",
                "value": f"{bk['cold_s']:.0f} s / {bk['warm_s']:.0f} s",
                "target": "",
                "met": "",
            }
        )
    return rows


def _issue16_targets(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of benchmarks 6 (run_many), 7 (evaluation share) and 3's floor."""
    rows: list[dict[str, Any]] = []
    bt = results.get("batched", {}).get("result")
    if bt:
        goal = 10.0 if str(bt.get("device", "cpu")).startswith("cuda") else 1.25
        for r in bt["runs"]:
            rows.append(
                {
                    "benchmark": "6 batched",
                    "what": f"run_many vs sequential, {r['seeds']} seeds, {r['case']}",
                    "value": f"{r['ratio']:.2f}x",
                    "target": f">= {goal:g}x",
                    "met": "yes" if r["ratio"] >= goal else "NO",
                }
            )
            rows.append(
                {
                    "benchmark": "6 batched",
                    "what": f"max abs d weights / metrics, {r['case']}, {r['epochs']} epochs",
                    "value": f"{r['max_abs_d_weights']:.1e} / {r['max_abs_d_metrics']:.1e}",
                    "target": "rounding in the tests' few epochs (BN CNN: grows, ReLU flips)",
                    "met": "",
                }
            )
    rc = results.get("run_cost", {}).get("result")
    if rc:
        for r in rc["rows"]:
            final = r["schedule"] == "final only"
            rows.append(
                {
                    "benchmark": "7 run cost",
                    "what": f"evaluation share, {r['case']} {r['run']}, {r['schedule']}",
                    "value": f"{100 * r['eval_share']:.1f} %",
                    "target": "<= 15 %" if final else "(before)",
                    "met": ("yes" if r["eval_share"] <= 0.15 else "NO") if final else "",
                }
            )
    ls = results.get("landscape", {}).get("result")
    if ls:
        for r in ls.get("rows", []):
            if str(r.get("method", "")).endswith("(default)") and "vs floor" in r:
                rows.append(
                    {
                        "benchmark": "3 landscape",
                        "what": f"ours / bare forward passes, {r['case']}, bn recompute "
                        f"{r['bn recompute']}",
                        "value": f"{r['vs floor']:.2f}x",
                        "target": "<= 1.2x (CPU)",
                        "met": "yes" if r["vs floor"] <= 1.2 else "NO",
                    }
                )
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="default sizes instead of --quick")
    ap.add_argument("--with-book", action="store_true", help="also time the book (long)")
    ap.add_argument("--only", nargs="+", choices=[*BENCHES, "book"], default=None)
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="passed on as --threads (the benchmarks default to 1)",
    )
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per benchmark")
    ap.add_argument(
        "--budget-s",
        type=float,
        default=None,
        help="total seconds for benchmarks 1-4 (default 570 with quick sizes, none "
        "with --full); the last one is stopped when it runs out",
    )
    ap.add_argument("--out", type=Path, default=None, help="folder for the JSON results")
    args = ap.parse_args(argv)
    if args.budget_s is None and not args.full:
        args.budget_s = 570.0
    out = args.out or Path(tempfile.mkdtemp(prefix="swa-bench-"))
    out.mkdir(parents=True, exist_ok=True)

    names = list(args.only or BENCHES)
    if args.with_book and "book" not in names:
        names.append("book")
    t0 = time.perf_counter()
    results = {name: run_one(name, args, out) for name in names}
    total = time.perf_counter() - t0

    print("\n## Summary\n")
    print(
        markdown_table(
            [
                {"benchmark": n, "status": r["status"], "seconds": f"{r['seconds']:.0f}"}
                for n, r in results.items()
            ]
        )
    )
    print()
    print(markdown_table(targets(results), ["benchmark", "what", "value", "target", "met"]))
    print(f"\ntotal {total:.0f} s; JSON in {out}")
    write_json(
        out / "summary.json",
        {
            "machine": machine_info(),
            "total_s": total,
            "status": {n: r["status"] for n, r in results.items()},
            "targets": targets(results),
        },
    )
    failed = [n for n, r in results.items() if r["status"] not in ("ok", "skipped")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
