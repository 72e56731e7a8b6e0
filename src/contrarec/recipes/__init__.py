"""contrarec.recipes."""
