"""contrarec.train."""
