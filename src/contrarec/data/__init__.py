"""contrarec.data."""
