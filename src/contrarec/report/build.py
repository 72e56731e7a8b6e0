"""Build the HTML report for one or more run directories.

Example:
    >>> from contrarec.report import build_report
    >>> build_report(["runs/quickstart/two-tower", "runs/quickstart/random"], "report.html")  # doctest: +SKIP
"""

from __future__ import annotations

import html
import time
from datetime import datetime, timezone
from pathlib import Path

from contrarec.io import atomic_write_text
from contrarec.report.curves import curves_section
from contrarec.report.deciles import deciles_section
from contrarec.report.document import Section, page_html
from contrarec.report.embedding_map import embedding_section
from contrarec.report.figures import run_color
from contrarec.report.plane import plane_section
from contrarec.report.runs import RunRecord, read_runs
from contrarec.report.tables import comparison_section

PROJECTIONS = ("auto", "pca", "umap")


def overview_section(runs: list[RunRecord]) -> Section:
    """One line per run: colour, name, recipe, data size, path, and what is missing from it."""
    items = []
    for i, r in enumerate(runs):
        recipe = r.final.get("recipe") or r.config.get("recipe") or "unknown recipe"
        data = r.data
        facts = [str(recipe)]
        source = (r.config.get("data") or {}).get("source")
        if source:
            facts.append(str(source))
        if all(isinstance(data.get(k), int) for k in ("users", "items", "train")):
            facts.append(f"{data['users']:,} users × {data['items']:,} items, {data['train']:,} train interactions")
        missing = f' <span style="color:#8a6d00">(missing: {html.escape(", ".join(r.notes))})</span>' if r.notes else ""
        items.append(f'<li><span class="swatch" style="background:{run_color(i)}"></span><b>{html.escape(r.name)}</b>'
                     f" — {html.escape('; '.join(facts))}; "
                     f"<code>{html.escape(str(r.path))}</code>{missing}</li>")
    return Section("runs", "Runs", html=f"<ul>{''.join(items)}</ul>")


def build_report(run_dirs: list[str | Path], out: str | Path, color_by: str | None = None,
                 max_points: int = 5000, projection: str = "auto", title: str | None = None) -> Path:
    """Write one self-contained HTML report comparing ``run_dirs``; returns its path.

    Args:
        run_dirs: run directories (see :mod:`contrarec.train.run` for the layout); any optional file may be
            missing, and the report then says so instead of failing.
        out: the HTML file to write (atomically).
        color_by: item feature that colours the embedding map (default: log popularity).
        max_points: items drawn per embedding map at most.
        projection: ``auto`` (PCA, plus UMAP when installed), ``pca`` or ``umap``.
        title: page title (default: "contrarec report: <run names>").

    Raises:
        FileNotFoundError: a run directory does not exist.
        ValueError: no run directories, a bad ``projection`` or ``max_points``.
    """
    if projection not in PROJECTIONS:
        raise ValueError(f"projection {projection!r}: expected one of {', '.join(PROJECTIONS)}")
    if max_points < 10:
        raise ValueError(f"max_points={max_points}: expected at least 10")
    began = time.perf_counter()
    runs = read_runs(run_dirs)
    sections = [overview_section(runs), comparison_section(runs), curves_section(runs), plane_section(runs),
                deciles_section(runs),
                embedding_section(runs, color_by=color_by, max_points=max_points, projection=projection)]
    title = title or "contrarec report: " + ", ".join(r.name for r in runs)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    subtitle = f"{len(runs)} run{'s' if len(runs) != 1 else ''} · built {stamp} in {time.perf_counter() - began:.1f} s"
    return atomic_write_text(out, page_html(title, subtitle, sections))
