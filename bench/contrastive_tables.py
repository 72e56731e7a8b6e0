"""Markdown tables of the contrastive benchmarks, from ``bench/results/contrastive_*.jsonl`` (for the README).

Usage::

    python bench/contrastive_tables.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import RESULTS  # noqa: E402

ANCHORS = {"yelp2018": "SimpleX 0.0701 · YoutubeDNN 0.0686 · DirectAU 0.0695 · MF-BPR 0.0576",
           "gowalla": "SimpleX 0.1872 · MF-CCL 0.1837 · YoutubeDNN 0.1754 · MF-BPR 0.1627"}


def rows(name: str) -> list[dict]:
    path = RESULTS / f"{name}.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


def fmt(v: object, digits: int = 4) -> str:
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def towers() -> None:
    print("| dataset | recipe | tag | batch | epochs | Recall@20 | NDCG@20 | s/epoch | published ID-only anchors |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows("contrastive_towers"):
        m, t = r["metrics"], r["params"].get("train", {})
        print(f"| {r['dataset']} | {r['recipe']} | {r['params'].get('tag')} | {t.get('batch_size')} | {r['epochs']} | "
              f"{fmt(m.get('recall@20'))} | {fmt(m.get('ndcg@20'))} | {r['sec_per_epoch']} | {ANCHORS[r['dataset']]} |")


def longtail() -> None:
    print("| dataset | variant | seeds | Recall@20 | tail R@20 | head R@20 | coverage@20 | tail share | Δ R@20 | Δ tail |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows("contrastive_longtail_summary"):
        m, p = r["metrics"], r["params"]
        extra = {k: v for k, v in p["model"].items() if k in ("item_ssl_weight", "user_ssl_weight", "masking")}

        def ms(k: str) -> str:
            return f"{m[k + '_mean']:.4f} ± {m[k + '_std']:.4f}"

        def rel(k: str) -> str:
            return f"{100 * m[k]:+.1f}%" if k in m else "–"

        print(f"| {r['dataset']} | {p['variant']} {extra or ''} | {len(p['seeds'])} | {ms('recall@20')} | "
              f"{ms('recall@20_tail')} | {ms('recall@20_head')} | {ms('coverage@20')} | {ms('tail_share@20')} | "
              f"{rel('recall@20_rel_change')} | {rel('recall@20_tail_rel_change')} |")


def temperature() -> None:
    print("| normalize | τ | epochs | Recall@20 | NDCG@20 | alignment | uniformity |")
    print("|---|---|---|---|---|---|---|")
    for r in sorted(rows("contrastive_temperature"), key=lambda r: (not r.get("normalize"), r.get("temperature"))):
        m = r["metrics"]
        if "diverged" in m:
            print(f"| {r.get('normalize')} | {r.get('temperature')} | – | diverged | | | |")
            continue
        print(f"| {r.get('normalize')} | {r.get('temperature')} | {r['epochs']} | {fmt(m.get('recall@20'))} | "
              f"{fmt(m.get('ndcg@20'))} | {fmt(m.get('diag_alignment'), 3)} | {fmt(m.get('diag_uniformity'), 3)} |")


if __name__ == "__main__":
    for title, fn in (("Towers", towers), ("Long tail", longtail), ("Temperature", temperature)):
        print(f"\n### {title}\n")
        fn()
