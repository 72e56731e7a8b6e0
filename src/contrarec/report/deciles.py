"""Recall@20 by item-popularity decile, runs side by side: who serves the long tail."""

from __future__ import annotations

import re

import numpy as np

from contrarec.report.document import Image, Section
from contrarec.report.figures import new_figure, run_color, style_axes, to_png_base64
from contrarec.report.runs import RunRecord, headline_key

LOG_SPREAD = 100.0
DECILE = re.compile(r"^(?P<metric>[a-z_]+@\d+)_decile(?P<d>\d+)$")


def decile_values(test: dict[str, float], metric: str) -> dict[int, float]:
    """``{decile: value}`` of ``metric`` (e.g. ``recall@20``) from flat test metrics."""
    out = {}
    for key, value in test.items():
        m = DECILE.match(key)
        if m and m["metric"] == metric:
            out[int(m["d"])] = value
    return out


def deciles_section(runs: list[RunRecord]) -> Section:
    """The popularity-decile section (deciles as :mod:`contrarec.evaluate.longtail` numbers them)."""
    section = Section("popularity-deciles", "Recall@20 by item popularity",
                      "The catalogue is cut into ten equal-sized groups of items by training popularity (decile 0 = "
                      "the most popular tenth). Each bar is Recall@20 counting only the test items of that decile, "
                      "averaged over the users who have test items there: bars on the right show who serves the "
                      "long tail.")
    metric = headline_key({k for r in runs for k in r.test})
    per_run = {r.name: decile_values(r.test, metric) if metric else {} for r in runs}
    section.notes += [f"{name}: no per-decile {metric or 'recall'} in final.json." for name, v in per_run.items()
                      if not v]
    shown = [(i, r) for i, r in enumerate(runs) if per_run[r.name]]
    if not shown:
        return section
    deciles = sorted({d for v in per_run.values() for d in v})
    fig = new_figure(9.0, 3.2)
    ax = fig.subplots()
    width = 0.8 / len(shown)
    x = np.arange(len(deciles))
    for j, (i, run) in enumerate(shown):
        ys = [per_run[run.name].get(d, np.nan) for d in deciles]
        ax.bar(x + (j - (len(shown) - 1) / 2) * width, ys, width=width * 0.95, color=run_color(i), label=run.name)
    positive = [v for v in (val for vals in per_run.values() for val in vals.values()) if v > 0]
    log_scale = bool(positive) and max(positive) / min(positive) > LOG_SPREAD
    if log_scale:  # tail deciles are often orders of magnitude below the head: keep them visible
        ax.set_yscale("log")
        section.notes.append("The y axis is logarithmic (values span more than two orders of magnitude); "
                             "a missing bar is a recall of 0.")
    ax.set_xticks(x, [str(d) for d in deciles])
    ax.set_xlabel("item popularity decile  (0 = most popular tenth of items … 9 = least popular)", fontsize=9)
    ax.set_ylabel(metric + (" (log scale)" if log_scale else ""), fontsize=9)
    ax.legend(fontsize=9, frameon=False, ncols=min(len(shown), 4))
    style_axes(ax)
    section.images.append(Image(to_png_base64(fig), f"{metric} by popularity decile"))
    return section
