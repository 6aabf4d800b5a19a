"""Serve plotly.js from the book itself, so interactive figures work without a network.

Notebooks glue interactive figures as a plotly ``<div>`` made with ``include_plotlyjs=False``
(``swa_lib.plotting.interactive``), so the page must load plotly.js once. This extension copies
the ``plotly.min.js`` bundled in the ``plotly`` package (a ``book`` extra) into ``_static`` and
adds it to every HTML page. Without the package nothing changes (the divs then stay empty, and the
PDF, which uses the figures' PNG form, is unaffected).
"""

from __future__ import annotations

import shutil
from pathlib import Path

BUNDLE = "plotly.min.js"


def _bundle() -> Path | None:
    try:
        import plotly
    except ImportError:
        return None
    path = Path(plotly.__file__).parent / "package_data" / BUNDLE
    return path if path.is_file() else None


def _add_js(app, config) -> None:
    if _bundle() is not None:
        config.html_js_files = [*getattr(config, "html_js_files", []), BUNDLE]


def _copy(app, exception) -> None:
    bundle = _bundle()
    if exception is None and bundle is not None and app.builder.format == "html":
        target = Path(app.outdir) / "_static" / BUNDLE
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(bundle, target)


def setup(app):
    app.connect("config-inited", _add_js)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
