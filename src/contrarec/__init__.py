"""contrarec: contrastive retrieval and pre-ranking for recommender systems."""
__version__ = "0.1.0"
