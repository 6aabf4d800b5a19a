"""The README's layout section is the package's real tree (so it cannot go stale).

The ``## Layout`` section holds a fenced block; its ``src/swa_lib/`` subtree lists one entry per
line, two spaces of indentation per level, a name (``module.py`` or ``folder/``) and a description.
Every module and subpackage of ``src/swa_lib`` must be listed, and every listed name must exist.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "src" / "swa_lib"


def _layout_block() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Layout", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```\n(.*?)```", section, re.S).group(1).splitlines()


def listed_package_tree() -> set[str]:
    """Paths relative to src/swa_lib listed under ``src/swa_lib/`` in the README."""
    lines = _layout_block()
    start = next(i for i, line in enumerate(lines) if line.startswith("src/swa_lib/"))
    stack: list[str] = []
    listed = set()
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        depth = (len(line) - len(line.lstrip(" "))) // 2
        name = line.split()[0]
        stack = stack[: depth - 1] + [name.rstrip("/")]
        listed.add("/".join(stack) + ("/" if name.endswith("/") else ""))
    return listed


def actual_package_tree() -> set[str]:
    found = set()
    for path in PKG.rglob("*"):
        rel = path.relative_to(PKG).as_posix()
        if "__pycache__" in rel or path.name.startswith("."):
            continue
        if path.is_dir():
            found.add(rel + "/")
        elif path.suffix == ".py" and path.name != "__init__.py":
            found.add(rel)
    return found


def test_readme_layout_lists_exactly_the_package() -> None:
    listed, actual = listed_package_tree(), actual_package_tree()
    assert listed, "no src/swa_lib/ subtree found in the README's Layout block"
    missing, stale = sorted(actual - listed), sorted(listed - actual)
    assert not missing and not stale, (
        f"README layout is out of date: not listed {missing}; listed but absent {stale}"
    )
