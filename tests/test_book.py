"""Checks of the book: notebooks, glue keys, citations, the chapters' examples, and the build.

Fast (always run):
    * every ``notebooks/NN_*.py`` has a paired ``.ipynb`` whose cells match the ``.py`` (sources,
      types and tags; papermill's ``injected-parameters`` cell and all outputs ignored);
    * every written notebook has exactly one ``parameters`` cell and a Colab badge for itself;
    * every ``{glue}`` reference in ``book/*.md`` and in the notebooks' markdown resolves to a
      glued output of a committed ``.ipynb``, with the mime type the reference needs, parsed the
      way myst-nb 1.x parses it (``path::key`` for other documents);
    * every ``{cite}`` key is in ``book/references.bib`` (which has no duplicate keys); every
      notebook and chapter is in ``_toc.yml`` and every ``_toc.yml`` entry exists;
    * the ``pycon`` examples in ``book/*.md`` run and print what the text shows (doctest).

Slow (``-m book``):
    * every notebook executes at the ``smoke`` profile through papermill
      (``tools/execute_notebooks.execute_one``) in a temporary folder, with its runs in a
      temporary ``RUNS_DIR``; per-notebook time limit ``SWA_BOOK_SMOKE_TIMEOUT`` seconds (default
      300); the durations are printed at the end of the session and stored in the pytest cache
      (``pytest --cache-show 'swa_book/*'``);
    * the book builds with ``jupyter-book build <copy> -W -n --keep-going`` from the committed
      notebooks, in a copy under ``tmp_path`` (the repository's ``_build`` is never touched).

Placeholder notebooks (no code cells yet) are paired, listed and executed like the others; the
checks that need a written notebook (parameters cell, Colab badge) skip them.
"""

from __future__ import annotations

import doctest
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

import pytest

jupytext = pytest.importorskip("jupytext")
nbformat = pytest.importorskip("nbformat")
yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"
BOOK_DIR = ROOT / "book"
NOTEBOOKS = sorted(NB_DIR.glob("[0-9][0-9]_*.py"))
CHAPTERS = sorted(BOOK_DIR.glob("*.md"))
SMOKE_TIMEOUT = int(os.environ.get("SWA_BOOK_SMOKE_TIMEOUT", "300"))
BUILD_TIMEOUT = int(os.environ.get("SWA_BOOK_BUILD_TIMEOUT", "600"))


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


# -- reading notebooks ----------------------------------------------------------------------------


def _source_nb(src: Path):
    """The notebook as jupytext reads it from the ``.py`` (the source of truth)."""
    return jupytext.read(src)


def _committed_nb(src: Path):
    return nbformat.read(src.with_suffix(".ipynb"), as_version=4)


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []) or [])


def _is_placeholder(nb) -> bool:
    """A notebook still being written: no code cell yet."""
    return not any(c.cell_type == "code" for c in nb.cells)


def _markdown(nb) -> str:
    return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def _cell_signature(nb) -> list[tuple[str, str, tuple[str, ...]]]:
    """``(type, source, tags)`` of every cell except papermill's injected parameters."""
    out = []
    for c in nb.cells:
        tags = _tags(c)
        if "injected-parameters" in tags:
            continue
        out.append((c.cell_type, c.source.rstrip(), tuple(sorted(tags))))
    return out


def _glued_outputs(nb) -> dict[str, set[str]]:
    """``{key: mime types}`` of the outputs that ``myst_nb.glue`` wrote (``scrapbook.name``)."""
    found: dict[str, set[str]] = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []) or []:
            meta = out.get("metadata", {}) or {}
            name = (meta.get("scrapbook") or {}).get("name")
            if not name:
                continue
            prefix = (meta.get("scrapbook") or {}).get("mime_prefix", "")
            mimes = {
                m[len(prefix) :] if prefix and m.startswith(prefix) else m
                for m in (out.get("data", {}) or {})
            }
            found.setdefault(name, set()).update(mimes)
    return found


# -- parsing MyST the way myst-nb 1.x does for glue ----------------------------------------------


