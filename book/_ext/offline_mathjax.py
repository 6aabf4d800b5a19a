"""Serve MathJax from the book itself, so formulas render without a network.

Jupyter Book loads MathJax 3 from a CDN; a reader offline (or the headless-browser check in CI-like
sandboxes) then sees raw TeX. When the ``jupyter-server-mathjax`` package (a ``book`` extra; it
ships MathJax 2.7 with its TeX-AMS-MML_HTMLorMML-full configuration) is installed, this extension copies its files into
``_static/mathjax`` and points ``mathjax_path`` there. Without the package nothing changes.
"""

from __future__ import annotations

import shutil
from pathlib import Path


def _static_dir() -> Path | None:
    try:
        import jupyter_server_mathjax
    except ImportError:
        return None
    static = Path(jupyter_server_mathjax.__file__).parent / "static"
    return static if (static / "MathJax.js").is_file() else None


def _configure(app, config) -> None:
    if _static_dir() is not None:
        config.mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
        # Sphinx marks pages "tex2jax_ignore" and the math itself "math": tell MathJax 2 so.
        config.mathjax2_config = {"tex2jax": {
            "inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]],
            "processRefs": False, "processEnvironments": False,
            "ignoreClass": "tex2jax_ignore|mathjax_ignore",
            "processClass": "tex2jax_process|mathjax_process|math|output_area",
        }, "HTML-CSS": {"availableFonts": [], "preferredFont": None, "webFont": "STIX-Web",
                        "imageFont": None}}  # the package ships the STIX web fonts only


def _copy(app, exception) -> None:
    static = _static_dir()
    if exception is None and static is not None and app.builder.format == "html":
        target = Path(app.outdir) / "_static" / "mathjax"
        if not (target / "MathJax.js").is_file():
            shutil.copytree(static, target, dirs_exist_ok=True)


def setup(app):
    app.connect("config-inited", _configure)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
