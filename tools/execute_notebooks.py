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

Notebooks whose stem ends in ``_ledger`` (the paper ledger) read the claims the experiment
notebooks record, so they run last, after every other notebook of the batch has finished (also
with ``--only``). A whole-book execution (no ``--only``) first removes the records of earlier
executions (``<runs>/ledger/*.json``); with ``--only`` the other notebooks' records stay.

On a machine with several GPUs, ``--gpus 0,1,2,3`` (or ``--gpus all``) runs one notebook per GPU
in parallel: one worker process per GPU, whose kernels see that device alone
(``CUDA_VISIBLE_DEVICES``), so a notebook's ``"cuda"`` is its own GPU. The run cache is shared and
each run folder is locked, so a run two notebooks need is trained once. On a Slurm cluster,
``tools/submit_slurm.py`` submits the same batch as one job per notebook.
Notebooks run in ``--jobs`` parallel worker processes (default 2, one kernel and one torch thread
each); runs shared between notebooks are trained once (``swa_lib.training.run`` locks each run
folder). On a terminal the executor shows, per running notebook, the training run in progress, its
epoch, how many runs were trained or read from the cache, and the time left (from the notebook's
duration last time, kept in ``<runs>/.book_timings.json``); under CI (or ``--progress off``) it
prints one line per finished notebook. It ends with a table of per-notebook time and cache use.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import multiprocessing
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import jupytext
import nbformat
import papermill
import yaml

from swa_lib import progress

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"
PROFILES = ("smoke", "laptop", "paper")


LAST_SUFFIX = "_ledger"  # notebooks that read what the others record: executed after them


def notebook_sources(only: list[str] | None = None) -> list[Path]:
    """``notebooks/NN_*.py`` in order, those whose stem ends in ``_ledger`` last; ``only``
    filters by number prefix or name."""
    srcs = sorted(
        NB_DIR.glob("[0-9][0-9]_*.py"), key=lambda p: (p.stem.endswith(LAST_SUFFIX), p.name)
    )
    if only:
        srcs = [p for p in srcs if any(p.stem.startswith(o) or p.stem == o for o in only)]
    return srcs


def execution_stages(srcs: list[Path]) -> list[list[Path]]:
    """``srcs`` split into the stages run one after the other: every notebook, then the
    ``*_ledger`` ones (which read the claims the others record under ``RUNS_DIR/ledger``, so
    they must start only when every other notebook of the batch has finished). Empty stages
    are dropped."""
    first = [p for p in srcs if not p.stem.endswith(LAST_SUFFIX)]
    last = [p for p in srcs if p.stem.endswith(LAST_SUFFIX)]
    return [stage for stage in (first, last) if stage]


def clear_ledger(runs_dir: Path) -> int:
    """Remove the claim records under ``<runs_dir>/ledger`` (what the experiment notebooks
    wrote in earlier executions) and return how many. Done before a whole-book execution, so
    the ledger chapter shows what this execution measured, not a leftover of an older one."""
    folder = runs_dir / "ledger"
    stale = sorted(folder.glob("*.json")) if folder.is_dir() else []
    for path in stale:
        path.unlink()
    return len(stale)


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
    nb.metadata.setdefault(
        "kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"}
    )
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
        str(inp),
        str(target),
        parameters=params or None,
        kernel_name="python3",
        cwd=str(NB_DIR),
        progress_bar=False,
        execution_timeout=timeout,
        report_mode=False,
        request_save_on_cell_execute=False,
    )
    _strip_papermill_noise(target)
    return src.stem, time.perf_counter() - t0


_STYLER_ID = re.compile(r"T_[0-9a-f]{5}(?=[_\"' {])")


def stable_table_ids(text: str, cell_index: int, output_index: int) -> str:
    """Replace pandas Styler's random table id (``T_`` + 5 hex digits) by one derived from the
    cell's position, so that re-executing a notebook does not change every table in git."""
    found = sorted(set(_STYLER_ID.findall(text)))
    for k, old in enumerate(found):
        text = text.replace(old, f"T_c{cell_index}o{output_index}t{k}")
    return text


def _strip_papermill_noise(path: Path) -> None:
    """Drop papermill's per-cell timing metadata and make table ids stable, so re-executions
    diff cleanly."""
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        for j, out in enumerate(cell.get("outputs", []) or []):
            for mime, value in (out.get("data") or {}).items():
                if "html" in mime and isinstance(value, str):
                    out["data"][mime] = stable_table_ids(value, i, j)
    nb.metadata.pop("papermill", None)
    nbformat.write(nb, path)


TIMINGS_FILE = ".book_timings.json"  # in the run cache: last duration of each notebook


def _status_file(status_dir: Path, stem: str) -> Path:
    return status_dir / f"{stem}.jsonl"


def _execute_with_status(
    src: Path, profile: str, out_dir: Path | None, timeout: int, status_dir: str
) -> tuple[str, float]:
    """:func:`execute_one` in a worker process whose kernel reports to its own status file."""
    os.environ[progress.ENV_VAR] = str(_status_file(Path(status_dir), src.stem))
    return execute_one(src, profile, out_dir, timeout)


def _runs_summary(events: list[dict]) -> tuple[int, int]:
    """(runs trained, runs that came from the cache) in one notebook's events."""
    ends = [e for e in events if e.get("event") == "run_end"]
    cached = sum(1 for e in ends if e.get("cached"))
    return len(ends) - cached, cached


def _live_line(stem: str, events: list[dict], started: float, expected: float | None) -> str:
    """``03_results_table  1m05s  run mlp seed 2: epoch 31/60  (8 trained, 2 cached)  ~2m left``."""
    now = time.time()
    trained, cached = _runs_summary(events)
    text = f"  {stem:<26} {_hms(now - started):>6}"
    current = None
    for e in events:
        if e.get("event") == "run_start" and not e.get("cached"):
            current = {
                "name": e.get("name"),
                "epoch": e.get("start_epoch", 0),
                "epochs": e.get("epochs"),
            }
        elif e.get("event") == "epoch" and current is not None:
            current["epoch"] = e.get("epoch")
        elif e.get("event") == "run_end":
            current = None
    if current is not None:
        text += f"  {current['name']}: epoch {current['epoch']}/{current['epochs']}"
    text += f"  ({trained} trained, {cached} cached)"
    if expected:
        left = expected - (now - started)
        text += f"  ~{_hms(left)} left" if left > 0 else "  (longer than last time)"
    return text


def _hms(secs: float) -> str:
    secs = max(0, int(secs))
    return f"{secs // 60}m{secs % 60:02d}s" if secs >= 60 else f"{secs}s"


def _load_timings(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def parse_gpus(text: str | None) -> list[str]:
    """``"0,1,3"`` -> ``["0", "1", "3"]``; ``"all"`` -> every visible CUDA device; ``None`` or
    ``""`` -> ``[]`` (no GPU assignment). ``SystemExit`` naming ``--gpus`` when malformed."""
    if not text:
        return []
    if text == "all":
        import torch

        count = torch.cuda.device_count()
        if count == 0:
            raise SystemExit("--gpus all: no CUDA device is visible")
        return [str(i) for i in range(count)]
    gpus = [g.strip() for g in text.split(",")]
    if not all(g.isdigit() for g in gpus) or len(set(gpus)) != len(gpus):
        raise SystemExit(
            f"--gpus {text!r} is invalid: a comma-separated list of distinct device "
            f"indices (e.g. 0,1,2,3) or 'all'"
        )
    return gpus


def _claim_gpu(free: Any) -> None:
    """Worker initializer: take one GPU from the queue for this worker's lifetime; the kernels it
    starts inherit ``CUDA_VISIBLE_DEVICES`` and see that device alone (as ``cuda:0``)."""
    os.environ["CUDA_VISIBLE_DEVICES"] = free.get(timeout=60)


def worker_pool(jobs: int, gpus: list[str]) -> cf.ProcessPoolExecutor:
    """The notebook workers: ``jobs`` processes, or with ``gpus`` one process per GPU, each
    holding its GPU (a worker runs one notebook at a time, so one notebook per GPU)."""
    if not gpus:
        return cf.ProcessPoolExecutor(max_workers=max(1, jobs))
    ctx = multiprocessing.get_context()
    free = ctx.Queue()
    for gpu in gpus:
        free.put(gpu)
    return cf.ProcessPoolExecutor(
        max_workers=len(gpus), mp_context=ctx, initializer=_claim_gpu, initargs=(free,)
    )


def _run_all(
    srcs: list[Path],
    args: argparse.Namespace,
    out_dir: Path | None,
    status_dir: Path,
    live: bool,
    expected: dict,
) -> dict[str, tuple]:
    """Execute ``srcs`` in ``args.jobs`` worker processes (one per GPU of ``args.gpus``);
    ``{stem: (secs | None, error)}``."""
    results: dict[str, tuple] = {}
    started: dict[str, float] = {}
    shown = 0
    with worker_pool(args.jobs, args.gpus) as pool:
        futures = {
            pool.submit(
                _execute_with_status, s, args.profile, out_dir, args.timeout, str(status_dir)
            ): s
            for s in srcs
        }
        pending = set(futures)
        while pending:
            done, pending = cf.wait(
                pending, timeout=1.0 if live else None, return_when=cf.FIRST_COMPLETED
            )
            for fut in done:
                src = futures[fut]
                try:
                    results[src.stem] = (fut.result()[1], None)
                except Exception as exc:
                    results[src.stem] = (None, f"{type(exc).__name__}: {exc}")
            if live and shown:
                sys.stdout.write(f"\x1b[{shown}F\x1b[J")  # redraw the live block in place
            for fut in done:
                stem = futures[fut].stem
                secs, err = results[stem]
                print(
                    f"  {stem:<26} " + (f"{secs:7.1f} s" if err is None else f"FAILED: {err}"),
                    flush=True,
                )
            shown = 0
            if live:
                for src in srcs:
                    path = _status_file(status_dir, src.stem)
                    if src.stem in results or not path.exists():
                        continue
                    events = progress.read_events(path)
                    t0 = started.setdefault(src.stem, os.path.getctime(path))
                    print(_live_line(src.stem, events, t0, expected.get(src.stem)))
                    shown += 1
                sys.stdout.flush()
    return results


def _summary_table(srcs: list[Path], results: dict, status_dir: Path) -> str:
    lines = [f"  {'notebook':<26} {'seconds':>8} {'runs trained':>13} {'from cache':>11}"]
    for src in srcs:
        secs, err = results.get(src.stem, (None, "not run"))
        trained, cached = _runs_summary(progress.read_events(_status_file(status_dir, src.stem)))
        shown = f"{secs:8.1f}" if err is None else "  FAILED"
        lines.append(f"  {src.stem:<26} {shown} {trained:>13} {cached:>11}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--profile", default="laptop", choices=PROFILES)
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--in-place", action="store_true", help="write outputs into notebooks/")
    where.add_argument("--out", type=Path, help="write executed copies into this folder")
    ap.add_argument("--only", nargs="*", help="notebook numbers or names to run")
    ap.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="parallel kernels (default: SWA_BOOK_JOBS or 2; with --gpus, one per GPU)",
    )
    ap.add_argument(
        "--gpus",
        default=os.environ.get("SWA_BOOK_GPUS"),
        help="run one notebook per GPU: device indices '0,1,2,3' or 'all' "
        "(each kernel sees its GPU alone through CUDA_VISIBLE_DEVICES)",
    )
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    ap.add_argument(
        "--progress",
        choices=("auto", "on", "off"),
        default="auto",
        help="live lines per running notebook (auto: on a terminal, off under CI)",
    )
    args = ap.parse_args(argv)
    args.gpus = parse_gpus(args.gpus)
    if args.gpus and args.jobs not in (None, len(args.gpus)):
        ap.error(
            f"--jobs {args.jobs} with --gpus {','.join(args.gpus)}: one kernel runs per GPU "
            f"(leave out --jobs)"
        )
    if args.jobs is None:
        args.jobs = len(args.gpus) or int(os.environ.get("SWA_BOOK_JOBS", "2"))

    # Small models: one thread per kernel, parallel kernels instead.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    os.environ.setdefault("SWA_LIB_PROGRESS", "0")
    srcs = notebook_sources(args.only)
    if not srcs:
        raise SystemExit("no notebooks matched")
    out_dir = None if args.in_place else args.out.resolve()
    live = args.progress == "on" or (
        args.progress == "auto" and sys.stdout.isatty() and os.environ.get("CI") != "true"
    )
    runs_dir = Path(os.environ.get("SWA_BOOK_RUNS", ROOT / "runs"))
    timings_path = runs_dir / TIMINGS_FILE
    if not args.only:  # the whole book: the ledger shows this execution's records only
        cleared = clear_ledger(runs_dir)
        if cleared:
            print(f"removed {cleared} ledger records of an earlier execution", flush=True)
    timings = _load_timings(timings_path)
    t0 = time.perf_counter()
    on = f", GPUs {','.join(args.gpus)}" if args.gpus else ""
    print(
        f"executing {len(srcs)} notebooks (profile {args.profile}, {args.jobs} kernels{on})",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="swa-book-status-") as status_dir:
        results: dict[str, tuple] = {}
        for stage in execution_stages(srcs):  # the ledger notebooks after all others
            results.update(
                _run_all(
                    stage, args, out_dir, Path(status_dir), live, timings.get(args.profile, {})
                )
            )
        print(_summary_table(srcs, results, Path(status_dir)))
    failures = [stem for stem, (_, err) in results.items() if err is not None]
    timings.setdefault(args.profile, {}).update(
        {stem: secs for stem, (secs, err) in results.items() if err is None}
    )
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
        timings_path.write_text(json.dumps(timings, indent=1, sort_keys=True))
    except OSError:
        pass
    print(
        f"executed {len(srcs) - len(failures)}/{len(srcs)} notebooks "
        f"(profile {args.profile}) in {time.perf_counter() - t0:.1f} s"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
