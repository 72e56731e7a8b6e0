"""Tests for the MovieLens 100K / 1M readers on tiny fake files in the original formats."""

from __future__ import annotations

import numpy as np
import pytest

from contrarec.data.errors import DataError
from contrarec.data.movielens import age_bucket, read_movielens_100k, read_movielens_1m, year_bucket

FLAGS_COMEDY_DRAMA = "|".join("1" if g in (5, 8) else "0" for g in range(19))
FLAGS_UNKNOWN = "|".join("1" if g == 0 else "0" for g in range(19))


def fake_100k(folder, data: str | None = None):
    folder.mkdir(exist_ok=True)
    (folder / "u.data").write_text(data or "1\t10\t5\t881250949\n2\t10\t3\t881250950\n1\t20\t4\t881250951\n")
    (folder / "u.user").write_text("1|24|M|technician|85711\n2|53|F|other|94043\n3|17|F|student|10001\n")
    (folder / "u.item").write_bytes(
        f"10|Café Society (1995)|01-Jan-1995||http://x|{FLAGS_COMEDY_DRAMA}\n"
        f"20|Mystery (1997)|||http://y|{FLAGS_UNKNOWN}\n".encode("latin-1"))
    return folder


def fake_1m(folder, users: str | None = None):
    folder.mkdir(exist_ok=True)
    (folder / "ratings.dat").write_text("7::3::5::978300760\n7::4::3::978302109\n8::3::4::978301968\n")
    (folder / "users.dat").write_text(users or "7::F::1::10::48067\n8::M::56::16::70072\n")
    (folder / "movies.dat").write_bytes("3::Señor (1995)::Animation|Children's\n4::Untitled::Drama\n"
                                        "5::Unrated (2000)::Comedy\n".encode("latin-1"))
    return folder


def decode(table, name, row):
    vocab = table.vocabularies[name]
    codes = table.categorical[name][row] if name in table.categorical else table.multi_valued[name][row]
    return vocab[codes].tolist() if np.ndim(codes) else vocab[codes]


def test_100k_interactions_and_features(tmp_path):
    inter = read_movielens_100k(fake_100k(tmp_path / "ml-100k"))
    assert len(inter) == 3 and inter.num_users == 2 and inter.num_items == 2
    assert inter.weights.tolist() == [5, 3, 4] and inter.timestamps[0] == 881250949
    users, items = inter.user_features, inter.item_features
    u1, u2 = inter.user_map.to_internal(1), inter.user_map.to_internal(2)
    assert [decode(users, k, u1) for k in ("age", "gender", "occupation")] == ["18-24", "M", "technician"]
    assert decode(users, "age", u2) == "50-55"
    assert users.info == {"rows_unknown_id": 1, "ids_without_row": 0}   # user 3 never rated
    i10, i20 = inter.item_map.to_internal(10), inter.item_map.to_internal(20)
    assert decode(items, "genres", i10) == ["Comedy", "Drama"] and decode(items, "year", i10) == "1995-1999"
    assert decode(items, "genres", i20)[0] == "unknown" and decode(items, "year", i20) == ""


def test_100k_min_rating(tmp_path):
    inter = read_movielens_100k(fake_100k(tmp_path / "ml-100k"), min_rating=4)
    assert len(inter) == 2 and inter.num_users == 1 and inter.info["below_min_weight"] == 1


@pytest.mark.parametrize("data,line,field,word", [
    ("1\t10\t5\t881250949\n2\t10\t3\n", 2, None, "expected 4 tab-separated fields"),
    ("1\t10\tfive\t881250949\n", 1, "rating", "'five'"),
])
def test_100k_bad_ratings_name_file_and_line(tmp_path, data, line, field, word):
    folder = fake_100k(tmp_path / "ml-100k", data=data)
    with pytest.raises(DataError) as info:
        read_movielens_100k(folder)
    assert info.value.path == str(folder / "u.data") and info.value.line == line and info.value.field == field
    assert word in str(info.value)


def test_100k_bad_date_and_missing_file(tmp_path):
    folder = fake_100k(tmp_path / "ml-100k")
    (folder / "u.item").write_text(f"10|T|someday||u|{FLAGS_UNKNOWN}\n20|U|||u|{FLAGS_UNKNOWN}\n")
    with pytest.raises(DataError, match=r"u.item, line 1, field 'release_date'.*'someday'"):
        read_movielens_100k(folder)
    (folder / "u.user").unlink()
    with pytest.raises(DataError, match="u.user: file not found"):
        read_movielens_100k(folder)


def test_1m_interactions_and_features(tmp_path):
    inter = read_movielens_1m(fake_1m(tmp_path / "ml-1m"))
    assert len(inter) == 3 and inter.num_users == 2 and inter.num_items == 2
    users, items = inter.user_features, inter.item_features
    u7, u8 = inter.user_map.to_internal(7), inter.user_map.to_internal(8)
    assert [decode(users, k, u7) for k in ("age", "gender", "occupation")] == ["<18", "F", "K-12 student"]
    assert [decode(users, k, u8) for k in ("age", "occupation")] == ["56+", "self-employed"]
    i3, i4 = inter.item_map.to_internal(3), inter.item_map.to_internal(4)
    assert decode(items, "genres", i3)[:2] == ["Animation", "Children's"]
    assert decode(items, "year", i3) == "1995-1999" and decode(items, "year", i4) == ""
    assert items.info["rows_unknown_id"] == 1   # movie 5 has no rating


def test_1m_bad_occupation_code(tmp_path):
    folder = fake_1m(tmp_path / "ml-1m", users="7::F::1::10::48067\n8::M::56::42::70072\n")
    with pytest.raises(DataError, match=r"users.dat, line 2, field 'occupation'.*'42'"):
        read_movielens_1m(folder)


def test_buckets():
    assert age_bucket(np.array([1, 17, 18, 24, 25, 49, 50, 56, 73, np.nan])).tolist() == [
        "<18", "<18", "18-24", "18-24", "25-34", "45-49", "50-55", "56+", "56+", ""]
    assert year_bucket(np.array([1995, 1999, 2000, np.nan])).tolist() == ["1995-1999", "1995-1999",
                                                                          "2000-2004", ""]
