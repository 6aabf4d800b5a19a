#!/usr/bin/env python
"""Execute the book's notebooks with a papermill profile.

Each ``notebooks/NN_name.py`` (jupytext percent source) is converted to its paired ``.ipynb``
(inputs from the ``.py``), then executed by papermill with the parameters of
``notebooks/profiles/<profile>.yaml`` (its ``all:`` section merged with the notebook's own
section). The working directory is ``notebooks/`` so relative paths (``../runs``, ``../data``)
mean the same everywhere.

    python tools/execute_notebooks.py --profile laptop --in-place     # what `make` does
    python tools/execute_notebooks.py --profile paper --out executed/paper
    python tools/execute_notebooks.py --profile smoke --out /tmp/nb --only 01 03

``SWA_BOOK_RUNS=<dir>`` points every notebook's ``RUNS_DIR`` at another run cache.
Notebooks run in ``--jobs`` parallel kernels (default 2, one torch thread each); runs shared
between notebooks are trained once (``swa_lib.training.run`` locks each run folder).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import sys
import time
from pathlib import Path

import jupytext
import nbformat
import papermill
import yaml

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"
PROFILES = ("smoke", "laptop", "paper")


def notebook_sources(only: list[str] | None = None) -> list[Path]:
    """``notebooks/NN_*.py`` in order; ``only`` filters by number prefix or name."""
    srcs = sorted(NB_DIR.glob("[0-9][0-9]_*.py"))
    if only:
        srcs = [p for p in srcs if any(p.stem.startswith(o) or p.stem == o for o in only)]
    return srcs


def profile_parameters(profile: str, stem: str) -> dict:
    """Parameters of notebook ``stem`` under ``profile``: ``all`` merged with its own section."""
    path = NB_DIR / "profiles" / f"{profile}.yaml"
    if not path.exists():
        raise SystemExit(f"unknown profile {profile!r}: expected {path} (allowed: {PROFILES})")
    spec = yaml.safe_load(path.read_text()) or {}
    params = dict(spec.get("all") or {})
    params.update(spec.get(stem) or {})
    return params


def paired_notebook(src: Path) -> nbformat.NotebookNode:
    """The ``.ipynb`` form of a jupytext source (inputs only), with the python3 kernel."""
    nb = jupytext.read(src)
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3",
                                          "language": "python"})
    return nb


def sync_inputs(src: Path) -> Path:
    """Write the paired ``.ipynb`` from the ``.py`` inputs, keeping outputs of unchanged cells."""
    dst = src.with_suffix(".ipynb")
    new = paired_notebook(src)
    if dst.exists():
        old = nbformat.read(dst, as_version=4)
        previous = {(c.cell_type, c.source): c for c in old.cells}
        for cell in new.cells:
            prev = previous.get((cell.cell_type, cell.source))
            if prev is None:
                continue
            if "id" in prev:  # stable ids keep re-executions diffable
                cell["id"] = prev["id"]
            if cell.cell_type == "code":
                cell.outputs = prev.get("outputs", [])
                cell.execution_count = prev.get("execution_count")
    nbformat.write(new, dst)
    return dst


def execute_one(src: Path, profile: str, out_dir: Path | None, timeout: int) -> tuple[str, float]:
    t0 = time.perf_counter()
    params = profile_parameters(profile, src.stem)
    if os.environ.get("SWA_BOOK_RUNS"):  # e.g. a fresh run cache for timing the book
        params["RUNS_DIR"] = os.environ["SWA_BOOK_RUNS"]
    if out_dir is None:
        target = sync_inputs(src)
        inp = target
    else:
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / f"{src.stem}.ipynb"
        nbformat.write(paired_notebook(src), target)
        inp = target
    papermill.execute_notebook(
        str(inp), str(target), parameters=params or None, kernel_name="python3",
        cwd=str(NB_DIR), progress_bar=False, execution_timeout=timeout,
        report_mode=False, request_save_on_cell_execute=False,
    )
    _strip_papermill_noise(target)
    return src.stem, time.perf_counter() - t0


def _strip_papermill_noise(path: Path) -> None:
    """Drop papermill's per-cell timing metadata so re-executions diff cleanly."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    nb.metadata.pop("papermill", None)
    nbformat.write(nb, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--profile", default="laptop", choices=PROFILES)
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--in-place", action="store_true", help="write outputs into notebooks/")
    where.add_argument("--out", type=Path, help="write executed copies into this folder")
    ap.add_argument("--only", nargs="*", help="notebook numbers or names to run")
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("SWA_BOOK_JOBS", "2")))
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    args = ap.parse_args(argv)

    # Small models: one thread per kernel, parallel kernels instead.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    os.environ.setdefault("SWA_LIB_PROGRESS", "0")
    srcs = notebook_sources(args.only)
    if not srcs:
        raise SystemExit("no notebooks matched")
    out_dir = None if args.in_place else args.out.resolve()
    t0 = time.perf_counter()
    failures = []
    with cf.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {pool.submit(execute_one, s, args.profile, out_dir, args.timeout): s
                   for s in srcs}
        for fut in cf.as_completed(futures):
            src = futures[fut]
            try:
                stem, secs = fut.result()
                print(f"  {stem:<28} {secs:7.1f} s", flush=True)
            except Exception as exc:
                failures.append(src.stem)
                print(f"  {src.stem:<28} FAILED: {type(exc).__name__}: {exc}", flush=True)
    print(f"executed {len(srcs) - len(failures)}/{len(srcs)} notebooks "
          f"(profile {args.profile}) in {time.perf_counter() - t0:.1f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
