"""contrarec.report."""
