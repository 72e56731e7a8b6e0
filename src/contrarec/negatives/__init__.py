"""contrarec.negatives."""
