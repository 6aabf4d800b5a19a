#!/usr/bin/env python
"""Benchmark 5: wall time of executing every notebook of the book, cold and warm run cache.

Runs ``tools/execute_notebooks.py --profile laptop --out <tmp>/cold`` with a fresh, empty runs
folder (``SWA_BOOK_RUNS=<tmp>/runs`` in the environment), then the same command again
(``--out <tmp>/warm``) with that folder now filled: the first time trains every run, the second
finds them cached. Skips cleanly (exit 0, a message) while the tool or the notebooks do not exist
yet. Long (the laptop profile trains for many minutes), so ``run_all.py`` runs it only with
``--with-book``.

Caveat printed with the result: the cold time is from an empty cache only if the notebooks take
their runs folder from ``SWA_BOOK_RUNS``; the script checks whether anything in ``notebooks/``,
``tools/`` or ``swa_lib`` mentions that variable and whether the fresh folder was used.

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


def notebooks() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


def env_var_is_read() -> bool:
    """Whether any notebook, tool or library source mentions ``SWA_BOOK_RUNS``."""
    sources = [*notebooks(), *(ROOT / "tools").glob("*.py"),
               *(ROOT / "src" / "swa_lib").glob("*.py")]
    for path in sources:
        try:
            if ENV_VAR in path.read_text(errors="replace"):
                return True
        except OSError:
            continue
    return False


def count_files(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def execute(profile: str, out: Path, runs: Path, only: list[str] | None) -> tuple[float, int]:
    """Run the tool once; ``(seconds, return code)``; its output streams through."""
    cmd = [sys.executable, str(TOOL), "--profile", profile, "--out", str(out)]
    if only:
        cmd += ["--only", *only]
    env = dict(os.environ, **{ENV_VAR: str(runs)})
    print("$ " + " ".join(cmd) + f"   ({ENV_VAR}={runs})", flush=True)
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

    result: dict[str, Any] = {"benchmark": "book", "command": command_line(),
                              "machine": machine_info(), "profile": args.profile}
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
    reads_var = env_var_is_read()
    try:
        cold_s, cold_rc = execute(args.profile, tmp / "cold", runs, args.only)
        files_after_cold = count_files(runs)
        warm_s, warm_rc = execute(args.profile, tmp / "warm", runs, args.only)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    rows = [{"cache": "cold (empty runs folder)", "wall": f"{cold_s:.1f} s", "rc": cold_rc},
            {"cache": "warm (same runs folder)", "wall": f"{warm_s:.1f} s", "rc": warm_rc}]
    print(f"\n## Benchmark 5: the book, profile {args.profile}, {len(notebooks())} notebooks\n")
    print(markdown_table(rows))
    print(f"\ncold / warm: {cold_s / warm_s:.1f}x")
    notes = []
    if not reads_var:
        notes.append(f"nothing in notebooks/, tools/ or swa_lib mentions {ENV_VAR}: the "
                      f"notebooks used their own runs folder, so 'cold' was cold only if that "
                      f"folder was empty")
    if files_after_cold == 0:
        notes.append(f"the fresh {ENV_VAR} folder is still empty after the cold run")
    for n in notes:
        print(f"WARNING: {n}")
    result.update({"cold_s": cold_s, "warm_s": warm_s, "cold_rc": cold_rc, "warm_rc": warm_rc,
                   "cold_over_warm": cold_s / warm_s, "notebooks": len(notebooks()),
                   "env_var_read": reads_var, "runs_files_after_cold": files_after_cold,
                   "warnings": notes})
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    res = main(sys.argv[1:])
    sys.exit(1 if res.get("cold_rc") or res.get("warm_rc") else 0)
