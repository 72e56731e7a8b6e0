"""A 2-D map of item embeddings (PCA; UMAP too when ``umap`` is installed), coloured by popularity or a feature.

Large catalogues are sampled to ``max_points`` items (a fixed seed, so the same items every time), which keeps
the projection and the drawing to a second or two whatever the catalogue size.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.lines import Line2D

from contrarec.report.document import Image, Section
from contrarec.report.figures import new_figure, to_png_base64
from contrarec.report.item_view import ItemView, SplitCache, load_item_view
from contrarec.report.runs import RunRecord

MAX_MAPS = 6
CATEGORY_COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#8C564B",
                   "#17BECF"]
UMAP_MAX_POINTS = 3000


def sample_items(num_items: int, max_points: int, seed: int = 0) -> np.ndarray:
    """``[n]`` sorted item indices: all items, or ``max_points`` drawn without replacement under ``seed``."""
    if num_items <= max_points:
        return np.arange(num_items)
    return np.sort(np.random.default_rng(seed).choice(num_items, size=max_points, replace=False))


def pca_2d(emb: np.ndarray) -> tuple[np.ndarray, float]:
    """``[n, D]`` -> ``[n, 2]`` principal-component coordinates and the share of variance they explain."""
    centred = emb - emb.mean(axis=0, keepdims=True)  # [n, D]
    _, s, vt = np.linalg.svd(centred, full_matrices=False)  # s [min(n, D)], vt [min(n, D), D]
    coords = centred @ vt[:2].T  # [n, D] @ [D, 2] -> [n, 2]
    total = float((s ** 2).sum())
    return coords, (float((s[:2] ** 2).sum()) / total if total > 0 else 0.0)


def umap_2d(emb: np.ndarray, seed: int = 0) -> np.ndarray:
    """``[n, D]`` -> ``[n, 2]`` UMAP coordinates (cosine metric)."""
    import umap

    return umap.UMAP(n_components=2, metric="cosine", random_state=seed).fit_transform(emb)


def umap_available() -> bool:
    """True when the ``umap`` package can be imported."""
    return importlib.util.find_spec("umap") is not None


@dataclass
class Coloring:
    """Colour values for the mapped items: continuous ``values`` or category ``codes`` with their names."""

    label: str
    values: np.ndarray | None = None
    codes: np.ndarray | None = None
    names: list[str] | None = None


def coloring(view: ItemView, idx: np.ndarray, color_by: str | None) -> tuple[Coloring, str | None]:
    """The colouring of items ``idx`` by feature ``color_by`` (or log popularity), and a note if it fell back."""
    table = view.features
    if color_by and color_by != "popularity":
        if table is not None and color_by in table.numeric:
            return Coloring(color_by, values=np.asarray(table.numeric[color_by], dtype=float)[idx]), None
        if table is not None and (color_by in table.categorical or color_by in table.multi_valued):
            codes = table.categorical.get(color_by)
            if codes is None:
                codes = table.multi_valued[color_by][:, 0]  # first value of a multi-valued column
            vocab = table.vocabularies.get(color_by)
            names = [str(v) if str(v) else "missing" for v in vocab] if vocab is not None else None
            return Coloring(color_by, codes=np.asarray(codes)[idx], names=names), None
        have = ", ".join(table.names) if table is not None else "none"
        note = f"no item feature '{color_by}' (item features: {have}); coloured by popularity instead"
    else:
        note = None
    return Coloring("log10(1 + train popularity)", values=np.log10(1.0 + view.popularity[idx])), note


def _top_categories(panels: list[tuple[str, np.ndarray, Coloring]]) -> list[int]:
    codes = np.concatenate([c.codes for _, _, c in panels if c.codes is not None])
    counts = np.bincount(codes)
    return [int(c) for c in np.argsort(-counts, kind="stable") if counts[c] > 0][:len(CATEGORY_COLORS)]


def _category_handles(panels: list[tuple[str, np.ndarray, Coloring]], top: list[int]) -> list[Line2D]:
    col = next(c for _, _, c in panels if c.codes is not None)
    handles = [Line2D([], [], marker="o", linestyle="", color=color,
                      label=col.names[code] if col.names is not None and code < len(col.names) else str(code))
               for color, code in zip(CATEGORY_COLORS, top)]
    if any(np.isin(c.codes, top, invert=True).any() for _, _, c in panels if c.codes is not None):
        handles.append(Line2D([], [], marker="o", linestyle="", color="#c8c8c8", label="other"))
    return handles


def _draw_panel(ax, xy: np.ndarray, col: Coloring, norm: Normalize | None, top: list[int]) -> None:
    size = min(14.0, max(3.0, 8000.0 / max(len(xy), 1)))  # bigger dots for small samples
    if col.values is not None:
        order = np.argsort(col.values, kind="stable")  # popular items drawn last, on top
        ax.scatter(xy[order, 0], xy[order, 1], c=col.values[order], cmap="viridis", norm=norm, s=size,
                   edgecolors="none", alpha=0.85)
        return
    other = ~np.isin(col.codes, top)
    ax.scatter(xy[other, 0], xy[other, 1], s=size, c="#c8c8c8", edgecolors="none", alpha=0.6)
    for color, code in zip(CATEGORY_COLORS, top):
        sel = col.codes == code
        ax.scatter(xy[sel, 0], xy[sel, 1], s=size, c=color, edgecolors="none", alpha=0.8)


def map_figure(panels: list[tuple[str, np.ndarray, Coloring]]):
    """One scatter panel per ``(title, [n, 2] coords, colouring)``, sharing one colour scale or legend."""
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig = new_figure(4.0 * cols + 1.2, 3.5 * rows)
    axes = fig.subplots(rows, cols, squeeze=False)
    continuous = [c.values for _, _, c in panels if c.values is not None]
    norm = None
    if continuous:
        lo = min(float(np.nanmin(v)) for v in continuous)
        norm = Normalize(lo, max(max(float(np.nanmax(v)) for v in continuous), lo + 1e-9))
    top = _top_categories(panels) if any(c.codes is not None for _, _, c in panels) else []
    for ax, (title, xy, col) in zip(axes.flat, panels):
        _draw_panel(ax, xy, col, norm, top)
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_color("#d0d0d0")
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    if norm is not None:
        fig.colorbar(ScalarMappable(norm=norm, cmap="viridis"), ax=axes, shrink=0.8,
                     label=next(c.label for _, _, c in panels if c.values is not None))
    if top:
        fig.legend(handles=_category_handles(panels, top), loc="outside right center", fontsize=8, frameon=False,
                   title=next(c.label for _, _, c in panels if c.codes is not None))
    return fig


def _panels_for(name: str, view: ItemView, color_by: str | None, max_points: int, use_umap: bool,
                notes: list[str]) -> list[tuple[str, np.ndarray, Coloring]]:
    n, dim = view.embeddings.shape
    if dim < 2:
        notes.append(f"{name}: item embeddings are {dim}-dimensional, so there is no 2-D map.")
        return []
    idx = sample_items(n, max_points)
    col, note = coloring(view, idx, color_by)
    if note:
        notes.append(f"{name}: {note}.")
    emb = view.embeddings[idx]  # [n', D]
    xy, explained = pca_2d(emb)
    shown = f"{len(idx):,} of {n:,} items" if len(idx) < n else f"{n:,} items"
    panels = [(f"{name}: PCA ({explained:.0%} of variance), {shown}", xy, col)]
    if use_umap:
        sub = np.arange(min(len(idx), UMAP_MAX_POINTS))
        sub_col = Coloring(col.label, None if col.values is None else col.values[sub],
                           None if col.codes is None else col.codes[sub], col.names)
        panels.append((f"{name}: UMAP, {len(sub):,} items", umap_2d(emb[sub]), sub_col))
    return panels


def embedding_section(runs: list[RunRecord], color_by: str | None = None, max_points: int = 5000,
                      projection: str = "auto", cache: SplitCache | None = None) -> Section:
    """The item-embedding map section: one panel per run with a checkpoint (at most :data:`MAX_MAPS`).

    Args:
        runs: the runs.
        color_by: an item feature name, or None / ``"popularity"`` for log popularity.
        max_points: items drawn per map at most (sampled with a fixed seed).
        projection: ``"pca"``, ``"umap"`` (PCA + UMAP; an error note if umap is missing) or ``"auto"``
            (PCA, plus UMAP when installed).
        cache: reuse loaded splits across calls.
    """
    use_umap = projection == "umap" or (projection == "auto" and umap_available())
    what = f"item feature '{color_by}'" if color_by and color_by != "popularity" else "log training popularity"
    section = Section("embedding-map", "Item embedding map",
                      f"Item embeddings of each run's selected checkpoint projected to 2-D, coloured by {what}.")
    if use_umap and not umap_available():
        section.notes.append("UMAP asked for but the umap package is not installed (pip install umap-learn); "
                             "PCA only.")
        use_umap = False
    cache = cache or SplitCache()
    panels = []
    for run in runs:
        if run.checkpoint is None:
            section.notes.append(f"{run.name}: no checkpoint, so no embedding map.")
            continue
        if len(panels) >= MAX_MAPS * (2 if use_umap else 1):
            section.notes.append(f"{run.name}: not mapped (at most {MAX_MAPS} runs per report).")
            continue
        try:
            view = load_item_view(run, cache)
        except Exception as exc:  # a report must not fail on one run's model: say why instead
            section.notes.append(f"{run.name}: could not reload the model ({type(exc).__name__}: {exc}).")
            continue
        panels += _panels_for(run.name, view, color_by, max_points, use_umap, section.notes)
    if panels:
        section.images.append(Image(to_png_base64(map_figure(panels)), "item embedding map"))
    return section
