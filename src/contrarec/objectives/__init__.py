"""contrarec.objectives."""
