"""The alignment–uniformity plane (Wang & Isola, ICML 2020, Fig. 5): one trail of epochs per run.

Alignment is the mean squared distance between the normalised embeddings of positive (user, item) pairs,
uniformity the log mean Gaussian potential between random pairs; lower is better for both, so the best
representations sit at the bottom left. Each dot is an epoch, coloured by that epoch's Recall@20.
"""

from __future__ import annotations

import math

from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize

from contrarec.report.document import Image, Section
from contrarec.report.figures import new_figure, run_color, style_axes, to_png_base64
from contrarec.report.runs import RunRecord, headline_key, numeric_items

CMAP = "viridis"


def diagnostic_keys(diag: dict) -> tuple[str, str] | None:
    """The ``(alignment, uniformity)`` key names in a diagnostics dict: exact names first, else by substring."""
    def find(word: str) -> str | None:
        return word if word in diag else next((k for k in diag if word in k.lower()), None)

    align, uniform = find("alignment"), find("uniformity")
    return (align, uniform) if align and uniform else None


def trail(run: RunRecord) -> list[tuple[int, float, float, float | None]]:
    """``(epoch, uniformity, alignment, recall)`` for every epoch with diagnostics (recall may be None)."""
    out = []
    for row in run.epochs:
        diag = numeric_items(row.get("diagnostics"))
        keys = diagnostic_keys(diag)
        if keys is None:
            continue
        metrics = numeric_items(row.get("valid")) or numeric_items(row.get("test"))
        key = headline_key(set(metrics))
        out.append((row["epoch"], diag[keys[1]], diag[keys[0]], metrics.get(key) if key else None))
    return out


def _final_point(run: RunRecord, points: list[tuple]) -> tuple:
    best = run.final.get("best_epoch")
    return next((p for p in points if p[0] == best), points[-1])


def plane_section(runs: list[RunRecord]) -> Section:
    """The alignment–uniformity section (a note for runs without diagnostics)."""
    section = Section("alignment-uniformity", "Alignment and uniformity",
                      "Each dot is an epoch, the large marker the selected (best) epoch; colour is that epoch's "
                      "Recall@20 (validation, else test). Lower is better on both axes: bottom left is best.")
    trails = {r.name: trail(r) for r in runs}
    section.notes += [f"{name}: no alignment/uniformity diagnostics recorded." for name, t in trails.items() if not t]
    values = [p[3] for t in trails.values() for p in t if p[3] is not None]
    if not any(trails.values()):
        return section
    norm = Normalize(min(values), max(max(values), min(values) + 1e-9)) if values else None
    fig = new_figure(6.4, 4.2)
    ax = fig.subplots()
    labels: list[tuple[str, float, float, str]] = []
    for i, run in enumerate(runs):
        points = trails[run.name]
        if not points:
            continue
        xs, ys = [p[1] for p in points], [p[2] for p in points]
        ax.plot(xs, ys, color=run_color(i), linewidth=1.0, alpha=0.6, zorder=1)
        colored = [p for p in points if p[3] is not None and norm is not None]
        if colored:
            ax.scatter([p[1] for p in colored], [p[2] for p in colored], c=[p[3] for p in colored], cmap=CMAP,
                       norm=norm, s=22, zorder=2, edgecolors="none")
        blank = [p for p in points if p[3] is None or norm is None]
        if blank:
            ax.scatter([p[1] for p in blank], [p[2] for p in blank], s=22, facecolors="none", edgecolors="grey",
                       zorder=2)
        fx = _final_point(run, points)
        face = "lightgrey" if fx[3] is None or norm is None else None
        ax.scatter([fx[1]], [fx[2]], s=140, c=[fx[3]] if face is None else face, cmap=CMAP if face is None else None,
                   norm=norm if face is None else None, edgecolors=run_color(i), linewidths=2.2, zorder=3)
        labels.append((run.name, fx[1], fx[2], run_color(i)))
    if norm is not None:
        fig.colorbar(ScalarMappable(norm=norm, cmap=CMAP), ax=ax, label="Recall@20", shrink=0.85)
    else:
        section.notes.append("No Recall@20 per epoch to colour by: dots are hollow.")
    ax.set_xlabel("uniformity  (lower = more uniform)")
    ax.set_ylabel("alignment  (lower = better aligned)")
    ax.margins(0.08)
    _pad_limits(ax)
    _label_runs(ax, labels)
    style_axes(ax)
    section.images.append(Image(to_png_base64(fig), "alignment-uniformity plane"))
    return section


def _label_runs(ax, labels: list[tuple[str, float, float, str]]) -> None:
    """Name each run's selected point, with the text on the side facing the middle so it stays inside the axes."""
    lo, hi = ax.get_xlim()
    for name, x, y, color in labels:
        right_half = x > (lo + hi) / 2
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(-9 if right_half else 9, 7), fontsize=9,
                    ha="right" if right_half else "left", color=color, fontweight="bold", zorder=4)


def _pad_limits(ax) -> None:
    """Give degenerate (single-value) axes a visible range."""
    for get, set_ in ((ax.get_xlim, ax.set_xlim), (ax.get_ylim, ax.set_ylim)):
        lo, hi = get()
        if not math.isfinite(lo) or not math.isfinite(hi) or hi - lo < 1e-9:
            set_(lo - 0.5, hi + 0.5)
