"""swa_lib.progress: events reach the file named by SWA_BOOK_STATUS, whole and in order."""

from __future__ import annotations

import json
import multiprocessing as mp
from pathlib import Path

import pytest

from swa_lib import progress


def _writer(path: str, k: int, n: int) -> None:
    import os

    os.environ[progress.ENV_VAR] = path
    for i in range(n):
        progress.emit("epoch", name=f"w{k}", epoch=i, pad="x" * 500)


def test_no_variable_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(progress.ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    progress.emit("run_start", name="a")
    assert list(tmp_path.iterdir()) == []


def test_events_round_trip_and_bad_lines_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "status.jsonl"
    monkeypatch.setenv(progress.ENV_VAR, str(path))
    progress.emit("run_start", name="a", epochs=3, cached=False)
    progress.emit("epoch", name="a", epoch=1, epochs=3)
    with open(path, "a") as f:
        f.write('{"event": "epoch", "na')  # a line cut by a kill
    events = progress.read_events(path)
    assert [(e["event"], e["name"]) for e in events] == [("run_start", "a"), ("epoch", "a")]
    assert events[0]["epochs"] == 3 and events[0]["cached"] is False
    assert progress.read_events(tmp_path / "missing.jsonl") == []


def test_concurrent_writers_never_interleave(tmp_path: Path) -> None:
    path = str(tmp_path / "status.jsonl")
    procs = [mp.get_context("fork").Process(target=_writer, args=(path, k, 200)) for k in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    lines = Path(path).read_text().splitlines()
    assert len(lines) == 600
    parsed = [json.loads(line) for line in lines]  # every line is a whole JSON object
    for k in range(3):  # and each writer's events keep their order
        assert [e["epoch"] for e in parsed if e["name"] == f"w{k}"] == list(range(200))
