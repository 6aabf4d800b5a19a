"""Progress events for a supervisor outside the process (the book's notebook executor).

A notebook runs in a Jupyter kernel, whose progress bars land in the notebook, not in the terminal
that ran ``make``. So that the terminal can show which training run is going and how far it got,
library loops also *emit* small JSON events to the file named by the environment variable
``SWA_BOOK_STATUS`` (set by ``tools/execute_notebooks.py`` for each kernel it starts); without the
variable :func:`emit` does nothing. One event is one line (``json`` object with ``"event"`` and
``"time"``, seconds since the epoch), appended with a single ``write`` so lines never interleave.

Events the training code emits: ``run_start`` (``name``, ``epochs``, ``start_epoch``, ``cached``),
``epoch`` (``name``, ``epoch`` done, ``epochs``), ``run_end`` (``name``, ``cached``).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

__all__ = ["ENV_VAR", "emit", "read_events"]

ENV_VAR = "SWA_BOOK_STATUS"


def emit(event: str, **fields: Any) -> None:
    """Append ``{"event": event, "time": now, **fields}`` to ``$SWA_BOOK_STATUS`` (if set)."""
    path = os.environ.get(ENV_VAR)
    if not path:
        return
    line = json.dumps({"event": event, "time": time.time(), **fields}, default=str) + "\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())  # O_APPEND + one write: whole lines, never interleaved
        finally:
            os.close(fd)
    except OSError:  # progress is best effort: it must never stop a run
        pass


def read_events(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The events in ``path`` (a missing file or a half-written last line is skipped)."""
    try:
        text = open(path, encoding="utf-8").read()
    except FileNotFoundError:
        return []
    events = []
    for line in text.splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events