class GlueRef(NamedTuple):
    kind: str  # "role:any", "role:text", "role:md", "directive:figure", ...
    doc: str | None  # the other document's path as written (None: this document)
    key: str
    line: int
    raw: str


_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,}|:{3,})(.*)$")
_ROLE = re.compile(r"\{glue(?::(any|text|md|))?\}`([^`]*)`")
_DIRECTIVE = re.compile(
    r"^[ \t]*(?:`{3,}|~{3,}|:{3,})\{glue(?::(any|figure|math|md|))?\}[ \t]*(\S*)[ \t]*$"
)
_OPTION = re.compile(r"^[ \t]*:([\w-]+):[ \t]*(.*?)[ \t]*$")
_CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]*)`")


def _prose_lines(text: str) -> list[tuple[int, str]]:
    """``(line number, line)`` outside literal code blocks.

    Fences are tracked as a stack: a fence whose info string starts with ``{`` (a directive, such
    as ``{exercise}`` or ``{glue:figure}``) or a colon fence keeps its content; any other fence
    (```` ```python ````, a bare ```` ``` ````) is literal and its content is dropped. A fence
    closes on a bare fence of the same character and at least the same length.
    """
    out: list[tuple[int, str]] = []
    stack: list[tuple[str, int, bool]] = []  # (fence char, length, literal)
    for i, line in enumerate(text.splitlines(), 1):
        m = _FENCE.match(line)
        if m:
            mark, info = m.group(1), m.group(2).strip()
            top = stack[-1] if stack else None
            if top and not info and mark[0] == top[0] and len(mark) >= top[1]:
                stack.pop()
                if not top[2]:
                    out.append((i, line))
                continue
            if not (top and top[2]):  # a fence inside a literal block is just text
                literal = mark[0] != ":" and not info.startswith("{")
                stack.append((mark[0], len(mark), literal))
                if not literal:
                    out.append((i, line))
                continue
        if not any(literal for _, _, literal in stack):
            out.append((i, line))
    return out


def glue_refs(text: str) -> list[GlueRef]:
    """Every glue role and directive in MyST ``text``, with myst-nb 1.x's parsing.

    Roles: ``{glue}``/``{glue:any}`` take ``[path::]key``; ``{glue:text}`` takes
    ``[path::]key[:format]`` and splits the format off at the *last* colon first (so a
    cross-document reference needs a format, ``path::key:s``); ``{glue:md}`` is local only.
    Directives: ``{glue}``/``{glue:any}`` take another document through ``:doc:``;
    ``{glue:figure}``, ``{glue:math}`` and ``{glue:md}`` are local only.
    """
    refs: list[GlueRef] = []
    lines = _prose_lines(text)
    for idx, (lineno, line) in enumerate(lines):
        d = _DIRECTIVE.match(line)
        if d:
            kind = "directive:" + (d.group(1) or "any")
            doc = None
            for _, opt_line in lines[idx + 1 :]:
                o = _OPTION.match(opt_line)
                if not o:
                    break
                if o.group(1) == "doc" and kind == "directive:any":
                    doc = o.group(2)
            refs.append(GlueRef(kind, doc, d.group(2), lineno, line.strip()))
            continue
        for m in _ROLE.finditer(line):
            kind, body = "role:" + (m.group(1) or "any"), m.group(2)
            if kind == "role:text":
                body = body.rsplit(":", 1)[0] if ":" in body else body
            elif kind == "role:md":
                body = body.rsplit(":", 1)[0] if ":" in body else body
                refs.append(GlueRef(kind, None, body, lineno, m.group(0)))
                continue
            doc, _, key = body.partition("::") if "::" in body else (None, "", body)
            refs.append(GlueRef(kind, doc, key, lineno, m.group(0)))
    return refs


def _cite_keys(text: str) -> list[tuple[int, str]]:
    keys = []
    for lineno, line in _prose_lines(text):
        for m in _CITE.finditer(line):
            keys += [(lineno, k.strip()) for k in m.group(1).split(",") if k.strip()]
    return keys


def _bib_keys() -> list[str]:
    return re.findall(
        r"^\s*@\w+\s*\{\s*([^,\s]+)\s*,", (BOOK_DIR / "references.bib").read_text(), flags=re.M
    )


# -- the documents of the book --------------------------------------------------------------------


class Doc(NamedTuple):
    name: str  # e.g. "book/intro.md", "notebooks/01_quickstart"
    path: Path  # the committed file whose glue data the document has (.ipynb) or the .md
    text: str  # its MyST markdown


def _documents() -> list[Doc]:
    docs = [Doc(f"book/{p.name}", p, p.read_text()) for p in CHAPTERS]
    for src in NOTEBOOKS:
        docs.append(
            Doc(f"notebooks/{src.stem}", src.with_suffix(".ipynb"), _markdown(_source_nb(src)))
        )
    return docs


DOCS = _documents()

_MIMES_NEEDED = {
    "role:text": ({"text/plain"}, "text/plain"),
    "directive:figure": ({"image/png", "image/jpeg", "image/svg+xml"}, "image"),
    "directive:math": ({"text/latex"}, "text/latex"),
    "directive:md": ({"text/markdown"}, "text/markdown"),
    "role:md": ({"text/markdown"}, "text/markdown"),
}


def _check_glue(
    doc: Doc, own_outputs: dict[str, set[str]] | None = None, *, cross_document: bool = True
) -> list[str]:
    """Problems with ``doc``'s glue references.

    ``own_outputs``: the document's own glued outputs (default: read from ``doc.path``);
    ``cross_document=False`` skips the references to other documents.
    """
    problems: list[str] = []
    own = own_outputs
    if own is None and doc.path.suffix == ".ipynb" and doc.path.exists():
        own = _glued_outputs(nbformat.read(doc.path, as_version=4))
    refs = glue_refs(doc.text)
    local = sorted({r.key for r in refs if r.doc is None and "::" not in r.raw})
    if doc.path.suffix == ".ipynb" and local and not own:
        # One message instead of one per key: the notebook has not been executed (or synced).
        names = ", ".join(local[:5]) + (", ..." if len(local) > 5 else "")
        problems.append(
            f"{doc.name}: {doc.path.name} has no glued outputs but its text uses "
            f"{len(local)} keys ({names}); execute it: "
            f"tools/execute_notebooks.py --in-place --only {doc.path.stem[:2]}"
        )
        refs = [r for r in refs if r.doc is not None or "::" in r.raw]
    for ref in refs:
        where = f"{doc.name}:{ref.line}: {ref.raw}"
        if ref.kind == "role:text" and ref.doc is None and "::" in ref.raw:
            problems.append(
                f"{where}: a cross-document {{glue:text}} needs a format spec, "
                f"e.g. path::key:s (myst-nb splits the format at the last colon)"
            )
            continue
        if ref.doc is not None and not cross_document:
            continue
        if ref.doc is None:
            if doc.path.suffix != ".ipynb":
                problems.append(
                    f"{where}: a markdown chapter has no glue data of its own; "
                    f"reference a notebook: {{glue:text}}`../notebooks/NN_name.ipynb"
                    f"::{ref.key}:s`"
                )
                continue
            outputs, source = own or {}, doc.path.name
        else:
            target = (
                (ROOT / ref.doc.lstrip("/"))
                if ref.doc.startswith("/")
                else (doc.path.parent / ref.doc)
            )
            target = target.resolve()
            if target.suffix != ".ipynb" or not target.exists():
                problems.append(
                    f"{where}: {ref.doc!r} is not a committed notebook "
                    f"(resolved to {target}); give the .ipynb path relative to "
                    f"this document"
                )
                continue
            outputs, source = _glued_outputs(nbformat.read(target, as_version=4)), target.name
        if ref.key not in outputs:
            glued = sorted(outputs)
            shown = ", ".join(glued[:10]) + (", ..." if len(glued) > 10 else "") or "nothing"
            problems.append(
                f"{where}: key {ref.key!r} is not glued in {source} (glued there: "
                f"{shown}); re-execute the notebook"
            )
            continue
        needed = _MIMES_NEEDED.get(ref.kind)
        if needed and not (outputs[ref.key] & needed[0]):
            hint = (
                " (matplotlib figures glued under MPLBACKEND=Agg have no image: let the "
                "kernel use its inline backend)"
                if ref.kind == "directive:figure"
                else ""
            )
            problems.append(
                f"{where}: glued value {ref.key!r} in {source} has no {needed[1]} "
                f"data (only {sorted(outputs[ref.key])}){hint}"
            )
    return problems


