"""The command line: thin wrappers that parse into typed config and call library functions."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from contrarec.config import ConfigError
from contrarec.data.errors import DataError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="contrarec: contrastive recall and pre-ranking models for recommender systems.")
data_app = typer.Typer(no_args_is_help=True, help="Inspect and fetch datasets.")
app.add_typer(data_app, name="data")
console = Console()
err_console = Console(stderr=True)


def _fail(message: str, code: int = 2) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)  # [a, b] is text, not markup
    raise typer.Exit(code)


def _guard(fn):
    """Turn expected errors (bad data, bad config, unknown ids) into one clear line and exit code 2."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (DataError, ConfigError, FileNotFoundError) as exc:
            _fail(str(exc))
        except KeyError as exc:
            _fail(exc.args[0] if exc.args else str(exc))

    return wrapper


def metrics_table(rows: dict[str, dict[str, float]], keys: list[str], title: str = "") -> Table:
    """A rich table with one row per model and one column per metric; the best value in bold."""
    table = Table(title=title or None)
    table.add_column("model")
    for k in keys:
        table.add_column(k, justify="right")
    best = {k: max((r.get(k, float("-inf")) for r in rows.values()), default=None) for k in keys}
    for name, metrics in rows.items():
        cells = []
        for k in keys:
            v = metrics.get(k)
            text = "-" if v is None else f"{v:.4f}"
            cells.append(f"[bold]{text}[/]" if v is not None and v == best[k] else text)
        table.add_row(name, *cells)
    return table


