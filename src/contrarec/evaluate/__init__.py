"""contrarec.evaluate."""
