"""Training curves: each loss term and each validation metric per epoch, one line per run."""

from __future__ import annotations

import math

from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from contrarec.report.document import Image, Section
from contrarec.report.figures import new_figure, run_color, style_axes, to_png_base64
from contrarec.report.runs import RunRecord, main_metric_keys

PANEL_W, PANEL_H, MAX_COLS = 3.3, 2.2, 4


def _union(lists: list[list[str]]) -> list[str]:
    out: list[str] = []
    for keys in lists:
        out.extend(k for k in keys if k not in out)
    return out


def _eval_part(runs: list[RunRecord]) -> str | None:
    """``"valid"`` when any run validated, else ``"test"`` when any run scored test per epoch, else None."""
    for part in ("valid", "test"):
        if any(isinstance(r.get(part), dict) and r[part] for run in runs for r in run.epochs):
            return part
    return None


def _panels(runs: list[RunRecord]) -> list[tuple[str, str, str]]:
    """``(title, field, key)`` per panel: loss terms (total first), then the evaluation metrics."""
    trained = [r for r in runs if r.trained]
    terms = _union([list(row.get("loss", {})) for run in trained for row in run.epochs])
    terms = [t for t in terms if t == "total"] + [t for t in terms if t != "total"]
    panels = [(f"loss: {t}", "loss", t) for t in terms]
    part = _eval_part(runs)
    if part:
        keys = _union([main_metric_keys(list(row.get(part) or {})) for run in runs for row in run.epochs])
        panels += [(f"{part} {k}", part, k) for k in keys]
    return panels


def curves_section(runs: list[RunRecord]) -> Section:
    """The training-curves section (a note instead of a plot when no run has per-epoch metrics)."""
    section = Section("curves", "Training curves",
                      "Mean loss per epoch for each loss term, and the per-epoch evaluation metrics; a ring marks "
                      "each run's selected (best) epoch.")
    section.notes += [f"{r.name}: nothing to train (no loss curve)." for r in runs if r.epochs and not r.trained]
    section.notes += [f"{r.name}: no metrics.jsonl, so no curves." for r in runs if not r.epochs]
    part = _eval_part(runs)
    if part is None:
        section.notes.append("No run has per-epoch evaluation metrics (no validation split): only losses shown.")
    elif part == "test":
        section.notes.append("No run has a validation split: the metric curves show the test split per epoch.")
    else:
        section.notes += [f"{r.name}: no validation metrics per epoch." for r in runs
                          if r.epochs and not any(row.get("valid") for row in r.epochs)]
    panels = _panels(runs)
    if not panels:
        return section
    cols = min(MAX_COLS, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig = new_figure(PANEL_W * cols, PANEL_H * rows + 0.5)
    axes = fig.subplots(rows, cols, squeeze=False)
    plotted: set[int] = set()
    for ax, (title, part_name, key) in zip(axes.flat, panels):
        for i, run in enumerate(runs):
            pts = [(row["epoch"], row[part_name][key]) for row in run.epochs
                   if isinstance(row.get(part_name), dict) and isinstance(row[part_name].get(key), (int, float))]
            if part_name == "loss" and not run.trained:
                continue
            if pts:
                xs, ys = zip(*pts)
                plotted.add(i)
                ax.plot(xs, ys, marker="o", markersize=3, linewidth=1.6, color=run_color(i), label=run.name)
                best = run.final.get("best_epoch")
                if part_name != "loss" and best in xs:
                    ax.plot([best], [ys[xs.index(best)]], marker="o", markersize=9, markerfacecolor="none",
                            markeredgecolor=run_color(i), markeredgewidth=1.5, linestyle="")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        style_axes(ax)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    handles = [Line2D([], [], color=run_color(i), marker="o", markersize=3, label=runs[i].name)
               for i in sorted(plotted)]
    if handles:
        fig.legend(handles=handles, loc="outside upper center", ncols=min(len(handles), 6), fontsize=9,
                   frameon=False)
    section.images.append(Image(to_png_base64(fig), "training curves"))
    return section
