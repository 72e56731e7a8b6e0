"""Matplotlib plumbing shared by the report's plots: Agg figures, one palette, PNG as base64.

Figures are built with :class:`matplotlib.figure.Figure` and an Agg canvas directly, never through
``pyplot``, so building a report touches no global plotting state and needs no display.
"""

from __future__ import annotations

import base64
import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

#: One colour per run, in the order the runs are given (colour-blind friendly, Okabe–Ito).
RUN_COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
DPI = 110


def run_color(index: int) -> str:
    """The colour of the ``index``-th run (cycled)."""
    return RUN_COLORS[index % len(RUN_COLORS)]


def new_figure(width: float, height: float) -> Figure:
    """A figure of ``width`` x ``height`` inches on an Agg canvas, with the report's light style."""
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def style_axes(ax) -> None:
    """Light grid, no top/right spines, small ticks."""
    ax.grid(True, color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=8)


def to_png_base64(fig: Figure) -> str:
    """Render ``fig`` as PNG and return it base64-encoded (ASCII), ready for a ``data:`` URI."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white")
    return base64.b64encode(buf.getvalue()).decode("ascii")
