"""Tests for contrarec.data.tabular: CSV/TSV/Parquet interaction and feature readers."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from contrarec.data.errors import DataError
from contrarec.data.interactions import IdMap
from contrarec.data.tabular import ColumnMapping, read_features, read_table

COLS = ColumnMapping("user", "item", timestamp="ts", weight="rating")


def write(tmp_path, name: str, text: str | bytes):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def error_of(call) -> DataError:
    with pytest.raises(DataError) as info:
        call()
    exc = info.value
    assert exc.__cause__ is None and exc.__suppress_context__ or exc.__context__ is None
    return exc


def test_csv_ids_are_contiguous_in_order_of_first_appearance(tmp_path):
    path = write(tmp_path, "r.csv", "user,item,ts,rating\nu9,i5,10,4\nu2,i5,11,3\nu9,i7,12.5,5\n")
    inter = read_table(path, COLS)
    assert list(inter.user_map.raw) == ["u9", "u2"] and list(inter.item_map.raw) == ["i5", "i7"]
    np.testing.assert_array_equal(inter.users, [0, 1, 0])
    np.testing.assert_array_equal(inter.items, [0, 0, 1])
    np.testing.assert_allclose(inter.timestamps, [10, 11, 12.5])
    assert inter.weights.dtype == np.float32 and inter.weights.tolist() == [4, 3, 5]
    assert inter.info["duplicate_pairs"] == 0 and inter.info["rows_read"] == 3


def test_duplicates_are_kept_and_counted_and_min_weight_drops(tmp_path):
    path = write(tmp_path, "r.csv", "user,item,ts,rating\na,x,1,5\na,x,2,4\nb,y,3,1\na,x,4,2\n")
    inter = read_table(path, COLS)
    assert len(inter) == 4 and inter.info["duplicate_pairs"] == 2
    assert inter.to_csr().nnz == 2
    liked = read_table(path, COLS, min_weight=4)
    assert len(liked) == 2 and liked.info["below_min_weight"] == 2 and liked.num_users == 1
    assert "min_weight needs a weight column" in str(error_of(
        lambda: read_table(path, ColumnMapping("user", "item"), min_weight=3)))


@pytest.mark.parametrize("name,text", [
    ("r.tsv", "user\titem\na b\tx\n"),              # by extension (space inside an id)
    ("r.txt", "user\titem\na b\tx\n"),              # by content
    ("r.dat", "\ufeffuser;item\r\na b;x\r\n"),      # BOM, CRLF, semicolon
])
def test_separator_is_sniffed(tmp_path, name, text):
    inter = read_table(write(tmp_path, name, text), ColumnMapping("user", "item"))
    assert list(inter.user_map.raw) == ["a b"] and list(inter.item_map.raw) == ["x"]


def test_quoted_fields_and_surrounding_spaces(tmp_path):
    path = write(tmp_path, "r.csv", 'user, item\n"Smith, J", x \n\n b ,"y"\n')
    inter = read_table(path, ColumnMapping("user", "item"))
    assert list(inter.user_map.raw) == ["Smith, J", "b"] and list(inter.item_map.raw) == ["x", "y"]


def test_parquet_with_timestamp_type(tmp_path):
    path = tmp_path / "r.parquet"
    ts = pa.array([0, 86_400_000_000], pa.timestamp("us"))
    pq.write_table(pa.table({"user": [1, 2], "item": ["a", "b"], "ts": ts, "rating": [1.5, 2.0]}), path)
    inter = read_table(path, COLS)
    assert list(inter.user_map.raw) == ["1", "2"]
    np.testing.assert_allclose(inter.timestamps, [0.0, 86_400.0])


def test_parquet_errors_name_row_and_columns(tmp_path):
    path = tmp_path / "r.parquet"
    pq.write_table(pa.table({"user": ["a", "b"], "item": ["x", "y"], "ts": ["1", "soon"]}), path)
    exc = error_of(lambda: read_table(path, ColumnMapping("user", "item", "ts")))
    assert exc.field == "ts" and "row 2" in str(exc) and "'soon'" in str(exc)
    exc = error_of(lambda: read_table(path, ColumnMapping("user", "movie")))
    assert "columns found: user, item, ts" in str(exc) and exc.field == "movie"
    bogus = write(tmp_path, "bogus.parquet", b"PAR1 not really")
    assert "not a readable Parquet file" in str(error_of(lambda: read_table(bogus, COLS)))


@pytest.mark.parametrize("text,line,field,words", [
    ("user,item,ts,rating\na,x,1,5\nb,y,2\n", 3, None, ["expected 4 comma-separated fields", "found 3"]),
    ("user,item,ts,rating\na,x,1,5,9\n", 2, None, ["expected 4", "found 5"]),
    ("user,item,ts,rating\na,x,1,5\n\n\nb,y,tomorrow,5\n", 5, "ts", ["'tomorrow'"]),
    ('user,item,ts,rating\n"a\nb",x,1,5\n   \nc,y,zz,5\n', 5, "ts", ["'zz'"]),   # quoted newline, blank line
    ("user,item,ts,rating\na,x,1,5\nb,y,2,\n", 3, "rating", ["an empty value"]),
    ("user,item,ts,rating\na,x,1,inf\n", 2, "rating", ["'inf'"]),
    ("user,item,ts,rating\n,x,1,5\n", 2, "user", ["empty id"]),
    ("user,item,ts,item\n", 1, "item", ["duplicate column name 'item'", "columns 2 and 4"]),
    ("user,movie,ts,rating\na,x,1,5\n", 1, "item", ["column 'item' not found", "columns found: user, movie, ts"]),
    ('user,item,ts,rating\n"a,x,1,5\n', 2, None, ["expected 4"]),
])
def test_bad_csv_names_file_line_and_field(tmp_path, text, line, field, words):
    path = write(tmp_path, "bad.csv", text)
    exc = error_of(lambda: read_table(path, COLS))
    assert exc.path == str(path) and exc.line == line and exc.field == field
    assert str(exc).startswith(f"{path}, line {line}")
    for word in words:
        assert word in str(exc)


def test_empty_and_header_only_files(tmp_path):
    assert "file is empty" in str(error_of(lambda: read_table(write(tmp_path, "e.csv", " \n\n"), COLS)))
    assert "no data rows after the header" in str(
        error_of(lambda: read_table(write(tmp_path, "h.csv", "user,item,ts,rating\n"), COLS)))
    assert "file not found" in str(error_of(lambda: read_table(tmp_path / "nope.csv", COLS)))


def test_encoding_errors_name_byte_offset_and_line(tmp_path):
    path = write(tmp_path, "l1.csv", "user,item\na,x\n".encode() + "Zoë,y\n".encode("latin-1"))
    exc = error_of(lambda: read_table(path, ColumnMapping("user", "item")))
    assert exc.line == 3 and "byte offset 16" in str(exc) and "utf-8" in str(exc)
    assert "unknown encoding 'klingon'" in str(
        error_of(lambda: read_table(path, ColumnMapping("user", "item"), encoding="klingon")))
    assert list(read_table(path, ColumnMapping("user", "item"), encoding="latin-1").user_map.raw) == ["a", "Zoë"]


def test_read_features_aligns_rows_to_id_map(tmp_path):
    idmap = IdMap(np.array(["i2", "i1", "i3"], dtype=object))
    path = write(tmp_path, "items.csv",
                 "id,brand,tags,price\ni1,acme,a|b,10\ni9,zeta,c,99\ni2,,b,\ni1x,acme,,1\n")
    table = read_features(path, "id", idmap, categorical=["brand"], multi_valued=["tags"], numeric=["price"])
    assert table.num_rows == 3
    assert table.info["rows_unknown_id"] == 2 and table.info["ids_without_row"] == 1
    brand = table.vocabularies["brand"][table.categorical["brand"]]
    assert brand.tolist() == ["", "acme", ""]                     # i2 empty, i3 without a row
    tags = table.vocabularies["tags"][table.multi_valued["tags"]]
    assert tags.tolist() == [["b", ""], ["a", "b"], ["", ""]]
    price = table.numeric["price"]                                # only i1 has a price: standardised to 0
    assert price.dtype == np.float32 and np.allclose(price, 0.0)


def test_read_features_errors(tmp_path):
    idmap = IdMap(np.array(["a", "b"], dtype=object))
    dup = write(tmp_path, "dup.csv", "id,c\na,1\nb,2\na,3\n")
    exc = error_of(lambda: read_features(dup, "id", idmap, categorical=["c"]))
    assert exc.line == 4 and exc.field == "id" and "'a' appears again" in str(exc)
    bad = write(tmp_path, "num.csv", "id,price\na,1\nb,cheap\n")
    exc = error_of(lambda: read_features(bad, "id", idmap, numeric=["price"]))
    assert exc.line == 3 and exc.field == "price" and "'cheap'" in str(exc)


def test_read_features_parquet_list_column(tmp_path):
    path = tmp_path / "f.parquet"
    pq.write_table(pa.table({"id": ["b", "a"], "tags": [["x", "y"], ["y"]], "size": [1.0, 3.0]}), path)
    table = read_features(path, "id", IdMap(np.array(["a", "b"], dtype=object)), multi_valued=["tags"],
                          numeric=["size"])
    assert table.vocabularies["tags"][table.multi_valued["tags"]].tolist() == [["y", ""], ["x", "y"]]
    np.testing.assert_allclose(table.numeric["size"], [1.0, -1.0])
