"""Typed run configuration, validated at the edge.

A run config is ``recipe`` + four sections: ``data``, ``train``, ``eval`` (fixed shapes, below) and
``model`` (the recipe's own config class). It is read from YAML plus ``--set section.key=value``
overrides; unknown keys and bad values are refused with the valid choices listed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class Strict(BaseModel):
    """Base of every config section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(Strict):
    """Where the interactions come from and how they are split."""

    source: str = Field("synthetic", description="synthetic | lightgcn:DIR | movielens-100k:DIR | "
                        "movielens-1m:DIR | csv:PATH | tsv:PATH | parquet:PATH")
    split: Literal["auto", "given", "random", "leave-last-out", "time"] = Field(
        "auto", description="auto = given for lightgcn, random otherwise")
    test_ratio: float = Field(0.2, gt=0, lt=1, description="test share per user (random split)")
    valid_ratio: float = Field(0.1, ge=0, lt=1, description="validation share carved from train (0 = none)")
    time_cut: float | None = Field(None, description="timestamp where test starts (time split)")
    seed: int = Field(2026, description="split seed")
    user_column: str = "user"
    item_column: str = "item"
    timestamp_column: str | None = None
    weight_column: str | None = None
    synthetic_users: int = Field(5000, ge=10)
    synthetic_items: int = Field(3000, ge=10)
    synthetic_interactions: int = Field(150_000, ge=100)
    synthetic_seed: int = 0


class TrainConfig(Strict):
    """The trainer's settings (shared by every recipe)."""

    epochs: int = Field(20, ge=1, description="maximum epochs")
    batch_size: int = Field(1024, ge=1)
    lr: float = Field(1e-3, gt=0, description="AdamW learning rate (the peak, with a schedule)")
    lr_schedule: Literal["constant", "cosine", "linear"] = Field(
        "constant", description="per-step decay from lr to lr·min_lr_ratio over all epochs")
    warmup_epochs: float = Field(0.0, ge=0, description="linear warm-up from 0 to lr over this many epochs")
    min_lr_ratio: float = Field(0.0, ge=0, le=1, description="final lr as a share of lr (cosine / linear)")
    weight_decay: float = Field(0.0, ge=0, description="AdamW decoupled weight decay")
    sampling: Literal["interaction", "user"] = Field(
        "interaction", description="how an epoch draws its training pairs: each pair once, shuffled "
        "(interaction), or a uniform user then one of their items (user; the LightGCN / NGCF authors' sampler)")
    seed: int = Field(0, description="seed for init, batches and augmentations")
    eval_every: int = Field(1, ge=1, description="validate every this many epochs")
    patience: int = Field(5, ge=0, description="early stop after this many evaluations without gain (0 = off)")
    min_epochs: int = Field(0, ge=0, description="never stop early before this many epochs (graph contrastive "
                            "recipes dip for a few epochs after the first before they climb)")
    select_metric: str = Field("recall@20", description="validation metric for early stopping / best checkpoint")
    threads: int | None = Field(None, ge=1, description="torch intra-op threads (None = torch default)")
    retain_freed_memory: bool = Field(True, description="keep freed heap blocks in the process (glibc mallopt), "
                                      "so per-step buffers are not page-faulted in again (a third off a simgcl step)")
    max_minutes: float | None = Field(None, gt=0, description="stop after this wall time (checkpointed)")
    init_from: str | None = Field(None, description="warm start: the model weights of this checkpoint (a run's "
                                  "checkpoints/best.pt or last.pt, same recipe and data); the optimizer, lr "
                                  "schedule and epochs start afresh. Ignored when the run resumes its own last.pt")
    progress: bool = True


class EvalConfig(Strict):
    """Evaluation settings."""

    ks: list[int] = Field(default_factory=lambda: [20], description="cut-offs K")
    eval_test_every_epoch: bool = Field(False, description="also score test each epoch (paper-style "
                                        "test-picked numbers are then available, labelled as such)")
    diagnostics: bool = Field(True, description="alignment/uniformity each epoch")


class RunConfig(Strict):
    """One run: a recipe and its sections."""

    recipe: str = "two-tower"
    data: DataConfig = Field(default_factory=DataConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    model: dict[str, Any] = Field(default_factory=dict)


class ConfigError(ValueError):
    """A configuration problem, with the key, the value and what is allowed."""


_EXPONENT_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def _coerce(text: str) -> Any:
    """Parse an override value as YAML (numbers, booleans, lists), else keep the string.

    YAML 1.1 reads ``5e-4`` (no dot) as a string; such a value becomes the float it spells.
    """
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str) and _EXPONENT_NUMBER.fullmatch(value.strip()):
        return float(value)
    return value


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Apply ``section.key=value`` strings to a nested dict (returns a new dict)."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form section.key=value")
        key, value = item.split("=", 1)
        parts = key.strip().split(".")
        if len(parts) == 1:
            out[parts[0]] = _coerce(value)
            continue
        if len(parts) != 2:
            raise ConfigError(f"override key {key!r} must be 'section.key' (sections: data, train, eval, model)")
        section, name = parts
        if section not in ("data", "train", "eval", "model"):
            raise ConfigError(f"unknown section {section!r} in {key!r}; valid: data, train, eval, model")
        out.setdefault(section, {})
        out[section] = dict(out[section])
        out[section][name] = _coerce(value)
    return out


def format_validation_error(err: ValidationError, section_model: type[BaseModel] | None = None,
                            prefix: str = "") -> str:
    """A readable message: each bad key, its value, the problem and the valid keys."""
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in (prefix, *e["loc"]) if p != "")
        if e["type"] == "extra_forbidden":
            valid = ""
            model = section_model
            if model is None and len(e["loc"]) >= 1:
                model = RunConfig
                for part in e["loc"][:-1]:
                    field = model.model_fields.get(str(part))
                    model = field.annotation if field is not None and isinstance(field.annotation, type) else None
                    if model is None:
                        break
            if model is not None and hasattr(model, "model_fields"):
                valid = "; valid keys: " + ", ".join(sorted(model.model_fields))
            lines.append(f"unknown key '{loc}'{valid}")
        else:
            lines.append(f"'{loc}' = {e.get('input')!r}: {e['msg']}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def load_config(path: str | Path | None = None, overrides: list[str] | None = None,
                base: dict | None = None) -> RunConfig:
    """Read a YAML config (optional), apply overrides, validate the fixed sections.

    The ``model`` section is validated later by the recipe's own config class.
    """
    raw: dict = dict(base or {})
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"config file not found: {path}")
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
        raw.update(loaded)
    raw = apply_overrides(raw, overrides or [])
    raw = _with_recipe_defaults(raw)
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err)) from None


def _with_recipe_defaults(raw: dict) -> dict:
    """Put the recipe's ``train`` defaults under the user's own settings."""
    from contrarec.recipes.catalog import RECIPES

    name = raw.get("recipe", RunConfig.model_fields["recipe"].default)
    if name not in RECIPES:
        raise ConfigError(f"unknown recipe {name!r}; valid recipes: {', '.join(sorted(RECIPES))}")
    train = raw.get("train") or {}
    if not isinstance(train, dict):
        raise ConfigError("'train' must be a mapping of key: value")
    return {**raw, "train": {**RECIPES[name].train_defaults, **train}}


def save_config(config: RunConfig, path: Path) -> None:
    """Write the resolved config as YAML, atomically."""
    from contrarec.io import atomic_write_text

    atomic_write_text(path, yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