# == fast tests ===================================================================================


@pytest.mark.parametrize("src", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_is_paired_and_in_sync(src: Path):
    ipynb = src.with_suffix(".ipynb")
    assert ipynb.exists(), (
        f"{src.name} has no paired {ipynb.name}: create it with `make sync` "
        f"or tools/execute_notebooks.py"
    )
    want, have = _cell_signature(_source_nb(src)), _cell_signature(_committed_nb(src))
    if want == have:
        return
    for i, (w, h) in enumerate(zip(want, have)):
        if w != h:
            detail = (
                f"first difference at cell {i}: .py has {w[0]} {w[2]} "
                f"{w[1][:120]!r}, .ipynb has {h[0]} {h[2]} {h[1][:120]!r}"
            )
            break
    else:
        detail = f".py has {len(want)} cells, .ipynb has {len(have)}"
    pytest.fail(
        f"{ipynb.name} is out of sync with {src.name}: {detail}. Regenerate the inputs "
        f"with `make sync` and re-execute the notebook."
    )


@pytest.mark.parametrize("src", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_has_one_parameters_cell(src: Path):
    nb = _source_nb(src)
    if _is_placeholder(nb):
        pytest.skip(f"{src.stem} is a placeholder")
    cells = [c for c in nb.cells if "parameters" in _tags(c)]
    assert len(cells) == 1, f"{src.name}: {len(cells)} cells tagged 'parameters', expected 1"
    assert cells[0].cell_type == "code", f"{src.name}: the 'parameters' cell is not a code cell"
    # (the .ipynb has the same cells: test_notebook_is_paired_and_in_sync)


def _colab_prefix() -> str:
    repo = yaml.safe_load((ROOT / "_config.yml").read_text()).get("repository", {})
    url = str(repo.get("url", "")).rstrip("/")
    owner_repo = url.split("github.com/", 1)[-1]
    return (
        f"https://colab.research.google.com/github/{owner_repo}/blob/{repo.get('branch', 'main')}/"
    )


@pytest.mark.parametrize("src", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_has_colab_link_to_itself(src: Path):
    nb = _source_nb(src)
    if _is_placeholder(nb):
        pytest.skip(f"{src.stem} is a placeholder")
    text = _markdown(nb)
    own = f"{_colab_prefix()}notebooks/{src.stem}.ipynb"
    assert own in text, f"{src.name}: no Colab link to {own}"
    links = set(re.findall(r"https://colab\.research\.google\.com/github/[^\s)\]>\"']+", text))
    wrong = sorted(link for link in links if link != own)
    assert not wrong, f"{src.name}: Colab links to other notebooks: {wrong}"


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_glue_references_resolve(doc: Doc):
    problems = _check_glue(doc)
    assert not problems, "\n".join(problems)


def test_citations_are_in_the_bibliography():
    keys = _bib_keys()
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    assert not duplicates, f"book/references.bib: duplicate keys {duplicates}"
    missing = [
        f"{d.name}:{line}: {key}"
        for d in DOCS
        for line, key in _cite_keys(d.text)
        if key not in keys
    ]
    assert not missing, "cited but not in book/references.bib:\n" + "\n".join(missing)


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk({k: v for k, v in toc.items() if k != "root"})
    return [str(Path(f).with_suffix("")) for f in files]


def test_toc_lists_every_page_and_only_existing_ones():
    files = _toc_files()
    missing = [
        f for f in files if not any((ROOT / f).with_suffix(s).exists() for s in (".md", ".ipynb"))
    ]
    assert not missing, f"_toc.yml entries with no .md or .ipynb: {missing}"
    pages = [f"notebooks/{p.stem}" for p in NOTEBOOKS] + [f"book/{p.stem}" for p in CHAPTERS]
    absent = [p for p in pages if p not in files]
    assert not absent, f"not in _toc.yml, so left out of the book (only_build_toc_files): {absent}"


_PYCON = re.compile(r"^([ \t]*)```pycon[ \t]*\n(.*?)^\1```[ \t]*$", re.M | re.S)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=_ids(CHAPTERS))
def test_chapter_examples_run(chapter: Path):
    """The ``pycon`` blocks of a chapter, run in order in one namespace, print what they show."""
    text = chapter.read_text()
    blocks = [
        (
            text.count("\n", 0, m.start()) + 1,
            "\n".join(line[len(m.group(1)) :] for line in m.group(2).splitlines()),
        )
        for m in _PYCON.finditer(text)
    ]
    if not blocks:
        pytest.skip(f"{chapter.name} has no pycon examples")
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    globs: dict[str, Any] = {"__name__": f"book_{chapter.stem}"}
    failures: list[str] = []
    tried = 0
    for lineno, block in blocks:
        test = parser.get_doctest(block, globs, f"{chapter.name}:{lineno}", str(chapter), lineno)
        out: list[str] = []
        result = runner.run(test, out=out.append, clear_globs=False)
        globs.update(test.globs)  # DocTest copies its globals: carry names to the next block
        tried += result.attempted
        if result.failed:
            failures.append("".join(out))
    assert not failures, "\n".join(failures)
    assert tried > 0, f"{chapter.name}: pycon blocks without a single >>> example"


def test_glue_parser_follows_myst_nb():
    text = "\n".join(
        [
            "Local {glue:text}`nb_a` and {glue:text}`nb_b:.2f`, {glue}`nb_c`, "
            "{glue:md}`nb_d:myst`.",
            "Other {glue:text}`../notebooks/01_x.ipynb::nb_e:s` and {glue:any}`01_x.ipynb::nb_f`.",
            "Broken {glue:text}`01_x.ipynb::nb_g` (no format).",
            "```{glue:figure} nb_h",
            ":name: fig-h",
            "",
            "Caption.",
            "```",
            "```{glue} nb_i",
            ":doc: 01_x.ipynb",
            "```",
            ":::{glue:math} nb_j",
            ":::",
            "```python",
            'glue_text("nb_k", "{glue:text}`nb_not_a_ref`")',
            "```",
        ]
    )
    refs = {(r.kind, r.doc, r.key) for r in glue_refs(text)}
    assert refs == {
        ("role:text", None, "nb_a"),
        ("role:text", None, "nb_b"),
        ("role:any", None, "nb_c"),
        ("role:md", None, "nb_d"),
        ("role:text", "../notebooks/01_x.ipynb", "nb_e"),
        ("role:any", "01_x.ipynb", "nb_f"),
        ("role:text", None, "01_x.ipynb:"),
        ("directive:figure", None, "nb_h"),
        ("directive:any", "01_x.ipynb", "nb_i"),
        ("directive:math", None, "nb_j"),
    }
    assert _cite_keys("{cite:p}`a, b` and {cite:t}`c`") == [(1, "a"), (1, "b"), (1, "c")]


# == slow tests: execute every notebook, build the book ===========================================


@pytest.fixture(scope="session")
def smoke_durations(request: pytest.FixtureRequest):
    """Seconds per notebook at the smoke profile; printed and cached at the end of the session."""
    durations: dict[str, float] = {}
    yield durations
    if not durations:
        return
    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    if cache is not None:
        cache.set("swa_book/smoke_durations", durations)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():  # teardown output is captured otherwise
        reporter.write_line("")
        reporter.write_line(
            f"smoke-profile execution ({len(durations)} notebooks, "
            f"{sum(durations.values()):.1f} s):"
        )
        for stem, secs in sorted(durations.items()):
            reporter.write_line(f"  {stem:<28} {secs:7.1f} s")


def _executor():
    spec = importlib.util.spec_from_file_location(
        "execute_notebooks", ROOT / "tools" / "execute_notebooks.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _parameter_names(src: Path) -> set[str]:
    cells = [c for c in _source_nb(src).cells if "parameters" in _tags(c)]
    names: set[str] = set()
    for c in cells:
        names |= set(re.findall(r"^([A-Za-z_]\w*)\s*=", c.source, flags=re.M))
    return names


@pytest.mark.book
@pytest.mark.timeout(SMOKE_TIMEOUT)
@pytest.mark.parametrize("src", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_executes_at_smoke_profile(
    src: Path,
    tmp_path: Path,
    mnist1d_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    smoke_durations: dict[str, float],
    record_property,
):
    executor = _executor()
    # The kernel inherits this environment: one thread, no progress bars, and matplotlib's inline
    # backend (as in a normal kernel) so that glued figures carry their images.
    for var, value in (
        ("OMP_NUM_THREADS", "1"),
        ("MKL_NUM_THREADS", "1"),
        ("SWA_LIB_PROGRESS", "0"),
        ("MPLBACKEND", "module://matplotlib_inline.backend_inline"),
    ):
        monkeypatch.setenv(var, value)
    # Runs (and the generated MNIST-1D) go to temporary folders, unless the profile sets them:
    # the test trains instead of reading the repository's run cache, and leaves no trace.
    knobs = _parameter_names(src)
    smoke = executor.profile_parameters("smoke", src.stem)
    extra = {
        k: str(v)
        for k, v in (("RUNS_DIR", tmp_path / "runs"), ("DATA_DIR", mnist1d_root))
        if k in knobs and k not in smoke
    }
    if extra:
        original = executor.profile_parameters
        monkeypatch.setattr(
            executor,
            "profile_parameters",
            lambda profile, stem: {**original(profile, stem), **extra},
        )
    out_dir = tmp_path / "executed"
    t0 = time.perf_counter()
    executor.execute_one(src, "smoke", out_dir, SMOKE_TIMEOUT)
    secs = time.perf_counter() - t0
    smoke_durations[src.stem] = round(secs, 1)
    record_property("smoke_seconds", round(secs, 1))

    executed = out_dir / f"{src.stem}.ipynb"
    assert executed.exists()
    doc = Doc(f"notebooks/{src.stem} (smoke run)", executed, _markdown(_source_nb(src)))
    # (references to other notebooks are checked on the committed files by the fast test)
    problems = _check_glue(
        doc, _glued_outputs(nbformat.read(executed, as_version=4)), cross_document=False
    )
    assert not problems, "after the smoke run:\n" + "\n".join(problems)


def _jupyter_book() -> str:
    exe = Path(sys.executable).with_name("jupyter-book")
    if exe.exists():
        return str(exe)
    found = shutil.which("jupyter-book")
    if not found:
        pytest.skip("jupyter-book is not installed (pip install -e '.[book]')")
    return found


@pytest.mark.book
@pytest.mark.timeout(BUILD_TIMEOUT)
def test_book_builds_without_warnings(tmp_path: Path):
    jb = _jupyter_book()
    src = tmp_path / "src"
    (src / "notebooks").mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(BOOK_DIR, src / "book")
    for nb in sorted(NB_DIR.glob("*.ipynb")):
        shutil.copy2(nb, src / "notebooks" / nb.name)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [jb, "build", str(src), "-W", "-n", "--keep-going"],
        cwd=src,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
    )
    secs = time.perf_counter() - t0
    log = proc.stdout + proc.stderr
    warnings = [line for line in log.splitlines() if "WARNING" in line or "ERROR" in line]
    shown = "\n".join(warnings or log.splitlines()[-40:])
    assert proc.returncode == 0, (
        f"jupyter-book build failed (exit {proc.returncode}, {secs:.0f} s):\n{shown}"
    )
    assert (src / "_build" / "html" / "index.html").exists()
