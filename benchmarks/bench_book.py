#!/usr/bin/env python
"""Benchmark 5: wall time of executing every notebook of the book, cold and warm run cache.

Runs ``tools/execute_notebooks.py --profile laptop --out <tmp>/cold`` with a fresh, empty runs
folder ``<tmp>/runs``, then the same command again (``--out <tmp>/warm``) with that folder now
filled: the first time trains every run, the second finds them cached. Skips cleanly (exit 0, a
message) while the tool or the notebooks do not exist yet. Long (the laptop profile trains for
many minutes), so ``run_all.py`` runs it only with ``--with-book``.

How the fresh runs folder reaches the notebooks: ``SWA_BOOK_RUNS=<tmp>/runs`` is set in the
environment; if the tool does not read that variable itself, the tool is run through a small
wrapper that adds the papermill parameter ``RUNS_DIR=<tmp>/runs`` (the notebooks' runs-folder
parameter, ``"../runs"`` by default) to every notebook's profile parameters. The script checks
afterwards that the fresh folder was used.

    python benchmarks/bench_book.py [--profile laptop] [--only 01 02] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import ROOT, command_line, machine_info, markdown_table, write_json

TOOL = ROOT / "tools" / "execute_notebooks.py"
ENV_VAR = "SWA_BOOK_RUNS"


def notebooks(only: list[str] | None = None) -> list[Path]:
    """``notebooks/NN_*.py``, filtered as the tool's ``--only`` does."""
    srcs = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
    if only:
        srcs = [p for p in srcs if any(p.stem.startswith(o) or p.stem == o for o in only)]
    return srcs


def count_files(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


# Runs the tool's main() with RUNS_DIR (from SWA_BOOK_RUNS) added to every notebook's parameters.
_WRAPPER = """
import os, sys
sys.path.insert(0, {tools!r})
import execute_notebooks as tool
_params = tool.profile_parameters
def profile_parameters(profile, stem):
    params = _params(profile, stem)
    params["RUNS_DIR"] = os.environ[{var!r}]
    return params
tool.profile_parameters = profile_parameters
sys.exit(tool.main(sys.argv[1:]))
"""


def tool_reads_env_var() -> bool:
    return ENV_VAR in TOOL.read_text(errors="replace")


def execute(profile: str, out: Path, runs: Path, only: list[str] | None) -> tuple[float, int]:
    """Run the tool once; ``(seconds, return code)``; its output streams through."""
    args = ["--profile", profile, "--out", str(out)]
    if only:
        args += ["--only", *only]
    if tool_reads_env_var():
        cmd = [sys.executable, str(TOOL), *args]
    else:
        cmd = [sys.executable, "-c", _WRAPPER.format(tools=str(TOOL.parent), var=ENV_VAR), *args]
    env = dict(os.environ, **{ENV_VAR: str(runs)})
    shown = cmd if tool_reads_env_var() else [sys.executable, str(TOOL), *args]
    how = "" if tool_reads_env_var() else ", injected as RUNS_DIR"
    print("$ " + " ".join(shown) + f"   ({ENV_VAR}={runs}{how})", flush=True)
    t0 = time.perf_counter()
    rc = subprocess.run(cmd, cwd=str(ROOT), env=env).returncode
    return time.perf_counter() - t0, rc


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--profile", default="laptop")
    ap.add_argument("--only", nargs="*", default=None, help="notebook numbers or names")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    result: dict[str, Any] = {
        "benchmark": "book",
        "command": command_line(),
        "machine": machine_info(),
        "profile": args.profile,
    }
    reason = None
    if not TOOL.exists():
        reason = f"{TOOL.relative_to(ROOT)} does not exist yet"
    elif not notebooks():
        reason = "no notebooks/NN_*.py sources yet"
    if reason:
        print(f"bench_book: skipped: {reason}.")
        result["skipped"] = reason
        write_json(args.json, result)
        return result

    tmp = Path(tempfile.mkdtemp(prefix="swa-bench-book-"))
    runs = tmp / "runs"
    runs.mkdir()
    try:
        cold_s, cold_rc = execute(args.profile, tmp / "cold", runs, args.only)
        files_after_cold = count_files(runs)
        warm_s, warm_rc = execute(args.profile, tmp / "warm", runs, args.only)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    rows = [
        {"cache": "cold (empty runs folder)", "wall": f"{cold_s:.1f} s", "rc": cold_rc},
        {"cache": "warm (same runs folder)", "wall": f"{warm_s:.1f} s", "rc": warm_rc},
    ]
    n_nb = len(notebooks(args.only))
    print(f"\n## Benchmark 5: the book, profile {args.profile}, {n_nb} notebooks\n")
    print(markdown_table(rows))
    print(f"\ncold / warm: {cold_s / warm_s:.1f}x")
    notes = []
    if files_after_cold == 0:
        notes.append(
            "the fresh runs folder is still empty after the cold run: the notebooks "
            "used another runs folder, so 'cold' was cold only if that one was empty"
        )
    for n in notes:
        print(f"WARNING: {n}")
    result.update(
        {
            "cold_s": cold_s,
            "warm_s": warm_s,
            "cold_rc": cold_rc,
            "warm_rc": warm_rc,
            "cold_over_warm": cold_s / warm_s,
            "notebooks": n_nb,
            "tool_reads_env_var": tool_reads_env_var(),
            "runs_files_after_cold": files_after_cold,
            "warnings": notes,
        }
    )
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    res = main(sys.argv[1:])
    sys.exit(1 if res.get("cold_rc") or res.get("warm_rc") else 0)
