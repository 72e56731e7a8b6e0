import pytest

from contrarec.config import ConfigError, load_config


def test_defaults_and_recipe_train_defaults():
    cfg = load_config(None, ["recipe=bpr-mf"])
    assert cfg.recipe == "bpr-mf" and cfg.train.batch_size == 2048  # recipe default
    cfg = load_config(None, ["recipe=bpr-mf", "train.batch_size=64"])
    assert cfg.train.batch_size == 64  # user setting wins


def test_overrides_are_typed():
    cfg = load_config(None, ["train.lr=0.01", "eval.ks=[10, 20]", "model.temperature=0.05"])
    assert cfg.train.lr == 0.01 and cfg.eval.ks == [10, 20] and cfg.model == {"temperature": 0.05}


def test_exponent_without_dot_is_a_float():
    """YAML 1.1 reads ``5e-4`` as a string; model settings pass through untyped, so the parser must convert."""
    cfg = load_config(None, ["model.l2=5e-4", "model.eps=1E2", "model.name=e5"])
    assert cfg.model == {"l2": 5e-4, "eps": 100.0, "name": "e5"}


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ConfigError, match=r"unknown key 'train.lrate'.*valid keys: .*lr"):
        load_config(None, ["train.lrate=0.1"])


def test_bad_value_names_key_and_value():
    with pytest.raises(ConfigError, match=r"'train.epochs' = 0"):
        load_config(None, ["train.epochs=0"])


def test_unknown_recipe_lists_recipes():
    with pytest.raises(ConfigError, match="valid recipes: .*two-tower"):
        load_config(None, ["recipe=nope"])


def test_unknown_model_key_refused_by_recipe():
    from contrarec.recipes.catalog import get_recipe

    with pytest.raises(ConfigError, match=r"unknown key 'model.temprature'.*temperature"):
        get_recipe("two-tower").parse_config({"temprature": 0.1})


def test_yaml_file_and_missing_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("recipe: two-tower\ntrain:\n  epochs: 3\n")
    assert load_config(path, ["train.epochs=4"]).train.epochs == 4
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(tmp_path / "bad.yaml")
