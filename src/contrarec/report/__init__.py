"""HTML run reports with plots: training curves, alignment–uniformity, long-tail recall, embedding maps.

Entry point: :func:`build_report` (also ``contrarec report RUN_DIR ... -o report.html``).
"""

from contrarec.report.build import build_report

__all__ = ["build_report"]
