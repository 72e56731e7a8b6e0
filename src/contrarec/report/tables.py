"""The comparison tables: final test metrics (best in bold) and the config keys that differ."""

from __future__ import annotations

import html
import json

import yaml

from contrarec.report.document import Section
from contrarec.report.runs import RunRecord, differing_keys, flatten, headline_key, main_metric_keys

METRIC_ORDER = ("recall", "ndcg", "hit", "precision", "mrr", "map")


def metric_columns(runs: list[RunRecord]) -> list[str]:
    """Final-metric columns: whole-catalogue metrics, then head/tail of the headline, coverage, tail share."""
    keys: list[str] = []
    for r in runs:
        keys.extend(k for k in r.test if k not in keys)
    main = main_metric_keys(keys)
    main.sort(key=lambda k: (METRIC_ORDER.index(k.split("@")[0]) if k.split("@")[0] in METRIC_ORDER else 99,
                             int(k.split("@")[1])))
    head = headline_key(set(keys))
    slices = [f"{head}_{s}" for s in ("head", "tail") if head and f"{head}_{s}" in keys]
    extra = [k for k in keys if k.startswith(("coverage@", "tail_share@")) and "_decile" not in k]
    return main + slices + extra


def _fmt_config(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return _fmt(value)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1000 else f"{value:.0f}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return "–" if value is None else str(value)


def metrics_table_html(runs: list[RunRecord], columns: list[str]) -> str:
    """Runs as rows, metrics as columns; the largest value of each metric column in bold."""
    info = ["best_epoch", "epochs_run", "wall_s"]
    best = {c: max((r.test[c] for r in runs if c in r.test), default=None) for c in columns}
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["run", "recipe", *columns, *info])
    rows = []
    for r in runs:
        cells = [html.escape(r.name), html.escape(str(r.final.get("recipe") or r.config.get("recipe") or "–"))]
        for c in columns:
            v = r.test.get(c)
            text = _fmt(v)
            cells.append(f"<b>{text}</b>" if v is not None and len(runs) > 1 and v == best[c] else text)
        wall = r.final.get("wall_s")
        cells += [html.escape(_fmt(r.final.get(k))) for k in info[:2]]
        cells.append(f"{wall:.1f}" if isinstance(wall, (int, float)) else "–")
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def config_table_html(runs: list[RunRecord]) -> tuple[str, list[str]]:
    """Config keys that differ between the runs (rows) by run (columns), and notes."""
    flat = [flatten(r.config) for r in runs]
    keys = differing_keys([f for f, r in zip(flat, runs) if r.config])
    notes = []
    if len(runs) == 1:
        notes.append("One run: nothing to compare; its full config is below.")
    elif not keys:
        notes.append("The runs' configs are identical.")
    if not keys:
        return "", notes
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["config key", *(r.name for r in runs)])
    body = "".join("<tr>" + f"<td>{html.escape(k)}</td>"
                   + "".join(f"<td>{html.escape(_fmt_config(f.get(k)) if r.config else '–')}</td>" for f, r in zip(flat, runs))
                   + "</tr>" for k in keys)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>", notes


def full_configs_html(runs: list[RunRecord]) -> str:
    """Each run's whole config, collapsed."""
    out = []
    for r in runs:
        if r.config:
            text = yaml.safe_dump(r.config, sort_keys=False)
            out.append(f"<details><summary>{html.escape(r.name)}: full config ({html.escape(str(r.path))})</summary>"
                       f"<pre>{html.escape(text)}</pre></details>")
    return "".join(out)


def comparison_section(runs: list[RunRecord]) -> Section:
    """Final test metrics and config differences."""
    section = Section("comparison", "Runs compared",
                      "Test metrics of each run's selected checkpoint (the highest value of each metric in bold), "
                      "then the config keys whose values differ between runs.")
    columns = metric_columns(runs)
    section.notes += [f"{r.name}: no final.json (run unfinished?), so no test metrics." for r in runs if not r.final]
    parts = []
    if columns:
        parts.append(metrics_table_html(runs, columns))
    elif all(r.final for r in runs):
        section.notes.append("No run has final test metrics.")
    for r in runs:
        picked = r.final.get("test_picked")
        head = headline_key(set(picked or {}))
        if isinstance(picked, dict) and head:
            section.notes.append(f"{r.name}: {head} {picked[head]:.4f} at epoch {picked.get('epoch')} when the epoch "
                                 "is chosen on the test set (paper protocol; not comparable to the table).")
    table, notes = config_table_html(runs)
    parts.append(table)
    section.notes += notes
    parts.append(full_configs_html(runs))
    section.html = "\n".join(p for p in parts if p)
    return section