@app.command()
@_guard
def train(
    recipe: Optional[str] = typer.Option(None, "--recipe", "-r", help="recipe name (see `contrarec recipes`)"),
    data: Optional[str] = typer.Option(None, "--data", "-d",
                                       help="synthetic | lightgcn:DIR | movielens-100k:DIR | csv:PATH | ..."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config file"),
    set_: list[str] = typer.Option([], "--set", "-s", help="override, e.g. model.temperature=0.1"),
    out: Path = typer.Option(Path("runs/latest"), "--out", "-o", help="run directory"),
    resume: bool = typer.Option(False, "--resume", help="continue an interrupted run in --out"),
) -> None:
    """Train a recipe and write a run directory.

    Examples:

      contrarec train --recipe two-tower --out runs/tt

      contrarec train --recipe bpr-mf --data lightgcn:../shared/data/yelp2018 --set train.epochs=50

      contrarec train --config my.yaml --set model.temperature=0.05 --resume --out runs/tt
    """
    from contrarec.config import load_config
    from contrarec.train.run import train_run

    overrides = list(set_)
    if recipe:
        overrides.insert(0, f"recipe={recipe}")
    if data:
        overrides.insert(0, f"data.source={data}")
    if resume and config is None and (out / "config.yaml").exists():
        config = out / "config.yaml"
    cfg = load_config(config, overrides)
    run = train_run(cfg, out, resume=resume, log=lambda m: console.print(m, highlight=False, markup=False))
    if run.final is None:  # a non-zero rank of a torchrun job: rank 0 reports
        return
    keys = [k for k in run.final["test"] if "@" in k and "_" not in k]
    console.print(metrics_table({cfg.recipe: run.final["test"]}, keys, title=f"test metrics ({out})"))
    console.print(f"run directory: {out}")


@app.command()
@_guard
def evaluate(run_dir: Path = typer.Argument(..., help="a run directory"),
             checkpoint: str = typer.Option("best", help="best | last")) -> None:
    """Evaluate a run's checkpoint on its test split (full ranking, train items masked).

    Example: contrarec evaluate runs/tt
    """
    from contrarec.train.run import known_interactions, load_run, make_evaluator

    run = load_run(run_dir, checkpoint)
    metrics = make_evaluator(known_interactions(run.split), run.split.test, run.config.eval.ks,
                             run.split.train.item_popularity())(run.model)
    console.print_json(json.dumps(metrics))


@app.command()
@_guard
def recommend(run_dir: Path = typer.Argument(..., help="a run directory"),
              user: list[str] = typer.Option(..., "--user", "-u", help="raw user id (repeatable)"),
              k: int = typer.Option(20, "-k", min=1, max=10000, help="items per user"),
              include_seen: bool = typer.Option(False, help="do not exclude items the user has seen")) -> None:
    """Top-k items for known users, with raw ids and scores.

    Example: contrarec recommend runs/tt --user 42 -k 10
    """
    from contrarec.api import Recommender

    rec = Recommender.load(run_dir)
    for raw in user:
        items, scores = rec.recommend(raw, k=k, filter_seen=not include_seen)
        console.print_json(json.dumps({"user": raw, "items": list(items),
                                       "scores": [round(float(s), 6) for s in scores]}))


@app.command()
@_guard
def export(run_dir: Path = typer.Argument(..., help="a run directory"),
           out: Optional[Path] = typer.Option(None, "--out", "-o", help="folder (default RUN_DIR/export)")) -> None:
    """Write user and item embeddings with raw ids (Parquet) and a manifest.

    Example: contrarec export runs/tt
    """
    from contrarec.serve.export import export_run
    from contrarec.train.run import load_run

    path = export_run(load_run(run_dir), out or run_dir / "export")
    console.print(f"exported to {path}")


@app.command()
def recipes() -> None:
    """List the recipes with a one-line description and their source."""
    from contrarec.recipes.catalog import RECIPES

    table = Table(title="recipes")
    for col in ("name", "description", "source"):
        table.add_column(col)
    for r in RECIPES.values():
        table.add_row(r.name, r.description, r.source)
    console.print(table)


@data_app.command("stats")
@_guard
def data_stats(source: str = typer.Argument("synthetic", help="synthetic | lightgcn:DIR | movielens-100k:DIR | csv:PATH")) -> None:
    """Print statistics of a dataset.

    Example: contrarec data stats lightgcn:../shared/data/yelp2018
    """
    from contrarec.config import DataConfig
    from contrarec.data.stats import dataset_stats
    from contrarec.train.data_setup import load_split, parse_source

    cfg = DataConfig(source=source, valid_ratio=0)
    kind, _ = parse_source(source)
    if kind == "lightgcn":
        split = load_split(cfg)
        stats = {"train": dataset_stats(split.train), "test": dataset_stats(split.test)}
    else:
        from contrarec.train.data_setup import load_interactions

        stats = dataset_stats(load_interactions(cfg))
    console.print_json(json.dumps(stats, default=float))


@data_app.command("download")
@_guard
def data_download(name: str = typer.Argument(..., help="movielens-100k | movielens-1m"),
                  dest: Path = typer.Argument(..., help="destination folder")) -> None:
    """Fetch an official dataset archive, verify its checksum and unpack it.

    Example: contrarec data download movielens-1m ./data
    """
    from contrarec.data.download import download_dataset

    console.print(f"downloaded to {download_dataset(name, dest)}")


@app.command()
@_guard
def report(run_dirs: list[Path] = typer.Argument(..., help="one or more run directories"),
           out: Path = typer.Option(Path("report.html"), "--out", "-o", help="HTML file to write"),
           color_by: Optional[str] = typer.Option(None, "--color-by",
                                                  help="item feature colouring the embedding map (default: popularity)"),
           max_points: int = typer.Option(5000, "--max-points", min=10, help="items per embedding map at most"),
           projection: str = typer.Option("auto", "--projection", help="auto (PCA + UMAP if installed) | pca | umap"),
           title: Optional[str] = typer.Option(None, "--title", help="page title")) -> None:
    """Write one self-contained HTML report (plots inline) comparing run directories.

    Example: contrarec report runs/quickstart/two-tower runs/quickstart/random -o report.html
    """
    from contrarec.report import build_report

    if projection not in ("auto", "pca", "umap"):
        _fail(f"--projection {projection!r}: expected auto, pca or umap")
    path = build_report(run_dirs, out, color_by=color_by, max_points=max_points, projection=projection, title=title)
    console.print(f"report: {path}")


@app.command()
@_guard
def quickstart(out: Path = typer.Option(Path("runs/quickstart"), "--out", "-o", help="run directory"),
               epochs: int = typer.Option(15, help="training epochs of the two-tower model")) -> None:
    """The main job: synthetic data, two-tower InfoNCE vs MostPopular and Random, a metrics table.

    Example: contrarec quickstart --out runs/quickstart
    """
    from contrarec.quickstart import run_quickstart

    run_quickstart(out, epochs=epochs, console=console)


from contrarec.cli_serve import register as _register_serving  # noqa: E402 - index, prerank, serve commands

_register_serving(app, _guard, console)


def main() -> None:
    """Entry point of the ``contrarec`` script."""
    app()


if __name__ == "__main__":
    main()
