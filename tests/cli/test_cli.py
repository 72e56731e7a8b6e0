import json

import pytest
from typer.testing import CliRunner

from contrarec.cli import app

runner = CliRunner()
TINY = ["--set", "data.synthetic_users=200", "--set", "data.synthetic_items=150",
        "--set", "data.synthetic_interactions=4000", "--set", "train.batch_size=256",
        "--set", "train.progress=false"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    result = runner.invoke(app, ["train", "--recipe", "two-tower", "--out", str(out), "--set", "train.epochs=2",
                                 *TINY])
    assert result.exit_code == 0, result.output
    return out


def test_train_writes_a_run_directory(run_dir):
    for name in ("config.yaml", "metrics.jsonl", "final.json", "data.json", "checkpoints/best.pt"):
        assert (run_dir / name).exists(), name
    assert json.loads((run_dir / "final.json").read_text())["test"]["recall@20"] > 0


def test_evaluate_reproduces_final_metrics(run_dir):
    result = runner.invoke(app, ["evaluate", str(run_dir)])
    assert result.exit_code == 0, result.output
    final = json.loads((run_dir / "final.json").read_text())["test"]
    assert json.loads(result.output)["recall@20"] == pytest.approx(final["recall@20"])


def test_recommend_known_and_unknown_user(run_dir):
    from contrarec.api import Recommender

    rec = Recommender.load(run_dir)
    raw_user = rec.user_map.raw[0]
    result = runner.invoke(app, ["recommend", str(run_dir), "--user", str(raw_user), "-k", "5"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert len(out["items"]) == 5 and out["scores"] == sorted(out["scores"], reverse=True)
    seen = set(rec.item_map.to_raw(rec.seen[0].indices))
    assert not seen & set(out["items"])
    bad = runner.invoke(app, ["recommend", str(run_dir), "--user", "no-such-user"])
    assert bad.exit_code == 2 and "unknown user 'no-such-user'" in bad.output


def test_export_writes_embeddings_with_raw_ids(run_dir, tmp_path):
    from contrarec.serve.export import read_embeddings

    result = runner.invoke(app, ["export", str(run_dir), "--out", str(tmp_path / "exp")])
    assert result.exit_code == 0, result.output
    ids, emb = read_embeddings(tmp_path / "exp" / "items.parquet")
    assert emb.shape == (150, 64) and len(ids) == 150


def test_unknown_config_key_is_refused_with_choices(tmp_path):
    result = runner.invoke(app, ["train", "--out", str(tmp_path / "x"), "--set", "train.lrate=1"])
    assert result.exit_code == 2
    assert "unknown key 'train.lrate'" in result.output and "valid keys" in result.output


def test_unknown_recipe_and_bad_data_source(tmp_path):
    result = runner.invoke(app, ["train", "--recipe", "nope", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "valid recipes" in result.output
    result = runner.invoke(app, ["train", "--data", "lightgcn:" + str(tmp_path / "missing"), "--out",
                                 str(tmp_path / "y")])
    assert result.exit_code == 2 and "not found" in result.output


def test_error_messages_keep_their_brackets(tmp_path):
    result = runner.invoke(app, ["train", "--out", str(tmp_path / "z"), "--set", "data.synthetic_interactions=100"],
                           env={"COLUMNS": "300"})
    assert result.exit_code == 2
    assert "[num_users * min_per_user, num_users * num_items / 2]" in result.output  # not eaten as markup
    assert not (tmp_path / "z" / "checkpoints").exists()


def test_recipes_lists_every_recipe():
    from contrarec.recipes.catalog import RECIPES

    result = runner.invoke(app, ["recipes"], env={"COLUMNS": "300"})
    assert result.exit_code == 0
    for name in RECIPES:
        assert name in result.output


def test_help_has_examples():
    for cmd in (["train"], ["evaluate"], ["recommend"], ["export"], ["data", "stats"]):
        result = runner.invoke(app, [*cmd, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0 and "contrarec" in result.output, cmd
