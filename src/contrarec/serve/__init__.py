"""contrarec.serve."""
