"""Every value the book glues, read from executed notebooks, and a diff of two such sets.

    python tools/glued_values.py dump notebooks/ > after.json
    python tools/glued_values.py dump --git HEAD notebooks/ > before.json   # the committed outputs
    python tools/glued_values.py diff before.json after.json

A glued value is the ``text/plain`` of an output that ``myst_nb.glue`` wrote (its
``scrapbook.name``); tables also compare by their ``text/plain``; figures compare by
existence only (pixels change with matplotlib's version and are not numbers). Wall-clock
times are reported apart (keys ending in ``_s`` or containing ``time``/``seconds``), since they
never reproduce. ``diff`` exits 1 when a non-time value changed or disappeared.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

TIME_HINTS = ("time", "seconds", "wall", "_s")


def glued(nb: dict) -> dict[str, str]:
    """``{key: text}`` of one notebook's glued outputs (figures as ``"<figure>"``)."""
    found: dict[str, str] = {}
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []) or []:
            meta = (out.get("metadata") or {}).get("scrapbook") or {}
            name = meta.get("name")
            if not name:
                continue
            prefix = meta.get("mime_prefix", "")
            data = {
                k[len(prefix) :] if k.startswith(prefix) else k: v
                for k, v in (out.get("data") or {}).items()
            }
            if "image/png" in data or "image/svg+xml" in data:
                found[name] = "<figure>"
            else:
                text = data.get("text/plain", "")
                found[name] = "".join(text) if isinstance(text, list) else str(text)
    return found


def _notebooks(folder: str, rev: str | None) -> dict[str, dict]:
    if rev is None:
        return {p.name: json.loads(p.read_text()) for p in sorted(Path(folder).glob("*.ipynb"))}
    names = subprocess.run(
        ["git", "ls-tree", "--name-only", rev, f"{folder.rstrip('/')}/"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return {
        Path(n).name: json.loads(
            subprocess.run(
                ["git", "show", f"{rev}:{n}"], check=True, capture_output=True, text=True
            ).stdout
        )
        for n in names
        if n.endswith(".ipynb")
    }


def dump(folder: str, rev: str | None) -> dict[str, dict[str, str]]:
    return {name: glued(nb) for name, nb in _notebooks(folder, rev).items()}


def is_time(key: str) -> bool:
    return any(h in key.lower() for h in TIME_HINTS)


def diff(before: dict, after: dict) -> tuple[list[str], list[str], int]:
    """(changed non-time values, changed time values, number of values compared)."""
    changed, times, n = [], [], 0
    for nb, values in sorted(before.items()):
        new = after.get(nb, {})
        for key, old in sorted(values.items()):
            n += 1
            now = new.get(key, "<missing>")
            if now != old:
                (times if is_time(key) else changed).append(f"{nb}::{key}: {old!r} -> {now!r}")
    return changed, times, n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump")
    d.add_argument("folder")
    d.add_argument("--git", default=None, help="read the notebooks as committed at this revision")
    c = sub.add_parser("diff")
    c.add_argument("before")
    c.add_argument("after")
    a = p.parse_args(argv)
    if a.cmd == "dump":
        json.dump(dump(a.folder, a.git), sys.stdout, indent=1, sort_keys=True)
        return 0
    changed, times, n = diff(
        json.loads(Path(a.before).read_text()), json.loads(Path(a.after).read_text())
    )
    for line in changed:
        print("CHANGED", line)
    for line in times:
        print("time   ", line)
    print(f"{n} glued values compared: {len(changed)} changed, {len(times)} wall times differ")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
