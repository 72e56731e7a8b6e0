"""Readers for the GroupLens MovieLens 100K and 1M releases, with user and item side features.

Both return :class:`Interactions` whose weights are the star ratings, with
``user_features``: ``age`` (bucket, the 1M release's groups), ``gender``, ``occupation`` (categorical);
``item_features``: ``genres`` (multi-valued) and ``year`` (5-year release bucket, categorical).
Users or items that have a side-file row but no rating are skipped and counted in the feature
table's ``info`` (see :mod:`contrarec.data.tabular`).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from contrarec.data._text import TextTable, read_delimited
from contrarec.data.features import FeatureTable
from contrarec.data.interactions import Interactions, IdMap
from contrarec.data.tabular import ColumnMapping, align_features, interactions_from_table, positions_in_map

GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
          "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
          "War", "Western")
"""The 19 genre flags of ``u.item``, in file order (``u.genre``)."""

OCCUPATIONS_1M = ("other", "academic/educator", "artist", "clerical/admin", "college/grad student",
                  "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
                  "K-12 student", "lawyer", "programmer", "retired", "sales/marketing", "scientist",
                  "self-employed", "technician/engineer", "tradesman/craftsman", "unemployed", "writer")
"""``users.dat`` occupation codes 0..20 (ML-1M README)."""

_AGE_EDGES = np.array([18, 25, 35, 45, 50, 56])
_AGE_LABELS = np.array(["<18", "18-24", "25-34", "35-44", "45-49", "50-55", "56+"], dtype=object)
_RATINGS = ["user", "item", "rating", "timestamp"]


def age_bucket(ages: np.ndarray) -> np.ndarray:
    """``[R]`` age group labels, the 1M release's groups (<18, 18-24, ..., 56+); NaN -> ``""``."""
    ages = np.asarray(ages, dtype=np.float64)
    labels = _AGE_LABELS[np.searchsorted(_AGE_EDGES, np.nan_to_num(ages), side="right")]
    return np.where(np.isnan(ages), "", labels).astype(object)


def year_bucket(years: np.ndarray, width: int = 5) -> np.ndarray:
    """``[R]`` release-year buckets like ``"1995-1999"``; NaN -> ``""`` (missing)."""
    years = np.asarray(years, dtype=np.float64)
    start = (np.nan_to_num(years) // width * width).astype(np.int64)
    return np.array(["" if np.isnan(y) else f"{s}-{s + width - 1}" for y, s in zip(years, start)], dtype=object)


def _ratings(path: Path, sep: str, min_rating: float | None) -> Interactions:
    table = read_delimited(path, sep, names=_RATINGS, quoting=False)
    return interactions_from_table(table, ColumnMapping("user", "item", timestamp="timestamp", weight="rating"), min_weight=min_rating)


def _user_features(table: TextTable, user_map: IdMap, age: np.ndarray, occupation: np.ndarray) -> FeatureTable:
    positions = positions_in_map(table.ids("user"), table, "user", user_map)
    values = {"age": age_bucket(age), "gender": table.strings("gender"), "occupation": occupation}
    return align_features(positions, values, len(user_map), categorical=["age", "gender", "occupation"])


def _item_features(table: TextTable, item_map: IdMap, genres: list[str], years: np.ndarray) -> FeatureTable:
    positions = positions_in_map(table.ids("item"), table, "item", item_map)
    values = {"genres": genres, "year": year_bucket(years)}
    return align_features(positions, values, len(item_map), categorical=["year"], multi_valued=["genres"])


def _years(table: TextTable, column: str, pattern: str, strict: bool) -> np.ndarray:
    """``[R]`` year found by ``pattern`` in each value; no match is NaN, or an error when ``strict``."""
    found = np.full(len(table), np.nan)
    for row, value in enumerate(table.strings(column)):
        match = re.search(pattern, value)
        if match:
            found[row] = float(match.group(1))
        elif value and strict:
            raise table.error(row, f"expected a date like 01-Jan-1995, got {value!r}", field=column)
    return found


def read_movielens_100k(directory: str | Path, min_rating: float | None = None) -> Interactions:
    """Read MovieLens 100K: ``u.data`` (tab), ``u.user`` and ``u.item`` (``|``, Latin-1).

    Args:
        directory: folder holding ``u.data``, ``u.user`` and ``u.item`` (the ``ml-100k`` folder).
        min_rating: drop ratings below this (e.g. 4 for "liked" interactions).

    Raises:
        DataError: a missing file or a malformed line, naming the file, line and field.
    """
    directory = Path(directory)
    inter = _ratings(directory / "u.data", "\t", min_rating)
    users = read_delimited(directory / "u.user", "|", names=["user", "age", "gender", "occupation", "zip"],
                           quoting=False)
    inter.user_features = _user_features(users, inter.user_map, users.numbers("age", allow_empty=True),
                                         users.strings("occupation"))
    items = read_delimited(directory / "u.item", "|", encoding="latin-1", quoting=False,
                           names=["item", "title", "release_date", "video_release_date", "url", *GENRES])
    flags = np.stack([items.numbers(genre) > 0 for genre in GENRES], axis=1)  # [R, 19]
    genres = ["|".join(g for g, on in zip(GENRES, row) if on) for row in flags]
    years = _years(items, "release_date", r"(\d{4})\s*$", strict=True)
    inter.item_features = _item_features(items, inter.item_map, genres, years)
    return inter


def read_movielens_1m(directory: str | Path, min_rating: float | None = None) -> Interactions:
    """Read MovieLens 1M: ``ratings.dat``, ``users.dat`` and ``movies.dat`` (``::``, movies Latin-1).

    Args:
        directory: folder holding the three ``.dat`` files (the ``ml-1m`` folder).
        min_rating: drop ratings below this.

    Raises:
        DataError: a missing file, a malformed line or an unknown occupation code, naming where.
    """
    directory = Path(directory)
    inter = _ratings(directory / "ratings.dat", "::", min_rating)
    users = read_delimited(directory / "users.dat", "::", names=["user", "gender", "age", "occupation", "zip"],
                           quoting=False)
    codes = users.numbers("occupation")
    bad = np.flatnonzero((codes < 0) | (codes >= len(OCCUPATIONS_1M)) | (codes != np.round(codes)))
    if len(bad):
        raise users.error(int(bad[0]), f"expected an occupation code 0..{len(OCCUPATIONS_1M) - 1}, "
                          f"got {users.strings('occupation')[bad[0]]!r}", field="occupation")
    occupation = np.array(OCCUPATIONS_1M, dtype=object)[codes.astype(np.int64)]
    inter.user_features = _user_features(users, inter.user_map, users.numbers("age"), occupation)
    movies = read_delimited(directory / "movies.dat", "::", names=["item", "title", "genres"],
                            encoding="latin-1", quoting=False)
    years = _years(movies, "title", r"\((\d{4})\)\s*$", strict=False)
    inter.item_features = _item_features(movies, inter.item_map, list(movies.strings("genres")), years)
    return inter

