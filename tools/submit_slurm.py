#!/usr/bin/env python
"""Submit the book's notebooks to a Slurm cluster with submitit: one job per notebook.

Each job runs ``tools/execute_notebooks.py --profile <profile> --out <out> --only <notebook>`` on
one GPU (``--gpus-per-job``), so the batch of ``make batch PROFILE=paper`` spreads over as many
nodes as the scheduler gives. Every job reads and writes the same run cache (``SWA_BOOK_RUNS``,
default ``runs/`` of this checkout: it must be on a file system every node mounts, with working
``flock`` -- NFS v4 and most cluster file systems; Lustre needs its ``flock`` mount option), where
each run folder is locked, so a run that two notebooks need is trained once.

    python tools/submit_slurm.py --profile paper --out executed/paper --partition gpu
    python tools/submit_slurm.py --profile smoke --out /tmp/nb --local     # no cluster: local jobs

``--local`` uses submitit's local executor (jobs as processes on this machine), which is how the
tests exercise this path on a CPU. ``submitit`` is an optional dependency (``pip install
submitit``, the ``slurm`` extra). The script waits for every job and prints a table of
notebook, job id, state and seconds (``--no-wait`` returns after submitting).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"
PROFILES = ("smoke", "laptop", "paper")


def notebook_stems(only: Sequence[str] | None = None) -> list[str]:
    """``NN_name`` of ``notebooks/NN_*.py`` in order; ``only`` filters by number or name."""
    stems = sorted(p.stem for p in NB_DIR.glob("[0-9][0-9]_*.py"))
    if only:
        stems = [s for s in stems if any(s.startswith(o) or s == o for o in only)]
    return stems


def ledger_split(stems: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(others, ledgers)``: the stems ending in ``_ledger`` read the claims the other notebooks
    record, so they run only after those have finished (as in ``execute_notebooks.py``)."""
    return [s for s in stems if not s.endswith("_ledger")], [
        s for s in stems if s.endswith("_ledger")
    ]


def notebook_command(
    stem: str, profile: str, out: str | Path, python: str = sys.executable
) -> list[str]:
    """The command one job runs: the executor on notebook ``stem`` alone, one kernel."""
    return [
        python,
        str(ROOT / "tools" / "execute_notebooks.py"),
        "--profile",
        profile,
        "--out",
        str(out),
        "--only",
        stem,
        "--jobs",
        "1",
        "--progress",
        "off",
    ]


def make_executor(
    logs: str | Path,
    *,
    local: bool,
    timeout_min: int,
    partition: str | None,
    gpus_per_job: int,
    cpus_per_task: int,
    mem_gb: int | None,
) -> Any:
    """A submitit executor: Slurm (``AutoExecutor``), or the local one with ``local=True``."""
    try:
        import submitit
    except ImportError as exc:  # the optional extra
        raise SystemExit(
            "submit_slurm.py needs submitit: pip install submitit (or pip install -e '.[slurm]')"
        ) from exc
    executor = submitit.AutoExecutor(folder=str(logs), cluster="local" if local else None)
    params: dict[str, Any] = {"timeout_min": timeout_min, "name": "swa-book"}
    if not local:
        params.update(
            gpus_per_node=gpus_per_job, cpus_per_task=cpus_per_task, tasks_per_node=1, nodes=1
        )
        if partition:
            params["slurm_partition"] = partition
        if mem_gb:
            params["mem_gb"] = mem_gb
    executor.update_parameters(**params)
    return executor


def submit(
    stems: Sequence[str],
    profile: str,
    out: str | Path,
    executor: Any,
    *,
    command: Callable[[str, str, str | Path], list[str]] = notebook_command,
    env: dict[str, str] | None = None,
) -> list[tuple[str, Any]]:
    """Submit one job per notebook of ``stems``; ``[(stem, job)]`` in order.

    Each job is ``submitit.helpers.CommandFunction(command(stem, profile, out))`` run in this
    checkout's root with ``env`` (default: this environment, so ``SWA_BOOK_RUNS`` and the
    virtual environment carry over).
    """
    import submitit

    jobs = []
    for stem in stems:
        fn = submitit.helpers.CommandFunction(
            command(stem, profile, out),
            cwd=str(ROOT),
            env=dict(os.environ if env is None else env),
            verbose=False,
        )
        jobs.append((stem, executor.submit(fn)))
    return jobs


def wait(jobs: Sequence[tuple[str, Any]]) -> list[tuple[str, str, str, float, str | None]]:
    """Wait for every job: ``[(stem, job id, state, seconds waited, error or None)]``."""
    t0, rows = time.perf_counter(), []
    for stem, job in jobs:
        try:
            job.result()
            error = None
        except Exception as exc:  # a failed notebook is reported, the others still awaited
            error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1:]}"
        rows.append((stem, str(job.job_id), job.state, time.perf_counter() - t0, error))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="paper", choices=PROFILES)
    ap.add_argument("--out", type=Path, required=True, help="folder of the executed notebooks")
    ap.add_argument("--only", nargs="*", help="notebook numbers or names to run")
    ap.add_argument("--local", action="store_true", help="submitit's local executor, no Slurm")
    ap.add_argument("--partition", default=None, help="Slurm partition")
    ap.add_argument("--timeout-min", type=int, default=24 * 60, help="minutes per job")
    ap.add_argument("--gpus-per-job", type=int, default=1)
    ap.add_argument("--cpus-per-task", type=int, default=4)
    ap.add_argument("--mem-gb", type=int, default=None)
    ap.add_argument(
        "--logs",
        type=Path,
        default=ROOT / "executed" / "slurm-logs",
        help="submitit's folder (job scripts, stdout and stderr of every job)",
    )
    ap.add_argument("--no-wait", action="store_true", help="return after submitting")
    args = ap.parse_args(argv)

    stems = notebook_stems(args.only)
    if not stems:
        raise SystemExit("no notebooks matched")
    executor = make_executor(
        args.logs,
        local=args.local,
        timeout_min=args.timeout_min,
        partition=args.partition,
        gpus_per_job=args.gpus_per_job,
        cpus_per_task=args.cpus_per_task,
        mem_gb=args.mem_gb,
    )
    # The ledger notebooks read what the others record: they are submitted once all others end.
    first, last = ledger_split(stems)
    jobs = submit(first, args.profile, args.out.resolve(), executor)
    print(f"submitted {len(jobs)} jobs (profile {args.profile}); logs in {args.logs}")
    for stem, job in jobs:
        print(f"  {stem:<26} job {job.job_id}")
    if args.no_wait:
        if last:
            print(f"  not submitted (run after the others): {', '.join(last)}")
        return 0
    rows = wait(jobs)
    if last:
        late = submit(last, args.profile, args.out.resolve(), executor)
        for stem, job in late:
            print(f"  {stem:<26} job {job.job_id} (after the others)")
        rows += wait(late)
    print(f"  {'notebook':<26} {'job':>12} {'state':>12} {'done after':>11}")
    for stem, job_id, state, secs, error in rows:
        print(
            f"  {stem:<26} {job_id:>12} {state:>12} {secs:9.1f} s"
            + (f"  FAILED: {error}" if error else "")
        )
    failed = [r for r in rows if r[4] is not None]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
