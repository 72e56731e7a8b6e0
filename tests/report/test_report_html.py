"""The report from hand-made run directories: sections, inline PNGs, tables, and notes for missing parts."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from contrarec.report import build_report

SECTIONS = ("runs", "comparison", "curves", "alignment-uniformity", "popularity-deciles", "embedding-map")


def images(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]


def section(page: str, anchor: str) -> str:
    match = re.search(rf'<section id="{anchor}">(.*?)</section>', page, flags=re.S)
    assert match, f"section {anchor} missing"
    return match.group(1)


def test_each_section_and_image(two_runs: list[Path], tmp_path: Path, png_size) -> None:
    out = build_report(two_runs, tmp_path / "r" / "report.html")
    page = out.read_text()
    for anchor in SECTIONS:
        section(page, anchor)
    imgs = images(page)
    assert len(imgs) == 3  # curves, plane, deciles (no checkpoints, so no map)
    for data in imgs:
        width, height = png_size(data)
        assert 300 <= width <= 3000 and 200 <= height <= 3000, (width, height)
    assert not re.search(r'(src|href)="(https?:)?//', page), "the page must not fetch anything"
    assert [p.name for p in out.parent.iterdir()] == ["report.html"], "atomic write leaves no temp file"


def test_tables_bold_best_and_only_differing_config(two_runs: list[Path], tmp_path: Path) -> None:
    page = build_report(two_runs, tmp_path / "report.html").read_text()
    table = section(page, "comparison")
    assert "<b>0.1500</b>" in table  # recall@20 of tau-0.5 (0.1 + 0.5 / 10), the best
    assert "<b>0.1100</b>" not in table
    assert "model.temperature" in table and "train.lr" not in table.split("<details>")[0]
    assert "recall@20_tail" in table and "recall@20_decile3" not in table


def test_missing_optional_parts_give_notes(tmp_path: Path, write_run) -> None:
    full = write_run(tmp_path / "full")
    bare = write_run(tmp_path / "bare", valid=False, diagnostics=False, final=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    page = build_report([full, bare, empty], tmp_path / "report.html").read_text()
    for anchor in SECTIONS:
        section(page, anchor)
    assert "bare: no validation metrics per epoch." in section(page, "curves")
    assert "empty: no metrics.jsonl" in section(page, "curves")
    assert "bare: no alignment/uniformity diagnostics recorded." in section(page, "alignment-uniformity")
    assert "bare: no per-decile recall@20" in section(page, "popularity-deciles")
    assert "bare: no final.json" in section(page, "comparison")
    assert "full: no checkpoint, so no embedding map." in section(page, "embedding-map")
    assert "no config.yaml" in section(page, "runs")
    assert len(images(page)) == 3


def test_no_validation_anywhere_plots_test_curves(tmp_path: Path, write_run) -> None:
    run = write_run(tmp_path / "noval", valid=False)
    rows = (run / "metrics.jsonl").read_text().replace('"diagnostics"', '"test": {"recall@20": 0.1}, "diagnostics"')
    (run / "metrics.jsonl").write_text(rows)
    page = build_report([run], tmp_path / "report.html").read_text()
    assert "curves show the test split per epoch" in section(page, "curves")
    assert "One run: nothing to compare" in section(page, "comparison")


def test_nothing_to_plot_still_builds(tmp_path: Path, write_run) -> None:
    run = write_run(tmp_path / "pop", recipe="most-popular", epochs=1, loss_terms=(), valid=False,
                    diagnostics=False, deciles=False)
    (run / "metrics.jsonl").write_text('{"epoch": 0, "loss": {"total": 0.0}, "sec": 0.0, "examples_per_s": 0}\n')
    page = build_report([run], tmp_path / "report.html").read_text()
    assert "pop: nothing to train" in section(page, "curves")
    assert images(page) == []


def test_bad_inputs(tmp_path: Path, write_run) -> None:
    with pytest.raises(FileNotFoundError, match="run directory not found"):
        build_report([tmp_path / "missing"], tmp_path / "r.html")
    with pytest.raises(ValueError, match="no run directories"):
        build_report([], tmp_path / "r.html")
    with pytest.raises(ValueError, match="projection"):
        build_report([write_run(tmp_path / "a")], tmp_path / "r.html", projection="tsne")


def test_cli_report(two_runs: list[Path], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from contrarec.cli import app

    out = tmp_path / "cli.html"
    result = CliRunner().invoke(app, ["report", *map(str, two_runs), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"report: {out}" in result.output.replace("\n", "")
    assert out.read_text().startswith("<!DOCTYPE html>")
    missing = CliRunner().invoke(app, ["report", str(tmp_path / "nope"), "-o", str(out)])
    assert missing.exit_code == 2


def test_nan_metrics_are_gaps_not_errors(tmp_path: Path, write_run) -> None:
    run = write_run(tmp_path / "nan")
    final = (run / "final.json").read_text()
    (run / "final.json").write_text(final.replace('"recall@20_decile9": 0.11', '"recall@20_decile9": NaN')
                                    .replace('"recall@20_tail": 0.02', '"recall@20_tail": NaN'))
    assert (run / "final.json").read_text().count("NaN") == 2
    page = build_report([run], tmp_path / "report.html").read_text()
    assert len(images(page)) == 3
    assert "NaN" not in section(page, "comparison").split("<details>")[0]
