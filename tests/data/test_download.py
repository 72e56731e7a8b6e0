"""Tests for contrarec.data.download against a local HTTP server (no test touches the internet)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
import zipfile

import pytest

from contrarec.data.download import DATASETS, download_dataset
from contrarec.data.errors import DataError


@pytest.fixture
def server(tmp_path):
    """``(base_url, served_dir)`` of a quiet HTTP server on 127.0.0.1."""
    served = tmp_path / "served"
    served.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/datasets", served
    httpd.shutdown()
    httpd.server_close()


def make_zip(served, members: dict[str, str]) -> str:
    """Write ``served/datasets/ml-100k.zip``; its SHA-256."""
    (served / "datasets").mkdir(exist_ok=True)
    path = served / "datasets" / "ml-100k.zip"
    with zipfile.ZipFile(path, "w") as zipped:
        for name, text in members.items():
            zipped.writestr(name, text)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def listing(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_verifies_and_unpacks(server, tmp_path):
    base_url, served = server
    sha = make_zip(served, {"ml-100k/u.data": "1\t2\t3\t4\n", "ml-100k/README": "hi"})
    dest = tmp_path / "data"
    folder = download_dataset("movielens-100k", dest, base_url=base_url, expected_sha256=sha)
    assert folder == dest / "ml-100k" and (folder / "u.data").read_text() == "1\t2\t3\t4\n"
    assert listing(dest) == ["ml-100k", "ml-100k.zip"]          # no hidden temporaries left
    # Already there: no network needed.
    assert download_dataset("movielens-100k", dest, base_url="http://127.0.0.1:9", expected_sha256=sha) == folder


def test_existing_archive_is_verified_and_unpacked(server, tmp_path):
    base_url, served = server
    sha = make_zip(served, {"ml-100k/u.data": "x"})
    dest = tmp_path / "data"
    dest.mkdir()
    (dest / "ml-100k.zip").write_bytes((served / "datasets" / "ml-100k.zip").read_bytes())
    folder = download_dataset("movielens-100k", dest, base_url="http://127.0.0.1:9", expected_sha256=sha)
    assert (folder / "u.data").read_text() == "x"


def test_checksum_mismatch_leaves_nothing(server, tmp_path):
    base_url, served = server
    sha = make_zip(served, {"ml-100k/u.data": "x"})
    dest = tmp_path / "data"
    with pytest.raises(DataError) as info:
        download_dataset("movielens-100k", dest, base_url=base_url, expected_sha256="ab" * 32)
    assert f"expected sha256 {'ab' * 32}, got {sha}" in str(info.value)
    assert listing(dest) == []


def test_pinned_checksum_rejects_a_different_archive(server, tmp_path):
    base_url, served = server
    make_zip(served, {"ml-100k/u.data": "not the real data"})
    with pytest.raises(DataError, match=f"expected sha256 {DATASETS['movielens-100k'].sha256}"):
        download_dataset("movielens-100k", tmp_path / "data", base_url=base_url)
    assert listing(tmp_path / "data") == []


def test_missing_file_and_unreachable_server(server, tmp_path):
    base_url, _ = server
    with pytest.raises(DataError, match="could not download .*ml-100k.zip"):
        download_dataset("movielens-100k", tmp_path / "a", base_url=base_url)
    assert listing(tmp_path / "a") == []
    with pytest.raises(DataError, match="could not download"):
        download_dataset("movielens-100k", tmp_path / "b", base_url="http://127.0.0.1:9", timeout=5)
    assert listing(tmp_path / "b") == []


def test_bad_archives_leave_no_staging(server, tmp_path):
    base_url, served = server
    sha = make_zip(served, {"other/u.data": "x"})
    dest = tmp_path / "data"
    with pytest.raises(DataError, match="no top folder 'ml-100k' \\(found: other\\)"):
        download_dataset("movielens-100k", dest, base_url=base_url, expected_sha256=sha)
    assert listing(dest) == ["ml-100k.zip"]                      # verified archive kept, no staging
    sha = make_zip(served, {"ml-100k/../../evil": "x"})
    with pytest.raises(DataError, match="points outside"):
        download_dataset("movielens-100k", tmp_path / "d2", base_url=base_url, expected_sha256=sha)
    assert not (tmp_path / "evil").exists() and listing(tmp_path / "d2") == ["ml-100k.zip"]


def test_unknown_name_and_pinned_checksums():
    with pytest.raises(DataError, match="unknown dataset 'movielens-20m'; available: movielens-100k, movielens-1m"):
        download_dataset("movielens-20m", "unused")
    for spec in DATASETS.values():
        assert len(spec.sha256) == 64 and int(spec.sha256, 16) >= 0
