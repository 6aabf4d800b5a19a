"""Interactive 3-D loss surfaces for the HTML book, with a static twin for the PDF and Colab.

:func:`interactive_surface` returns an :class:`InteractiveFigure`: an object that Jupyter (and
``myst_nb.glue``) stores under two MIME types --

* ``text/html``: a plotly surface the reader can rotate and hover (values at each grid point), drawn
  by plotly.js from the book's own ``_static`` folder (``book/_ext/offline_plotly.py``), so it works
  offline; where plotly.js is not loaded (a plain Jupyter or Colab session) the HTML says so and
  points to ``.static``;
* ``image/png``: the matplotlib rendering of :func:`swa_lib.plotting.plot_surface`, which the PDF
  (LaTeX builder) and image-only viewers use.

``plotly`` is an optional dependency (the ``book`` extra); without it the object has the PNG only.
"""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .landscape import plot_surface
from .style import _label

__all__ = ["InteractiveFigure", "interactive_surface"]


class InteractiveFigure:
    """A plotly figure specification (``{"data": ..., "layout": ...}``) with a static twin.

    Attributes:
        spec: the plotly JSON specification (``None`` when plotly is not installed).
        static: the matplotlib :class:`~matplotlib.figure.Figure` (closed; used for PNG output).
        height: pixel height of the interactive view.
    """

    def __init__(self, spec: dict[str, Any] | None, static: Figure, *, height: int = 480):
        self.spec, self.static, self.height = spec, static, height
        buf = io.BytesIO()
        static.savefig(buf, format="png", dpi=72, bbox_inches="tight")  # small: the PDF twin
        self._png = buf.getvalue()
        plt.close(static)

    @property
    def div_id(self) -> str:
        """A stable element id (a hash of the content), so re-executions diff cleanly."""
        spec = json.dumps(self.spec, sort_keys=True, default=str).encode()
        return "swa-plot-" + hashlib.sha256(spec + self._png[:64]).hexdigest()[:12]

    def _repr_png_(self) -> bytes:
        return self._png

    def _repr_html_(self) -> str | None:
        if self.spec is None:
            return None
        uid, spec = self.div_id, json.dumps(self.spec, default=str)
        note = (
            "Interactive figure: drawn by plotly.js, which the book's HTML pages load; in a "
            "notebook without it, display the object's <code>.static</code> figure instead."
        )
        return (
            f'<div id="{uid}" style="width:100%;height:{self.height}px"></div>'
            f'<p id="{uid}-note" style="display:none">{note}</p>'
            f"<script>(function(){{var s={spec};"
            f"if(window.Plotly){{Plotly.newPlot('{uid}',s.data,s.layout,{{responsive:true}});}}"
            f"else{{document.getElementById('{uid}').remove();"
            f"document.getElementById('{uid}-note').style.display='block';}}}})();</script>"
        )

    def __repr__(self) -> str:
        return f"InteractiveFigure({'plotly + png' if self.spec else 'png only'})"


def interactive_surface(
    surface: Any,
    metric: str = "train_loss",
    *,
    log: bool = False,
    title: str | None = None,
    colorscale: str = "Viridis",
    height: int = 480,
    zrange: tuple[float, float] | None = None,
) -> InteractiveFigure:
    """The surface ``surface[metric]`` over its ``(alphas, betas)`` grid, interactive in HTML.

    Args:
        surface: a :class:`swa_lib.landscape.Surface` (values ``(A, B)`` at ``indexing="ij"``).
        metric: the metric to draw; ``log`` draws ``log10`` of it (values floored at 1e-12).
        title: figure title (default: the metric's label).
        colorscale, height: plotly colour scale and the view's pixel height.
        zrange: the vertical axis range (after ``log``), to put several surfaces on one scale.

    Returns:
        An :class:`InteractiveFigure` whose static twin is ``plot_surface(surface, metric)``.
    """
    z = np.asarray(surface[metric], dtype=np.float64)
    if log:
        z = np.log10(np.maximum(z, 1e-12))
    label = ("log10 " if log else "") + _label(metric)
    static = plot_surface(surface, metric, log=log, title=title)
    try:
        import plotly.graph_objects as go
    except ImportError:
        return InteractiveFigure(None, static, height=height)
    fig = go.Figure(
        go.Surface(
            x=np.asarray(surface.alphas),
            y=np.asarray(surface.betas),
            z=z.T,
            colorscale=colorscale,
            colorbar={"title": label},
        )
    )
    fig.update_layout(
        title=title if title is not None else _label(metric),
        height=height,
        margin={"l": 0, "r": 0, "t": 40, "b": 0},
        scene={
            "xaxis": {"title": "alpha"},
            "yaxis": {"title": "beta"},
            "zaxis": {"title": label, **({"range": list(zrange)} if zrange else {})},
        },
    )
    return InteractiveFigure(json.loads(fig.to_json()), static, height=height)
