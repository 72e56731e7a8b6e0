"""Turn a :class:`DataConfig` into a :class:`Split` (reading, generating and splitting the data)."""

from __future__ import annotations

from pathlib import Path

from contrarec.config import ConfigError, DataConfig
from contrarec.data.interactions import Interactions, Split

SOURCE_KINDS = ("synthetic", "lightgcn", "movielens-100k", "movielens-1m", "csv", "tsv", "parquet")


def parse_source(source: str) -> tuple[str, str | None]:
    """``"kind:path"`` -> ``(kind, path)``; ``"synthetic"`` has no path."""
    kind, _, path = source.partition(":")
    if kind not in SOURCE_KINDS:
        raise ConfigError(f"data.source {source!r}: unknown kind {kind!r}; valid: "
                          + ", ".join(f"{k}:PATH" if k != "synthetic" else k for k in SOURCE_KINDS))
    if kind != "synthetic" and not path:
        raise ConfigError(f"data.source {source!r}: '{kind}' needs a path, e.g. {kind}:./data")
    return kind, (path or None)


def load_interactions(cfg: DataConfig) -> Interactions:
    """Read or generate the full interaction log (for sources without a given split)."""
    kind, path = parse_source(cfg.source)
    if kind == "synthetic":
        from contrarec.data.synthetic import generate_synthetic

        return generate_synthetic(num_users=cfg.synthetic_users, num_items=cfg.synthetic_items,
                                  num_interactions=cfg.synthetic_interactions, seed=cfg.synthetic_seed)
    if kind == "movielens-100k":
        from contrarec.data.movielens import read_movielens_100k

        return read_movielens_100k(path)
    if kind == "movielens-1m":
        from contrarec.data.movielens import read_movielens_1m

        return read_movielens_1m(path)
    if kind in ("csv", "tsv", "parquet"):
        from contrarec.data.tabular import ColumnMapping, read_table

        mapping = ColumnMapping(user=cfg.user_column, item=cfg.item_column, timestamp=cfg.timestamp_column,
                                weight=cfg.weight_column)
        return read_table(path, mapping)
    raise ConfigError(f"data.source kind {kind!r} has a given split; use split=given")


def load_split(cfg: DataConfig) -> Split:
    """Read the data and split it as configured; a validation part is carved from train if asked."""
    from contrarec.data.splits import (carve_validation, split_global_time, split_leave_last_out,
                                       split_random_per_user)

    kind, path = parse_source(cfg.source)
    split_kind = cfg.split if cfg.split != "auto" else ("given" if kind == "lightgcn" else "random")
    if split_kind == "given":
        if kind != "lightgcn":
            raise ConfigError(f"data.split=given needs a source with train/test files (lightgcn:DIR), got {kind!r}")
        from contrarec.data.lightgcn import read_lightgcn_split

        split = read_lightgcn_split(Path(path))
    else:
        inter = load_interactions(cfg)
        if split_kind == "random":
            split = split_random_per_user(inter, test_ratio=cfg.test_ratio, seed=cfg.seed)
        elif split_kind == "leave-last-out":
            split = split_leave_last_out(inter)
        else:
            if cfg.time_cut is None:
                raise ConfigError("data.split=time needs data.time_cut (the timestamp where test starts)")
            split = split_global_time(inter, test_from=cfg.time_cut)
    if cfg.valid_ratio > 0 and split.valid is None:
        train, valid = carve_validation(split.train, ratio=cfg.valid_ratio, seed=cfg.seed)
        split = Split(train=train, valid=valid, test=split.test)
    return split
