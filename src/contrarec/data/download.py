"""Fetch an official dataset archive, verify its SHA-256 and unpack it, never leaving half a file.

The steps, each atomic: stream the archive to a hidden temporary file in ``dest_dir`` while hashing
it; on a checksum mismatch delete it and raise; else rename it to ``<name>.zip``; unpack into a
hidden temporary folder in ``dest_dir``; rename the archive's top folder into place. An interrupted
run leaves at most a hidden ``.*.part`` file or ``.*.extract`` folder, never a complete-looking one.

Checksums: the SHA-256 of each GroupLens archive is pinned in :data:`DATASETS`. GroupLens publishes
only MD5 sums (ml-100k.zip ``0e33842e24a9c977be4e0107933c0723``, ml-1m.zip
``c4d9eecfca2ab87c1945afe126590906``); the pinned SHA-256 values are those that several independent
projects record for the same archives next to these MD5 sums.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from contrarec.data.errors import DataError

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens"


@dataclass(frozen=True)
class RemoteDataset:
    """One downloadable archive.

    Args:
        filename: archive name under the base URL, e.g. ``ml-100k.zip``.
        sha256: expected SHA-256 of the archive, lower-case hex.
        folder: the archive's top-level folder, which becomes ``dest_dir/folder``.
    """

    filename: str
    sha256: str
    folder: str


DATASETS: dict[str, RemoteDataset] = {
    "movielens-100k": RemoteDataset("ml-100k.zip",
                                    "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229", "ml-100k"),
    "movielens-1m": RemoteDataset("ml-1m.zip",
                                  "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20", "ml-1m"),
}


def _fetch(url: str, dest_dir: Path, timeout: float) -> tuple[Path, str]:
    """Stream ``url`` into a hidden temporary file in ``dest_dir``; ``(path, sha256 hex)``."""
    handle, name = tempfile.mkstemp(dir=dest_dir, prefix=".download-", suffix=".part")
    digest = hashlib.sha256()
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
    except (urllib.error.URLError, OSError) as exc:
        Path(name).unlink(missing_ok=True)
        reason = getattr(exc, "reason", exc)
        raise DataError(f"could not download {url}: {reason}", path=str(dest_dir)) from None
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name), digest.hexdigest()


def _extract(archive: Path, folder: str, dest_dir: Path) -> Path:
    """Unpack ``archive`` in a hidden temporary folder and rename its ``folder`` into ``dest_dir``."""
    staging = Path(tempfile.mkdtemp(dir=dest_dir, prefix=f".{folder}-", suffix=".extract"))
    try:
        try:
            with zipfile.ZipFile(archive) as zipped:
                for member in zipped.namelist():
                    target = (staging / member).resolve()
                    if not target.is_relative_to(staging.resolve()):
                        raise DataError(f"archive member {member!r} points outside the archive", path=str(archive))
                zipped.extractall(staging)
        except zipfile.BadZipFile as exc:
            raise DataError(f"not a valid zip archive ({exc})", path=str(archive)) from None
        if not (staging / folder).is_dir():
            found = ", ".join(sorted(p.name for p in staging.iterdir())) or "nothing"
            raise DataError(f"archive has no top folder {folder!r} (found: {found})", path=str(archive))
        final = dest_dir / folder
        os.replace(staging / folder, final)
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def download_dataset(name: str, dest_dir: str | Path, base_url: str | None = None,
                     expected_sha256: str | None = None, timeout: float = 60.0) -> Path:
    """Download, verify and unpack a dataset; returns the unpacked folder (e.g. ``dest/ml-100k``).

    An existing ``dest_dir/<folder>`` is returned as it is (it only ever appears complete); an
    existing ``dest_dir/<archive>`` is verified and unpacked instead of downloaded again.

    Args:
        name: one of :data:`DATASETS` (``movielens-100k``, ``movielens-1m``).
        dest_dir: folder to put the archive and the unpacked data in (created if missing).
        base_url: where the archives live (default GroupLens); the URL is ``base_url/filename``.
        expected_sha256: override the pinned checksum (for mirrors and tests).
        timeout: seconds to wait on the network per read.

    Raises:
        DataError: unknown name, network failure, checksum mismatch (expected vs got), bad archive.
            Nothing partial is left in ``dest_dir``.

    Example:
        >>> download_dataset("movielens-100k", "data")  # doctest: +SKIP
        PosixPath('data/ml-100k')
    """
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; available: {', '.join(sorted(DATASETS))}")
    spec = DATASETS[name]
    expected = (expected_sha256 or spec.sha256).lower()
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    if (dest_dir / spec.folder).is_dir():
        return dest_dir / spec.folder
    archive = dest_dir / spec.filename
    if archive.is_file():
        got = hashlib.sha256(archive.read_bytes()).hexdigest()
        if got != expected:
            raise DataError(f"checksum mismatch: expected sha256 {expected}, got {got}; delete the file "
                            "to download it again", path=str(archive))
    else:
        url = f"{(base_url or GROUPLENS_URL).rstrip('/')}/{spec.filename}"
        part, got = _fetch(url, dest_dir, timeout)
        if got != expected:
            part.unlink(missing_ok=True)
            raise DataError(f"checksum mismatch: expected sha256 {expected}, got {got}; nothing was kept",
                            path=url)
        os.replace(part, archive)
    return _extract(archive, spec.folder, dest_dir)
