"""tools/execute_notebooks.py --gpus (one notebook per GPU, each worker's kernels see one device)
and tools/submit_slurm.py (one submitit job per notebook), on the CPU: the GPU assignment is an
environment variable, the Slurm path runs with submitit's local executor."""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(f"_tool_{name}", ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # picklable functions for the worker processes
    spec.loader.exec_module(module)
    return module


def _where(seconds: float) -> tuple[int, str, float, float]:
    """What a notebook worker sees: its pid, its CUDA_VISIBLE_DEVICES, when it ran."""
    t0 = time.monotonic()
    time.sleep(seconds)
    return os.getpid(), os.environ.get("CUDA_VISIBLE_DEVICES", ""), t0, time.monotonic()


def test_gpus_give_each_running_notebook_its_own_device() -> None:
    pytest.importorskip("papermill")
    ex = _tool("execute_notebooks")
    before = os.environ.get("CUDA_VISIBLE_DEVICES")
    with ex.worker_pool(jobs=5, gpus=["0", "1"]) as pool:
        seen = list(pool.map(_where, [0.4] * 6))
    gpu_of: dict[int, str] = {}
    for pid, gpu, _, _ in seen:
        assert gpu_of.setdefault(pid, gpu) == gpu  # a worker keeps its GPU
    assert sorted(gpu_of.values()) == ["0", "1"]  # two workers, one per GPU, not five
    for i, a in enumerate(seen):
        for b in seen[i + 1 :]:
            if a[2] < b[3] and b[2] < a[3]:  # ran at the same time: on different GPUs
                assert a[1] != b[1]
    assert os.environ.get("CUDA_VISIBLE_DEVICES") == before  # only the workers are restricted


def test_gpus_option_is_validated(tmp_path) -> None:
    pytest.importorskip("papermill")
    ex = _tool("execute_notebooks")
    assert ex.parse_gpus("0,2,3") == ["0", "2", "3"] and ex.parse_gpus(None) == []
    for bad in ("0,0", "0,x", "1;2"):
        with pytest.raises(SystemExit, match="--gpus"):
            ex.parse_gpus(bad)
    with pytest.raises(SystemExit):  # one kernel per GPU: --jobs would contradict it
        ex.main(["--gpus", "0,1", "--jobs", "3", "--out", str(tmp_path), "--only", "01"])


def test_slurm_path_submits_one_job_per_notebook_with_the_local_executor(tmp_path) -> None:
    pytest.importorskip("submitit")
    sl = _tool("submit_slurm")
    assert sl.notebook_stems(["03"]) == ["03_results_table"]
    cmd = sl.notebook_command("03_results_table", "paper", tmp_path / "out")
    assert cmd[1].endswith("tools/execute_notebooks.py")
    assert cmd[2:] == [
        "--profile",
        "paper",
        "--out",
        str(tmp_path / "out"),
        "--only",
        "03_results_table",
        "--jobs",
        "1",
        "--progress",
        "off",
    ]

    def fake(stem, profile, out):  # stands for one notebook's execution
        code = (
            "import os, pathlib, sys; n = sys.argv[1]; "
            "pathlib.Path(sys.argv[2], n + '.txt').write_text("
            "sys.argv[3] + ' ' + os.environ['SWA_BOOK_RUNS']); "
            "sys.exit(3 if n.startswith('99') else 0)"
        )
        return [sys.executable, "-c", code, stem, str(out), profile]

    executor = sl.make_executor(
        tmp_path / "logs",
        local=True,
        timeout_min=5,
        partition=None,
        gpus_per_job=1,
        cpus_per_task=1,
        mem_gb=None,
    )
    env = {**os.environ, "SWA_BOOK_RUNS": str(tmp_path / "runs")}
    stems = ["01_quickstart", "02_schedules", "99_broken"]
    jobs = sl.submit(stems, "smoke", tmp_path, executor, command=fake, env=env)
    rows = sl.wait(jobs)
    assert [r[0] for r in rows] == stems and len({r[1] for r in rows}) == 3  # 3 jobs
    assert [r[4] is None for r in rows] == [True, True, False]  # the failure is reported
    for stem in stems:
        assert (tmp_path / f"{stem}.txt").read_text() == f"smoke {tmp_path / 'runs'}"


def test_table_ids_are_stable_across_executions() -> None:
    pd = pytest.importorskip("pandas")
    executor = _tool("execute_notebooks")
    frame = pd.DataFrame({"acc": [0.81, 0.79]}, index=["SWA", "SGD"])
    first, second = (frame.style.format("{:.2f}").to_html() for _ in range(2))
    assert first != second  # pandas draws a random id per table
    a, b = (executor.stable_table_ids(h, 4, 1) for h in (first, second))
    assert a == b and "T_c4o1t0" in a
    assert a.replace("T_c4o1t0", "X") == first.replace(first.split('id="')[1][:7], "X")


def test_summary_counts_trained_and_cached_runs() -> None:
    executor = _tool("execute_notebooks")
    events = [
        {"event": "run_start", "name": "a", "cached": False},
        {"event": "run_end", "name": "a", "cached": False},
        {"event": "run_end", "name": "b", "cached": True},
        {"event": "run_end", "name": "c", "cached": True},
    ]
    assert executor._runs_summary(events) == (1, 2)
    line = executor._live_line("03_results", events[:1], started=time.time() - 5, expected=65)
    assert "a: epoch 0/None" in line and "(0 trained, 0 cached)" in line and "left" in line


def test_ledger_notebooks_run_after_all_others(tmp_path, monkeypatch) -> None:
    pytest.importorskip("papermill")
    ex = _tool("execute_notebooks")
    nb = tmp_path / "notebooks"
    nb.mkdir()
    for stem in ("01_a", "18_paper_ledger", "17_b", "02_c"):
        (nb / f"{stem}.py").write_text("")
    monkeypatch.setattr(ex, "NB_DIR", nb)
    assert [p.stem for p in ex.notebook_sources()] == ["01_a", "02_c", "17_b", "18_paper_ledger"]
    assert [p.stem for p in ex.notebook_sources(["18", "01"])] == ["01_a", "18_paper_ledger"]
    calls: list[list[str]] = []

    def fake_run_all(srcs, *args, **kwargs):
        calls.append([p.stem for p in srcs])
        return {p.stem: (0.1, None) for p in srcs}

    monkeypatch.setattr(ex, "_run_all", fake_run_all)
    monkeypatch.setenv("SWA_BOOK_RUNS", str(tmp_path / "runs"))
    assert ex.main(["--out", str(tmp_path / "out"), "--only", "18", "01", "02"]) == 0
    # two stages: the ledger starts only after the whole first stage has returned
    assert calls == [["01_a", "02_c"], ["18_paper_ledger"]]
    calls.clear()
    ledger = tmp_path / "runs" / "ledger"
    ledger.mkdir(parents=True)
    (ledger / "01_a.json").write_text("{}")
    assert ex.main(["--out", str(tmp_path / "out"), "--only", "01"]) == 0
    assert calls == [["01_a"]]
    assert (ledger / "01_a.json").exists()  # --only: the other records stay
    assert ex.main(["--out", str(tmp_path / "out")]) == 0
    assert not (ledger / "01_a.json").exists()  # the whole book: this execution's only


def test_slurm_submits_the_ledger_after_the_others(monkeypatch, tmp_path) -> None:
    sl = _tool("submit_slurm")
    assert sl.ledger_split(["01_a", "18_paper_ledger", "02_b"]) == (
        ["01_a", "02_b"],
        ["18_paper_ledger"],
    )
    order: list[str] = []

    class Job:
        def __init__(self, stem):
            self.stem, self.job_id, self.state = stem, stem, "DONE"

        def result(self):
            order.append(f"done {self.stem}")

    def fake_submit(stems, *args, **kwargs):
        order.extend(f"submit {s}" for s in stems)
        return [(s, Job(s)) for s in stems]

    monkeypatch.setattr(sl, "submit", fake_submit)
    monkeypatch.setattr(sl, "make_executor", lambda *a, **k: None)
    monkeypatch.setattr(sl, "notebook_stems", lambda only: ["01_a", "18_paper_ledger", "02_b"])
    assert sl.main(["--out", str(tmp_path), "--local"]) == 0
    assert order == [
        "submit 01_a",
        "submit 02_b",
        "done 01_a",
        "done 02_b",
        "submit 18_paper_ledger",
        "done 18_paper_ledger",
    ]
