"""Open an HTML report in headless Chromium and save a PNG screenshot, so a person can check the look.

Usage:
    python bench/report_screenshot.py runs/quickstart/report.html -o docs/report.png
    make report-screenshot            # the quickstart report -> docs/report.png

Chromium is not a Python dependency; install it with your system's package manager, e.g.
``apt-get install -y chromium`` (Debian/Ubuntu), ``brew install --cask chromium`` (macOS), or point
``--chromium`` / ``$CHROMIUM`` at any Chrome or Chromium binary.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
INSTALL_HINT = ("Chromium was not found. Install it, e.g.\n"
                "  Debian/Ubuntu:  sudo apt-get update && sudo apt-get install -y chromium\n"
                "  macOS:          brew install --cask chromium\n"
                "or pass --chromium /path/to/chrome (or set $CHROMIUM).")


def find_chromium(explicit: str | None) -> str | None:
    """The Chromium binary: ``explicit``, ``$CHROMIUM``, or the first candidate on ``PATH``."""
    for name in (explicit, os.environ.get("CHROMIUM"), *CANDIDATES):
        if name and (shutil.which(name) or Path(name).is_file()):
            return shutil.which(name) or name
    return None


def screenshot(html: Path, out: Path, chromium: str, width: int = 1400, height: int = 3000,
               timeout_s: float = 120.0) -> Path:
    """Render ``html`` in headless ``chromium`` at ``width`` x ``height`` CSS pixels and write a PNG to ``out``."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="contrarec-chromium-") as profile:
        cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
               f"--user-data-dir={profile}", f"--screenshot={out}", f"--window-size={width},{height}",
               html.resolve().as_uri()]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"chromium exited with {proc.returncode} and wrote no screenshot:\n{proc.stderr[-2000:]}")
    return out


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path, nargs="?", default=Path("runs/quickstart/report.html"),
                        help="the HTML report (default: runs/quickstart/report.html)")
    parser.add_argument("-o", "--out", type=Path, default=Path("docs/report.png"), help="PNG to write")
    parser.add_argument("--chromium", default=None, help="Chromium/Chrome binary (default: search PATH)")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=3000)
    args = parser.parse_args(argv)
    if not args.report.exists():
        print(f"report not found: {args.report} (make one with `make run` or `contrarec report RUN_DIR -o FILE`)",
              file=sys.stderr)
        return 2
    chromium = find_chromium(args.chromium)
    if chromium is None:
        print(INSTALL_HINT, file=sys.stderr)
        return 2
    try:
        path = screenshot(args.report, args.out, chromium, args.width, args.height)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"screenshot failed: {exc}", file=sys.stderr)
        return 1
    print(f"screenshot: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
