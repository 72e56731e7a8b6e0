"""contrarec.encoders."""
