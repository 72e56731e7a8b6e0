"""contrarec.views."""
