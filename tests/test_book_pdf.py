"""The book as a PDF (``make pdf``): it builds from the committed notebooks, has every chapter,
and carries the glued numbers (checked in ``pdftotext``'s output).

Needs TeX (Debian: texlive-xetex, texlive-latex-extra, texlive-fonts-recommended, latexmk,
fonts-freefont-otf) and poppler-utils; ``.ci/run`` installs them. Without them the test is skipped
on a developer's machine and fails under ``CI=true``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from glued_values import glued  # noqa: E402

TIMEOUT = int(os.environ.get("SWA_BOOK_PDF_TIMEOUT", "900"))
GLUE_TEXT = re.compile(r"\{glue:text\}`([^`:]+)`")


def _need(tool: str) -> str:
    found = shutil.which(tool)
    if not found:
        msg = f"{tool} is not installed (see README: building the PDF)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg + "; .ci/run should have installed it")
        pytest.skip(msg)
    return found


def _normal(text: str) -> str:
    """NFKC, one space for any run of whitespace, typographic dashes and quotes as ASCII."""
    text = unicodedata.normalize("NFKC", text)
    for fancy, plain in (
        ("\u2212", "-"),
        ("\u2013", "-"),
        ("\u2014", "-"),
        ("\u2019", "'"),
        ("\u2018", "'"),
        ("\u201c", '"'),
        ("\u201d", '"'),
    ):
        text = text.replace(fancy, plain)
    return re.sub(r"\s+", " ", text)


def _cut_by_page_break(v: str, bare: str, gap: int = 200) -> bool:
    """Whether ``v`` is in ``bare`` as a head and a tail with at most ``gap`` characters (a page
    footer, number and running header) between them; both parts at least 6 characters long."""
    for i in range(6, len(v) - 5):
        head, tail = v[:i], v[i:]
        start = bare.find(head)
        while start >= 0:
            end = start + len(head)
            if bare.find(tail, end, end + gap + len(tail)) >= 0:
                return True
            start = bare.find(head, start + 1)
    return False


def _letters_digits(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z.]", "", _normal(text))


def _glued_prose_values() -> dict[str, str]:
    """``{notebook::key: text}`` for every ``{glue:text}`` a notebook's own markdown uses."""
    out = {}
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        values = glued(nb)
        for cell in nb.cells:
            if cell.cell_type != "markdown":
                continue
            for key in GLUE_TEXT.findall(cell.source):
                if key in values:
                    out[f"{path.stem}::{key}"] = values[key]
    return out


@pytest.mark.book
@pytest.mark.timeout(TIMEOUT + 60)
def test_pdf_builds_with_chapters_and_glued_numbers(tmp_path: Path) -> None:
    for tool in ("xelatex", "latexmk", "pdftotext", "pdfinfo"):
        _need(tool)
    jb = Path(sys.executable).with_name("jupyter-book")
    src = tmp_path / "book"
    (src / "notebooks").mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "book", src / "book")
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        shutil.copy2(nb, src / "notebooks" / nb.name)
    proc = subprocess.run(
        [str(jb), "build", str(src), "--builder", "pdflatex", "-n", "--keep-going"],
        cwd=src,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    pdf = src / "_build" / "latex" / "swa-book.pdf"
    assert proc.returncode == 0 and pdf.exists(), (proc.stdout + proc.stderr)[-4000:]

    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    pages = int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))
    n_chapters = sum(
        1
        for line in (ROOT / "_toc.yml").read_text().splitlines()
        if line.strip().startswith("- file:")
    )
    assert pages >= 2 * n_chapters, f"{pages} pages for {n_chapters} chapters"

    text = _normal(
        subprocess.run(
            ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
    )
    for line in (ROOT / "_toc.yml").read_text().splitlines():  # every chapter's title is there
        if line.strip().startswith("- file:"):
            stem = line.split(":", 1)[1].strip()
            md = ROOT / f"{stem}.md"
            first = (
                md.read_text()
                if md.exists()
                else nbformat.read(ROOT / f"{stem}.ipynb", as_version=4).cells[0].source
            )
            title = next(t for t in first.splitlines() if t.startswith("# "))[2:]
            title = re.sub(r"[`*]", "", title)
            assert _normal(title)[:30] in text, f"chapter {stem!r} ({title!r}) not in the PDF"
    values = _glued_prose_values()
    # Compared on letters, digits and points only: LaTeX sets some hyphens and minus signs as
    # glyphs that pdftotext drops or maps to other characters, and breaks long values over lines.
    bare = _letters_digits(text)

    def in_pdf(value: str) -> bool:  # a value may be cut by a page break (header, number)
        v = _letters_digits(value)
        return v in bare or _cut_by_page_break(v, bare)

    missing = [f"{k} = {v!r}" for k, v in values.items() if not in_pdf(v)]
    assert len(values) > 100, f"only {len(values)} glued values found in the notebooks' prose"
    assert not missing, (
        f"{len(missing)} of {len(values)} glued values not in the PDF:\n" + "\n".join(missing[:30])
    )
